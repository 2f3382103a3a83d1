"""The kv adapter on files: restarts, a killed process, torn journal lines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import iii_live
from iii_live import ConfigError
from iii_live.streams.adapters.journal import snapshot_name

from .conftest import call, wait_for


def file_engine(path, **config):
    adapter = {"name": "kv", "config": {"store_method": "file_based", "file_path": str(path), **config}}
    return iii_live.start(port=0, background=True, adapter=adapter)


def test_restart_serves_what_it_had_in_order(tmp_path):
    engine = file_engine(tmp_path / "db")
    s = engine.stream("orders")
    for item in ["c", "a", "b"]:
        s.set("eu", item, {"id": item})
    s.delete("eu", "a")
    s.update("eu", "c", [{"type": "set", "path": "paid", "value": True}])
    s.set("us", "x", [1, 2])
    s.delete("us", "x")
    engine.stop()

    engine = file_engine(tmp_path / "db")
    try:
        assert engine.stream("orders").list("eu") == [{"id": "c", "paid": True}, {"id": "b"}]
        assert engine.stream("orders").list_groups() == ["eu"]
    finally:
        engine.stop()


def test_snapshots_are_written_on_the_interval(tmp_path):
    engine = file_engine(tmp_path / "db", save_interval_ms=100)
    try:
        engine.stream("s").set("g", "i", 1)
        snapshot = tmp_path / "db" / snapshot_name("s", "g")
        wait_for(snapshot.exists)
        assert not (tmp_path / "db" / "journal.log").stat().st_size
    finally:
        engine.stop()


WRITER = textwrap.dedent(
    """
    import sys, iii_live
    engine = iii_live.start(port=0, background=True, adapter={"name": "kv", "config": {
        "store_method": "file_based", "file_path": sys.argv[1], "save_interval_ms": 3600000,
        "durable": sys.argv[2] == "durable"}})
    s = engine.stream("s")
    for i in range(500):
        s.set("g", str(i % 50), {"n": i})
        if i % 7 == 0:
            s.delete("g", str((i + 3) % 50))
        print(i, flush=True)
    sys.stdin.read()
    """
)


@pytest.mark.subprocess
@pytest.mark.parametrize("mode", ["journaled", "durable"])
def test_acknowledged_writes_survive_sigkill(tmp_path, mode):
    db = tmp_path / "db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = [proc.stdout.readline() for _ in range(500)]
    assert lines[-1].strip() == "499"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    expected = {}
    for i in range(500):
        expected[str(i % 50)] = {"n": i}
        if i % 7 == 0:
            expected.pop(str((i + 3) % 50), None)
    engine = file_engine(db)
    try:
        s = engine.stream("s")
        assert {k: s.get("g", k) for k in map(str, range(50)) if s.get("g", k) is not None} == expected
        assert len(s.list("g")) == len(expected)
    finally:
        engine.stop()
    assert not list(db.glob("journal-*.log"))


def test_journal_left_by_a_crash_is_replayed_and_a_torn_line_skipped(tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    (db / "journal-3.log").write_bytes(b'["s","s","g","a",{"v":1}]\n["s","s","g","b",2]\n')
    (db / "journal.log").write_bytes(
        b'["d","s","g","b"]\n["s","s","g","c",[3]]\nnot json\n["s","s","g","torn",{"unfinish'
    )
    engine = file_engine(db)
    try:
        assert engine.stream("s").list("g") == [{"v": 1}, [3]]
    finally:
        engine.stop()
    assert sorted(p.name for p in db.iterdir()) == ["journal.log", snapshot_name("s", "g")]
    assert (db / "journal.log").stat().st_size == 0


def test_bad_kv_config_is_rejected():
    with pytest.raises(ConfigError, match="store_method"):
        iii_live.start(port=0, background=True, adapter={"name": "kv", "config": {"store_method": "tape"}})
    with pytest.raises(ConfigError, match="frobnicate"):
        iii_live.start(port=0, background=True, adapter={"name": "kv", "config": {"frobnicate": 1}})


def test_in_memory_is_the_default():
    engine = iii_live.start(port=0, background=True)
    try:
        assert repr(engine.adapter) == "KvAdapter(in_memory)"
        call(engine, "stream::set", stream_name="s", group_id="g", item_id="i", data=1)
    finally:
        engine.stop()


@pytest.mark.parametrize("save_interval_ms", [100, 3_600_000])  # from snapshots, from the journal
def test_bulk_writes_and_paged_groups_survive_a_restart(tmp_path, save_interval_ms):
    pd = pytest.importorskip("pandas")
    engine = file_engine(tmp_path / "db", save_interval_ms=save_interval_ms)
    ids = [f'k{n}"\\' if n % 97 == 0 else f"k{n}" for n in range(3000)]  # some ids need escaping
    frame = pd.DataFrame({"v": range(3000), "s": [f"s{n % 5}" for n in range(3000)]}, index=ids)
    s = engine.stream("bulk")
    s.write_frame("g", frame)
    frame.loc[ids[10], "v"] = -1
    s.write_frame("g", frame.drop(index=ids[20]), delete_missing=True)
    s.set("g", ids[5], {"edited": True})  # a paged item rewritten in place
    s.delete("g", ids[6])
    expected = s.items("g")
    if save_interval_ms == 100:
        wait_for(lambda: (tmp_path / "db" / snapshot_name("bulk", "g")).exists())
    engine.stop()
    engine = file_engine(tmp_path / "db")
    try:
        restored = engine.stream("bulk").items("g")
        assert list(restored) == list(expected)
        assert restored == expected
        assert restored[ids[10]] == {"v": -1, "s": "s0"}
        assert ids[20] not in restored and ids[6] not in restored
    finally:
        engine.stop()


FUZZY_WRITER = textwrap.dedent(
    """
    import sys, threading, iii_live
    from iii_live.streams.adapters import kv, pages
    kv.SNAPSHOT_PAGES = 1  # snapshots read one page per hold of the lock: writes land between
    pages.LOOSE_ITEMS, pages.PAGE_ITEMS = 8, 4
    engine = iii_live.start(port=0, background=True, adapter={"name": "kv", "config": {
        "store_method": "file_based", "file_path": sys.argv[1], "save_interval_ms": 3600000}})
    saved = threading.Semaphore(0)

    def save_forever():
        while True:
            engine.adapter.save()
            saved.release()

    threading.Thread(target=save_forever, daemon=True).start()
    s = engine.stream("s")
    for i in range(6000):
        s.set("g", str(i % 300), {"n": i})
        if i % 7 == 0:
            s.delete("g", str((i * 13) % 300))
        if i % 500 == 0:
            saved.acquire()  # a save finished since the last one waited for: saves interleave
        print(i, flush=True)
    sys.stdin.read()
    """
)


def test_snapshots_read_while_writes_go_on_lose_nothing(tmp_path):
    """Saves run back to back while a writer sets, deletes and writes items again; killed at
    the end (maybe in the middle of a save), the store comes back with every acknowledged
    write, in first-write order."""
    db = tmp_path / "db"
    proc = subprocess.Popen(
        [sys.executable, "-c", FUZZY_WRITER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = [proc.stdout.readline() for _ in range(6000)]
    assert lines[-1].strip() == "5999"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    expected: dict[str, dict] = {}
    for i in range(6000):
        expected[str(i % 300)] = {"n": i}
        if i % 7 == 0:
            expected.pop(str((i * 13) % 300), None)
    engine = file_engine(db)
    try:
        restored = engine.stream("s").items("g")
        assert restored == expected
        assert list(restored) == list(expected)
    finally:
        engine.stop()


def test_a_snapshot_is_not_replayed_over_by_journals_it_includes(tmp_path):
    """Killed in the middle of a save: the new snapshot (generation 4) is written, the journal
    it includes is not removed yet. Replaying that journal again would move w after v."""
    db = tmp_path / "db"
    db.mkdir()
    (db / snapshot_name("s", "g")).write_bytes(
        b'{"stream_name":"s","group_id":"g","generation":4,"items":{"a":1,"w":2,"v":3}}'
    )
    (db / "journal-4.log").write_bytes(b'["d","s","g","w"]\n["s","s","g","w",2]\n')
    (db / "journal.log").write_bytes(b'["s","s","g","v",3]\n["s","s","g","x",4]\n')
    (db / snapshot_name("s", "other")).write_bytes(  # an older snapshot: journal-4 applies to it
        b'{"stream_name":"s","group_id":"other","generation":3,"items":{"k":0}}'
    )
    (db / "journal-4.log").write_bytes(
        b'["d","s","g","w"]\n["s","s","g","w",2]\n["s","s","other","k",1]\n["s","s","other","j",1]\n'
    )
    engine = file_engine(db)
    try:
        assert engine.stream("s").items("g") == {"a": 1, "w": 2, "v": 3, "x": 4}
        assert list(engine.stream("s").items("g")) == ["a", "w", "v", "x"]
        assert engine.stream("s").items("other") == {"k": 1, "j": 1}
        engine.stream("s").set("g", "y", 5)
    finally:
        engine.stop()
    engine = file_engine(db)  # generations go on from the highest one found
    try:
        assert list(engine.stream("s").items("g")) == ["a", "w", "v", "x", "y"]
    finally:
        engine.stop()
