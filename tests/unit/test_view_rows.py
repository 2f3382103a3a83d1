"""Rows kept one write at a time equal rows built from scratch, and what a view publishes
(its take()s applied in order) always converges to them."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iii_live.views.fields import MISSING
from iii_live.views.grouped_rows import GroupedRows
from iii_live.views.item_rows import ItemRows
from iii_live.views.spec import ViewSpec

SPECS = {
    "top": {
        "where": [("w", ">", 2)],
        "columns": ["k", {"vw": "v * w"}],
        "sort_by": "vw",
        "descending": True,
        "limit": 3,
    },
    "grouped_top": {
        "group_by": "k",
        "agg": {
            "s": ("v", "sum"),
            "n": ("v", "count"),
            "lo": ("v", "min"),
            "hi": ("v", "max"),
            "f": ("v", "first"),
            "d": ("v", "count_distinct"),
        },
        "sort_by": ["hi", "k"],
        "descending": [True, False],
        "limit": 2,
    },
    "grouped_two": {"group_by": ["k", "w"], "agg": {"m": ("v", "mean"), "l": ("v", "last")}},
    "newest": {"where": {"not": {"k": None}}, "limit": 4, "descending": True},
    "filter": {"where": "w >= 3 or k == 'a'"},
    "sorted": {"sort_by": ["k", "w"]},
}

FIELD_VALUES = st.one_of(st.integers(-3, 3), st.floats(-2, 2, allow_nan=False), st.sampled_from(["x", None]))
ITEMS = st.fixed_dictionaries(
    {"k": st.sampled_from(["a", "b", "c", None]), "v": FIELD_VALUES, "w": st.integers(0, 5)}
) | st.just(7)
OPS = st.lists(st.tuples(st.integers(0, 9), st.one_of(st.none(), ITEMS), st.booleans()), max_size=60)


def make(spec_name: str) -> GroupedRows | ItemRows:
    spec = ViewSpec.build("s", "g", **SPECS[spec_name])
    return GroupedRows(spec.plan) if spec.grouped else ItemRows(spec.plan)


def publish(rows: GroupedRows | ItemRows, items: dict[str, Any], published: dict[str, Any]) -> None:
    changes, fetches = rows.resolve(list(rows.take_dirty().items()))
    for row_id in fetches:
        assert isinstance(rows, ItemRows)
        row = rows.fetched(items[row_id]) if row_id in items else MISSING
        if row is not MISSING:
            changes.append((row_id, row))
    for row_id, row in changes:
        if row is None:
            published.pop(row_id, None)
        else:
            published[row_id] = orjson.loads(row) if type(row) is bytes else row


@pytest.mark.parametrize("spec_name", list(SPECS))
@settings(max_examples=120, deadline=None)
@given(ops=OPS)
def test_incremental_rows_equal_a_rebuild(spec_name: str, ops: list[tuple[int, Any, bool]]) -> None:
    rows = make(spec_name)
    items: dict[str, Any] = {}
    published: dict[str, Any] = {}
    for key, value, take in ops:
        item_id = f"i{key}"
        if value is None:
            items.pop(item_id, None)
            rows.remove(item_id)
        else:
            items[item_id] = value
            rows.upsert(item_id, value)
        if take:
            publish(rows, items, published)
    publish(rows, items, published)

    fresh = make(spec_name)
    for item_id, value in items.items():
        fresh.upsert(item_id, value)
    expected: dict[str, Any] = {}
    publish(fresh, items, expected)
    assert rows.ordered_ids() == fresh.ordered_ids()
    assert set(published) == set(fresh.ordered_ids())
    assert published == expected
    assert rows.evaluated == sum(1 for _, value, _ in ops if value is not None)


@pytest.mark.parametrize("spec_name", list(SPECS))
def test_a_resync_publishes_only_what_changed(spec_name: str) -> None:
    rows = make(spec_name)
    items = {f"i{i}": {"k": "abc"[i % 3], "v": i, "w": i % 6} for i in range(30)}
    for item_id, value in items.items():
        rows.upsert(item_id, value)
    published: dict[str, Any] = {}
    publish(rows, items, published)
    before = set(rows.ordered_ids())
    del items["i29"], items["i28"]
    items["i3"] = {"k": "c", "v": 100, "w": 5}
    for gone in rows.tracked_ids() - items.keys():
        rows.remove(gone)
    for item_id, value in items.items():
        rows.upsert(item_id, value)
    rows.after_sync(before)
    assert set(rows.dirty) <= before | set(rows.ordered_ids()) | {"i28", "i29", "i3"} | set(
        row_id for row_id in rows.dirty if row_id in ("a", "b", "c")
    )
    publish(rows, items, published)
    assert set(published) == set(rows.ordered_ids())
