"""A LiveChart fed steadily: frames drawn per second in Chromium and the longest main-thread
task, while a JupyterLab cell writes RATE points per second across 10 series.

    python benchmarks/live_chart.py [RATE] [SECONDS] [WINDOW] [uncounted]

Each item is one x (``t``) with 10 series (``s0``..``s9``): RATE points a second are RATE / 10
items a second, written in small batches on a steady clock by the cell. The chart keeps the
last WINDOW points by x. The page counts the chart's draws (each a ``setData`` on the same
uPlot, never a new plot: counted too), the animation frames, and every main-thread task
over 50 ms (``PerformanceObserver`` ``longtask``); the run ends when the chart draws a
frame that counts every point and ends at the last one. Comm messages to the chart are
counted per second (``uncounted``: not, to see what counting them costs the page).

The peer, in the same run (a notebook of its own): perspective-python's ``PerspectiveWidget``
with its "Y Line" chart over a ``perspective.table`` holding the last WINDOW rows
(``limit``), fed the same items on the same clock, one ``Table.update`` per batch. Its
chart's draws cannot be counted from outside; the page's animation frames, long tasks, and
when the page's copy of the table holds the last point are (``peer``: only the peer,
``nopeer``: without it).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab import lab  # noqa: E402
from playwright.sync_api import Error as PlaywrightError  # noqa: E402

SERIES = 10

SETUP = """
import json, time, iii_live
engine = iii_live.start(port=0)
s = engine.stream("bench")
chart = s.chart("points", x="t", y=[f"s{k}" for k in range(SERIES)], window=WINDOW, height=320)
display(chart)
json.dump({"chart": chart.model_id}, open("ids.json", "w"))
"""

CLOCK = """
items_per_s = RATE / SERIES
total = int(items_per_s * SECONDS)
started = time.perf_counter()
written = 0
while written < total:
    due = min(total, int((time.perf_counter() - started) * items_per_s) + 1)
<<WRITE>>
    time.sleep(0.002)
elapsed = time.perf_counter() - started
json.dump({"written": written, "seconds": elapsed, "messages": <<MESSAGES>>}, open("writer.json", "w"))
"""
"""A cell writing RATE points a second as items of SERIES values on a steady clock; each
system says how it writes the items due (``<<WRITE>>``)."""

WRITER = CLOCK.replace(
    "<<WRITE>>",
    """    while written < due:
        t = written
        s.set("points", str(t), {"t": t, **{f"s{k}": (t * (k + 1)) % 1000 for k in range(SERIES)}})
        written += 1""",
).replace("<<MESSAGES>>", "chart.messages_sent")

PEER_SETUP = """
import json, time, perspective
from perspective.widget import PerspectiveWidget
ptable = perspective.table({"t": "integer", **{f"s{k}": "float" for k in range(SERIES)}}, limit=WINDOW)
pwidget = PerspectiveWidget(ptable, plugin="Y Line", columns=[f"s{k}" for k in range(SERIES)])
display(pwidget)
json.dump({"chart": pwidget.model_id}, open("ids.json", "w"))
"""

PEER_WRITER = CLOCK.replace(
    "<<WRITE>>",
    """    batch = range(written, due)
    ptable.update([{"t": t, **{f"s{k}": (t * (k + 1)) % 1000 for k in range(SERIES)}} for t in batch])
    written = due""",
).replace("<<MESSAGES>>", "0")

PAGE_OBSERVE = """() => {
  const run = { draws: [], builds: 0, longtasks: [], frames: 0, started: performance.now() };
  globalThis.__chartRun = run;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) run.longtasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask' });
  const tick = () => { run.frames += 1; if (!run.stopped) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  <<CHART>>
}"""
"""What the page records during a run: long tasks and animation frames, and (``<<CHART>>``)
what a system's chart lets be counted."""

PEER_OBSERVE = PAGE_OBSERVE.replace("<<CHART>>", "")

PEER_DONE = """async () => {
  // the page's copy of the table holds the last point (its largest t: a rolling table
  // reuses the oldest row's place); the viewer has no table for a moment now and then
  let table;
  try { table = await document.querySelector('perspective-viewer').getTable(); } catch { return false; }
  const view = await table.view({ columns: ['t'], sort: [['t', 'desc']] });
  try {
    const last = await view.to_columns({ start_row: 0, end_row: 1 });
    return last.t[0] === TOTAL - 1;
  } finally { await view.delete(); }
}"""

OBSERVE = PAGE_OBSERVE.replace(
    "<<CHART>>",
    """const view = (globalThis.__iiiLive || []).find((x) => x.group === 'bench/points').view;
  const draw = view._draw.bind(view);
  view._draw = (...args) => { run.draws.push(performance.now()); return draw(...args); };
  const build = view._build.bind(view);
  view._build = (...args) => { run.builds += 1; return build(...args); };""",
)

DONE = """() => {
  // the frame drawn counts every point and its range ends at the last one
  const entry = (globalThis.__iiiLive || []).find((x) => x.group === 'bench/points');
  const frame = entry.view._shown;
  return !!frame && frame.total === TOTAL && frame.range[1] === TOTAL - 1;
}"""

SUMMARY = """() => {
  const run = globalThis.__chartRun;
  run.stopped = true;
  return { draws: run.draws, builds: run.builds, longtasks: run.longtasks, frames: run.frames,
           elapsed: performance.now() - run.started, started: run.started };
}"""


def per_second(times: list[float], start: float, end: float) -> list[int]:
    """Events in each whole second from ``start`` to ``end`` (milliseconds)."""
    seconds = int((end - start) // 1000)
    counts = [0] * seconds
    for t in times:
        k = int((t - start) // 1000)
        if 0 <= k < seconds:
            counts[k] += 1
    return counts


def run(rate: int, seconds: float, window: int, count_frames: bool = True, peer: bool = False) -> dict:
    """One system's run: iii-live's LiveChart, or (``peer``) perspective's chart."""
    total = int(rate / SERIES * seconds)
    subs = {"RATE": str(rate), "SECONDS": str(seconds), "WINDOW": str(window), "SERIES": str(SERIES)}

    def fill(text: str) -> str:
        for name, value in subs.items():
            text = text.replace(name, value)
        return text

    out: dict = {
        "system": "perspective" if peer else "iii-live",
        "points_per_s": rate,
        "series": SERIES,
        "window": window,
        "seconds": seconds,
        "cores": os.cpu_count(),
    }
    peer_cells = (PEER_SETUP, PEER_WRITER, PEER_OBSERVE, PEER_DONE)
    setup, write, observe, done = peer_cells if peer else (SETUP, WRITER, OBSERVE, DONE)
    with lab([fill(setup), fill(write)], height=700, count_frames=count_frames) as nb:
        nb.run(0)
        if peer:
            nb.page.wait_for_function(
                "async () => { try { return !!(await document.querySelector('perspective-viewer')"
                ".getView()); } catch { return false; } }",  # no view until the viewer has loaded the table
                polling=200,
            )
        else:
            nb.page.wait_for_selector(".iii-chart")
        ids = nb.json_file("ids.json")
        nb.page.evaluate(observe)
        mark = nb.frames.mark()
        load = [os.getloadavg()[0]]
        try:
            condition = fill(done).replace("TOTAL", str(total))
            to_end = nb.run_until(1, condition, poll_ms=500 if peer else 0, timeout_s=seconds * 4 + 120)
        except PlaywrightError as error:  # report how far it got
            to_end = None
            out["not_done"] = str(error).splitlines()[0]
            nb.notebook.wait_idle()
        load.append(os.getloadavg()[0])
        summary = nb.page.evaluate(SUMMARY)
        if not (nb.root / "writer.json").exists():  # the cell failed: say how
            failed = f"({out.get('not_done')}): {nb.notebook.output_text(1)[-2000:]}"
            raise RuntimeError(f"the writer cell failed {failed}")
        writer = nb.json_file("writer.json")
    start = summary["started"]
    end = start + summary["elapsed"]
    draws = per_second(summary["draws"], start, end)
    steady = draws[1:-1] or draws  # whole seconds inside the run
    frames = nb.frames.rate(mark, ids["chart"])
    out.update(
        items=total,
        written_points_per_s=writer["written"] * SERIES / writer["seconds"],
        to_last_point_s=to_end,
        draws=len(summary["draws"]),
        draws_per_s_median=sorted(steady)[len(steady) // 2] if steady else 0,
        draws_per_s_min=min(steady) if steady else 0,
        animation_frames_per_s=summary["frames"] / (summary["elapsed"] / 1000),
        plots_built=summary["builds"],
        longtasks=len(summary["longtasks"]),
        longest_task_ms=max((d for _, d in summary["longtasks"]), default=0),
        longest_tasks=[  # (seconds into the run, ms): when they came says what they were
            [round((at - start) / 1000, 2), round(ms)]
            for at, ms in sorted(summary["longtasks"], key=lambda task: -task[1])[:10]
        ],
        comm_messages=frames["messages"],
        comm_bytes=frames["bytes"],
        busiest_second_messages=frames["busiest_second"],
        load_average_1min=load,
    )
    if peer:  # its chart's draws are not seen from the page
        out.update(draws=None, draws_per_s_median=None, draws_per_s_min=None, plots_built=None)
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    numbers = [arg for arg in args if arg.replace(".", "", 1).isdigit()]
    rate, seconds, window = (
        int(numbers[0]) if numbers else 50_000,
        float(numbers[1]) if len(numbers) > 1 else 30,
        int(numbers[2]) if len(numbers) > 2 else 100_000,
    )
    results = {}
    if "peer" not in args:
        results["iii-live"] = run(rate, seconds, window, count_frames="uncounted" not in args)
        print(json.dumps(results["iii-live"], indent=1), flush=True)
    if "nopeer" not in args:
        try:
            import perspective  # noqa: F401
        except ImportError as missing:
            results["perspective"] = {"system": "perspective", "not_run": str(missing)}
        else:
            results["perspective"] = run(rate, seconds, window, count_frames=False, peer=True)
        print(json.dumps(results["perspective"], indent=1), flush=True)
    Path(__file__).with_name("live_chart.json").write_text(json.dumps(results, indent=1) + "\n")
