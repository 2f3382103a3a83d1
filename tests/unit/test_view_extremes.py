"""``Extremes``: min and max under adds and removals equal those of the values held."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from iii_live.views.extremes import Extremes


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(-20, 20) | st.floats(-5, 5, allow_nan=False)), max_size=400)
)
def test_min_and_max_follow_the_values_held(steps: list[tuple[bool, float]]) -> None:
    extremes = Extremes()
    held: list[float] = []
    for position, (remove, value) in enumerate(steps):
        if remove and held:
            extremes.remove(held.pop(position % len(held)))
        else:
            held.append(value)
            extremes.add(value)
        assert len(extremes) == len(held)
        assert extremes.min() == (min(held) if held else None)
        assert extremes.max() == (max(held) if held else None)


def test_removals_never_read_are_compacted_away() -> None:
    extremes = Extremes()
    held = list(range(1000))
    for value in held:
        extremes.add(value)
    for _ in range(50):  # every value moves up by one, 50 times, and no one reads
        for i, value in enumerate(held):
            extremes.remove(value)
            held[i] = value + 1
            extremes.add(held[i])
    assert len(extremes._low) <= 2 * len(extremes) + 64
    assert (extremes.min(), extremes.max()) == (50, 1049)
