"""Retention: keyed rolling windows on kv and on Redis shared by two engines.

Exactness on small windows: which items remain, and which delete events went out, in
which order, to callbacks, sockets and triggers alike.
"""

from __future__ import annotations

import threading

import pytest
import redis

import iii_live
from iii_live import ConfigError
from iii_live.errors import InvocationError
from iii_live.protocol.stream_wire import DELETE, Event
from iii_live.streams.adapters.redis import INDEXED, POLICIES, group_key, recency_key

from .conftest import call, wait_for


def kinds(messages):
    return [(m["event"]["type"], m["id"]) for m in messages if m["event"]["type"] != "sync"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- kv --------------------------------------------------------------------------------


def test_max_items_evicts_the_least_recently_written(engine):
    s = engine.stream("ticks")
    seen = []
    engine.subscribe("ticks", "g", seen.append)
    assert s.retain("g", max_items=3) == 0
    for item in "abc":
        s.set("g", item, {"n": item})
    s.set("g", "a", {"n": "a2"})  # a is now the most recent: b goes first
    s.set("g", "d", {"n": "d"})
    s.update("g", "e", [{"type": "set", "path": "n", "value": "e"}])
    assert s.items("g") == {"a": {"n": "a2"}, "d": {"n": "d"}, "e": {"n": "e"}}
    assert kinds(seen) == [
        ("create", "a"),
        ("create", "b"),
        ("create", "c"),
        ("update", "a"),
        ("create", "d"),
        ("delete", "b"),
        ("create", "e"),
        ("delete", "c"),
    ]
    deletes = [m for m in seen if m["event"]["type"] == "delete"]
    assert [m["event"]["data"] for m in deletes] == [{"n": "b"}, {"n": "c"}]
    creates = [m for m in seen if m["id"] in ("d", "e") and m["event"]["type"] == "create"]
    assert [d["timestamp"] for d in deletes] == [c["timestamp"] for c in creates]  # stamped with the write


def test_a_stream_policy_covers_every_group_and_a_group_policy_wins(engine):
    s = engine.stream("feed")
    for n in range(4):
        s.set("old", f"i{n}", n)
    assert s.retain(max_items=2) == 2  # applies at once to existing groups
    assert s.list("old") == [2, 3]
    s.retain("wide", max_items=3)
    for n in range(5):
        s.set("new", f"i{n}", n)  # a group created later
        s.set("wide", f"i{n}", n)
    assert s.list("new") == [3, 4]
    assert s.list("wide") == [2, 3, 4]
    s.retain("wide")  # neither bound: the group's own window goes, the stream's applies
    s.set("wide", "i5", 5)
    assert s.list("wide") == [4, 5]
    s.retain()
    for n in range(6, 9):
        s.set("wide", f"i{n}", n)
    assert s.list("wide") == [4, 5, 6, 7, 8]


def test_ttl_evicts_items_not_written_for_that_long(engine):
    clock = FakeClock()
    engine.adapter.now = clock
    s = engine.stream("ttl")
    seen = []
    engine.subscribe("ttl", "g", seen.append)
    s.retain("g", ttl=10)
    s.set("g", "a", 1)
    clock.now += 4
    s.set("g", "b", 2)
    clock.now += 4
    s.set("g", "a", 3)  # written again: a's clock restarts
    clock.now += 3  # b is 7 s old, a 3 s: nothing expired
    s.set("g", "c", 4)
    assert s.list("g") == [3, 2, 4]
    clock.now += 4  # b is 11 s old: the sweeper deletes it without any write
    wait_for(lambda: ("delete", "b") in kinds(seen))
    assert s.items("g") == {"a": 3, "c": 4}
    clock.now += 100
    wait_for(lambda: not s.list("g"))
    assert kinds(seen)[-3:] == [("delete", "b"), ("delete", "a"), ("delete", "c")]


def test_the_sweeper_runs_on_the_real_clock(engine):
    s = engine.stream("live")
    s.retain(ttl="200ms")
    seen = []
    engine.subscribe("live", "g", seen.append)
    s.set("g", "x", 1)
    wait_for(lambda: ("delete", "x") in kinds(seen))
    assert s.list("g") == []
    assert engine.stream("live").list_groups() == []


def test_evictions_reach_sockets_and_triggers(engine, client_factory):
    fired = []
    engine.register_function("on_change", lambda event: fired.append((event["event"]["type"], event["id"])))
    engine.register_trigger({"type": "stream", "function_id": "on_change", "config": {"stream_name": "w"}})
    client = client_factory(engine.stream_url)
    client.join("sub", "w", "g")
    assert client.recv()["event"]["type"] == "sync"
    s = engine.stream("w")
    s.retain("g", max_items=1)
    s.set("g", "a", 1)
    s.set("g", "b", 2)
    received = [client.recv() for _ in range(3)]
    assert kinds(received) == [("create", "a"), ("create", "b"), ("delete", "a")]
    assert received[2]["event"]["data"] == 1
    wait_for(lambda: len(fired) == 3)
    assert fired == [("create", "a"), ("create", "b"), ("delete", "a")]


def test_a_bulk_write_keeps_the_window(engine):
    pd = pytest.importorskip("pandas")
    s = engine.stream("frames")
    s.retain("g", max_items=3)
    seen = []
    engine.subscribe("frames", "g", seen.append)
    s.write_frame("g", pd.DataFrame({"v": range(5)}, index=[f"r{n}" for n in range(5)]))
    assert s.items("g") == {"r2": {"v": 2}, "r3": {"v": 3}, "r4": {"v": 4}}
    assert kinds(seen)[-2:] == [("delete", "r0"), ("delete", "r1")]


def test_retention_survives_a_restart_of_a_file_store(tmp_path):
    adapter = {"name": "kv", "config": {"store_method": "file_based", "file_path": str(tmp_path / "db")}}
    engine = iii_live.start(port=0, background=True, adapter=adapter, retention={"log": {"max_items": 2}})
    for n in range(5):
        engine.stream("log").set("g", f"e{n}", n)
    engine.stop()
    engine = iii_live.start(port=0, background=True, adapter=adapter, retention={"log": {"max_items": 2}})
    try:
        assert engine.stream("log").items("g") == {"e3": 3, "e4": 4}
        engine.stream("log").set("g", "e5", 5)
        assert engine.stream("log").items("g") == {"e4": 4, "e5": 5}
    finally:
        engine.stop()


def test_retention_from_a_config_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "workers:\n  - name: iii-stream\n    config:\n      port: 0\n      engine_port: null\n"
        "      retention:\n        ticks:\n          max_items: 2\n          ttl: 1h\n"
    )
    engine = iii_live.start(str(path), background=True)
    try:
        assert engine.config.retention["ticks"].max_items == 2
        assert engine.config.retention["ticks"].ttl == 3600
        for n in range(3):
            call(engine, "stream::set", stream_name="ticks", group_id="g", item_id=f"t{n}", data=n)
        assert engine.stream("ticks").list("g") == [1, 2]
    finally:
        engine.stop()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_items": 0}, "`max_items` must be a positive integer, not 0"),
        ({"max_items": -3}, "`max_items` must be a positive integer"),
        ({"max_items": 2.5}, "`max_items` must be a positive integer"),
        ({"max_items": True}, "`max_items` must be a positive integer"),
        ({"max_items": "10"}, "`max_items` must be a positive integer"),
        ({"ttl": 0}, "`ttl` must be a positive number of seconds or a duration"),
        ({"ttl": -1}, "`ttl` must be a positive number"),
        ({"ttl": float("nan")}, "`ttl` must be a positive number"),
        ({"ttl": float("inf")}, "`ttl` must be a positive number"),
        ({"ttl": "soon"}, "`ttl` must be a positive number"),
        ({"ttl": "10 weeks"}, "`ttl` must be a positive number"),
        ({"ttl": True}, "`ttl` must be a positive number"),
    ],
)
def test_bad_retention_values_name_the_key(engine, kwargs, message):
    s = engine.stream("bad")
    s.set("g", "keep", 1)
    with pytest.raises(ConfigError, match=message):
        s.retain("g", **kwargs)
    with pytest.raises(ConfigError, match="retention.bad: " + message):
        iii_live.start(port=0, background=True, engine_port=None, retention={"bad": kwargs})
    assert s.list("g") == [1]


@pytest.mark.parametrize(
    ("retention", "message"),
    [
        ([1, 2], "`retention` must map stream names to"),
        ({"s": 5}, "`retention.s` must be a mapping with max_items and/or ttl"),
        ({"s": {"max": 5}}, "unknown key\\(s\\) in `retention.s`: max"),
        ({"s": {}}, "`retention.s` needs max_items and/or ttl"),
    ],
)
def test_bad_retention_blocks_name_the_key(retention, message):
    with pytest.raises(ConfigError, match=message):
        iii_live.start(port=0, background=True, engine_port=None, retention=retention)


def test_retain_checks_the_names(engine):
    with pytest.raises(InvocationError, match="`group_id` must not be empty"):
        engine.stream("names").retain("", max_items=1)
    with pytest.raises(InvocationError, match="`stream_name` contains control characters"):
        engine.stream("bad\n").retain(max_items=1)


def test_durations(engine):
    s = engine.stream("d")
    durations = [
        (90, 90),
        (1.5, 1.5),
        ("250ms", 0.25),
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1d", 86400),
    ]
    for ttl, seconds in durations:
        s.retain("g", ttl=ttl)
        assert engine.adapter.policies()[("d", "g")].ttl == seconds


# -- Redis, two engines ----------------------------------------------------------------


def test_redis_window_is_shared_and_exact(redis_server, redis_engines):
    a, b = redis_engines(), redis_engines()
    seen_a, seen_b = [], []
    a.subscribe("ticks", "g", seen_a.append)
    b.subscribe("ticks", "g", seen_b.append)
    a.stream("ticks").retain("g", max_items=3)  # stored in Redis: b applies it too
    for n in range(6):
        (a if n % 2 else b).stream("ticks").set("g", f"t{n}", {"n": n})
    b.stream("ticks").set("g", "t3", {"n": "3b"})  # rewritten: t4 is now the oldest
    a.stream("ticks").set("g", "t6", {"n": 6})
    expected = [(("create", f"t{n}")) for n in range(4)]
    expected += [("delete", "t0"), ("create", "t4"), ("delete", "t1"), ("create", "t5"), ("delete", "t2")]
    expected += [("update", "t3"), ("create", "t6"), ("delete", "t4")]
    wait_for(lambda: len(kinds(seen_a)) == len(expected) and len(kinds(seen_b)) == len(expected))
    assert kinds(seen_a) == expected
    assert [m["timestamp"] for m in seen_a[1:]] == [m["timestamp"] for m in seen_b[1:]]  # past the syncs
    assert a.stream("ticks").items("g") == {"t3": {"n": "3b"}, "t5": {"n": 5}, "t6": {"n": 6}}
    raw = redis.Redis.from_url(redis_server.url)
    assert set(raw.hgetall("stream:ticks:g")) == {b"t3", b"t5", b"t6"}  # iii's layout, nothing added
    assert raw.zrange(recency_key("ticks", "g"), 0, -1) == [b"t5", b"t3", b"t6"]
    assert raw.hget(POLICIES, "ticks\ng") == b'{"max_items":3}'
    assert raw.smembers(INDEXED) == {b"ticks\ng"}


def test_redis_eviction_is_atomic_with_the_write(redis_server, redis_engines):
    """Writers on two engines and a reader polling Redis: the hash never holds more than the
    window, as each write and its evictions are one script."""
    a, b = redis_engines(), redis_engines()
    a.stream("busy").retain("g", max_items=5)
    raw = redis.Redis.from_url(redis_server.url)
    stop = threading.Event()
    lengths = []

    def watch() -> None:
        while not stop.is_set():
            lengths.append(raw.hlen("stream:busy:g"))

    def write(engine: iii_live.Engine, prefix: str) -> None:
        for n in range(300):
            engine.stream("busy").set("g", f"{prefix}{n}", n)

    watcher = threading.Thread(target=watch)
    writers = [threading.Thread(target=write, args=(e, p)) for e, p in ((a, "a"), (b, "b"))]
    watcher.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    stop.set()
    watcher.join()
    assert len(lengths) > 10
    assert max(lengths) == 5
    assert raw.hlen("stream:busy:g") == 5


def test_redis_delete_frames_match_the_python_ones(redis_server, redis_engines):
    """Golden: the frames the eviction script builds equal ``Event.frame``, byte for byte."""
    a = redis_engines()
    pubsub = redis.Redis.from_url(redis_server.url).pubsub()
    pubsub.subscribe("stream::events")
    wait_for(lambda: (pubsub.get_message(timeout=0.1) or {}).get("type") == "subscribe")
    names = ['q"uote', "back\\slash", "ünï/€", "plain"]
    values = {name: {"name": name, "nested": [1, {"a": None}]} for name in names}
    s = a.stream("s:1")
    for name in names:
        s.set("g", name, values[name])
    s.retain("g", max_items=1)  # items already there count as written now, in id order
    frames: list[bytes] = []

    def collected() -> bool:
        message = pubsub.get_message(timeout=0.1)
        if message and message["type"] == "message":
            frames.append(message["data"])
        return len(frames) == 7

    wait_for(collected)
    evicted = sorted(names, key=str.encode)[:3]
    for name, frame in zip(evicted, frames[4:], strict=True):
        stamp = iii_live.codec.loads(frame)["timestamp"]
        expected = Event("s:1", "g", name, stamp, DELETE, None, data_json=iii_live.codec.dumps(values[name]))
        assert frame == expected.frame
    assert s.items("g") == {"ünï/€": values["ünï/€"]}


def test_redis_ttl_evicts_without_writes_on_every_engine(redis_engines):
    a, b = redis_engines(), redis_engines()
    seen_b = []
    b.subscribe("sessions", "g", seen_b.append)
    b.stream("sessions").retain(ttl=0.3)
    a.stream("sessions").set("g", "s1", 1)
    wait_for(lambda: ("delete", "s1") in kinds(seen_b))
    assert a.stream("sessions").list("g") == []
    assert kinds(seen_b) == [("create", "s1"), ("delete", "s1")]


def test_redis_configured_policy_reaches_engines_without_it(redis_server, redis_engines):
    a = redis_engines(retention={"cfg": {"max_items": 1}})
    b = redis_engines()
    b.stream("cfg").set("g", "x", 1)
    b.stream("cfg").set("g", "y", 2)
    assert a.stream("cfg").items("g") == {"y": 2}
    assert b.adapter.policies() == a.adapter.policies()


def test_redis_items_written_by_others_are_left_alone(redis_server, redis_engines):
    """An iii engine writes the hash directly: those items are not in the index."""
    a = redis_engines()
    raw = redis.Redis.from_url(redis_server.url)
    a.stream("mix").retain("g", max_items=1)
    raw.hset(group_key("mix", "g"), "from-iii", b'{"v":0}')
    a.stream("mix").set("g", "x", 1)
    a.stream("mix").set("g", "y", 2)
    assert a.stream("mix").items("g") == {"from-iii": {"v": 0}, "y": 2}


def test_redis_retain_indexes_existing_items(redis_engines):
    a = redis_engines()
    s = a.stream("pre")
    for n in range(4):
        s.set("g", f"p{n}", n)
    assert s.retain("g", max_items=2) == 2  # as written at once: the first ids go first
    assert s.items("g") == {"p2": 2, "p3": 3}
