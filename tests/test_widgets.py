"""Widgets without a browser: the frame budget, traits, pandas in and out, the JS bundle."""

from __future__ import annotations

import subprocess
import time
import weakref
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import iii_live
from iii_live.widgets.flusher import Flusher, FrameRate

from .conftest import wait_for

ROOT = Path(__file__).resolve().parents[1]


class Recorder:
    def __init__(self, dirty=True):
        self.calls = []
        self.dirty = dirty

    def flush(self, now):
        self.calls.append(now)
        return 1 if self.dirty else 0


def test_flusher_caps_messages_across_widgets():
    flusher = Flusher(frame_seconds=0.02, max_per_second=100)  # 2 messages per frame
    widgets = [Recorder() for _ in range(10)]
    flusher._widgets.extend(weakref.ref(w) for w in widgets)  # frames driven by hand, not by the thread
    sent = sum(flusher.frame(float(n)) for n in range(50))  # one second of frames
    assert sent == 100  # max_per_second, never 10 widgets x 50 frames
    assert all(len(w.calls) == 10 for w in widgets)  # round robin: nobody starves


def test_frames_run_early_never_make_more_than_sixty_a_second():
    rate = FrameRate(per_second=60)
    for k in range(50):  # a second of regular frames
        assert rate.delay(k * 0.02) == 0
        rate.started(k * 0.02)
    for _ in range(10):  # ten run early, at once
        assert rate.delay(0.99) == 0
        rate.started(0.99)
    assert rate.delay(0.99) == pytest.approx(0.01)  # the 61st waits for the first to be a second old
    rate.started(1.0)
    assert rate.delay(1.0) == pytest.approx(0.02)


def test_a_frame_runs_as_soon_as_a_cell_ends():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        flusher = Flusher(frame_seconds=3600)  # no frame comes on its own after the first
        flusher.follow_cells()
        widget = Recorder()
        flusher.add(widget)
        wait_for(lambda: len(widget.calls) == 1)
        shell.run_cell("written = 1")
        wait_for(lambda: len(widget.calls) == 2)
    finally:
        InteractiveShell.clear_instance()


def test_frames_wait_for_the_start_of_a_cell_then_follow_it():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        flusher = Flusher(frame_seconds=3600)
        flusher.follow_cells()
        widget = Recorder()
        flusher._widgets.append(weakref.ref(widget))  # frames driven by hand, not by the thread
        shell.user_ns["flusher"] = flusher
        shell.run_cell(
            "import time\n"
            "early = flusher.frame(time.monotonic())\n"
            "later = flusher.frame(time.monotonic() + 0.1)"
        )
        assert (shell.user_ns["early"], shell.user_ns["later"]) == (0, 1)
        assert flusher.frame(time.monotonic()) == 1  # between cells: no hold
        assert len(widget.calls) == 2
    finally:
        InteractiveShell.clear_instance()


class Pending:
    """A widget with news after each write: one message carries every write since the last."""

    def __init__(self):
        self.news = 0
        self.sent = []

    def flush(self, now):
        if not self.news:
            return 0
        self.sent.append(self.news)
        self.news = 0
        return 1


def test_short_cells_run_back_to_back_each_reach_the_views_as_they_end():
    """A cell's end wakes a frame; the next cell starting before it runs must not hold back
    what the ended cell wrote (a run of short cells would keep every view still)."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        flusher = Flusher()
        flusher.follow_cells()
        widget = Pending()
        flusher.add(widget)
        shell.user_ns["widget"] = widget
        for _ in range(20):  # each cell writes once, then leaves the interpreter to others a moment
            shell.run_cell("import time\nwidget.news += 1\ntime.sleep(0.01)")
        wait_for(lambda: sum(widget.sent) == 20)
        assert max(widget.sent) <= 2  # sent as its cell ended, or while the next one ran
    finally:
        InteractiveShell.clear_instance()


def test_a_cell_end_stays_owed_until_every_widget_with_news_was_reached():
    """The frame a cell's end wakes may be out of messages for some widgets (the budget
    spent by the frame before): those still owe the ended cell's writes, and the next
    cell's hold must not keep them back."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        flusher = Flusher(frame_seconds=0.02, max_per_second=100)  # 2 messages per frame
        flusher.follow_cells()
        widgets = [Pending() for _ in range(3)]
        flusher._widgets.extend(weakref.ref(w) for w in widgets)  # frames driven by hand
        shell.user_ns.update(flusher=flusher, widgets=widgets)
        shell.run_cell("for w in widgets: w.news += 1")
        assert flusher.frame(time.monotonic()) == 2  # the frame the cell's end woke: two of three
        shell.run_cell(  # the next cell; a frame comes 50 ms into it, the budget refilled
            "import time\nheld = [bool(w.sent) for w in widgets]\n"
            "flusher.frame(time.monotonic() + 0.05)\nreached = [bool(w.sent) for w in widgets]"
        )
        assert shell.user_ns["held"].count(False) == 1
        assert shell.user_ns["reached"] == [True, True, True]
    finally:
        InteractiveShell.clear_instance()


def test_table_widget_mirrors_the_group_and_sends_bounded_messages(engine):
    s = engine.stream("m")
    s.set("g", "a", {"v": 1})
    table = s.table("g", columns=["v"], sort_by="v", max_rows=10)
    assert table._keyframe == {"seq": 1, "items": [["a", {"v": 1}]]}
    assert (table.columns, table.sort_by, table.max_rows) == (["v"], "v", 10)
    for i in range(5000):
        s.set("g", str(i % 100), {"v": i})
    s.delete("g", "a")
    wait_for(lambda: not table.session.coalescer.dirty)
    assert table.items == {str(k): {"v": 4900 + k} for k in range(100)}
    assert table.messages_sent < 100
    table.close()
    s.set("g", "late", {"v": 0})
    assert "late" not in table.items


def test_unacknowledged_widget_sends_keyframes(engine):
    s = engine.stream("m")
    table = s.table("k")
    before = dict(table._keyframe)
    s.set("k", "x", 1)
    wait_for(lambda: table._keyframe != before, timeout=5)
    assert table._keyframe["items"] == [["x", 1]]
    table.close()


def test_chart_options_and_validation(engine):
    chart = engine.stream("m").chart("pts", x="t", y=["a", "b"], kind="bar", window=50)
    assert (chart.x, chart.y, chart.kind, chart.window) == ("t", ["a", "b"], "bar", 50)
    with pytest.raises(ValueError, match="kind"):
        engine.stream("m").chart("pts", y="a", kind="pie")
    with pytest.raises(TypeError, match="y"):
        engine.stream("m").chart("pts", x="t")
    assert isinstance(chart, iii_live.LiveChart)
    chart.close()


def test_dataframe_style_column_selection(engine):
    table = engine.stream("m").table("g")
    narrow = table[["price", "meta.source"]]
    assert narrow.columns == ["price", "meta.source"]
    assert table["price"].columns == ["price"]
    assert engine.stream("m").table("g", columns=pd.Index(["a", "b"])).columns == ["a", "b"]


def test_to_frame_and_write_frame_round_trip(engine):
    s = engine.stream("px")
    df = pd.DataFrame(
        {
            "sym": ["a", "b", "c"],
            "px": [1.5, np.nan, 3.0],
            "ts": pd.to_datetime(["2026-01-01 10:00", "2026-01-02 00:00", "2026-01-03 00:00"]),
            "cat": pd.Categorical(["x", "y", "x"]),
            "n": np.array([1, 2, 3], dtype="int64"),
        }
    )
    assert s.write_frame("g", df, id_column="sym") == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
    }
    assert s.get("g", "b") == {"sym": "b", "px": None, "ts": "2026-01-02T00:00:00", "cat": "y", "n": 2}
    events = []
    s.subscribe("g", events.append)
    changed = df.copy()
    changed.loc[0, "px"] = 9.0
    assert s.write_frame("g", changed, id_column="sym") == {
        "created": 0,
        "updated": 1,
        "unchanged": 2,
        "deleted": 0,
    }
    assert [e["id"] for e in events[1:]] == ["a"]  # an event only for the row that changed
    assert s.write_frame("g", changed.iloc[:2], id_column="sym", delete_missing=True)["deleted"] == 1
    frame = s.to_frame("g")
    assert list(frame.index) == ["a", "b"]
    assert frame.index.name == "item_id"
    assert frame.loc["a", "px"] == 9.0
    assert pd.isna(frame.loc["b", "px"])
    assert str(frame["ts"].dtype).startswith("datetime64")
    assert frame.loc["b", "ts"] == pd.Timestamp("2026-01-02")


def test_write_frame_uses_the_index_and_rejects_duplicates(engine):
    s = engine.stream("px")
    df = pd.DataFrame({"v": [1, 2]}, index=["x", "y"])
    s.write_frame("idx", df)
    assert s.items("idx") == {"x": {"v": 1}, "y": {"v": 2}}
    with pytest.raises(ValueError, match="unique"):
        s.write_frame("idx", pd.DataFrame({"v": [1, 2]}, index=["x", "x"]))
    with pytest.raises(KeyError, match="nope"):
        s.write_frame("idx", df, id_column="nope")


def test_to_frame_nested_and_scalar_values(engine):
    s = engine.stream("nested")
    s.set("g", "a", {"m": {"used": 1, "free": 2}, "name": "x"})
    s.set("g", "b", 5)
    frame = s.to_frame("g")
    assert set(frame.columns) == {"m.used", "m.free", "name", "value"}
    assert frame.loc["b", "value"] == 5
    assert s.to_frame("empty").empty


@pytest.mark.subprocess
def test_javascript_store_logic():
    out = subprocess.run(
        ["node", "--test", str(ROOT / "js" / "test")], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "# fail 0" in out.stdout


def test_bundle_is_self_contained():
    """Everything the browser needs ships in the package: no import from the network."""
    for name in ("widget.js", "page.js"):
        bundle = (ROOT / "iii_live" / "static" / name).read_text()
        assert "u-legend" in bundle  # the chart library (uPlot) is bundled in
        for remote_import in ('from"http', "from'http", 'import("http', "import('http"):
            assert remote_import not in bundle.replace(" ", "")
