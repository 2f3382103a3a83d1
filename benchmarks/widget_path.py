"""The widget path: items per second from writes in a JupyterLab cell to the browser holding
every final value, for a LiveTable and its peers, in one run.

    python benchmarks/widget_path.py [ITEMS] [ROUNDS] [BURSTS]

A cell writes ITEMS new items (``{"i", "v"}``) as fast as it can into an empty LiveTable
(the burst: BURSTS times, the table emptied before each, reported as the median), then, in
another cell, ROUNDS rounds of updates to the same items (sustained); the clock, kept by the
page, runs from running the cell until the browser holds every item with its final value.
Peers, measured the same way in the same notebook, each system's phases back to back:

- the naive way: an anywidget that sends one comm message per item (the Jupyter server drops
  what exceeds its rate limit: the items received are counted, after a marker sent once the
  server accepts messages again);
- perspective-python's ``PerspectiveWidget`` over a ``perspective.table`` indexed by id, fed
  one ``Table.update`` per item; it is done when the viewer's view has every row with its
  final value. It takes about 5 ms a write, so its sustained phase is one round, not ROUNDS.

Every comm message from the kernel is counted per widget (the page keeps each kernel
WebSocket frame it receives, read between phases; see ``lab``): messages, bytes and the
most in any one second.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab import lab  # noqa: E402

NAIVE_ESM = (
    "export default { render({ model, el }) { let n = 0; el.className = 'naive';"
    " model.on('msg:custom', (m) => { if (m.done) { el.dataset.done = '1'; return; }"
    " n += 1; el.dataset.n = String(n); el.dataset.last = String(performance.now()); }); } }"
)

SETUP = f"""
import json, time, anywidget, iii_live
engine = iii_live.start(port=0)
s = engine.stream("bench")
table = s.table("w", height=300)
class Naive(anywidget.AnyWidget):
    _esm = {NAIVE_ESM!r}
naive = Naive()
timings = {{"iii_burst": []}}
try:
    import perspective
    from perspective.widget import PerspectiveWidget
    ptable = perspective.table({{"id": "string", "i": "integer", "v": "float", "r": "integer"}}, index="id")
    pwidget = PerspectiveWidget(ptable, plugin="Datagrid")
    peers = {{"perspective": pwidget.model_id, "perspective_version": perspective.__version__}}
except ImportError as exc:
    pwidget, peers = None, {{"perspective": None, "perspective_missing": str(exc)}}
display(table, naive, *([pwidget] if pwidget else []))
json.dump({{"table": table.model_id, "naive": naive.model_id, **peers}}, open("ids.json", "w"))
"""


def writer(name: str, body: str) -> str:
    """A cell that times its loop in the kernel (the writer alone, without the way to the
    browser); a phase run more than once keeps a list."""
    taken = f"timings[{name!r}] = time.perf_counter() - t0"
    if name == "iii_burst":
        taken = f"timings[{name!r}].append(time.perf_counter() - t0)"
    return f"t0 = time.perf_counter()\n{body}\n{taken}"


CELLS = [
    SETUP,
    writer("iii_burst", "for i in range(ITEMS):\n    s.set('w', str(i), {'i': i, 'v': i * 0.5})"),
    writer("naive_burst", "for i in range(ITEMS):\n    naive.send({'i': i, 'v': i * 0.5})")
    + "\ntime.sleep(4)  # past the server's rate-limit window: the marker gets through"
    + "\nnaive.send({'done': True})",
    writer(
        "perspective_burst",
        "for i in range(ITEMS):\n    ptable.update([{'id': str(i), 'i': i, 'v': i * 0.5}])",
    ),
    writer(
        "iii_sustained",
        "for r in range(ROUNDS):\n    for i in range(ITEMS):"
        "\n        s.set('w', str(i), {'i': i, 'v': i * 0.5, 'r': r})",
    ),
    writer(
        "perspective_sustained",
        "for i in range(ITEMS):\n    ptable.update([{'id': str(i), 'i': i, 'v': i * 0.5, 'r': ROUNDS - 1}])",
    ),
    "json.dump({'timings': timings, 'table_messages': table.messages_sent}, open('timings.json', 'w'))",
    "for i in range(ITEMS):\n    s.delete('w', str(i))",
]
EMPTY_CELL = 7
"""Empties the table between bursts (untimed)."""

EMPTY = """() => {
  const e = (globalThis.__iiiLive || []).find((x) => x.group === 'bench/w');
  return !!e && e.store.items.size === 0;
}"""

IIII_DONE = """() => {
  const e = (globalThis.__iiiLive || []).find((x) => x.group === 'bench/w');
  if (!e || e.store.items.size !== ITEMS) return false;
  for (let i = 0; i < ITEMS; i++) {
    const v = e.store.items.get(String(i));
    if (!v || v.i !== i || v.v !== i * 0.5 || v.r !== ROUND) return false;
  }
  return true;
}"""

PERSPECTIVE_DONE = """async () => {
  // Done when the viewer's view has every row at its final value, or, once the kernel is
  // idle, when the rows at their final value stopped growing for STALL_MS (messages the
  // Jupyter server dropped never arrive, and a viewer that stopped answering shows nothing
  // new): globalThis.__perspectiveDone says how many, and when the last got there.
  const p = (globalThis.__perspective ??= { matched: -1, since: performance.now(), done: null });
  const viewer = document.querySelector('perspective-viewer');
  let c, rows;
  const read = async () => {
    await viewer.flush();
    const view = await viewer.getView();
    rows = await view.num_rows();
    c = await view.to_columns();
    return true;
  };
  const late = new Promise((resolve) => setTimeout(() => resolve(false), 5000));
  try {  // the viewer has no view for a moment while it redraws, and may stop answering
    if (!(await Promise.race([read(), late]))) c = null;
  } catch { c = null; }
  const now = performance.now();
  if (!c) {  // no answer: not a sign of no progress, unless none comes for STALL_MS * 6
    p.silent ??= now;
    if (now - p.silent < STALL_MS * 6) return false;
  } else p.silent = undefined;
  let matched = Math.max(p.matched, 0);
  if (c) {
    matched = 0;
    for (let k = 0; k < rows; k++) {
      const i = c.i[k];
      if (c.id[k] === String(i) && c.v[k] === i * 0.5 && c.r[k] === ROUND) matched += 1;
    }
  }
  if (matched !== p.matched) Object.assign(p, { matched, since: now });
  const idle = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle';
  if (matched === ITEMS || (idle && now - p.since > STALL_MS)) {
    p.done = { matched, at: p.since - globalThis.__benchStarted };
    globalThis.__perspective = undefined;
    globalThis.__perspectiveDone = p.done;
    return true;
  }
  return false;
}"""

STALL_MS = 10_000

NAIVE_DONE = "() => document.querySelector('.naive')?.dataset.done === '1'"


def run(items: int, rounds: int, bursts: int) -> dict:
    def done(condition: str, round_: int | None) -> str:
        return (
            condition.replace("ITEMS", str(items))
            .replace("STALL_MS", str(STALL_MS))
            .replace("ROUND", "null" if round_ is None else str(round_))
        )

    cells = [c.replace("ITEMS", str(items)).replace("ROUNDS", str(rounds)) for c in CELLS]
    out: dict = {"items": items, "rounds": rounds, "bursts": bursts, "cores": os.cpu_count()}
    with lab(cells) as nb:
        nb.run(0)
        nb.page.wait_for_selector(".iii-table")
        nb.page.wait_for_selector(".naive", state="attached")
        ids = nb.json_file("ids.json")
        if ids["perspective"]:
            nb.page.wait_for_selector("perspective-viewer")
            nb.page.wait_for_function(
                "async () => { try {"
                " return !!(await document.querySelector('perspective-viewer').getView());"
                " } catch { return false; } }",  # no view until the viewer has loaded the table
                polling=200,
            )
        out["perspective"] = ids.get("perspective_version") or f"not run: {ids.get('perspective_missing')}"
        phases: dict[str, dict] = {}

        def phase(name: str, comm: str, cell: int, condition: str, poll_ms: int = 0) -> None:
            mark = nb.frames.mark()
            seconds = nb.run_until(cell, condition, poll_ms, timeout_s=900)
            phases[name] = {"seconds": seconds, "mark": mark, "comm": comm}
            if name.startswith("perspective"):
                phases[name]["settled"] = nb.page.evaluate("() => globalThis.__perspectiveDone")
            print(f"{name}: {seconds:.2f} s", file=sys.stderr)

        load = [os.getloadavg()[0]]
        # each system's phases back to back: what a peer's page still draws after its phase
        # does not fall in another system's phase
        burst_done = done(IIII_DONE, None).replace(" || v.r !== null", "")
        burst_seconds = []
        for burst in range(bursts):
            if burst:
                nb.run_until(EMPTY_CELL, EMPTY)
            phase("iii_burst", ids["table"], 1, burst_done)
            burst_seconds.append(phases["iii_burst"]["seconds"])
        # the median burst; its messages are counted over the last one
        phases["iii_burst"].update(seconds=statistics.median(burst_seconds), each=burst_seconds)
        phase("iii_sustained", ids["table"], 4, done(IIII_DONE, rounds - 1))
        load.append(os.getloadavg()[0])
        phase("naive_burst", ids["naive"], 2, NAIVE_DONE)
        naive = nb.page.evaluate(
            "() => { const d = document.querySelector('.naive').dataset;"
            " return {n: Number(d.n || 0), last: Number(d.last || 0)}; }"
        )
        naive_started = nb.page.evaluate("() => globalThis.__benchStarted")
        if ids["perspective"]:
            phase("perspective_burst", ids["perspective"], 3, done(PERSPECTIVE_DONE, None), 1000)
        load.append(os.getloadavg()[0])
        if ids["perspective"]:
            phase("perspective_sustained", ids["perspective"], 5, done(PERSPECTIVE_DONE, rounds - 1), 1000)
        load.append(os.getloadavg()[0])
        end_mark = nb.frames.mark()
        nb.run(6)
        recorded = nb.json_file("timings.json")
        marks = [p["mark"] for p in phases.values()] + [end_mark]
        for (name, p), following in zip(phases.items(), marks[1:], strict=True):
            writes = items * (rounds if name == "iii_sustained" else 1)
            frames = nb.frames.rate(p["mark"], p["comm"], following)
            writer_seconds = recorded["timings"][name]
            if "each" in p:  # several bursts: the medians, and each one's items per second
                writer_seconds = statistics.median(writer_seconds)
            result = {
                "writes": writes,
                "items_per_s": writes / p["seconds"],
                "seconds": p["seconds"],
                "writer_items_per_s": writes / writer_seconds,
                "lost": 0,
                **frames,
            }
            if "each" in p:
                result["each_items_per_s"] = [round(writes / seconds) for seconds in p["each"]]
            settled = p.get("settled")
            if settled:  # rows at their final value, when the last of them got there
                seconds = settled["at"] / 1000
                result.update(
                    items_per_s=settled["matched"] / seconds,
                    seconds=seconds,
                    received=settled["matched"],
                    lost=1 - settled["matched"] / items,
                )
            if name == "naive_burst":
                seconds = (naive["last"] - naive_started) / 1000
                result.update(
                    items_per_s=naive["n"] / seconds if seconds > 0 else None,
                    seconds=seconds,
                    received=naive["n"],
                    lost=1 - naive["n"] / items,
                )
            out[name] = result
        out["load_average_1min"] = load
    return out


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    result = run(
        args[0] if args else 10_000, args[1] if len(args) > 1 else 30, args[2] if len(args) > 2 else 5
    )
    print(json.dumps(result, indent=1))
    Path(__file__).with_name("widget_path.json").write_text(json.dumps(result, indent=1) + "\n")
