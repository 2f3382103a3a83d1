"""The kv file store under injected faults: failed saves, killed processes, damaged files.

Faults are real: a directory where a save must write a file makes the save fail with
``IsADirectoryError``; a killed process is a subprocess that gets SIGKILL; a crash image is a
copy of the store directory taken while the engine runs (exactly what a SIGKILL leaves, as
every journal append is a ``write`` to the file).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from iii_live import codec
from iii_live.streams.adapters.journal import snapshot_name

from .test_storage import file_engine

NO_TIMER = 3_600_000  # saves happen only when a test calls them

# -- failed saves: replay follows write order ------------------------------------------

FAILED_SAVE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import iii_live
    from iii_live.streams.adapters.journal import snapshot_name

    db, ending = Path(sys.argv[1]), sys.argv[2]
    engine = iii_live.start(port=0, background=True, adapter={"name": "kv", "config": {
        "store_method": "file_based", "file_path": str(db), "save_interval_ms": 3600000}})
    s = engine.stream("s")
    for n in range(5):
        s.set(f"g{n}", "k", 1)
    s.set("g1", "gone", 1)
    blocker = db / snapshot_name("s", "g2").replace(".json", ".tmp")
    blocker.mkdir()
    try:
        engine.adapter.save()
    except IsADirectoryError:
        print("failed after", sorted(p.name for p in db.glob("*.json")), flush=True)
    blocker.rmdir()
    s.set("g0", "k", 2)
    s.delete("g1", "gone")
    engine.adapter.save()
    print("saved, journals left:", sorted(p.name for p in db.glob("journal-*.log")), flush=True)
    if ending == "stop":
        engine.stop()
        print("stopped", flush=True)
    else:
        sys.stdin.read()
    """
)


@pytest.mark.subprocess
@pytest.mark.parametrize("ending", ["stop", "sigkill"])
def test_a_failed_save_never_reverts_later_writes(tmp_path, ending):
    """A save fails in the middle of five groups; later writes and a good save must win."""
    db = tmp_path / "db"
    proc = subprocess.Popen(
        [sys.executable, "-c", FAILED_SAVE, str(db), ending],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    failed = proc.stdout.readline().strip()
    saved = proc.stdout.readline().strip()
    if ending == "stop":
        assert proc.stdout.readline().strip() == "stopped"
    else:
        os.kill(proc.pid, signal.SIGKILL)
    proc.stdin.close()
    proc.wait(15)

    engine = file_engine(db)
    try:
        s = engine.stream("s")
        assert {g: s.items(g) for g in sorted(s.list_groups())} == {
            "g0": {"k": 2},
            "g1": {"k": 1},
            "g2": {"k": 1},
            "g3": {"k": 1},
            "g4": {"k": 1},
        }
    finally:
        engine.stop()
    assert not list(db.glob("journal-*.log"))
    # the failure struck in the middle: the groups before the blocked one were written
    assert failed == f"failed after {[snapshot_name('s', 'g0'), snapshot_name('s', 'g1')]}"
    assert saved == "saved, journals left: []"


def test_a_failed_journal_rotation_keeps_the_store_writable(tmp_path):
    db = tmp_path / "db"
    engine = file_engine(db, save_interval_ms=NO_TIMER)
    try:
        s = engine.stream("s")
        s.set("g", "k", 1)
        (db / "journal-1.log").mkdir()  # where the save renames the live journal
        with pytest.raises(IsADirectoryError):
            engine.adapter.save()
        s.set("g", "k", 2)
        (db / "journal-1.log").rmdir()
        s.set("g", "j", 3)
        engine.adapter.save()
        assert not list(db.glob("journal-*.log"))
    finally:
        engine.stop()
    engine = file_engine(db)
    try:
        assert engine.stream("s").items("g") == {"k": 2, "j": 3}
    finally:
        engine.stop()


def test_a_save_failing_at_stop_loses_nothing(tmp_path, caplog):
    db = tmp_path / "db"
    engine = file_engine(db, save_interval_ms=NO_TIMER)
    engine.stream("s").set("g", "k", 1)
    blocker = db / snapshot_name("s", "g").replace(".json", ".tmp")
    blocker.mkdir()
    with caplog.at_level(logging.ERROR, logger="iii_live.storage"):
        engine.stop()
    assert [r.getMessage() for r in caplog.records] == [
        f"saving the kv store to {db} failed; its journal keeps every change for the next start"
    ]
    blocker.rmdir()
    engine = file_engine(db)
    try:
        assert engine.stream("s").items("g") == {"k": 1}
    finally:
        engine.stop()
    assert not list(db.glob("journal-*.log"))


GROUPS = ["g0", "g1", "g2"]
ITEMS = ["a", "b", "c"]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(GROUPS), st.sampled_from(ITEMS), st.integers(0, 9)),
        st.tuples(st.just("delete"), st.sampled_from(GROUPS), st.sampled_from(ITEMS)),
        st.tuples(st.just("save"), st.just(set()), st.just(False)),
        st.tuples(st.just("save"), st.sets(st.sampled_from(GROUPS), min_size=1), st.booleans()),
        st.tuples(st.just("crash")),
        st.tuples(st.just("restart")),
    ),
    min_size=8,
    max_size=40,
)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_any_run_of_writes_failed_saves_and_crashes_recovers_the_latest_state(run):
    """After any mix of writes, saves failing at any group or at the rotation, crashes and
    restarts, the store recovers exactly the acknowledged state, in first-write order."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "db"
        model: dict[str, dict[str, int]] = {}
        engine = file_engine(db, save_interval_ms=NO_TIMER)
        try:
            for step in run:
                if step[0] == "set":
                    _, group, item, value = step
                    engine.stream("s").set(group, item, value)
                    model.setdefault(group, {})[item] = value
                elif step[0] == "delete":
                    _, group, item = step
                    engine.stream("s").delete(group, item)
                    model.get(group, {}).pop(item, None)
                    if not model.get(group, True):
                        del model[group]
                elif step[0] == "save":
                    _, blocked_groups, block_rotation = step
                    save_with_blockers(engine, db, blocked_groups, block_rotation, len(run))
                elif step[0] == "crash":
                    image = Path(tmp) / "image"
                    shutil.copytree(db, image)
                    assert stored(image) == in_order(model)
                    shutil.rmtree(image)
                else:
                    engine.stop()
                    engine = file_engine(db, save_interval_ms=NO_TIMER)
                    assert stored_in(engine) == in_order(model)
        finally:
            engine.stop()
        assert stored(db) == in_order(model)


def save_with_blockers(engine, db: Path, blocked_groups: set[str], block_rotation: bool, bound: int) -> None:
    """Save with directories where the save must write the blocked groups' snapshots (and,
    with ``block_rotation``, every name the live journal could be renamed to)."""
    blockers = [db / snapshot_name("s", group).replace(".json", ".tmp") for group in blocked_groups]
    if block_rotation:
        blockers += [db / f"journal-{n}.log" for n in range(1, 2 * bound + 2)]
    blockers = [path for path in blockers if not path.exists()]
    for path in blockers:
        path.mkdir()
    try:
        engine.adapter.save()
    except IsADirectoryError:
        event("a save failed")
    finally:
        for path in blockers:
            path.rmdir()


def stored_in(engine) -> dict[str, list[tuple[str, int]]]:
    """Each group's items in the store's order."""
    s = engine.stream("s")
    return {group: list(s.items(group).items()) for group in sorted(s.list_groups())}


def in_order(model: dict[str, dict[str, int]]) -> dict[str, list[tuple[str, int]]]:
    return {group: list(items.items()) for group, items in sorted(model.items())}


def stored(db: Path) -> dict[str, list[tuple[str, int]]]:
    engine = file_engine(db, save_interval_ms=NO_TIMER)
    try:
        return stored_in(engine)
    finally:
        engine.stop()


# -- damaged files: start-up skips the damaged record, names the file -------------------

VALID_BEFORE = b'["s","kept-stream","kept-group","before",{"v":1}]\n'
VALID_AFTER = b'["s","kept-stream","kept-group","after",[2]]\n'
KEPT = {"before": {"v": 1}, "after": [2]}

DAMAGED_JOURNAL_LINES = {
    "empty list": b"[]",
    "kind only": b'["s"]',
    "no item": b'["s","s","g"]',
    "set without value": b'["s","s","g","i"]',
    "delete with value": b'["d","s","g","i",1]',
    "unknown kind": b'["x","s","g","i",1]',
    "number kind": b'[1,"s","g","i",1]',
    "list kind": b'[["s"],"s","g","i",1]',
    "number stream": b'["s",1,"g","i",1]',
    "null group": b'["s","s",null,"i",1]',
    "list item": b'["s","s","g",["i"],1]',
    "empty stream": b'["s","","g","i",1]',
    "extra field": b'["s","s","g","i",1,2]',
    "value nested too deep": b'["s","s","g","i",' + b"[" * 300 + b"]" * 300 + b"]",
    "object": b"{}",
    "object with index keys": b'{"0":"s"}',
    "string": b'"s"',
    "null": b"null",
    "number": b"1e999",
    "invalid UTF-8": b"\xff\xfe\xfd",
    "zeroed": b"\x00" * 64,
    "nesting beyond the parser's limit": b"[" * 3000,
}


@pytest.mark.parametrize("line", DAMAGED_JOURNAL_LINES.values(), ids=DAMAGED_JOURNAL_LINES.keys())
@pytest.mark.parametrize("journal", ["journal.log", "journal-7.log"])
def test_a_damaged_journal_line_loses_only_itself(tmp_path, caplog, journal, line):
    db = tmp_path / "db"
    db.mkdir()
    (db / journal).write_bytes(VALID_BEFORE + line + b"\n" + VALID_AFTER)
    with caplog.at_level(logging.WARNING, logger="iii_live.storage"):
        engine = file_engine(db)
    try:
        assert engine.stream("kept-stream").items("kept-group") == KEPT
        assert engine.trigger({"function_id": "stream::list_all", "payload": {}})["count"] == 1
    finally:
        engine.stop()
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"skipping a damaged journal line {db / journal}:2: ")


DAMAGED_SNAPSHOTS = {
    "items a list": b'{"stream_name":"s","group_id":"g","items":[1,2]}',
    "items a string": b'{"stream_name":"s","group_id":"g","items":"ab"}',
    "items null": b'{"stream_name":"s","group_id":"g","items":null}',
    "no items": b'{"stream_name":"s","group_id":"g"}',
    "empty item id": b'{"stream_name":"s","group_id":"g","items":{"":1}}',
    "value nested too deep": b'{"stream_name":"s","group_id":"g","items":{"i":'
    + b"[" * 300
    + b"]" * 300
    + b"}}",
    "no stream_name": b'{"group_id":"g","items":{"i":1}}',
    "no group_id": b'{"stream_name":"s","items":{"i":1}}',
    "list stream_name": b'{"stream_name":["s"],"group_id":"g","items":{"i":1}}',
    "object group_id": b'{"stream_name":"s","group_id":{"g":1},"items":{"i":1}}',
    "number stream_name": b'{"stream_name":1,"group_id":"g","items":{"i":1}}',
    "empty stream_name": b'{"stream_name":"","group_id":"g","items":{"i":1}}',
    "list": b"[]",
    "null": b"null",
    "string": b'"s"',
    "empty file": b"",
    "zeroed": b"\x00" * 32,
    "truncated": b'{"stream_name":"s","group_id":"g","items":{"i":',
    "nesting beyond the parser's limit": b"[" * 3000,
}


@pytest.mark.parametrize("content", DAMAGED_SNAPSHOTS.values(), ids=DAMAGED_SNAPSHOTS.keys())
def test_a_damaged_snapshot_loses_only_itself(tmp_path, caplog, content):
    db = tmp_path / "db"
    db.mkdir()
    damaged = db / snapshot_name("s", "g")
    damaged.write_bytes(content)
    (db / snapshot_name("kept-stream", "kept-group")).write_bytes(
        b'{"stream_name":"kept-stream","group_id":"kept-group","items":{"before":{"v":1}}}'
    )
    (db / "journal.log").write_bytes(VALID_AFTER)
    with caplog.at_level(logging.WARNING, logger="iii_live.storage"):
        engine = file_engine(db)
    try:
        assert engine.stream("kept-stream").items("kept-group") == KEPT
        assert engine.trigger({"function_id": "stream::list_all", "payload": {}})["count"] == 1
    finally:
        engine.stop()
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"skipping a damaged snapshot {damaged}: ")


def test_foreign_files_in_the_store_directory_do_not_stop_start_up(tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    (db / "journal-abc.log").write_bytes(b'["s","s","g","x",1]\n')
    (db / "journal-.log").write_bytes(b"")
    (db / "journal-2.log").mkdir()
    (db / "notes.json").mkdir()
    (db / "journal-1.log").write_bytes(VALID_BEFORE)
    (db / "journal.log").write_bytes(VALID_AFTER)
    engine = file_engine(db)
    try:
        assert engine.trigger({"function_id": "stream::list_all", "payload": {}}) == {
            "stream": [{"id": "kept-stream", "groups": ["kept-group"]}],
            "count": 1,
        }
        assert engine.stream("kept-stream").items("kept-group") == KEPT
    finally:
        engine.stop()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=20,
)
names = st.text(max_size=3) | json_values
record_like = st.builds(
    lambda kind, rest: [kind, *rest], st.sampled_from(["s", "d", "x"]), st.lists(names, max_size=5)
)
snapshot_like = st.fixed_dictionaries(
    {},
    optional={
        "stream_name": names,
        "group_id": names,
        "items": st.dictionaries(st.text(max_size=3), json_values, max_size=3) | json_values,
    },
)
damaged_bytes = st.one_of(
    st.one_of(json_values, record_like, snapshot_like).map(codec.dumps),
    st.binary(max_size=64),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(journal_line=damaged_bytes, snapshot=damaged_bytes)
def test_any_damaged_journal_line_or_snapshot_never_stops_start_up(journal_line, snapshot):
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp)
        (db / "journal.log").write_bytes(VALID_BEFORE + journal_line + b"\n" + VALID_AFTER)
        (db / "damaged.json").write_bytes(snapshot)
        engine = file_engine(db)
        try:
            assert engine.stream("kept-stream").items("kept-group") == KEPT
        finally:
            engine.stop()
