"""Incremental aggregates: the same answers as recomputing, at O(log n) per change."""

from __future__ import annotations

import math
import statistics
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from iii_live.views.aggregates import FUNCTIONS, READERS, FieldState, Needs
from iii_live.views.fields import MISSING

ALL = Needs.of(set(FUNCTIONS))
COMPUTED = {  # the aggregates each state can answer
    ALL: set(FUNCTIONS),
    Needs.of({"sum", "min"}): {"count", "sum", "mean", "min", "max"},
    Needs.of({"count"}): {"count"},
    Needs.of({"mean", "max"}): {"count", "sum", "mean", "min", "max"},
}
VALUES = st.one_of(
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from(["a", "b", None, MISSING, True, {"x": 1}, [1]]),
)


def expected(values: list[tuple[int, Any]], function: str) -> Any:
    present = [(seq, v) for seq, v in values if v is not None and v is not MISSING]
    numbers = [v for _, v in present if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if function == "count":
        return len(present)
    if function == "sum":
        return math.fsum(numbers) if numbers else 0
    if function == "mean":
        return statistics.fmean(numbers) if numbers else None
    if function == "min":
        return min(numbers) if numbers else None
    if function == "max":
        return max(numbers) if numbers else None
    if function in ("first", "last"):
        ordered = sorted(present, key=lambda pair: pair[0])
        return (ordered[0][1] if function == "first" else ordered[-1][1]) if ordered else None
    # equal numbers are one value, as in pandas' nunique (0, 0.0 and False are the same)
    return len({v if isinstance(v, (str, int, float)) else repr(v) for _, v in present})


NEEDS = st.sampled_from([ALL, Needs.of({"sum", "min"}), Needs.of({"count"}), Needs.of({"mean", "max"})])


@settings(max_examples=300, deadline=None)
@given(NEEDS, st.lists(st.tuples(st.sampled_from(["add", "remove", "move"]), VALUES), max_size=60))
def test_matches_a_recomputation_after_any_changes(needs: Needs, steps: list[tuple[str, Any]]) -> None:
    state = FieldState(needs)
    held: list[tuple[int, Any]] = []
    for seq, (change, value) in enumerate(steps):
        if change == "remove" and held:
            old_seq, old = held.pop(len(held) // 2)
            state.remove(old, old_seq)
        elif change == "move" and held:
            old_seq, old = held[len(held) // 2]
            held[len(held) // 2] = (old_seq, value)
            state.move(old, value, old_seq)
        else:
            held.append((seq, value))
            state.add(value, seq)
        for function in FUNCTIONS:
            if function not in COMPUTED[needs]:
                continue
            got, want = READERS[function](state), expected(held, function)
            if isinstance(want, float):
                assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6), (function, got, want)
            else:
                assert got == want, (function, got, want)


def test_integer_sums_stay_exact_and_floats_leave_no_residue() -> None:
    state = FieldState(Needs.of({"sum"}))
    for value in (10**18, 1, 0.1, 0.2):
        state.add(value, 0)
    state.remove(0.1, 0)
    state.remove(0.2, 0)
    assert READERS["sum"](state) == 10**18 + 1
    assert type(READERS["sum"](state)) is int


class Counted(float):
    """A number that counts how often it is compared."""

    comparisons = 0

    def __lt__(self, other: Any) -> bool:
        Counted.comparisons += 1
        return float(self) < float(other)

    def __gt__(self, other: Any) -> bool:
        Counted.comparisons += 1
        return float(self) > float(other)

    def __eq__(self, other: Any) -> bool:
        Counted.comparisons += 1
        return float(self) == float(other)

    __hash__ = float.__hash__

    def __neg__(self) -> Counted:
        return Counted(-float(self))


def test_removing_the_maximum_costs_a_logarithm_not_a_rescan() -> None:
    n = 20_000
    state = FieldState(Needs.of({"min", "max"}))
    values = [Counted(i) for i in range(n)]
    for seq, value in enumerate(values):
        state.add(value, seq)
    Counted.comparisons = 0
    for seq in range(n - 1, n - 101, -1):  # remove the current maximum, 100 times
        state.remove(values[seq], seq)
        assert READERS["max"](state) == seq - 1
        assert READERS["min"](state) == 0
    per_removal = Counted.comparisons / 100
    assert per_removal < 4 * math.log2(n), per_removal  # a rescan would compare ~n times
