"""The viewport: a LiveTable and a LiveChart over a million items, in JupyterLab through Chromium.

    python benchmarks/viewport.py [ITEMS]

For the table: first paint (from running the cell that makes it to its first rows on
screen) and the bytes the kernel sent the browser meanwhile (every kernel WebSocket frame);
the time to show a row after a scroll (measured in the page, from setting scrollTop to the
row drawn) for rows spread over the group; the first rows of a sort by a column (the kernel
builds the index once); under 20,000 writes a second: the widget's comm messages a second
and whether the rows on screen end exact; a reader at row 50,000 under 50 changes a second
around and in view: how far the top row ever moved. For a chart of the same items: first
paint, bytes, a zoom's answer, the largest frame.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.servers import CHROMIUM, CHROMIUM_ARGS, Server, write_notebook  # noqa: E402
from tests.browser.test_widgets_browser import Notebook  # noqa: E402

ROW_HEIGHT = 26
VIEW = "(globalThis.__iiiLive || []).filter(e => e.group === 'm/g' && e.view.rows).pop().view"
CHART = "(globalThis.__iiiLive || []).filter(e => e.group === 'm/g' && e.view.plot !== undefined).pop().view"

CELLS = [
    """
import iii_live, json, math, random, threading, time
engine = iii_live.start(port=0)
s = engine.stream("m")
for i in range(ITEMS):
    s.set("g", f"{i:07d}", {"i": i, "x": (i * 7919) % 100003, "name": f"n{i % 100}", "v": math.sin(i / 5000)})
""",
    'table = s.table("g", height=400)\ntable',
    """
def pressure(shown, rate=20_000, seconds=5.0):
    batches = [
        [(f"{k:07d}", {"i": k, "x": random.randrange(100003), "name": "hot", "v": 0.5})
         for k in random.sample(range(ITEMS), rate // 100 - 1)]
        for _ in range(50)
    ]  # random items, random places in the sort
    sent0, began, n, tick_count = table.messages_sent, time.monotonic(), 0, 0
    while time.monotonic() - began < seconds:
        tick = time.monotonic()
        for item_id, value in batches[tick_count % len(batches)]:  # every 10 ms
            s.set("g", item_id, value)
        on_screen = shown[tick_count % len(shown)]  # and one of the rows on screen
        s.set("g", on_screen, {**s.get("g", on_screen), "name": f"hot{tick_count}"})
        n += len(batches[0]) + 1
        tick_count += 1
        time.sleep(max(0.0, 0.01 - (time.monotonic() - tick)))
    took = time.monotonic() - began
    return {"writes_per_s": n / took, "messages_per_s": (table.messages_sent - sent0) / took}
print(json.dumps(pressure(IDS)))
""",
    "print(json.dumps({k: s.get('g', k) for k in IDS}))",
    """
def around(ticks=250):
    for k in range(ticks):  # 50 changes a second: above the reader, at the end, in view
        if k % 3 == 0:
            s.delete("g", f"{k:07d}")
        elif k % 3 == 1:
            s.set("g", f"new{k:04d}", {"i": -k, "x": -1, "name": "new", "v": 0})
        else:
            row = 50_000 + (k // 3) % 6
            s.set("g", f"{row:07d}", {"i": row, "x": k, "name": f"changed{k}", "v": 0})
        time.sleep(0.02)
around()
""",
    'chart = s.chart("g", x="i", y="v", height=300)\nchart',
]

TRACK_TOP = f"""() => {{
    const view = {VIEW};
    globalThis.__tops = [];
    globalThis.__tracking = true;
    const tick = () => {{
        const top = Math.round(view.viewport.scrollTop / {ROW_HEIGHT});
        const row = view.root.querySelector(`.iii-row[data-position='${{top}}']`);
        if (row) globalThis.__tops.push(row.dataset.id);
        if (globalThis.__tracking) requestAnimationFrame(tick);
    }};
    requestAnimationFrame(tick);
}}"""
SCROLL_TO = f"""async (target) => {{
    const view = {VIEW};
    const began = performance.now();
    view.viewport.scrollTop = target * {ROW_HEIGHT};
    while (!view.root.querySelector(`.iii-row[data-position='${{target}}']`))
        await new Promise((done) => requestAnimationFrame(done));
    return performance.now() - began;
}}"""
ZOOM = f"""async ([min, max]) => {{
    const view = {CHART};
    const asked = view._req;
    const began = performance.now();
    view.plot.setScale("x", {{min, max}});
    while (!(view._req > asked && view._shown?.view === view.id && view._shown?.req === view._req))
        await new Promise((done) => requestAnimationFrame(done));
    return [performance.now() - began, JSON.stringify(view._shown).length, view._shown.x.length];
}}"""


def run(items: int) -> dict:
    root = Path(tempfile.mkdtemp())
    write_notebook(root / "viewport.ipynb", [c.replace("ITEMS", str(items)) for c in CELLS])
    server = Server("lab", root)
    result: dict = {"items": items}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.add_init_script("globalThis.__iiiLiveTestHooks = true")
            page.set_default_timeout(600_000)
            received = [0]

            def on_socket(socket):
                if "/api/kernels/" in socket.url:
                    socket.on(
                        "framereceived", lambda payload: received.__setitem__(0, received[0] + len(payload))
                    )

            page.on("websocket", on_socket)
            page.goto(f"{server.base}/lab/tree/viewport.ipynb")
            nb = Notebook(page)
            began = time.monotonic()
            nb.run(0)
            result["write_seconds"] = time.monotonic() - began

            bytes0, began = received[0], time.monotonic()
            nb.run(1, wait=False)
            page.wait_for_function(
                "() => document.querySelector(\".iii-table .iii-row[data-id='0000000']\")", polling="raf"
            )
            result["table_first_paint_s"] = time.monotonic() - began
            result["table_first_paint_bytes"] = received[0] - bytes0
            nb.wait_idle()

            step = max(1, items // 23)
            targets = [t for t in range(7, items, step)][:20] + [items - 1]
            latencies = [page.evaluate(SCROLL_TO, t) for t in targets]
            result["scroll_ms"] = {
                "median": statistics.median(latencies),
                "p95": sorted(latencies)[int(0.95 * (len(latencies) - 1))],
                "max": max(latencies),
                "rows": len(latencies),
            }

            page.evaluate(f"() => {{ {VIEW}.viewport.scrollTop = 0; }}")
            began = time.monotonic()
            page.locator(".iii-table .iii-th[data-column='x']").first.click()
            page.wait_for_function(
                f"() => {VIEW}._shown?.sort?.by === 'x'"
                f" && {VIEW}.root.querySelector(\".iii-row[data-position='0']\")",
                polling="raf",
            )
            result["sort_first_rows_s"] = time.monotonic() - began
            began = time.monotonic()
            page.locator(".iii-table .iii-th[data-column='x']").first.click()  # descending: built already
            page.wait_for_function(
                f"() => {VIEW}._shown?.sort?.by === 'x' && {VIEW}._shown.sort.ascending === false",
                polling="raf",
            )
            result["sort_again_s"] = time.monotonic() - began

            on_screen = [row[0] for row in page.evaluate(f"() => {VIEW}._shown.rows.slice(0, 15)")]
            nb.set_source(2, CELLS[2].replace("ITEMS", str(items)).replace("IDS", json.dumps(on_screen)))
            nb.run(2)
            result["under_20000_writes_per_s"] = json.loads(nb.output_text(2).strip().splitlines()[-1])
            time.sleep(1)  # the last frame after the writes
            shown = page.evaluate(f"() => {VIEW}._shown.rows.slice(0, 40)")
            nb.set_source(3, CELLS[3].replace("IDS", json.dumps([row[0] for row in shown])))
            nb.run(3)
            stored = json.loads(nb.output_text(3).strip().splitlines()[-1])
            result["rows_on_screen_exact_after_writes"] = all(stored[k] == v for k, v in shown)

            page.locator(".iii-table .iii-th[data-column='x']").first.click()  # back to arrival order
            page.locator(".iii-table .iii-th[data-column='i']").first.click()
            page.evaluate(f"() => {{ {VIEW}.sort = {{by: null, ascending: true}}; {VIEW}.refresh(); }}")
            page.evaluate(SCROLL_TO, 50_000)
            page.evaluate(TRACK_TOP)
            nb.run(4)
            page.evaluate("() => { globalThis.__tracking = false; }")
            tops = [int(t) for t in page.evaluate("() => globalThis.__tops") if t.isdigit()]
            result["reader_at_50000"] = {
                "frames_sampled": len(tops),
                "largest_jump_rows": max(abs(b - a) for a, b in zip(tops, tops[1:], strict=False)),
                "top_row_at_end": tops[-1],
            }

            bytes0, began = received[0], time.monotonic()
            nb.run(5, wait=False)
            drawn = (
                "(globalThis.__iiiLive || []).some(e => e.view.plot && Number(e.view.root.dataset.points))"
            )
            page.wait_for_function(f"() => {drawn}", polling="raf")
            result["chart_first_paint_s"] = time.monotonic() - began
            result["chart_first_paint_bytes"] = received[0] - bytes0
            nb.wait_idle()
            page.wait_for_function(f"() => {CHART}._shown?.view === {CHART}.id")
            result["chart_whole_range_frame_bytes"] = page.evaluate(
                f"() => JSON.stringify({CHART}._shown).length"
            )
            ms, frame_bytes, points = page.evaluate(ZOOM, [items * 0.4, items * 0.45])
            result["chart_zoom"] = {"ms": ms, "frame_bytes": frame_bytes, "points": points}
            ms, frame_bytes, points = page.evaluate(ZOOM, [items * 0.4, items * 0.4 + 500])
            result["chart_zoom_exact"] = {"ms": ms, "frame_bytes": frame_bytes, "points": points}
            browser.close()
    finally:
        server.stop()
    return result


if __name__ == "__main__":
    result = run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
    print(json.dumps(result, indent=1))
    Path(__file__).with_name("viewport.json").write_text(json.dumps(result, indent=1) + "\n")
