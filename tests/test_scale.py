"""Storage at scale: memory per item, bulk DataFrame writes and reads, bad frames.

Sizes here are small; ``benchmarks/scale.py`` runs the million-row figures.
"""

from __future__ import annotations

import datetime as dt
import gc
import tracemalloc

import numpy as np
import pandas as pd
import pytest

import iii_live
from iii_live import codec
from iii_live.errors import InvocationError
from iii_live.pandas_io import frame_rows

from .conftest import wait_for


def traced_bytes_per_item(write, count: int) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(count):
            write(n)
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / count
    finally:
        tracemalloc.stop()


def test_json_bytes_are_right_sized():
    """orjson keeps about 4 KB behind each result; what the codec returns holds its length."""
    per_value = traced_bytes_per_item(lambda n, kept=[]: kept.append(codec.dumps({"x": 0.5, "n": n})), 2000)
    assert per_value < 120


@pytest.mark.parametrize("store_method", ["in_memory", "file_based"])
def test_memory_per_stored_item_stays_near_its_json(tmp_path, store_method):
    """10,000 items of about 30 bytes of JSON: a 4 KB allocation per item would show here."""
    config = {"store_method": store_method, "file_path": str(tmp_path / "db")}
    engine = iii_live.start(
        port=0, background=True, engine_port=None, adapter={"name": "kv", "config": config}
    )
    try:
        s = engine.stream("mem")
        per_item = traced_bytes_per_item(
            lambda n: s.set("g", str(n), {"x": 0.5, "y": n % 10, "name": "abc"}), 10_000
        )
        json_size = len(codec.dumps({"x": 0.5, "y": 7, "name": "abc"}))
        assert per_item < json_size + 120
    finally:
        engine.stop()


# -- write_frame -------------------------------------------------------------------------


def mixed_frame() -> pd.DataFrame:
    n = 6
    return pd.DataFrame(
        {
            "f": [1.5, np.nan, np.inf, -0.0, 1e300, 0.1],
            "i": np.arange(n, dtype=np.int64) * 10**12,
            "u8": np.arange(n, dtype=np.uint8),
            "b": [True, False] * 3,
            "Int": pd.array([1, None, 3, 4, None, 6], dtype="Int64"),
            "boolean": pd.array([True, None, False, True, None, False], dtype="boolean"),
            "s": ["a", None, 'q"uote', "back\\slash", "ünï", "tab\t"],
            "plain": ["a", "b", "c", "d", "e", "f"],
            "strd": pd.array(["x", None, "z", "é", "w", "v"], dtype="string"),
            "obj": [{"a": 1}, [1, 2], None, 3, "x", (1, 2)],
            "ts": pd.to_datetime(
                [
                    "2024-01-01",
                    None,
                    "2024-01-01 00:00:00.5",
                    "2024-01-01 00:00:00.000000001",
                    "2024-06-01",
                    "2024",
                ],
                format="ISO8601",
            ),
            "tsz": pd.to_datetime(["2024-01-01"] * n).tz_localize("Europe/Paris"),
            "td": pd.to_timedelta(np.arange(n), unit="s"),
            "cat": pd.Categorical(["x", "y", None, "x", "y", "x"]),
            "catn": pd.Categorical([1, 2, 1, 2, 1, None]),
            "mixed": np.array([np.nan, "a", None, pd.NA, pd.NaT, 1.5], dtype=object),
            "pct%s": [0] * n,
        },
        index=[f"r{n}" for n in range(n)],
    )


def test_frame_rows_are_what_a_write_of_each_record_stores():
    frame = mixed_frame()
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    assert frame_rows(frame, list(frame.index)) == [codec.dumps(record) for record in records]


def test_float32_columns_write_as_a_float32_value_does(engine):
    frame = pd.DataFrame({"v": np.array([0.1, 2.5], dtype=np.float32)}, index=["a", "b"])
    s = engine.stream("f32")
    s.write_frame("g", frame)
    s.set("g", "c", {"v": np.float32(0.1)})
    assert s.items("g") == {"a": {"v": 0.1}, "b": {"v": 2.5}, "c": {"v": 0.1}}


def test_write_frame_events_only_for_changed_rows_in_one_step(engine, client_factory):
    s = engine.stream("bulk")
    frame = pd.DataFrame(
        {"v": range(100), "name": [f"n{n}" for n in range(100)]}, index=[f"r{n}" for n in range(100)]
    )
    assert s.write_frame("g", frame) == {"created": 100, "updated": 0, "unchanged": 0, "deleted": 0}
    seen = []
    engine.subscribe("bulk", "g", seen.append)
    client = client_factory(engine.stream_url)
    client.join("sub", "bulk", "g")
    assert len(client.recv()["event"]["data"]) == 100
    changed = frame.copy()
    changed.loc[["r3", "r50"], "v"] = -1
    changed = pd.concat([changed, pd.DataFrame({"v": [7], "name": ["new"]}, index=["r100"])])
    assert s.write_frame("g", changed.drop(index="r99"), delete_missing=True) == {
        "created": 1,
        "updated": 2,
        "unchanged": 97,
        "deleted": 1,
    }
    expected = [("update", "r3"), ("update", "r50"), ("create", "r100"), ("delete", "r99")]
    assert [(m["event"]["type"], m["id"]) for m in seen[1:]] == expected
    socket = [client.recv() for _ in range(4)]
    assert [(m["event"]["type"], m["id"]) for m in socket] == expected
    assert len({m["timestamp"] for m in socket}) == 1  # one write, one timestamp
    assert seen[2]["event"]["data"] == {"v": -1, "name": "n50"}
    assert s.get("g", "r100") == {"v": 7, "name": "new"}
    assert s.write_frame("g", changed.drop(index="r99")) == {
        "created": 0,
        "updated": 0,
        "unchanged": 100,
        "deleted": 0,
    }


def test_an_empty_frame_with_delete_missing_empties_the_group(engine):
    s = engine.stream("empty")
    s.write_frame("g", pd.DataFrame({"v": [1, 2]}, index=["a", "b"]))
    result = s.write_frame(
        "g", pd.DataFrame({"v": []}, index=pd.Index([], dtype=object)), delete_missing=True
    )
    assert result == {"created": 0, "updated": 0, "unchanged": 0, "deleted": 2}
    assert s.list("g") == [] and s.list_groups() == []
    assert s.write_frame("new", pd.DataFrame({"v": []})) == {
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
    }
    assert s.list_groups() == []


def test_write_frame_in_a_different_row_order_compares_by_id(engine):
    s = engine.stream("order")
    frame = pd.DataFrame({"v": [1, 2, 3]}, index=["a", "b", "c"])
    s.write_frame("g", frame)
    reordered = frame.iloc[::-1].copy()
    reordered.loc["b", "v"] = 20
    assert s.write_frame("g", reordered)["updated"] == 1
    assert s.list("g") == [{"v": 1}, {"v": 20}, {"v": 3}]  # first-write order kept


def test_write_frame_triggers_fire_per_changed_row(engine):
    fired = []
    engine.register_function("seen", lambda event: fired.append(event["id"]))
    engine.register_trigger({"type": "stream", "function_id": "seen", "config": {"stream_name": "trig"}})
    engine.stream("trig").write_frame("g", pd.DataFrame({"v": [1, 2]}, index=["a", "b"]))
    wait_for(lambda: sorted(fired) == ["a", "b"])


BAD_FRAMES = [
    (pd.DataFrame({"v": [1, 2]}, index=["x", "x"]), ValueError, "item ids must be unique; repeated: x"),
    (pd.DataFrame({"v": [1, 2]}, index=[1, "1"]), ValueError, "item ids must be unique; repeated: 1"),
    (pd.DataFrame({0: [1, 2]}, index=["a", "b"]), ValueError, "column names must be strings"),
    (pd.DataFrame([[1, 2]], columns=["a", "a"], index=["r"]), ValueError, "column names must be unique"),
    (pd.DataFrame({"z": [1j, 2j]}, index=["a", "b"]), ValueError, "column 'z' has dtype complex128"),
    (
        pd.DataFrame({"p": pd.period_range("2024-01", periods=2, freq="M")}, index=["a", "b"]),
        ValueError,
        "column 'p' has dtype period",
    ),
    (
        pd.DataFrame({"iv": pd.interval_range(0, 2)}, index=["a", "b"]),
        ValueError,
        "column 'iv' has dtype interval",
    ),
    (
        pd.DataFrame({"o": [1, dt.timezone.utc]}, index=["a", "b"]),
        ValueError,
        "column 'o', item 'b': value is not JSON-serializable",
    ),
    (pd.DataFrame({"v": [1, 2]}, index=["ok", ""]), InvocationError, "`item_ids\\[1\\]` must not be empty"),
    (pd.DataFrame({"v": [1, 2]}, index=["ok", "a\nb"]), InvocationError, "contains control characters"),
    (pd.DataFrame({"v": [1, 2]}, index=["ok", "x" * 300]), InvocationError, "maximum is 256"),
    (pd.DataFrame({"v": ["x" * 2000, "y"]}, index=["a", "b"]), InvocationError, "max_payload_bytes"),
]


@pytest.mark.parametrize(("frame", "error", "message"), BAD_FRAMES)
def test_bad_frames_are_refused_before_anything_is_written(frame, error, message):
    engine = iii_live.start(port=0, background=True, engine_port=None, max_payload_bytes=1000)
    try:
        s = engine.stream("bad")
        s.write_frame("g", pd.DataFrame({"v": [0]}, index=["before"]))
        seen = []
        engine.subscribe("bad", "g", seen.append)
        with pytest.raises(error, match=message):
            s.write_frame("g", frame, delete_missing=True)
        s.set("g", "marker", 1)  # a positive sentinel: the next event is this one
        assert [(m["event"]["type"], m["id"]) for m in seen[1:]] == [("create", "marker")]
        assert s.items("g") == {"before": {"v": 0}, "marker": 1}
    finally:
        engine.stop()


def test_write_frame_on_a_custom_stream_writes_row_by_row(engine):
    class Store:
        def __init__(self) -> None:
            self.items: dict[str, dict] = {}

        def get(self, group_id, item_id):
            return self.items.get(item_id)

        def set(self, group_id, item_id, data):
            old = self.items.get(item_id)
            self.items[item_id] = data
            return {"old_value": old, "new_value": data}

        def delete(self, group_id, item_id):
            return {"old_value": self.items.pop(item_id, None)}

        def list(self, group_id):
            return [{"id": k, **v} for k, v in self.items.items()]

        def list_groups(self):
            return ["g"]

    store = Store()
    engine.create_stream("custom", store)
    frame = pd.DataFrame({"id": ["a", "b"], "v": [1, 2]})
    assert engine.stream("custom").write_frame("g", frame, id_column="id")["created"] == 2
    assert store.items == {"a": {"id": "a", "v": 1}, "b": {"id": "b", "v": 2}}
    with pytest.raises(InvocationError, match="control characters"):
        engine.stream("custom").write_frame("g", pd.DataFrame({"v": [1, 2]}, index=["c", "d\x07"]))
    assert set(store.items) == {"a", "b"}


# -- to_frame ----------------------------------------------------------------------------


def test_to_frame_reads_back_what_write_frame_wrote(engine):
    s = engine.stream("round")
    frame = pd.DataFrame(
        {
            "x": [0.5, np.nan, 2.0],
            "n": [1, 2, 3],
            "name": ["a", None, "c"],
            "ts": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 00:00:00.25", None], format="ISO8601"),
            "day": ["2024-01-01", "2024-01-02", "2024-01-03"],  # dates alone stay strings
        },
        index=["i1", "i2", "i3"],
    )
    s.write_frame("g", frame)
    back = s.to_frame("g")
    assert list(back.index) == ["i1", "i2", "i3"]
    assert back.index.name == "item_id"
    assert back["x"].tolist()[0] == 0.5 and pd.isna(back.loc["i2", "x"])
    assert back["n"].tolist() == [1, 2, 3]
    assert back.loc["i1", "name"] == "a" and pd.isna(back.loc["i2", "name"])
    assert back["ts"].tolist()[:2] == [
        pd.Timestamp("2024-01-01 10:00"),
        pd.Timestamp("2024-01-02 00:00:00.25"),
    ]
    assert pd.isna(back.loc["i3", "ts"])
    assert back["day"].tolist() == ["2024-01-01", "2024-01-02", "2024-01-03"]


def test_to_frame_of_a_large_group_keeps_order_and_types(engine):
    s = engine.stream("large")
    n = 5_000
    frame = pd.DataFrame(
        {"x": np.linspace(0, 1, n), "y": np.arange(n), "name": [f"n{k % 7}" for k in range(n)]},
        index=[f"k{k}" for k in range(n)],
    )
    s.write_frame("g", frame)
    s.set("g", "k10", {"x": -1.0, "y": 10, "name": "edited"})  # a rewrite keeps its place
    back = s.to_frame("g")
    assert list(back.index) == list(frame.index)
    assert back.loc["k10", "name"] == "edited"
    assert back["y"].sum() == frame["y"].sum()


def test_to_frame_columns_are_every_field_seen_in_first_seen_order(engine):
    s = engine.stream("ragged")
    s.set("g", "a", {"x": 1, "y": 2})
    s.set("g", "b", {"y": 3, "z": "2024-01-01T10:00"})
    s.set("g", "c", {"x": 4, "z": "late"})  # one string that is no time keeps the column as text
    back = s.to_frame("g")
    assert list(back.columns) == ["x", "y", "z"]
    assert back.loc["b", "y"] == 3 and pd.isna(back.loc["b", "x"])
    assert back["z"].tolist()[1:] == ["2024-01-01T10:00", "late"]


# -- Redis ---------------------------------------------------------------------------------


def test_redis_bulk_write_publishes_changed_rows_to_every_engine(redis_engines):
    a, b = redis_engines(), redis_engines()
    seen = []
    b.subscribe("bulk", "g", seen.append)
    frame = pd.DataFrame({"v": range(2500)}, index=[f"r{n}" for n in range(2500)])  # two scripts
    assert a.stream("bulk").write_frame("g", frame)["created"] == 2500
    changed = frame.copy()
    changed.loc[["r1", "r2400"], "v"] = -1
    result = a.stream("bulk").write_frame("g", changed.drop(index="r7"), delete_missing=True)
    assert result == {"created": 0, "updated": 2, "unchanged": 2497, "deleted": 1}
    wait_for(lambda: len(seen) == 1 + 2500 + 3)
    assert [(m["event"]["type"], m["id"]) for m in seen[-3:]] == [
        ("update", "r1"),
        ("update", "r2400"),
        ("delete", "r7"),
    ]
    assert b.stream("bulk").get("g", "r2400") == {"v": -1}
    assert len(b.stream("bulk").list("g")) == 2499
