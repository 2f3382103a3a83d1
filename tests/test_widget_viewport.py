"""Tables over large groups, without a browser: the kernel answers each view's window with
its rows only, keeps them exact as the group changes, sorts from an index, and takes any
request without raising. Messages are read where the comm would send them."""

from __future__ import annotations

import json

import pytest

from iii_live.protocol import widget_session

from .conftest import wait_for


class Comm:
    """Records what a widget's comm sends (its custom messages)."""

    def __init__(self, comm) -> None:
        self.sent: list[dict] = []
        comm.send = self.send

    def send(self, data=None, metadata=None, buffers=None):
        if data.get("method") != "custom":
            return
        content = data["content"]
        if content.get("type") == "points":  # x and each series in Float64 buffers
            x, *y = [memoryview(buffer).cast("d").tolist() for buffer in buffers]
            content = {**content, "x": x, "y": y}
        self.sent.append(content)

    def frames(self, view: str) -> list[dict]:
        return [m for m in self.sent if m.get("type") == "rows" and m.get("view") == view]


def shown(engine, group, **options):
    """A table of ``m/group`` with one view (``v``) that asked to see it."""
    table = engine.stream("m").table(group, **options)
    comm = Comm(table.comm)
    table._received(table, {"type": "ready", "view": "v"}, [])
    return table, comm


def ask(table, **request):
    table._received(table, {"type": "window", "view": "v", **request}, [])


def last_frame(comm, view="v", **expect):
    """Wait for a frame of ``view`` that has ``expect``; return it."""

    def match():
        for frame in reversed(comm.frames(view)):
            if all(frame.get(k) == v for k, v in expect.items()):
                return frame
        return None

    wait_for(lambda: match() is not None, timeout=30)
    return match()


@pytest.fixture
def small_limit(monkeypatch):
    """Groups of more than 100 items go through windows (so tests stay quick)."""
    monkeypatch.setattr(widget_session, "WHOLE_LIMIT", 100)


def fill(engine, group, n):
    s = engine.stream("m")
    for i in range(n):
        s.set(group, f"{i:05d}", {"i": i, "x": (i * 7919) % 1000})


def test_a_large_group_is_sent_as_windows_of_rows(engine, small_limit):
    fill(engine, "big", 1000)
    table, comm = shown(engine, "big")
    assert table.session.windows is not None and table.items == {}
    default = table._keyframe["window"]
    assert default["total"] == 1000 and len(default["rows"]) == 100
    assert len(json.dumps(table._keyframe)) < 20_000
    ask(table, req=1, offset=800, before=2, after=10)
    frame = last_frame(comm, req=1)
    assert (frame["total"], frame["offset"], frame["start"]) == (1000, 800, 798)
    assert [r[0] for r in frame["rows"]] == [f"{i:05d}" for i in range(798, 810)]
    assert "1000 items" in repr(table)


def test_writes_in_view_are_sent_and_rows_stay_exact(engine, small_limit):
    fill(engine, "big", 1000)
    table, comm = shown(engine, "big")
    ask(table, req=1, offset=500, after=5)
    last_frame(comm, req=1)
    s = engine.stream("m")
    for n in range(200):
        s.set("big", f"{500 + n % 5:05d}", {"i": n})
    s.delete("big", "00010")  # above the window: its rows stay, the offset moves
    frame = last_frame(comm, offset=499)
    assert frame["rows"] == [[f"{500 + k:05d}", {"i": 195 + k}] for k in range(5)]
    assert frame["total"] == 999


def test_sorting_a_large_group_is_served_from_an_index(engine, small_limit):
    fill(engine, "big", 1000)
    table, comm = shown(engine, "big")
    ask(table, req=2, offset=0, after=3, sort={"by": "x", "ascending": False})
    frame = last_frame(comm, req=2)
    assert [r[1]["x"] for r in frame["rows"]] == [999, 998, 997]
    engine.stream("m").set("big", "00003", {"i": 3, "x": 10_000})  # to the top, where the view is
    wait_for(lambda: comm.frames("v")[-1]["rows"][0] == ["00003", {"i": 3, "x": 10_000}])


def test_a_group_that_grows_goes_to_windows_and_one_that_shrinks_comes_back(engine, small_limit):
    table, comm = shown(engine, "grows")
    fill(engine, "grows", 150)
    wait_for(lambda: table.session.windows is None and len(table.items) == 150)
    fill(engine, "grows", 250)  # past twice the limit
    wait_for(lambda: table.session.windows is not None)
    wait_for(lambda: "window" in table._keyframe and table._keyframe["window"]["total"] == 250)
    s = engine.stream("m")
    for i in range(220):
        s.delete("grows", f"{i:05d}")  # below half the limit: sent whole again, through a sync
    wait_for(lambda: table.session.windows is None and len(table.items) == 30)
    wait_for(lambda: "items" in table._keyframe and len(table._keyframe["items"]) == 30)


@pytest.mark.parametrize(
    "request_",
    [
        {"offset": 10**15, "after": 10**9},
        {"offset": -3, "before": "x", "after": None},
        {"offset": 5.5, "sort": {"by": "no.such.column"}, "columns": ["nope", 7]},
        {"sort": "x", "columns": "x", "req": -1},
    ],
)
def test_any_window_request_is_answered_clipped_never_raising(engine, small_limit, request_):
    fill(engine, "big", 300)
    table, comm = shown(engine, "big")
    table._received(table, {"type": "window", **request_}, [])  # no view: dropped
    table._received(table, {"type": "window", "view": 5}, [])
    ask(table, **request_)
    frame = last_frame(comm)
    assert frame["total"] == 300 and 0 <= frame["start"] <= frame["offset"] <= 300
    assert len(frame["rows"]) <= 500
    assert table.state == "live"


def test_a_new_default_sort_remakes_the_windows(engine, small_limit):
    fill(engine, "big", 300)
    table, _ = shown(engine, "big")
    table.sort_by, table.ascending = "x", False
    wait_for(lambda: table._keyframe.get("window", {}).get("sort") == {"by": "x", "ascending": False})
    assert table._keyframe["window"]["rows"][0][1]["x"] == max((i * 7919) % 1000 for i in range(300))


def test_a_large_chart_sends_each_view_its_range_downsampled(engine, small_limit):
    s = engine.stream("m")
    for i in range(5000):
        s.set("pts", f"{i:05d}", {"t": i, "v": i % 50})
    chart = s.chart("pts", x="t", y="v")
    comm = Comm(chart.comm)
    chart._received(chart, {"type": "ready", "view": "v"}, [])
    assert chart.session.windows is not None and chart.items == {}
    default = chart._keyframe["window"]
    assert default["total"] == 5000 and not default["exact"] and len(default["x"]) <= 2000
    chart._received(chart, {"type": "window", "view": "v", "req": 1, "x0": 100, "x1": 120, "width": 600}, [])
    wait_for(lambda: any(m.get("req") == 1 for m in comm.sent if m.get("type") == "points"))
    frame = [m for m in comm.sent if m.get("type") == "points" and m.get("req") == 1][-1]
    assert frame["exact"] and frame["x"] == [float(t) for t in range(100, 121)]
    s.set("pts", "new", {"t": 110.5, "v": 99})
    wait_for(lambda: 99.0 in [m for m in comm.sent if m.get("type") == "points"][-1]["y"][0])
