"""Where each item sits in its base group, for ``first``, ``last`` and "the first N".

The kv store orders a group by each item's first write: an update keeps the item's place,
a delete and a new write put it last. Items get their number when the view first sees
them, whether or not they pass its filter, so an item that enters the view later keeps
the place it has in the group (``stream.to_frame(group)`` order, pandas' row order).
"""

from __future__ import annotations


class Arrivals:
    __slots__ = ("_places", "_last")

    def __init__(self) -> None:
        self._places: dict[str, int] = {}
        self._last = 0

    def place(self, item_id: str) -> int:
        """The item's place, given on first sight."""
        place = self._places.get(item_id)
        if place is None:
            self._last += 1
            place = self._places[item_id] = self._last
        return place

    def forget(self, item_id: str) -> None:
        """The item was deleted from the group: written again, it goes last."""
        self._places.pop(item_id, None)
