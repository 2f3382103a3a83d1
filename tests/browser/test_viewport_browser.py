"""Tables over large groups in JupyterLab through Chromium: the browser asks the kernel for
the rows it shows, scrolls anywhere, sorts in the kernel, and keeps the reader's place,
selection and sort while rows are written, created and deleted around what it shows.

CI uses 200,000 items; benchmarks/viewport.py runs the same over 1,000,000."""

from __future__ import annotations

import json

from .servers import Server, write_notebook
from .test_widget_lifecycle_browser import printed, wait_until
from .test_widgets_browser import Notebook

ITEMS = 200_000
ROW_HEIGHT = 26
VIEW = "(globalThis.__iiiLive || []).filter(e => e.group === 'm/g').pop().view"

SETUP = f"""
import iii_live, json, threading, time
engine = iii_live.start(port=0)
s = engine.stream("m")
for i in range({ITEMS}):
    s.set("g", f"{{i:07d}}", {{"i": i, "x": (i * 7919) % 100003, "name": f"n{{i % 100}}"}})
"""
TABLE = 'table = s.table("g", height=300)\ntable'
SHOWN = 'print(json.dumps({"windows": table.session.windows is not None, "items": len(table.items)}))'
TOP_BY_X = """
top = sorted(s.items("g").items(), key=lambda kv: (-kv[1]["x"], kv[0]))[:5]
print(json.dumps([k for k, _ in top]))
"""


def open_lab(tmp_path, page, cells):
    write_notebook(tmp_path / "big.ipynb", cells)
    server = Server("lab", tmp_path)
    page.goto(f"{server.base}/lab/tree/big.ipynb")
    return server, Notebook(page)


def row_at(page, position: int) -> str | None:
    """The id shown at a position of the table (None: not drawn)."""
    return page.evaluate(
        f"(p) => {VIEW}.root.querySelector(`.iii-row[data-position='${{p}}']`)?.dataset.id ?? null", position
    )


def cell(page, item: str, column: str) -> str | None:
    return page.evaluate(
        f"""([item, column]) => {VIEW}.root.querySelector(`.iii-row[data-id='${{item}}']`)
            ?.querySelector(`[data-column='${{column}}']`)?.textContent ?? null""",
        [item, column],
    )


def scroll_to(page, position: int) -> None:
    page.evaluate(f"(p) => {{ {VIEW}.viewport.scrollTop = p * {ROW_HEIGHT}; }}", position)


def test_a_table_over_a_large_group_shows_any_row_and_sorts_in_the_kernel(tmp_path, page):
    server, nb = open_lab(tmp_path, page, [SETUP, TABLE, SHOWN, TOP_BY_X])
    try:
        nb.run(0)
        nb.run(1)
        page.wait_for_selector(".iii-table .iii-row[data-id='0000000']")
        nb.run(2)
        assert printed(nb, 2) == {"windows": True, "items": 0}  # the kernel holds no copy of the rows
        assert page.evaluate(f"() => {VIEW}.store.items.size") == 0
        assert page.evaluate(f"() => {VIEW}.footer.textContent").startswith(f"{ITEMS} items")
        for position in (50_000, ITEMS - 1, 123_457, 3):
            scroll_to(page, position)
            wait_until(
                lambda position=position: row_at(page, position) == f"{position:07d}", f"row {position}"
            )
        assert cell(page, "0000003", "x") == str((3 * 7919) % 100003)
        drawn = page.evaluate(f"() => {VIEW}.body.children.length")
        assert drawn < 60  # only what is on screen

        page.locator(".iii-table .iii-th[data-column='x']").click()  # ascending
        page.locator(".iii-table .iii-th[data-column='x']").click()  # descending
        nb.run(3)
        expected = json.loads(nb.output_text(3).strip().splitlines()[-1])
        wait_until(
            lambda: [row_at(page, p) for p in range(5)] == expected, "the rows sorted by x, descending"
        )
        scroll_to(page, 100_000)
        wait_until(lambda: row_at(page, 100_000) is not None, "row 100,000 of the sorted order")
        values = [int(cell(page, row_at(page, p), "x")) for p in range(100_000, 100_005)]
        assert values == sorted(values, reverse=True)
    finally:
        server.stop()


FEED = """
fed = threading.Event()
def feed(ticks=150):
    for k in range(ticks):  # 50 changes a second: above the reader, below, and in view
        if k % 3 == 0:
            s.delete("g", f"{k:07d}")
        elif k % 3 == 1:
            s.set("g", f"new{k:04d}", {"i": -k, "x": -1, "name": "new"})
        else:
            row = 50_000 + (k // 3) % 6
            s.set("g", f"{row:07d}", {"i": row, "x": k, "name": f"changed{k}"})
        time.sleep(0.02)
    fed.set()
threading.Thread(target=feed, daemon=True).start()
"""
FED = """
fed.wait()
shown = [f"{50_000 + k:07d}" for k in range(6)]
print(json.dumps({"values": {k: s.get("g", k) for k in shown}, "total": len(s.items("g"))}))
"""
TOP_BY_NAME = """
first = sorted(s.items("g").items(), key=lambda kv: (kv[1]["name"], kv[0]))[:6]
print(json.dumps([k for k, _ in first]))
"""
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


def test_updates_never_move_what_the_reader_sees_nor_their_selection_or_sort(tmp_path, page):
    server, nb = open_lab(tmp_path, page, [SETUP, TABLE, FEED, FED, TOP_BY_NAME])
    try:
        nb.run(0)
        nb.run(1)
        page.wait_for_selector(".iii-table .iii-row")
        scroll_to(page, 50_000)
        wait_until(lambda: row_at(page, 50_000) == "0050000", "row 50,000")
        page.locator(".iii-table .iii-row[data-id='0050003']").click()  # the reader selects a row
        page.evaluate(TRACK_TOP)
        nb.run(2)
        nb.run(3)  # waits for the feed to end
        final = printed(nb, 3)
        for item, value in final["values"].items():
            wait_until(
                lambda item=item, value=value: cell(page, item, "name") == value["name"], f"{item} exact"
            )
        page.evaluate("() => { globalThis.__tracking = false; }")
        tops = page.evaluate("() => globalThis.__tops")
        assert len(tops) > 20
        order = [int(item) for item in tops]
        jumps = [abs(b - a) for a, b in zip(order, order[1:], strict=False)]
        assert max(jumps) <= 1, f"the row at the top moved: {sorted(set(order))[:10]}"
        assert tops[-1] == "0050000"  # 50 rows deleted above it: the page scrolled by as much
        first = page.evaluate(f"() => Math.round({VIEW}.viewport.scrollTop / {ROW_HEIGHT})")
        assert first == 50_000 - 50
        assert page.evaluate(f"() => {VIEW}.footer.textContent").startswith(f"{final['total']} items")
        selected = page.evaluate(
            f"() => [...{VIEW}.root.querySelectorAll('.iii-row.iii-selected')].map(r => r.dataset.id)"
        )
        assert selected == ["0050003"]

        # sorted by a column: the sort stays, and the rows stay those the kernel orders first
        page.locator(".iii-table .iii-th[data-column='name']").click()
        for feeds in range(2):
            if feeds:
                nb.run(2)  # the feed again, now under a sorted view
                nb.run(3)
            nb.run(4)
            first = json.loads(nb.output_text(4).strip().splitlines()[-1])
            wait_until(lambda first=first: [row_at(page, p) for p in range(6)] == first, "sorted by name")
        header = page.evaluate(f"() => {VIEW}.header.querySelector(\"[data-column='name']\").textContent")
        assert header.endswith("\u25b2")
    finally:
        server.stop()


POINTS = 200_000
CHART_SETUP = f"""
import iii_live, json, math
engine = iii_live.start(port=0)
s = engine.stream("m")
for i in range({POINTS}):
    s.set("c", f"{{i:07d}}", {{"t": i, "v": math.sin(i / 5000), "w": (i % 1000) / 1000}})
for i in range(300):
    s.set("small", f"{{i:04d}}", {{"t": i, "v": i % 17}})
"""
CHARTS = """
big = s.chart("c", x="t", y=["v", "w"], height=220)
small = s.chart("small", x="t", y="v", height=220)
display(big, small)
"""
APPEND = f"""
for i in range({POINTS}, {POINTS + 500}):
    s.set("c", f"{{i:07d}}", {{"t": i, "v": 3.0, "w": 0.5}})
    s.set("small", f"{{i:07d}}", {{"t": i, "v": 20}})
"""
IN_ZOOM = 's.set("c", "in-zoom", {"t": ZOOM_X, "v": -7.5, "w": 0})'
CHART = "(globalThis.__iiiLive || []).filter(e => e.group === 'm/{}').pop().view"


def chart_state(page, group: str) -> dict:
    return page.evaluate(
        f"""() => {{ const v = {CHART.format(group)};
            return {{points: Number(v.root.dataset.points), exact: v.root.dataset.exact, zoom: v.zoom,
                     min: v.plot.scales.x.min, max: v.plot.scales.x.max,
                     last: JSON.parse(v.root.dataset.last), total: Number(v.root.dataset.total || 0),
                     ys: v.plot.data[1], widths: v.plot.series.slice(1).map(s => s.width * devicePixelRatio),
                     req: v._req, answered: v._shown?.view === v.id && v._shown?.req === v._req}}; }}"""
    )


def drag_zoom(page, index: int, start: float, end: float) -> None:
    """Zoom the way a reader does: drag across the plot from ``start`` to ``end`` (fractions of its width)."""
    box = page.locator(".iii-chart .u-over").nth(index).bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (start + end) / 2, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * end, y, steps=5)
    page.mouse.up()


def test_charts_keep_the_readers_zoom_while_points_come_and_a_large_one_is_drawn_by_the_kernel(
    tmp_path, page
):
    server, nb = open_lab(tmp_path, page, [CHART_SETUP, CHARTS, APPEND, IN_ZOOM])
    try:
        nb.run(0)
        nb.run(1)
        page.wait_for_function(f"() => Number({CHART.format('c')}?.root.dataset.points) > 0")
        big = chart_state(page, "c")
        assert big["total"] == POINTS and big["exact"] == "false"
        assert big["points"] <= 2 * 1600  # min and max per pixel column, not 200,000 points
        assert page.evaluate(f"() => {CHART.format('c')}.store.items.size") == 0
        assert big["widths"] == [1, 1]  # a dense range: lines one device pixel wide
        assert chart_state(page, "small")["widths"] == [1.5]  # every point: the usual width

        asked = chart_state(page, "c")["req"]
        drag_zoom(page, 0, 0.3, 0.35)
        wait_until(
            lambda: chart_state(page, "c")["req"] > asked and chart_state(page, "c")["answered"],
            "the zoomed range",
        )
        zoomed = chart_state(page, "c")
        assert zoomed["zoom"] is not None and (zoomed["min"], zoomed["max"]) == (
            zoomed["zoom"]["min"],
            zoomed["zoom"]["max"],
        )
        assert zoomed["points"] <= 2 * 1600
        drag_zoom(page, 1, 0.2, 0.5)
        wait_until(lambda: chart_state(page, "small")["zoom"] is not None, "the small chart zoomed")
        small_zoom = chart_state(page, "small")["zoom"]

        nb.run(2)  # 500 points appended to each, outside the zoomed ranges
        wait_until(lambda: chart_state(page, "small")["last"][0] is not None, "the small chart's data")
        nb.set_source(3, IN_ZOOM.replace("ZOOM_X", str(round((zoomed["min"] + zoomed["max"]) / 2, 3))))
        nb.run(3)  # a point inside the zoom: it shows, and the zoom stays
        wait_until(lambda: -7.5 in chart_state(page, "c")["ys"], "the new point in the zoomed range")
        now = chart_state(page, "c")
        assert (now["min"], now["max"]) == (zoomed["min"], zoomed["max"])
        assert chart_state(page, "small")["zoom"] == small_zoom
        assert (chart_state(page, "small")["min"], chart_state(page, "small")["max"]) == (
            small_zoom["min"],
            small_zoom["max"],
        )

        page.locator(".iii-chart .u-over").nth(0).dblclick()  # back to following the data
        wait_until(
            lambda: chart_state(page, "c")["zoom"] is None and chart_state(page, "c")["max"] > POINTS,
            "the whole range again, to the last point appended",
        )
        following = chart_state(page, "c")
        assert max(v for v in following["ys"] if v is not None) == 3.0  # the appended points, drawn
    finally:
        server.stop()
