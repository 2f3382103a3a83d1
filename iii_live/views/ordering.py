"""Sort keys that order any JSON values, and the top-N window kept by them.

A key orders numbers before texts (reversed when descending) and puts nulls, missing fields,
objects and arrays last in both directions, as pandas' ``na_position="last"``; the row id
breaks ties, so every row has one place. Keys are flat tuples (``(block, value, ...,
row_id)``) so that comparing two is one tuple comparison in C.

The window keeps the first ``limit`` keys in a sorted list and every other key in a heap:
a row's move costs O(log n) (amortized), answers "is it shown?" with one comparison, and
changes at most one other row's membership of the top N.
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heapify, heappop, heappush
from typing import Any

from sortedcontainers import SortedList  # type: ignore[import-untyped]

SortKey = tuple[Any, ...]
_SLACK = 1024
"""Removed keys tolerated in the heap beyond the number it holds, before compacting it."""
_FIRST, _SECOND, _LAST = 0, 1, 2
"""Blocks of a key: numbers then texts ascending, texts then numbers descending, nulls last."""


class _Descending:
    """A text that sorts backwards."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __lt__(self, other: _Descending) -> bool:
        return self.text > other.text

    def __gt__(self, other: _Descending) -> bool:
        return self.text < other.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)


def _ascending(value: Any) -> tuple[int, Any]:
    kind = type(value)
    if kind is int or kind is float or kind is bool:
        return _FIRST, value
    if kind is str:
        return _SECOND, value
    if isinstance(value, (int, float)):  # subclasses of numbers
        return _FIRST, value
    return _LAST, 0


def _descending(value: Any) -> tuple[int, Any]:
    kind = type(value)
    if kind is int or kind is float or kind is bool or (kind is not str and isinstance(value, (int, float))):
        return _SECOND, -value
    if kind is str:
        return _FIRST, _Descending(value)
    return _LAST, 0


class Ordering:
    """How rows are sorted: by fields, each ascending or descending."""

    def __init__(self, descending: Sequence[bool]) -> None:
        self.parts = tuple(_descending if d else _ascending for d in descending)

    def key(self, values: Sequence[Any], row_id: str) -> SortKey:
        """The key of a row whose sort fields hold ``values``."""
        if len(self.parts) == 1:
            block, value = self.parts[0](values[0])
            return (block, value, row_id)
        flat: list[Any] = []
        for part, value in zip(self.parts, values, strict=True):
            flat.extend(part(value))
        flat.append(row_id)
        return tuple(flat)


class TopWindow:
    """Every row's key in order; the first ``limit`` are shown (all of them if None).

    The shown keys are a sorted list; the others a heap whose removals are applied when
    they reach its top (or all at once when they outnumber the keys held), since the only
    key ever needed from them is the smallest, when a shown row leaves. Most writes move a
    row that is not shown: two heap operations and a comparison with the last shown key.
    """

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.top = SortedList()
        self._rest: list[SortKey] = []
        self._gone: dict[SortKey, int] = {}
        self._rest_size = 0

    def contains(self, key: SortKey) -> bool:
        """Whether a present key is shown."""
        top = self.top
        return self.limit is None or (bool(top) and key <= top[-1])

    def ids(self) -> list[str]:
        """Row ids shown, in order."""
        return [key[-1] for key in self.top]

    def move(self, old: SortKey | None, new: SortKey | None) -> tuple[bool, str | None, bool]:
        """Replace a row's key (None: absent before / after).

        Returns ``(shown, other, other_entered)``: whether the row was or is shown, and the
        one other row that entered or left the top because of the move, if any.
        """
        top, limit = self.top, self.limit
        was_in = False
        if old is not None:
            if self.contains(old):
                top.remove(old)
                was_in = True
            else:
                self._forget(old)
        is_in = False
        if new is not None:
            if limit is None or (top and new < top[-1]) or (len(top) < limit and not self._rest_size):
                top.add(new)
                is_in = True
            else:
                self._keep(new)
        if limit is None:
            return was_in or is_in, None, False
        if len(top) > limit:
            pushed = top.pop()
            self._keep(pushed)
            if pushed is new:
                return was_in, None, False
            return True, pushed[-1], False
        if len(top) < limit and self._rest_size:
            pulled = self._pull()
            top.add(pulled)
            if pulled is new:
                return True, None, False
            return True, pulled[-1], True
        return was_in or is_in, None, False

    def _keep(self, key: SortKey) -> None:
        heappush(self._rest, key)
        self._rest_size += 1

    def _forget(self, key: SortKey) -> None:
        gone = self._gone
        gone[key] = gone.get(key, 0) + 1
        self._rest_size -= 1
        if len(self._rest) > 2 * self._rest_size + _SLACK:
            kept = []
            for candidate in self._rest:
                pending = gone.get(candidate)
                if pending:
                    if pending == 1:
                        del gone[candidate]
                    else:
                        gone[candidate] = pending - 1
                else:
                    kept.append(candidate)
            heapify(kept)
            self._rest = kept

    def _pull(self) -> SortKey:
        """Take the smallest key that is not shown."""
        rest, gone = self._rest, self._gone
        while True:
            key = heappop(rest)
            pending = gone.get(key)
            if not pending:
                self._rest_size -= 1
                return key
            if pending == 1:
                del gone[key]
            else:
                gone[key] = pending - 1
