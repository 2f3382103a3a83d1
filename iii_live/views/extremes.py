"""The smallest and largest of a multiset of numbers that grows and shrinks (``min``/``max``).

Two heaps, the largest values kept negated. A removal is remembered and applied when the
value reaches the top of a heap, or all at once when remembered removals outnumber the
values held, so adding, removing and reading either end cost O(log n) amortized, with no
rescan of the values when the current minimum or maximum leaves. Heaps are C lists: an
add is usually one or two comparisons, which matters when a million items each move once.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Any

_SLACK = 32
"""Remembered removals tolerated beyond the number of values held, before compacting."""


class Extremes:
    __slots__ = ("_low", "_high", "_gone_low", "_gone_high", "_size")

    def __init__(self) -> None:
        self._low: list[Any] = []
        self._high: list[Any] = []
        self._gone_low: dict[Any, int] = {}
        self._gone_high: dict[Any, int] = {}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, value: Any) -> None:
        heappush(self._low, value)
        heappush(self._high, -value)
        self._size += 1

    def remove(self, value: Any) -> None:
        """Remove one ``value`` (which must be held)."""
        self._size -= 1
        if not self._size:
            self._low.clear()
            self._high.clear()
            self._gone_low.clear()
            self._gone_high.clear()
            return
        gone = self._gone_low
        gone[value] = gone.get(value, 0) + 1
        negated = -value
        gone = self._gone_high
        gone[negated] = gone.get(negated, 0) + 1
        if len(self._low) > 2 * self._size + _SLACK:
            self._low = _compacted(self._low, self._gone_low)
            self._high = _compacted(self._high, self._gone_high)

    def replace(self, old: Any, new: Any) -> None:
        """``remove(old)`` then ``add(new)``, in one step."""
        gone = self._gone_low
        gone[old] = gone.get(old, 0) + 1
        negated = -old
        gone = self._gone_high
        gone[negated] = gone.get(negated, 0) + 1
        heappush(self._low, new)
        heappush(self._high, -new)
        if len(self._low) > 2 * self._size + _SLACK:
            self._low = _compacted(self._low, self._gone_low)
            self._high = _compacted(self._high, self._gone_high)

    def min(self) -> Any:
        return _top(self._low, self._gone_low) if self._size else None

    def max(self) -> Any:
        return -_top(self._high, self._gone_high) if self._size else None


def _top(heap: list[Any], gone: dict[Any, int]) -> Any:
    """The top of ``heap`` after dropping the removed values that sit there."""
    while True:
        value = heap[0]
        pending = gone.get(value)
        if not pending:
            return value
        if pending == 1:
            del gone[value]
        else:
            gone[value] = pending - 1
        heappop(heap)


def _compacted(heap: list[Any], gone: dict[Any, int]) -> list[Any]:
    """``heap`` without its removed values (``gone`` is emptied)."""
    kept = []
    for value in heap:
        pending = gone.get(value)
        if pending:
            if pending == 1:
                del gone[value]
            else:
                gone[value] = pending - 1
        else:
            kept.append(value)
    heapify(kept)
    return kept
