"""The redis adapter against a real redis-server: iii layout, several redis_engines, faults."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iii_live
from iii_live import InvocationError

from .conftest import Client, redis_engine, wait_for


def test_values_are_stored_in_the_iii_layout(redis_server, redis_engines):
    engine = redis_engines()
    engine.stream("chat").set("room-1", "m1", {"text": "hi", "n": 1})
    assert json.loads(redis_server.cli("HGET", "stream:chat:room-1", "m1")) == {"text": "hi", "n": 1}
    assert redis_server.cli("TYPE", "stream:chat:room-1") == "hash"
    engine.stream("chat").delete("room-1", "m1")
    assert redis_server.cli("EXISTS", "stream:chat:room-1") == "0"


def test_values_written_by_raw_commands_are_read_back(redis_server, redis_engines):
    """What an iii engine (or redis-cli) writes in the iii layout, iii-live reads."""
    redis_server.cli(
        "HSET", "stream:orders:eu", "o1", '{"id":"o1","total":12.5}', "o2", '{"id":"o2","total":3}'
    )
    redis_server.cli("HSET", "stream:orders:us", "o3", '{"id":"o3"}')
    engine = redis_engines()
    s = engine.stream("orders")
    assert s.get("eu", "o1") == {"id": "o1", "total": 12.5}
    assert sorted(s.list("eu"), key=lambda v: v["id"]) == [
        {"id": "o1", "total": 12.5},
        {"id": "o2", "total": 3},
    ]
    assert sorted(s.list_groups()) == ["eu", "us"]
    assert engine.trigger({"function_id": "stream::list_all", "payload": {}}) == {
        "stream": [{"id": "orders", "groups": ["eu", "us"]}],
        "count": 1,
    }
    result = s.update("eu", "o2", [{"type": "increment", "path": "total", "by": 2}])
    assert result == {"old_value": {"id": "o2", "total": 3}, "new_value": {"id": "o2", "total": 5}}
    assert json.loads(redis_server.cli("HGET", "stream:orders:eu", "o2")) == {"id": "o2", "total": 5}


def test_events_published_in_the_iii_wrapper_and_received_from_others(redis_server, redis_engines):
    engine = redis_engines()
    pubsub = redis_server.client().pubsub()
    pubsub.subscribe("stream::events")
    pubsub.get_message(timeout=2)
    engine.stream("chat").set("room", "m1", {"t": 1})
    message = None
    while message is None or message["type"] != "message":
        message = pubsub.get_message(timeout=2)
    wrapper = json.loads(message["data"])
    assert list(wrapper) == ["type", "timestamp", "streamName", "groupId", "id", "event"]
    assert wrapper["event"] == {"type": "create", "data": {"t": 1}}
    # a frame published by another engine (here: redis-cli) reaches this engine's sockets as is
    c = Client(f"{engine.stream_url}/stream/chat/room")
    c.recv()
    frame = (
        '{"type":"stream","timestamp":1,"streamName":"chat","groupId":"room","id":"x",'
        '"event":{"type":"update","data":{"a":1}}}'
    )
    redis_server.cli("PUBLISH", "stream::events", frame)
    assert c.recv_raw() == frame
    redis_server.cli("PUBLISH", "stream::events", "not an event")
    engine.stream("chat").set("room", "m2", 2)
    assert c.recv()["id"] == "m2"
    c.close()


ENGINE_PROCESS = textwrap.dedent(
    """
    import sys, time, iii_live
    adapter = {"name": "redis", "config": {"redis_url": sys.argv[1]}}
    engine = iii_live.start(port=0, background=True, adapter=adapter)
    while not engine.status()["storage"]["subscribed"]:
        time.sleep(0.05)
    print(engine.stream_url, engine.engine_url, flush=True)
    for line in sys.stdin:
        n = int(line)
        for i in range(n):
            engine.stream("feed").set("g", f"b{i % 5}", {"from": "b", "i": i})
        print("done", flush=True)
    engine.stop()
    """
)


def test_two_engines_in_two_processes_share_streams_in_one_order(redis_server, redis_engines):
    a = redis_engines()
    proc = subprocess.Popen(
        [sys.executable, "-c", ENGINE_PROCESS, redis_server.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        b_stream_url = proc.stdout.readline().split()[0]
        clients = [
            Client(f"{url}/stream/feed/g") for url in (a.stream_url, a.stream_url, b_stream_url, b_stream_url)
        ]
        for c in clients:
            assert c.recv()["event"]["type"] == "sync"
        writer = threading.Thread(
            target=lambda: [a.stream("feed").set("g", f"a{i % 5}", {"from": "a", "i": i}) for i in range(200)]
        )
        writer.start()
        proc.stdin.write("200\n")
        proc.stdin.flush()
        writer.join()
        assert proc.stdout.readline().strip() == "done"
        orders = [
            [(f["id"], f["event"]["data"]["i"]) for f in (c.recv() for _ in range(400))] for c in clients
        ]
        assert orders[0] == orders[1] == orders[2] == orders[3]
        assert [i for k, i in orders[0] if k.startswith("a")] == list(range(200))
        assert [i for k, i in orders[0] if k.startswith("b")] == list(range(200))
        final = {f"{src}{k}": None for src in "ab" for k in range(5)}
        for item_id, i in orders[0]:
            final[item_id] = i
        stored = {v["from"] + str(v["i"] % 5): v["i"] for v in a.stream("feed").list("g")}
        assert stored == final
        for c in clients:
            c.close()
    finally:
        proc.stdin.close()
        proc.wait(15)


def test_concurrent_updates_from_two_engines_are_atomic(redis_engines):
    a, b = redis_engines(), redis_engines()

    def bump(engine):
        for _ in range(100):
            engine.stream("c").update("g", "counter", [{"type": "increment", "path": "n", "by": 1}])

    threads = [threading.Thread(target=bump, args=(e,)) for e in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert a.stream("c").get("g", "counter") == {"n": 400}


def test_triggers_run_only_on_the_engine_that_wrote(redis_engines):
    a, b = redis_engines(), redis_engines()
    fired = {"a": [], "b": []}
    for name, engine in (("a", a), ("b", b)):
        engine.register_function("on_change", lambda e, name=name: fired[name].append(e["id"]))
        engine.register_trigger(
            {"type": "stream", "function_id": "on_change", "config": {"stream_name": "t"}}
        )
    seen_b = []
    b.subscribe("t", "g", seen_b.append)
    a.stream("t").set("g", "x", 1)
    wait_for(lambda: fired["a"] == ["x"] and len(seen_b) == 2)
    b.stream("t").set("g", "y", 1)  # b's triggers run in order: x would come first
    wait_for(lambda: fired["b"])
    assert fired["b"] == ["y"]


def test_redis_killed_and_restarted(redis_server, redis_engines):
    a, b = redis_engines(), redis_engines()
    c = Client(f"{b.stream_url}/stream/live/g")
    c.recv()
    a.stream("live").set("g", "before", 1)
    assert c.recv()["id"] == "before"
    redis_server.kill()
    with pytest.raises(InvocationError) as info:
        a.stream("live").set("g", "during", 2)
    assert info.value.code == "STREAM_SET_ERROR"
    assert "unavailable" in info.value.message
    wait_for(lambda: not b.status()["storage"]["healthy"])
    assert b.status()["storage"]["last_error"]
    redis_server.start()
    wait_for(lambda: b.status()["storage"]["healthy"] and a.status()["storage"]["healthy"], timeout=10)
    resync = c.recv()
    assert resync["event"] == {"type": "sync", "data": []}  # a fresh Redis: storage is empty now
    a.stream("live").set("g", "after", 3)
    assert c.recv()["id"] == "after"
    assert b.status()["storage"]["outages"] == 1
    c.close()


def test_killed_pubsub_connection_is_replaced_and_subscribers_resynced(redis_server, redis_engines):
    a = redis_engines()
    c = Client(f"{a.stream_url}/stream/s/g")
    c.recv()
    a.stream("s").set("g", "i", 1)
    c.recv()
    redis_server.cli("CLIENT", "KILL", "TYPE", "pubsub")
    frame = c.recv(timeout=10)
    assert frame["event"] == {"type": "sync", "data": [1]}
    a.stream("s").set("g", "j", 2)
    assert c.recv()["id"] == "j"
    c.close()


def test_subscriber_that_falls_behind_is_resynced_not_left_stale(redis_server, redis_engines):
    writer, slow = redis_engines(), redis_engines()
    redis_server.cli("CONFIG", "SET", "client-output-buffer-limit", "pubsub 64kb 32kb 1")
    gate = threading.Event()
    seen = []

    def stuck_then_fine(message):
        if message["event"]["type"] != "sync":
            gate.wait(10)  # the first event blocks the slow engine's pub/sub reader
        seen.append(message)

    slow.subscribe("flood", "g", stuck_then_fine)
    seen.clear()
    pad = "x" * 16_000
    for i in range(1500):  # ~24 MB, more than the socket buffers hold, while the reader is stuck
        writer.stream("flood").set("g", str(i % 20), {"i": i, "pad": pad})
    gate.set()
    wait_for(lambda: slow.status()["storage"]["resyncs"] >= 1, timeout=20)
    final = sorted(v["i"] for v in writer.stream("flood").list("g"))
    wait_for(lambda: any(m["event"]["type"] == "sync" for m in seen), timeout=10)
    syncs = [m for m in seen if m["event"]["type"] == "sync"]
    assert sorted(v["i"] for v in syncs[-1]["event"]["data"]) == final


def test_redis_down_at_start_reports_and_recovers(redis_server):
    redis_server.kill()
    engine = iii_live.start(
        port=0, background=True, adapter={"name": "redis", "config": {"redis_url": redis_server.url}}
    )
    try:
        assert not engine.status()["storage"]["healthy"]
        with pytest.raises(InvocationError, match="unavailable"):
            engine.stream("s").get("g", "i")
        redis_server.start()
        wait_for(lambda: engine.status()["storage"]["healthy"], timeout=10)
        engine.stream("s").set("g", "i", 1)
        assert engine.stream("s").get("g", "i") == 1
    finally:
        engine.stop()


def test_bad_redis_config():
    with pytest.raises(iii_live.ConfigError, match="redis_url"):
        iii_live.start(
            port=0, background=True, adapter={"name": "redis", "config": {"redis_url": "http://x"}}
        )
    with pytest.raises(iii_live.ConfigError, match="passwrd"):
        iii_live.start(port=0, background=True, adapter={"name": "redis", "config": {"passwrd": "x"}})


def test_names_with_colons_are_distinct(redis_engines):
    """Every (stream, group) pair is its own group, whatever `:`, `%` or glob characters it holds."""
    engine = redis_engines()
    names = [
        ("a", "b:c"),
        ("a:b", "c"),
        ("a:b:c", "d"),
        ("a", "b:c:d"),
        ("a%3Ab", "c"),
        ("a*", "b:c"),
        ("a[:]", "?"),
        ("a%:", "%"),
        ("%3A", "b"),
    ]
    for n, (stream, group) in enumerate(names):
        engine.stream(stream).set(group, "x", n)
    for n, (stream, group) in enumerate(names):
        assert engine.stream(stream).get(group, "x") == n
        assert engine.stream(stream).items(group) == {"x": n}
    assert sorted(engine.stream("a").list_groups()) == ["b:c", "b:c:d"]
    assert engine.stream("a:b").list_groups() == ["c"]
    assert engine.stream("a*").list_groups() == ["b:c"]
    assert engine.trigger({"function_id": "stream::list_all", "payload": {}})["stream"] == [
        {"id": stream, "groups": sorted(group for s, group in names if s == stream)}
        for stream in sorted({s for s, _ in names})
    ]
    engine.stream("a:b").delete("c", "x")
    assert engine.stream("a").get("b:c", "x") == 0
    engine.stream("a").update("b:c", "x", [{"type": "set", "path": "", "value": "updated"}])
    assert engine.stream("a:b").get("c", "x") is None
    assert engine.stream("a:b").list_groups() == []


def test_what_an_iii_engine_sees_of_names_with_colons(redis_server, redis_engines):
    """Streams without `:` keep the iii layout exactly (groups may hold `:`); streams with `:`
    live under `iii-live:stream:`, which iii's `stream:*` scans never parse."""
    engine = redis_engines()
    pubsub = redis_server.client().pubsub()
    pubsub.subscribe("stream::events")
    pubsub.get_message(timeout=2)
    engine.stream("a").set("b:c", "x", {"v": 1})
    engine.stream("a:b").set("c", "x", {"v": 2})
    assert json.loads(redis_server.cli("HGET", "stream:a:b:c", "x")) == {"v": 1}
    assert json.loads(redis_server.cli("HGET", "iii-live:stream:a%3Ab:c", "x")) == {"v": 2}
    assert redis_server.cli("--scan", "--pattern", "stream:*").split() == ["stream:a:b:c"]
    frames = []
    while len(frames) < 2:
        message = pubsub.get_message(timeout=2)
        if message is not None and message["type"] == "message":
            frames.append(json.loads(message["data"]))
    assert [(f["streamName"], f["groupId"]) for f in frames] == [("a", "b:c"), ("a:b", "c")]
    # a key an iii engine wrote at stream:{stream}:{group} reads as a stream without `:`
    redis_server.cli("HSET", "stream:p:q:r", "i", '{"from":"iii"}')
    assert engine.stream("p").get("q:r", "i") == {"from": "iii"}
    assert engine.stream("p").list_groups() == ["q:r"]
    # keys no name maps to are not listed
    for foreign in ("stream::g", "stream:s:", "iii-live:stream:nocolon:g", "iii-live:stream:a%3Ab"):
        redis_server.cli("HSET", foreign, "i", "1")
    assert engine.trigger({"function_id": "stream::list_all", "payload": {}})["stream"] == [
        {"id": "a", "groups": ["b:c"]},
        {"id": "a:b", "groups": ["c"]},
        {"id": "p", "groups": ["q:r"]},
    ]


names_with_separators = st.text(alphabet="ab:%*?[]\\3A5", min_size=1, max_size=6)


@pytest.fixture
def one_engine(redis_server):
    """One engine for every example of a hypothesis test (each example starts from FLUSHDB)."""
    engine = redis_engine(redis_server)
    yield engine
    engine.stop()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(names_with_separators, names_with_separators), min_size=1, max_size=5))
def test_any_names_map_to_their_own_group(redis_server, one_engine, pairs):
    engine = one_engine
    redis_server.client().flushdb()
    for n, (stream, group) in enumerate(pairs):
        engine.stream(stream).set(group, "x", n)
    latest = {pair: n for n, pair in enumerate(pairs)}
    for (stream, group), n in latest.items():
        assert engine.stream(stream).get(group, "x") == n
    listed = engine.trigger({"function_id": "stream::list_all", "payload": {}})["stream"]
    assert {(entry["id"], group) for entry in listed for group in entry["groups"]} == set(latest)
    for stream in {stream for stream, _ in pairs}:
        assert sorted(engine.stream(stream).list_groups()) == sorted(g for s, g in latest if s == stream)
