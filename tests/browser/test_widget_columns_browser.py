"""Deltas as binary columns in real JupyterLab: a table and a chart fed by many writes,
updates and deletes end holding exactly the engine's final values, with at most one comm
message per widget per flusher frame (counted, in the kernel and in the page)."""

from __future__ import annotations

import json

from .servers import Server, write_notebook
from .test_widgets_browser import Notebook, store_items

SETUP = """
import json, iii_live
from iii_live.widgets.flusher import flusher
engine = iii_live.start(port=0)
s = engine.stream("cols")
table = s.table("many", height=200)
chart = s.chart("pts", x="t", y=["a", "b"], height=200)
display(table, chart)
"""
WRITES = """
frames_before = flusher.frames
sent_before = {"table": table.messages_sent, "chart": chart.messages_sent}
for r in range(5):
    for i in range(3000):
        s.set("many", str(i), {"i": i, "v": i * 0.5 + r, "name": f"n{i}-{r}", "big": 2**40 + r, "r": r})
    for i in range(3000):
        s.set("pts", str(i), {"t": i, "a": (i * (r + 1)) % 13, "b": -i - r})
for i in range(0, 3000, 7):
    s.delete("many", str(i))
for i in range(0, 3000, 5):
    s.delete("pts", str(i))
s.set("many", "text", "a plain value")
s.set("many", "nested", {"deep": {"x": [1, None]}, "ok": True})
"""
STATS = """
print(json.dumps({
    "frames": flusher.frames - frames_before,
    "table": table.messages_sent - sent_before["table"],
    "chart": chart.messages_sent - sent_before["chart"],
}))
"""

EXPECTED_TABLE = {
    **{
        str(i): {"i": i, "v": i * 0.5 + 4, "name": f"n{i}-4", "big": 2**40 + 4, "r": 4}
        for i in range(3000)
        if i % 7
    },
    "text": "a plain value",
    "nested": {"deep": {"x": [1, None]}, "ok": True},
}
EXPECTED_CHART = {str(i): {"t": i, "a": (i * 5) % 13, "b": -i - 4} for i in range(3000) if i % 5}


def test_many_writes_and_deletes_end_in_the_final_values_with_a_bounded_message_count(tmp_path, page):
    write_notebook(tmp_path / "columns.ipynb", [SETUP, WRITES, STATS])
    server = Server("lab", tmp_path)
    try:
        page.goto(f"{server.base}/lab/tree/columns.ipynb")
        nb = Notebook(page)
        nb.run(0)
        page.wait_for_selector(".iii-table")
        page.wait_for_selector(".iii-chart canvas")
        nb.run(1)
        page.wait_for_function(
            """([table, chart]) => {
                const items = (group) =>
                    (globalThis.__iiiLive || []).find((e) => e.group === group)?.store.items;
                return items('cols/many')?.size === table && items('cols/pts')?.size === chart;
            }""",
            arg=[len(EXPECTED_TABLE), len(EXPECTED_CHART)],
        )
        assert store_items(page, "cols/many") == EXPECTED_TABLE
        assert store_items(page, "cols/pts") == EXPECTED_CHART
        last = 2999
        page.wait_for_function(
            f"() => document.querySelector('.iii-chart').dataset.points === '{len(EXPECTED_CHART)}'"
        )
        shown = json.loads(page.evaluate("() => document.querySelector('.iii-chart').dataset.last"))
        assert shown == [last, (last * 5) % 13, -last - 4]

        nb.run(2)
        counts = json.loads(nb.output_text(2).strip().splitlines()[-1])
        for widget in ("table", "chart"):
            assert 0 < counts[widget] <= counts["frames"] + 1, counts  # one message a frame at most
        received = page.evaluate(
            "() => (globalThis.__iiiLive || []).filter((e) => e.group.startsWith('cols/'))"
            ".map((e) => e.store.stats)"
        )
        assert all(stats["gaps"] == 0 for stats in received), received
        assert "Error" not in nb.output_text(1)
    finally:
        server.stop()
