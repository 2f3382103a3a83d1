"""Sort keys and the top-N window: the window always holds the true first N."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iii_live.views.fields import MISSING
from iii_live.views.ordering import Ordering, TopWindow


def test_keys_put_numbers_then_texts_then_nulls() -> None:
    ascending, descending = Ordering([False]), Ordering([True])
    values = [3, "b", None, 1.5, "a", MISSING, {"x": 1}, True]
    up = sorted(values, key=lambda v: ascending.key([v], "id"))
    assert up[:5] == [True, 1.5, 3, "a", "b"]
    down = sorted(values, key=lambda v: descending.key([v], "id"))
    assert down[:5] == ["b", "a", 3, 1.5, True]
    assert all(v is None or v is MISSING or isinstance(v, dict) for v in up[5:] + down[5:])


def test_several_fields_and_directions() -> None:
    ordering = Ordering([False, True])
    rows = {"a": ("eu", 1), "b": ("eu", 5), "c": ("asia", 2), "d": ("eu", 5)}
    ordered = sorted(rows, key=lambda r: ordering.key(list(rows[r]), r))
    assert ordered == ["c", "b", "d", "a"]


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 6),
    st.lists(st.tuples(st.integers(0, 9), st.one_of(st.none(), st.integers(0, 20))), max_size=80),
)
def test_window_matches_sorting_everything(limit: int, moves: list[tuple[int, int | None]]) -> None:
    ordering = Ordering([True])
    window = TopWindow(limit)
    keys: dict[str, Any] = {}
    shown_before: list[str] = []
    for row, value in moves:
        row_id = f"r{row}"
        new = None if value is None else ordering.key([value], row_id)
        shown, other, entered = window.move(keys.get(row_id), new)
        if new is None:
            keys.pop(row_id, None)
        else:
            keys[row_id] = new
        truth = [r for r in sorted(keys, key=keys.__getitem__)][:limit]
        assert window.ids() == truth
        assert shown == (row_id in shown_before or row_id in truth)
        changed = (set(truth) ^ set(shown_before)) - {row_id}
        assert changed == ({other} if other else set())
        if other:
            assert entered == (other in truth)
        for r, key in keys.items():
            assert window.contains(key) == (r in truth)
        shown_before = truth


def test_unlimited_window_shows_everything_in_order() -> None:
    ordering = Ordering([False])
    window = TopWindow(None)
    rng = random.Random(3)
    keys = {}
    for _ in range(200):
        row_id = f"r{rng.randrange(50)}"
        new = ordering.key([rng.random()], row_id)
        assert window.move(keys.get(row_id), new) == (True, None, False)
        keys[row_id] = new
    assert window.ids() == sorted(keys, key=keys.__getitem__)


@pytest.mark.parametrize("limit", [1, 3])
def test_a_row_pushed_out_by_its_own_move_reports_no_other(limit: int) -> None:
    ordering = Ordering([False])
    window = TopWindow(limit)
    for i in range(limit + 2):
        window.move(None, ordering.key([i], f"r{i}"))
    last = f"r{limit - 1}"
    assert window.move(ordering.key([limit - 1], last), ordering.key([limit - 0.5], last)) == (
        True,
        None,
        False,
    )
