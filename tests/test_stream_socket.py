"""The stream port with real sockets: join/leave, sync, every event type, path URLs."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

import iii_live

from .conftest import Client, call, stalled_socket, wait_for

WRAPPER_KEYS = ["type", "timestamp", "streamName", "groupId", "id", "event"]


def assert_frame(frame: dict, stream: str, group: str, item, event: dict) -> None:
    assert list(frame) == WRAPPER_KEYS
    assert frame["type"] == "stream"
    assert isinstance(frame["timestamp"], int) and frame["timestamp"] > 1_600_000_000_000
    assert (frame["streamName"], frame["groupId"], frame["id"]) == (stream, group, item)
    assert frame["event"] == event


def test_path_subscription_gets_every_frame_of_spec(engine, client_factory):
    """A set, an update, a delete and a send from Python reach /stream/chat/room-1."""
    c = client_factory(f"{engine.stream_url}/stream/chat/room-1")
    assert_frame(c.recv(), "chat", "room-1", None, {"type": "sync", "data": []})
    s = engine.stream("chat")
    s.set("room-1", "m1", {"text": "hi"})
    s.set("room-1", "m1", {"text": "edited"})
    s.delete("room-1", "m1")
    s.send("room-1", "typing", {"user": "al"})
    assert_frame(c.recv(), "chat", "room-1", "m1", {"type": "create", "data": {"text": "hi"}})
    assert_frame(c.recv(), "chat", "room-1", "m1", {"type": "update", "data": {"text": "edited"}})
    assert_frame(c.recv(), "chat", "room-1", "m1", {"type": "delete", "data": {"text": "edited"}})
    assert_frame(
        c.recv(),
        "chat",
        "room-1",
        None,
        {"type": "event", "event": {"type": "typing", "data": {"user": "al"}}},
    )


def test_frames_are_compact_json_text(engine, client_factory):
    c = client_factory(f"{engine.stream_url}/stream/chat/room-1/")
    c.recv()
    engine.stream("chat").set("room-1", "m1", {"a": 1})
    raw = c.recv_raw()
    assert isinstance(raw, str)
    assert raw.startswith('{"type":"stream","timestamp":')
    assert raw.endswith('"id":"m1","event":{"type":"create","data":{"a":1}}}')


def test_item_path_subscription(engine, client_factory):
    engine.stream("chat").set("room", "m1", {"t": 0})
    c = client_factory(f"{engine.stream_url}/stream/chat/room/m1")
    assert_frame(c.recv(), "chat", "room", "m1", {"type": "sync", "data": {"t": 0}})
    engine.stream("chat").set("room", "m2", {"t": 1})
    engine.stream("chat").send("room", "ping", None)
    engine.stream("chat").set("room", "m1", {"t": 2})
    assert c.recv()["event"] == {"type": "update", "data": {"t": 2}}  # m2 and the event were not sent
    engine.stream("chat").set("room", "m1", {"t": 3})
    assert c.recv()["event"] == {"type": "update", "data": {"t": 3}}  # nor anything twice


def test_percent_encoded_path_names(engine, client_factory):
    c = client_factory(f"{engine.stream_url}/stream/my%20stream/a%3Ab")
    assert c.recv()["streamName"] == "my stream"
    engine.stream("my stream").set("a:b", "i", 1)
    assert c.recv()["groupId"] == "a:b"


def test_join_on_root_sync_then_events_then_leave(engine, client_factory):
    engine.stream("chat").set("room", "a", {"id": "a"})
    c = client_factory(engine.stream_url)
    c.join("sub-1", "chat", "room")
    assert_frame(c.recv(), "chat", "room", None, {"type": "sync", "data": [{"id": "a"}]})  # nothing before
    c.join("sub-2", "chat", "room", "missing")
    assert_frame(c.recv(), "chat", "room", "missing", {"type": "sync", "data": None})
    engine.stream("chat").set("room", "b", {"id": "b"})
    assert c.recv()["id"] == "b"
    c.leave("sub-1", "chat", "room")
    c.join("marker", "chat", "other")  # frames are handled in order: its sync means the leave is done
    assert c.recv()["groupId"] == "other"
    engine.stream("chat").set("room", "c", {"id": "c"})
    engine.stream("chat").set("room", "missing", {"id": "missing"})
    frame = c.recv()
    assert (frame["id"], frame["event"]["type"]) == ("missing", "create")
    engine.stream("chat").set("other", "end", 1)
    assert c.recv()["groupId"] == "other"  # and nothing else came in between


def test_one_copy_per_matching_subscription(engine, client_factory):
    c = client_factory(engine.stream_url)
    c.join("g", "s", "grp")
    c.join("i", "s", "grp", "x")
    c.recv(), c.recv()
    engine.stream("s").set("grp", "x", 1)
    assert c.recv() == c.recv()
    engine.stream("s").set("grp", "y", 2)
    assert c.recv()["id"] == "y"  # no third copy of x


def test_rejoin_same_subscription_id_replaces_it(engine, client_factory):
    c = client_factory(engine.stream_url)
    c.join("same", "s", "g1")
    c.recv()
    c.join("same", "s", "g2")
    c.recv()
    engine.stream("s").set("g1", "x", 1)
    engine.stream("s").set("g2", "x", 2)
    assert c.recv()["groupId"] == "g2"
    engine.stream("s").set("g2", "y", 3)
    assert c.recv()["id"] == "y"  # one subscription, one copy


def test_many_clients_each_receive_everything_in_order(engine, client_factory):
    clients = [client_factory(f"{engine.stream_url}/stream/feed/all") for _ in range(40)]
    for c in clients:
        c.recv()
    for i in range(50):
        engine.stream("feed").set("all", str(i % 7), {"n": i})
    for c in clients:
        assert [c.recv()["event"]["data"]["n"] for _ in range(50)] == list(range(50))


def test_malformed_frames_are_ignored_and_connection_survives(engine, client_factory):
    c = client_factory(engine.stream_url)
    for junk in [
        "not json",
        "",
        "   ",
        "[1,2]",
        '{"type":"ping"}',
        '{"type":"join"}',
        '{"type":"join","data":{"subscriptionId":1,"streamName":"s","groupId":"g"}}',
        '{"type":"join","data":{"subscriptionId":"x","streamName":"s"}}',
        "[" * 100_000,
        b"\xff\xfe binary junk",
    ]:
        c.send(junk)
    c.join("ok", "s", "g")
    assert c.recv()["event"]["type"] == "sync"
    c.send(
        json.dumps(
            {"type": "join", "data": {"subscriptionId": "b", "streamName": "s", "groupId": "h"}}
        ).encode()
    )
    assert c.recv()["groupId"] == "h"  # binary frames are parsed as JSON too


def test_websocket_ping_is_answered(engine, client_factory):
    c = client_factory(engine.stream_url)
    pong = c.ws.ping(b"hello")
    assert pong.wait(5)


def test_join_triggers_veto_and_context(engine, client_factory):
    joins, leaves = [], []

    def on_join(payload):
        joins.append(payload)
        return {"unauthorized": payload["group_id"] == "secret"}

    engine.register_function("on_join", on_join)
    engine.register_function("on_leave", leaves.append)
    engine.register_trigger({"type": "stream:join", "function_id": "on_join", "config": {}})
    engine.register_trigger({"type": "stream:leave", "function_id": "on_leave", "config": {}})
    c = client_factory(engine.stream_url)
    c.join("s1", "chat", "secret", "m1")
    assert_frame(c.recv(), "chat", "secret", "m1", {"type": "unauthorized"})
    engine.stream("chat").set("secret", "m1", 1)
    c.join("s2", "chat", "open")
    assert c.recv()["event"]["type"] == "sync"  # the vetoed group's event never came
    assert joins[0] == {
        "subscription_id": "s1",
        "stream_name": "chat",
        "group_id": "secret",
        "id": "m1",
        "context": None,
    }
    c.leave("s2", "chat", "open")
    wait_for(lambda: len(leaves) == 1)
    assert leaves[0]["subscription_id"] == "s2"


def test_disconnect_fires_leave_for_remaining_subscriptions(engine):
    leaves = []
    engine.register_function("on_leave", leaves.append)
    engine.register_trigger({"type": "stream:leave", "function_id": "on_leave", "config": {}})
    c = Client(engine.stream_url)
    c.join("a", "s", "g1")
    c.join("b", "s", "g2", "i")
    c.recv(), c.recv()
    c.leave("a", "s", "g1")
    wait_for(lambda: len(leaves) == 1)
    c.close()
    wait_for(lambda: len(leaves) == 2)
    assert leaves[1] == {
        "subscription_id": "b",
        "stream_name": "s",
        "group_id": "g2",
        "id": "i",
        "context": None,
    }
    wait_for(lambda: engine.status()["subscriptions"] == 0)


def test_peer_vanishing_without_close_is_cleaned_up(engine):
    leaves = []
    engine.register_function("on_leave", leaves.append)
    engine.register_trigger({"type": "stream:leave", "function_id": "on_leave", "config": {}})
    c = Client(f"{engine.stream_url}/stream/s/g")
    c.recv()
    c.ws.socket.shutdown(socket.SHUT_RDWR)
    c.ws.socket.close()
    wait_for(lambda: len(leaves) == 1)
    assert engine.status()["connections"] == 0


def test_auth_function_context_reaches_join_triggers():
    engine = iii_live.start(port=0, background=True, auth_function="auth")
    try:
        auth_inputs, joins = [], []

        def auth(payload):
            auth_inputs.append(payload)
            return {"context": {"user": payload["query_params"].get("token", [""])[0]}}

        engine.register_function("auth", auth)
        engine.register_function("on_join", joins.append)
        engine.register_trigger({"type": "stream:join", "function_id": "on_join", "config": {}})
        c = Client(f"{engine.stream_url}/?token=abc&a=1&a=2&c", additional_headers={"X-Custom": "v"})
        c.join("s", "chat", "g")
        c.recv()
        (auth_input,) = auth_inputs
        assert auth_input["path"] == "/"
        assert auth_input["query_params"] == {"token": ["abc"], "a": ["1", "2"], "c": [""]}
        assert auth_input["headers"]["x-custom"] == "v"
        assert auth_input["headers"]["upgrade"].lower() == "websocket"
        assert auth_input["addr"].startswith("127.0.0.1:")
        assert joins[0]["context"] == {"user": "abc"}
        c.close()
    finally:
        engine.stop()


def test_failing_auth_function_fails_open():
    engine = iii_live.start(port=0, background=True, auth_function="missing::auth")
    try:
        c = Client(f"{engine.stream_url}/stream/s/g")
        assert c.recv()["event"]["type"] == "sync"
        c.close()
    finally:
        engine.stop()


def test_cross_origin_upgrade_is_refused(engine):
    with pytest.raises(InvalidStatus) as info:
        connect(engine.stream_url, origin="https://evil.example", open_timeout=5)
    assert info.value.response.status_code == 403
    with connect(engine.stream_url, origin=f"http://localhost:{engine.port + 1}", open_timeout=5):
        pass


def test_stop_closes_sockets_going_away():
    engine = iii_live.start(port=0, background=True)
    c = Client(f"{engine.stream_url}/stream/s/g")
    c.recv()
    engine.stop()
    with pytest.raises(ConnectionClosed):
        c.recv(timeout=5)
    assert c.ws.close_code == 1001


def test_writes_from_many_threads_arrive_in_the_same_order_everywhere(engine, client_factory):
    clients = [client_factory(f"{engine.stream_url}/stream/s/g") for _ in range(3)]
    for c in clients:
        c.recv()
    local = []
    engine.subscribe("s", "g", lambda m: local.append((m["id"], m["event"]["data"])))

    def writer(t):
        for i in range(100):
            engine.stream("s").set("g", f"{t}-{i % 5}", i)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    orders = [[(f["id"], f["event"]["data"]) for f in (c.recv() for _ in range(400))] for c in clients]
    assert orders[0] == orders[1] == orders[2] == local[1:]
    for t in range(4):  # each writer's own writes stay in its order
        assert [d for i, d in orders[0] if i.startswith(f"{t}-")] == list(range(100))


def test_timestamps_strictly_increase_within_a_group(engine, client_factory):
    c = client_factory(f"{engine.stream_url}/stream/s/g")
    c.recv()
    for i in range(200):
        call(engine, "stream::set", stream_name="s", group_id="g", item_id="x", data=i)
    stamps = [c.recv()["timestamp"] for _ in range(200)]
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))


def test_peer_that_stops_answering_pings_is_closed():
    engine = iii_live.start(port=0, background=True, ping_interval=0.2)
    try:
        silent = stalled_socket(engine.port, "/stream/s/g")
        alive = Client(f"{engine.stream_url}/stream/s/g")  # answers pings
        alive.recv()
        wait_for(lambda: engine.status()["connections"] == 2)
        wait_for(lambda: engine.status()["connections"] == 1, timeout=5)
        engine.stream("s").set("g", "still", 1)  # the one that answers was pinged as long, and stays
        assert alive.recv()["id"] == "still"
        silent.close()
        alive.close()
    finally:
        engine.stop()


def test_backlog_beyond_the_bound_is_dropped_and_sockets_resynced(engine, client_factory):
    """A writer that outruns the loop cannot grow memory without bound; clients end right."""
    c = client_factory(f"{engine.stream_url}/stream/s/g")
    c.recv()
    engine.core.hub.max_loop_backlog = 50
    engine.runtime.call_soon(time.sleep, 0.5)  # the loop is busy while the writes pile up
    for i in range(500):
        engine.stream("s").set("g", str(i % 7), i)
    expected = {str(i % 7): i for i in range(500)}
    state = {}
    while state != expected:
        frame = c.recv()
        if frame["event"]["type"] == "sync":
            state = {}
            for value in frame["event"]["data"]:
                state[str(value % 7)] = value
        else:
            state[frame["id"]] = frame["event"]["data"]
    assert engine.stream("s").list("g") and state == expected
