"""The rows of a group in an order a view can page through: the n-th row, where a row is, in
O(log n), each write moving at most one row in O(log n).

``ArrivalOrder`` keeps the order items were first written in (a deleted item written again
goes to the end); ``SortedOrder`` orders by one field with the sort keys of
``iii_live.views.ordering`` (numbers, then texts, nulls last; ties by item id).

A view holds its place with an *anchor*, a point between rows that stays where it is as
rows come and go around it: ``anchor(position)`` makes one before the row at a position,
``position(anchor)`` says how many rows are before it now. Anchors are for the next few
reads (a view takes a fresh one each frame), not for keeping.
"""

from __future__ import annotations

from typing import Any, Protocol

from sortedcontainers import SortedList  # type: ignore[import-untyped]

from ..views.fields import MISSING, path_getter
from ..views.ordering import Ordering, SortKey

COMPACT_AT = 4096
"""Deleted slots of the arrival order are reclaimed once there are this many and half as many live."""


class RowOrder(Protocol):
    def __len__(self) -> int: ...

    def anchor(self, position: int) -> Any:
        """A place just before the row at ``position`` (or after the last row)."""

    def position(self, anchor: Any) -> int:
        """How many rows are before ``anchor`` now."""

    def anchor_of(self, item_id: str) -> Any:
        """A place just before the row of ``item_id`` (None: no such row)."""

    def ids(self, start: int, count: int) -> list[str]:
        """The ids of rows ``start`` to ``start + count`` (fewer at the end)."""


Slot = tuple[int, int]
"""An arrival anchor: ``(epoch, slot)``; slots are numbered again when holes are reclaimed."""


class ArrivalOrder:
    """Ids in the order they were first written: a list with holes where items were deleted."""

    def __init__(self) -> None:
        self._slots: list[str | None] = []
        self._slot_of: dict[str, int] = {}
        self._holes = SortedList()
        self._epoch = 0
        self._reclaimed = SortedList()
        """The holes reclaimed last, to read anchors taken before (one epoch back)."""

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._slot_of

    def add(self, item_id: str) -> None:
        """An item written: new ones go to the end, known ones stay where they are."""
        if item_id not in self._slot_of:
            self._slot_of[item_id] = len(self._slots)
            self._slots.append(item_id)

    def discard(self, item_id: str) -> None:
        slot = self._slot_of.pop(item_id, None)
        if slot is None:
            return
        self._slots[slot] = None
        self._holes.add(slot)
        if len(self._holes) >= COMPACT_AT and len(self._holes) > len(self._slot_of):
            self._compact()

    def replace(self, item_ids: list[str]) -> None:
        """The group is now ``item_ids`` (a sync): known items keep their places, new ones
        follow in the order given."""
        if not self._slot_of:
            self._epoch += 1
            self._reclaimed = SortedList()
            self._slots = list(item_ids)
            self._slot_of = {item_id: slot for slot, item_id in enumerate(item_ids)}
            self._holes = SortedList()
            return
        present = set(item_ids)
        for gone in [item_id for item_id in self._slot_of if item_id not in present]:
            self.discard(gone)
        for item_id in item_ids:
            self.add(item_id)

    def anchor(self, position: int) -> Slot:
        """The slot of the row at ``position`` (after the last: the slot past the end)."""
        if position >= len(self._slot_of):
            return self._epoch, len(self._slots)
        return self._epoch, self._slot(max(0, position))

    def anchor_of(self, item_id: str) -> Slot | None:
        slot = self._slot_of.get(item_id)
        return None if slot is None else (self._epoch, slot)

    def position(self, anchor: Slot) -> int:
        epoch, slot = anchor
        if epoch == self._epoch - 1:
            slot -= self._reclaimed.bisect_left(slot)
        elif epoch != self._epoch:
            return 0  # from before a whole new numbering: the top
        return slot - self._holes.bisect_left(slot)

    def ids(self, start: int, count: int) -> list[str]:
        found: list[str] = []
        if count <= 0 or start >= len(self._slot_of):
            return found
        slots = self._slots
        slot = self._slot(max(0, start))
        while slot < len(slots) and len(found) < count:
            item_id = slots[slot]
            if item_id is not None:
                found.append(item_id)
            slot += 1
        return found

    def _slot(self, position: int) -> int:
        """The slot of the live row at ``position`` (< len): the least slot with ``position``
        live slots before it that is itself live."""
        holes = self._holes
        low, high = position, position + len(holes)
        while low < high:
            middle = (low + high) // 2
            if middle + 1 - holes.bisect_right(middle) > position:
                high = middle
            else:
                low = middle + 1
        return low

    def _compact(self) -> None:
        self._epoch += 1
        self._reclaimed = self._holes
        self._slots = [item_id for item_id in self._slots if item_id is not None]
        self._slot_of = {item_id: slot for slot, item_id in enumerate(self._slots)}  # type: ignore[misc]
        self._holes = SortedList()


class NewestFirst:
    """An arrival order read backwards."""

    def __init__(self, arrival: ArrivalOrder) -> None:
        self.arrival = arrival

    def __len__(self) -> int:
        return len(self.arrival)

    def anchor(self, position: int) -> Slot:
        """The slot of the row at ``position``, counted from the newest (slot -1: after the oldest)."""
        size = len(self.arrival)
        if position >= size:
            return self.arrival.anchor(0)[0], -1
        return self.arrival.anchor(size - 1 - max(0, position))

    def anchor_of(self, item_id: str) -> Slot | None:
        return self.arrival.anchor_of(item_id)

    def position(self, anchor: Slot) -> int:
        """Rows newer than the slot: those in later slots."""
        epoch, slot = anchor
        return len(self.arrival) - self.arrival.position((epoch, slot + 1))

    def ids(self, start: int, count: int) -> list[str]:
        size = len(self.arrival)
        first = max(0, size - start - count)
        last = size - max(0, start)
        found = self.arrival.ids(first, last - first)
        found.reverse()
        return found


class SortedOrder:
    """Items by the value at a field path (``"price"``, ``"quote.bid"``; ``"value"`` for items
    that are plain values), ascending or descending, kept sorted as they change."""

    def __init__(self, by: str, ascending: bool) -> None:
        self.by = by
        self.ascending = ascending
        self._ordering = Ordering([not ascending])
        self._field = _field(by)
        self._keys = SortedList()
        self._key_of: dict[str, SortKey] = {}

    def __len__(self) -> int:
        return len(self._key_of)

    def key(self, item_id: str, value: Any) -> SortKey:
        return self._ordering.key((self._field(value),), item_id)

    def set(self, item_id: str, value: Any) -> None:
        new = self.key(item_id, value)
        old = self._key_of.get(item_id)
        if old == new:
            return
        if old is not None:
            self._keys.remove(old)
        self._keys.add(new)
        self._key_of[item_id] = new

    def discard(self, item_id: str) -> None:
        old = self._key_of.pop(item_id, None)
        if old is not None:
            self._keys.remove(old)

    def replace(self, items: dict[str, Any]) -> None:
        """The group is now ``items`` (a sync): the order is built again."""
        part, field = self._ordering.parts[0], self._field
        self._key_of = {item_id: (*part(field(value)), item_id) for item_id, value in items.items()}
        self._keys = SortedList(self._key_of.values())

    def anchor(self, position: int) -> SortKey | None:
        """The key of the row at ``position``; None: after the last row."""
        if position >= len(self._keys):
            return None
        return self._keys[max(0, position)]

    def anchor_of(self, item_id: str) -> SortKey | None:
        return self._key_of.get(item_id)

    def position(self, anchor: SortKey | None) -> int:
        return len(self._keys) if anchor is None else self._keys.bisect_left(anchor)

    def ids(self, start: int, count: int) -> list[str]:
        if count <= 0:
            return []
        return [key[-1] for key in self._keys.islice(max(0, start), max(0, start) + count)]


def _field(path: str) -> Any:
    """The value at ``path`` of an item (None where it has none); ``"value"`` reads an item
    that is not an object as itself."""
    get = path_getter(path)

    def field(item: Any) -> Any:
        if path == "value" and type(item) is not dict:
            return item
        found = get(item, None)
        return None if found is MISSING else found

    return field
