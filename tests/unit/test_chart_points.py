"""A large chart's points in the kernel, without I/O: min/max per pixel column checked against
a plain computation, points kept right through appends, moves and deletes, ranges taken as
far as they make sense, frames only when what a range shows changed."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from iii_live.protocol.chart_points import ChartRanges, number, points_json, points_message


def event(kind, item_id, data=None):
    return {"id": item_id, "event": {"type": kind, "data": data}}


def frames(chart):
    return {frame["view"]: frame for frame in chart.frames()}


def series(n, seed=0):
    rng = random.Random(seed)
    return {f"p{i:06d}": {"t": i * 0.5, "v": rng.uniform(-1, 1), "w": rng.randrange(100)} for i in range(n)}


def test_each_pixel_column_is_its_minimum_and_maximum():
    items = series(50_000)
    chart = ChartRanges("t", ["v", "w"])
    chart.load(items)
    chart.ask({"view": "a", "req": 1, "x0": 1000.0, "x1": 9000.0, "width": 300})
    frame = frames(chart)["a"]
    assert not frame["exact"] and frame["range"] == [1000.0, 9000.0]
    ts = np.array([p["t"] for p in items.values()])
    vs = np.array([p["v"] for p in items.values()])
    edges = np.linspace(1000.0, 9000.0, 301)
    expected_min, expected_max = [], []
    for left, right, last in zip(edges[:-1], edges[1:], [False] * 299 + [True], strict=True):
        inside = (ts >= left) & ((ts <= right) if last else (ts < right))
        if inside.any():
            expected_min.append(vs[inside].min())
            expected_max.append(vs[inside].max())
    assert frame["y"][0][0::2] == pytest.approx(expected_min)
    assert frame["y"][0][1::2] == pytest.approx(expected_max)
    assert len(frame["x"]) == 2 * len(expected_min) <= 600


def test_few_points_are_sent_as_they_are():
    chart = ChartRanges("t", ["v"])
    chart.load({"a": {"t": 2, "v": 1}, "b": {"t": 1, "v": None}, "c": {"t": "x", "v": 3}, "d": {"v": 4}})
    frame = frames(chart)[""]
    assert frame["exact"] and frame["x"] == [1.0, 2.0] and frame["y"] == [[None, 1.0]]
    assert frame["total"] == 2  # points without an x are not plotted


def test_appends_moves_and_deletes_end_as_a_fresh_load_of_the_same_items():
    rng = random.Random(3)
    live = ChartRanges("t", ["v"])
    stored: dict[str, dict] = {}
    live.load({})
    for step in range(5000):
        item_id = f"k{rng.randrange(800)}"
        if stored and rng.random() < 0.2 and item_id in stored:
            del stored[item_id]
            live.apply(event("delete", item_id, None))
        else:
            value = {"t": rng.choice([step, rng.uniform(0, 5000)]), "v": rng.uniform(0, 1)}
            kind = "update" if item_id in stored else "create"
            stored[item_id] = value
            live.apply(event(kind, item_id, value))
        if step % 500 == 0:
            live.frames()
    fresh = ChartRanges("t", ["v"])
    fresh.load(stored)
    for chart in (live, fresh):
        chart.ask({"view": "v", "req": 1, "width": 4000})
    assert frames(live)["v"]["x"] == frames(fresh)["v"]["x"]
    assert frames(live) == {}  # nothing changed since


def test_the_default_range_follows_the_last_points_of_a_window():
    chart = ChartRanges(None, ["v"], window=100)
    chart.load({f"i{i}": {"v": i} for i in range(1000)})
    frame = frames(chart)[""]
    assert frame["range"] == [900.0, 999.0] and frame["exact"] and len(frame["x"]) == 100
    chart.apply(event("create", "next", {"v": 7}))
    assert frames(chart)[""]["range"] == [901.0, 1000.0]


def test_a_zoomed_range_gets_a_frame_only_when_its_points_change():
    chart = ChartRanges("t", ["v"])
    chart.load(series(1000))
    chart.ask({"view": "z", "req": 1, "x0": 10, "x1": 20, "width": 500})
    first = frames(chart)
    assert set(first) == {"", "z"}
    chart.apply(event("create", "late", {"t": 10_000, "v": 1}))  # outside the zoom
    assert set(frames(chart)) == {""}
    chart.apply(event("update", "p000030", {"t": 15, "v": 42}))  # inside
    assert 42.0 in frames(chart)["z"]["y"][0]


@pytest.mark.parametrize(
    "request_",
    [
        {"view": "b", "x0": "a", "x1": None, "width": -5},
        {"view": "b", "x0": 50, "x1": 10, "width": 10**9},
        {"view": "b", "x0": float("nan"), "x1": float("inf"), "width": "wide", "req": True},
    ],
)
def test_ranges_are_taken_as_far_as_they_make_sense(request_):
    chart = ChartRanges("t", ["v"])
    chart.load(series(20_000))
    chart.ask(request_)
    chart.ask({"x0": 1})  # names no view: dropped
    frame = frames(chart)["b"]
    low, high = frame["range"]
    assert low <= high and len(frame["x"]) <= 8000
    json.dumps(frame, allow_nan=False)


def test_timestamps_plot_as_seconds():
    assert number("2026-01-01T00:00:00Z") == number("2026-01-01T00:00:00") == 1767225600.0
    assert number("1.5") == 1.5 and number(True) == 1.0 and number("x") is None and number(None) is None
    chart = ChartRanges("ts", ["v"])
    chart.load({"a": {"ts": "2026-01-01T00:00:01", "v": 1}, "b": {"ts": "2026-01-01T00:00:00", "v": 2}})
    frame = frames(chart)[""]
    assert frame["time"] and frame["x"] == [1767225600.0, 1767225601.0]


def test_a_million_points_are_sent_in_well_under_a_megabyte():
    chart = ChartRanges(None, ["v"], arrays=True)
    chart.load({f"{i}": {"v": (i * 7919) % 1000} for i in range(1_000_000)})
    chart.ask({"view": "wide", "req": 1, "width": 2000})
    messages = [points_message(frame) for frame in chart.frames()]
    sizes = [len(json.dumps(content)) + sum(map(len, buffers)) for content, buffers in messages]
    assert max(sizes) < 1_000_000


def test_a_points_message_carries_the_frame_in_float64_buffers():
    chart = ChartRanges("t", ["v", "w"], arrays=True)
    chart.load({"a": {"t": 1, "v": 2.5, "w": None}, "b": {"t": 2, "v": -1, "w": 7}})
    chart.ask({"view": "v", "req": 3, "width": 100})
    frame = {f["view"]: f for f in chart.frames()}["v"]
    content, buffers = points_message(frame)
    assert content["x"] == 0 and content["y"] == [1, 2] and content["n"] == 2 and content["req"] == 3
    json.dumps(content)
    columns = [memoryview(b).cast("d").tolist() for b in buffers]
    assert columns[0] == [1.0, 2.0] and columns[1] == [2.5, -1.0]
    assert math.isnan(columns[2][0]) and columns[2][1] == 7.0
    assert points_json(frame)["y"] == [[2.5, -1.0], [None, 7.0]]
