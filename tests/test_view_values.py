"""View values at JSON's edges: results past 64 bits, numpy scalars from Python columns, and
grouped row ids as keys that read alike come and go."""

from __future__ import annotations

import json

import numpy as np

from .conftest import redis_engine, wait_for


def test_round_to_tens_of_the_largest_integers_is_a_json_number_and_the_row_is_published(engine):
    """``round(x, -1)`` of 2**64 - 1 is 18446744073709551620, beyond 64 bits: it becomes a
    float, as the docs say, and the row is published (a row JSON cannot hold is refused)."""
    stream = engine.stream("edge")
    stream.set("g", "a", {"x": 2**64 - 1, "y": -(2**63)})
    stream.set("g", "b", {"x": 5, "y": 1})
    view = stream.view("g", columns={"r": "round(x, -1)", "q": "round(y, -1)"})
    rows = view.items()
    assert rows["a"] == {"r": float(2**64 - 1), "q": float(-(2**63))}
    assert rows["b"] == {"r": 0, "q": 0}


def test_a_python_column_of_numpy_integers_sorts_as_numbers(engine):
    """A sort key a Python column gives as ``np.int64`` sorts as the number it holds, not as
    a null (which would leave the rows in id order)."""
    stream = engine.stream("np")
    for item_id, x in (("a", 3), ("b", 1), ("c", 2)):
        stream.set("g", item_id, {"x": x})
    view = stream.view("g", columns={"x": "x", "z": lambda item: np.int64(item["x"])}, sort_by="z")
    assert list(view.items()) == ["b", "c", "a"]
    short = stream.view("g", columns={"z": lambda item: np.float32(item["x"])}, sort_by="z", limit=1)
    assert list(short.items()) == ["b"]


def test_numpy_scalars_of_a_python_column_are_numbers_to_aggregates_and_keys(engine):
    """``np.int64`` values count in sum and max, and as group keys they are the Python int
    they hold: one group with the int 1, as in pandas, not a row keyed by the text "1"."""
    stream = engine.stream("np")
    for item_id, x in (("a", 1), ("b", 1), ("c", 2)):
        stream.set("h", item_id, {"x": x})
    totals = stream.view(
        "h",
        group_by="x",
        agg={"t": ("z", "sum"), "m": ("z", "max")},
        columns={"z": lambda item: np.int64(item["x"])},
    )
    assert totals.items() == {"1": {"x": 1, "t": 2, "m": 1}, "2": {"x": 2, "t": 2, "m": 2}}
    keys = stream.view(
        "h",
        group_by="k",
        agg={"n": ("x", "count")},
        columns={"k": lambda item: np.int64(1) if item["x"] == 2 else 1},
    )
    assert list(keys.items().values()) == [{"k": 1, "n": 3}]


def test_a_python_group_key_beyond_64_bits_does_not_stop_the_view_counting_other_items(engine):
    """A key of 2**70 (past 64 bits: a float) leaves the view's sync whole: the items after
    it are counted too."""
    stream = engine.stream("big")
    stream.set("h", "a", {"x": 3})
    stream.set("h", "b", {"x": 1})
    view = stream.view(
        "h",
        group_by="z",
        agg={"n": ("x", "count")},
        columns={"z": lambda item: 2**70 if item["x"] == 3 else 1},
    )
    stream.set("h", "c", {"x": 5})
    wait_for(lambda: "1" in view.items())
    assert view.items()["1"] == {"z": 1, "n": 2}


def test_a_key_that_returns_to_its_plain_id_in_one_batch_leaves_no_stale_row(redis_server):
    """1 holds row "1", "1" a digest id; both leave and "1" comes back in one resync: "1" takes
    the plain id, and its digest row is deleted, not written again (a second, stale row)."""
    engine = redis_engine(redis_server)
    try:
        stream = engine.stream("mixed")
        stream.set("g", "a", {"k": 1})
        stream.set("g", "b", {"k": "1"})
        view = stream.view("g", group_by="k", agg={"n": ("k", "count")})
        before = view.items()
        assert len(before) == 2 and before["1"] == {"k": 1, "n": 1}
        # behind the engine's back (as another engine whose events were lost), then a resync
        redis_server.cli("HDEL", "stream:mixed:g", "a", "b")
        redis_server.cli("HSET", "stream:mixed:g", "c", json.dumps({"k": "1"}))
        resyncs = engine.status()["storage"]["resyncs"]
        redis_server.cli("CLIENT", "KILL", "TYPE", "pubsub")
        wait_for(lambda: engine.status()["storage"]["resyncs"] > resyncs, timeout=10)
        stream.set("g", "s", {"k": "sentinel"})  # a publication after the resync's
        stored_key = f"stream:{view.stream_name}:{view.group_id}"

        def stored() -> dict[str, dict]:
            raw = redis_server.client().hgetall(stored_key)
            return {key.decode(): json.loads(value) for key, value in raw.items()}

        wait_for(lambda: "sentinel" in stored())
        assert stored() == {"1": {"k": "1", "n": 1}, "sentinel": {"k": "sentinel", "n": 1}}
    finally:
        engine.stop()
