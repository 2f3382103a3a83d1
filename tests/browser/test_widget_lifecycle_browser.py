"""Widgets in a notebook session as people use one, in JupyterLab through Chromium: a table
cell run twenty times under a feed, the start cell run again with other arguments, the
engine stopped, one widget shown twice, its output cleared and shown again, closed. Counts
come from the engine's own status; rates are messages per frame of the widgets' flusher."""

from __future__ import annotations

import json
import time

from .servers import Server, write_notebook
from .test_widgets_browser import Notebook, cell_text, store_items, wait_cell

START = """
import iii_live, json, threading, time
from iii_live.widgets.flusher import flusher
engine = iii_live.start(port=0)
s = engine.stream("m")
"""


def views_of(page, group: str) -> int:
    return page.evaluate("(g) => (globalThis.__iiiLive || []).filter(e => e.group === g).length", group)


def status_text(page, group: str) -> list[str]:
    """What each view of ``group`` says over its data ("" when live)."""
    return page.evaluate(
        "(g) => (globalThis.__iiiLive || []).filter(e => e.group === g)"
        ".map(e => e.view.root.dataset.status || '')",
        group,
    )


def printed(nb: Notebook, index: int) -> dict:
    """The JSON a cell printed last."""
    return json.loads(nb.output_text(index).strip().splitlines()[-1])


def wait_until(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def open_notebook(tmp_path, page, cells: list[str]) -> tuple[Server, Notebook]:
    write_notebook(tmp_path / "session.ipynb", cells)
    server = Server("lab", tmp_path)
    page.goto(f"{server.base}/lab/tree/session.ipynb")
    return server, Notebook(page)


FEED = """
feeding = threading.Event()
feeding.set()
def feed():
    i = 0
    while feeding.is_set():
        began = time.monotonic()
        for _ in range(50):
            s.set("g", str(i % 1000), {"i": i, "k": i % 1000})
            i += 1
        time.sleep(max(0.0, 0.01 - (time.monotonic() - began)))  # 50 per 10 ms: 5,000 writes/s
feeder = threading.Thread(target=feed, daemon=True)
feeder.start()
"""
TABLE = 'table = s.table("g", height=150)\ntable'
RATE = """
def rate(widget, frames=60):
    frames0, sent0, held0 = flusher.frames, widget.messages_sent, flusher.held_back
    while flusher.frames < frames0 + frames:
        time.sleep(0.01)
    done = flusher.frames - frames0
    return {"per_frame": (widget.messages_sent - sent0) / done, "held_back": flusher.held_back - held0}
print(json.dumps({"rate": rate(table), "status": engine.status(), "views": table.views}))
"""
STOP_FEED = 'feeding.clear()\nfeeder.join()\nprint(json.dumps(s.items("g")))'


def test_a_table_cell_run_twenty_times_under_a_feed_leaves_one_table_at_its_full_rate(tmp_path, page):
    server, nb = open_notebook(tmp_path, page, [START, FEED, TABLE, RATE, STOP_FEED])
    try:
        nb.run(0)
        nb.run(1)
        nb.run(2)
        page.wait_for_selector(".iii-table .iii-row")
        nb.run(3)
        single = printed(nb, 3)
        assert single["status"]["subscriptions"] == 1 and single["views"] == 1

        for _ in range(19):
            nb.run(2)
        nb.run(3)
        after = printed(nb, 3)
        assert after["status"]["subscriptions"] == 1  # not 20
        assert after["status"]["widgets"] == {"live": 1, "paused": 19}
        assert after["views"] == 1 and views_of(page, "m/g") == 1
        assert after["rate"]["held_back"] == 0  # nothing shares the budget with the table on screen
        assert after["rate"]["per_frame"] >= 0.9 * single["rate"]["per_frame"], (single, after)

        nb.run(4)
        final = printed(nb, 4)
        assert len(final) == 1000
        wait_until(lambda: store_items(page, "m/g") == final, "the table on screen to hold the final state")
    finally:
        server.stop()


RESTART_CELLS = [
    START,
    's.set("g", "a", {"v": 1})\ntable = s.table("g", height=120)\ntable',
    'print(json.dumps({"same": table.engine is engine, "state": table.state, "status": engine.status()}))',
    's = engine.stream("m")\ns.set("g", "b", {"v": 2})',
    "engine.stop()",
]


def test_the_start_cell_run_again_moves_the_table_to_the_new_engine_and_a_stop_shows(tmp_path, page):
    server, nb = open_notebook(tmp_path, page, RESTART_CELLS)
    try:
        nb.run(0)
        nb.run(1)
        wait_cell(page, "m/g", "a", "v", "1")
        first = page.evaluate("() => document.querySelector('.iii-table').dataset.seq")

        nb.set_source(0, START.replace("start(port=0)", "start(port=0, token=True)"))  # other arguments
        nb.run(0)
        nb.run(2)
        moved = printed(nb, 2)
        assert moved["same"] and moved["state"] == "live"
        assert moved["status"]["subscriptions"] == 1 and moved["status"]["widgets"] == {"live": 1}
        wait_until(lambda: store_items(page, "m/g") == {}, "the new engine's (empty) storage")
        nb.run(3)
        wait_cell(page, "m/g", "b", "v", "2")
        assert status_text(page, "m/g") == [""]
        assert int(page.evaluate("() => document.querySelector('.iii-table').dataset.seq")) > int(first)

        nb.run(4)  # stopped, no successor
        wait_until(lambda: status_text(page, "m/g") == ["engine stopped"], "the view to say it stopped")
        assert store_items(page, "m/g") == {"b": {"v": 2}}  # the last state stays readable

        nb.run(0)  # started again: the stopped engine's table follows it
        wait_until(lambda: status_text(page, "m/g") == [""], "the view to be live again")
        nb.run(3)
        wait_cell(page, "m/g", "b", "v", "2")
        nb.run(2)
        assert printed(nb, 2)["same"]
    finally:
        server.stop()


TWO_VIEWS_CELLS = [
    START,
    's.set("g", "a", {"v": 1})\ntable = s.table("g", height=120)\ndisplay(table)\ndisplay(table)',
    'for i in range(300):\n    s.set("g", f"k{i:03d}", {"v": i})',
    'print(json.dumps({"views": table.views, "state": table.state, "status": engine.status()}))',
    "display(table)",
    'table.close()\nprint(json.dumps({"state": table.state, "status": engine.status()}))',
]


def test_a_table_shown_twice_cleared_shown_again_and_closed(tmp_path, page):
    server, nb = open_notebook(tmp_path, page, TWO_VIEWS_CELLS)
    try:
        nb.run(0)
        nb.run(1)
        wait_until(lambda: views_of(page, "m/g") == 2, "two views")
        nb.run(2)
        expected = {"a": {"v": 1}, **{f"k{i:03d}": {"v": i} for i in range(300)}}
        for view in range(2):  # both views live and exact, each with its own rows in the DOM
            wait_until(
                lambda view=view: (
                    page.evaluate(
                        "(i) => { const e = (globalThis.__iiiLive || []).filter(e => e.group === 'm/g')[i];"
                        " const row = e.view.root.querySelector('.iii-row[data-id=\"k000\"]');"
                        " return row?.querySelector('[data-column=\"v\"]')?.textContent; }",
                        view,
                    )
                    == "0"
                ),
                f"row k000 in view {view}",
            )
        assert store_items(page, "m/g") == expected
        nb.run(3)
        assert printed(nb, 3)["views"] == 2 and printed(nb, 3)["status"]["subscriptions"] == 1

        # the outputs cleared: no view, nothing held or sent
        page.evaluate(
            """() => { const nb = window.jupyterapp.shell.currentWidget;
                nb.content.activeCellIndex = 1;
                return window.jupyterapp.commands.execute('notebook:clear-cell-output'); }"""
        )
        wait_until(lambda: views_of(page, "m/g") == 0, "the views to go")
        nb.run(3)
        paused = printed(nb, 3)
        assert paused["views"] == 0 and paused["state"] == "paused"
        assert paused["status"]["subscriptions"] == 0
        nb.set_source(2, TWO_VIEWS_CELLS[2].replace('{"v": i}', '{"v": -i}'))
        nb.run(2)  # written while nobody looks

        nb.run(4)  # shown again: resynced at once from storage
        wait_cell(page, "m/g", "k001", "v", "-1")
        assert store_items(page, "m/g") == {"a": {"v": 1}, **{f"k{i:03d}": {"v": -i} for i in range(300)}}

        nb.run(5)
        closed = printed(nb, 5)
        assert closed["state"] == "closed" and closed["status"]["subscriptions"] == 0
        wait_until(lambda: status_text(page, "m/g") == ["closed"], "the view to say it is closed")
        assert cell_text(page, "m/g", "a", "v") == "1"  # what it showed stays, marked closed
    finally:
        server.stop()
