"""The viewport protocol over a direct WebSocket (what the stream browser and the demo page
use for large groups): real sockets against a real engine."""

from __future__ import annotations

import time

import pytest

from .conftest import wait_for

ITEMS = 30_000


@pytest.fixture
def big(engine):
    s = engine.stream("m")
    for i in range(ITEMS):
        s.set("g", f"{i:06d}", {"i": i, "x": (i * 7919) % 1000})
    return s


def window(client, sub="w1", **data):
    client.send(
        {"type": "window", "data": {"subscriptionId": sub, "streamName": "m", "groupId": "g", **data}}
    )


def frame_where(client, predicate, timeout=10.0):
    """The next frame the client gets that satisfies ``predicate`` (others are read past)."""
    deadline = time.monotonic() + timeout
    while True:
        message = client.recv(timeout=max(0.01, deadline - time.monotonic()))
        if predicate(message):
            return message


def test_a_page_gets_the_rows_it_asks_for_and_their_changes(engine, big, client_factory):
    client = client_factory(engine.stream_url + "/")
    window(client, req=1, offset=20_000, before=2, after=5)
    frame = frame_where(client, lambda m: m["type"] == "rows")
    assert (frame["subscriptionId"], frame["streamName"], frame["groupId"]) == ("w1", "m", "g")
    assert (frame["total"], frame["offset"], frame["start"]) == (ITEMS, 20_000, 19_998)
    assert [row[0] for row in frame["rows"]] == [f"{i:06d}" for i in range(19_998, 20_005)]
    big.set("g", "020001", {"i": "changed"})
    big.delete("g", "000005")  # above: the offset moves, the rows stay
    frame = frame_where(client, lambda m: m["offset"] == 19_999)
    assert frame["rows"][3] == ["020001", {"i": "changed"}]
    assert frame["total"] == ITEMS - 1


def test_a_page_sorts_a_large_group_in_the_engine(engine, big, client_factory):
    client = client_factory(engine.stream_url + "/")
    window(client, req=1, offset=0, after=3, sort={"by": "x", "ascending": False})
    frame = frame_where(client, lambda m: m["type"] == "rows")
    assert [row[1]["x"] for row in frame["rows"]] == [999, 999, 999]
    window(client, req=2, offset=0, after=3, sort={"by": None, "ascending": False})  # newest first
    frame = frame_where(client, lambda m: m["req"] == 2)
    assert frame["rows"][0][0] == f"{ITEMS - 1:06d}"


def test_a_page_gets_a_chart_range_drawn_by_the_engine(engine, client_factory):
    s = engine.stream("m")
    for i in range(20_000):
        s.set("c", f"{i:06d}", {"t": i, "v": i % 97})
    client = client_factory(engine.stream_url + "/")
    request = {
        "subscriptionId": "c1",
        "streamName": "m",
        "groupId": "c",
        "kind": "points",
        "x": "t",
        "y": ["v"],
    }
    client.send({"type": "window", "data": {**request, "req": 1, "width": 500}})
    frame = frame_where(client, lambda m: m["type"] == "points")
    assert frame["total"] == 20_000 and not frame["exact"] and len(frame["x"]) <= 1000
    assert max(frame["y"][0]) == 96 and min(frame["y"][0]) == 0
    client.send({"type": "window", "data": {**request, "req": 2, "x0": 10, "x1": 20, "width": 500}})
    frame = frame_where(client, lambda m: m["req"] == 2)
    assert frame["exact"] and frame["x"] == [float(t) for t in range(10, 21)]


def test_closing_a_window_or_the_socket_lets_go_of_the_group(engine, big, client_factory):
    client = client_factory(engine.stream_url + "/")
    window(client, "a", req=1)
    window(client, "b", req=1, offset=100)
    frame_where(client, lambda m: m["subscriptionId"] == "b")
    assert engine.status()["subscriptions"] == 1  # one read of the group for both windows
    client.send({"type": "window", "data": {"subscriptionId": "a", "close": True}})
    client.send({"type": "window", "data": {"subscriptionId": "b", "close": True}})
    wait_for(lambda: engine.status()["subscriptions"] == 0)
    window(client, "c", req=1)
    frame_where(client, lambda m: m["subscriptionId"] == "c")
    client.close()
    wait_for(lambda: engine.status()["subscriptions"] == 0)


def test_bad_window_frames_are_ignored_and_the_connection_stays(engine, big, client_factory):
    client = client_factory(engine.stream_url + "/")
    bad = [
        "not json",
        {"type": "window"},
        {"type": "window", "data": "x"},
        {"type": "window", "data": {"subscriptionId": 5, "streamName": "m", "groupId": "g"}},
        {"type": "window", "data": {"subscriptionId": "x", "streamName": "", "groupId": "g"}},
        {"type": "window", "data": {"subscriptionId": "x", "streamName": "m", "groupId": "g", "kind": "pie"}},
        {
            "type": "window",
            "data": {"subscriptionId": "x", "streamName": "m", "groupId": "g", "kind": "points"},
        },
        {"type": "window", "data": {"subscriptionId": "x\u0000", "streamName": "m", "groupId": "g"}},
    ]
    for message in bad:
        client.send(message)
    window(client, "ok", req=7, offset=10**12, before=3, after=5, sort={"by": "nope"}, columns=["x", 1])
    frame = frame_where(client, lambda m: m["type"] == "rows")
    assert frame["subscriptionId"] == "ok" and frame["offset"] == ITEMS and len(frame["rows"]) == 3
    assert all(set(row[1]) <= {"x"} for row in frame["rows"])
    client.join("j", "m", "other")  # joins still work on the same connection
    assert frame_where(client, lambda m: m.get("type") == "stream")["event"]["type"] == "sync"


def test_windows_count_against_the_subscriptions_a_connection_may_hold(engine, big, client_factory):
    limit = engine.core.limits.max_subscriptions_per_connection
    client = client_factory(engine.stream_url + "/")
    for n in range(limit + 5):
        client.send(
            {"type": "window", "data": {"subscriptionId": f"w{n}", "streamName": "m", "groupId": f"g{n}"}}
        )
    wait_for(lambda: engine.status()["subscriptions"] == limit)
    window(client, "last", req=1)  # one too many: not served
    client.send({"type": "window", "data": {"subscriptionId": "w0", "close": True}})
    window(client, "last", req=2)  # a place is free again
    first = frame_where(client, lambda m: m["subscriptionId"] == "last")
    assert first["req"] == 2
