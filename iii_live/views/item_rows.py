"""Rows of an ungrouped view: the items that pass the filter, projected, sorted, cut to N.

Each write re-reads one item: its filter, its row and (when sorted or limited) its sort
key, whose move in the window costs O(log n). Changes are kept as the latest per row until
the view publishes them: the row as JSON bytes (bytes, unlike dicts, are no work for the
garbage collector however many wait), ``FETCH`` for a row that entered the top N because
another left (its item is read when publishing), or ``GONE``.
"""

from __future__ import annotations

import logging
from typing import Any

from .. import codec
from .arrivals import Arrivals
from .fields import MISSING
from .ordering import SortKey, TopWindow
from .plan import ViewPlan

log = logging.getLogger("iii_live.views")

FETCH: Any = object()
GONE: Any = object()


class ItemRows:
    def __init__(self, plan: ViewPlan) -> None:
        self.plan = plan
        self.members: dict[str, Any] = {}
        """Ids of the items that pass the filter, with their sort keys (their places in the
        group when the view is not sorted)."""
        self.window = TopWindow(plan.limit) if plan.ordering is not None else None
        self.dirty: dict[str, Any] = {}
        self.evaluated = 0
        """Items read so far: one per write, plus every item of each sync."""
        self.arrivals = Arrivals() if plan.needs_arrivals else None

    def tracked_ids(self) -> set[str]:
        return set(self.members)

    def upsert(self, item_id: str, item: Any) -> None:
        self.evaluated += 1
        place = self.arrivals.place(item_id) if self.arrivals is not None else 0
        plan = self.plan
        computed = plan.compute(item) if plan.computed else None
        keep = plan.predicate is None or plan.predicate(item, computed)
        window = self.window
        if window is None:
            if keep:
                self.members[item_id] = place
                self.dirty[item_id] = self._encoded(item_id, plan.row(item, computed))
            elif item_id in self.members:
                del self.members[item_id]
                self.dirty[item_id] = GONE
            return
        old = self.members.get(item_id)
        new = self._key(item_id, item, computed, place) if keep else None
        if new is None:
            self.members.pop(item_id, None)
        else:
            self.members[item_id] = new
        if old == new:
            shown, other, entered = new is not None and window.contains(new), None, False
        else:
            shown, other, entered = window.move(old, new)
        if shown:
            self.dirty[item_id] = (
                self._encoded(item_id, plan.row(item, computed)) if new is not None else GONE
            )
        if other is not None:
            self.dirty[other] = FETCH if entered else GONE

    def remove(self, item_id: str) -> None:
        """The item was deleted from the base group."""
        if self.arrivals is not None:
            self.arrivals.forget(item_id)
        if item_id not in self.members:
            return
        old = self.members.pop(item_id)
        if self.window is None:
            self.dirty[item_id] = GONE
            return
        shown, other, entered = self.window.move(old, None)
        if shown:
            self.dirty[item_id] = GONE
        if other is not None:
            self.dirty[other] = FETCH if entered else GONE

    def _key(self, item_id: str, item: Any, computed: Any, place: int) -> SortKey:
        plan = self.plan
        assert plan.ordering is not None
        if plan.by_arrival:
            return plan.ordering.key([place], item_id)
        return plan.ordering.key([read(item, computed) for read in plan.sort_readers], item_id)

    def shown(self, row_id: str) -> bool:
        if self.window is None:
            return row_id in self.members
        key = self.members.get(row_id)
        return key is not None and self.window.contains(key)

    def _encoded(self, item_id: str, row: Any) -> Any:
        try:
            return codec.dumps(row)
        except codec.EncodeError as exc:
            log.error("row %r is not JSON, so it is not published: %s", item_id, exc)
            return GONE

    def take_dirty(self) -> dict[str, Any]:
        """The pending changes (the view publishes them with ``resolve``)."""
        dirty, self.dirty = self.dirty, {}
        return dirty

    def resolve(self, pending: list[tuple[str, Any]]) -> tuple[list[tuple[str, Any]], list[str]]:
        """``(changes, fetches)``: rows to write (JSON bytes; None deletes) and rows to read
        first, for pending changes as the view stands now."""
        changes: list[tuple[str, Any]] = []
        fetches: list[str] = []
        for row_id, hint in pending:
            if not self.shown(row_id):
                changes.append((row_id, None))
            elif hint is FETCH or hint is GONE:
                fetches.append(row_id)
            else:
                changes.append((row_id, hint))
        return changes, fetches

    def requeue(self, row_ids: list[str]) -> None:
        """Rows the store refused: write them again (from their items) next time."""
        for row_id in row_ids:
            self.dirty.setdefault(row_id, FETCH)

    def fetched(self, item: Any) -> Any:
        """The row (JSON bytes) of an item read for ``FETCH``, or MISSING if it no longer
        passes the filter (the write that changed it is on its way to the view)."""
        plan = self.plan
        computed = plan.compute(item) if plan.computed else None
        if plan.predicate is not None and not plan.predicate(item, computed):
            return MISSING
        row = self._encoded("", plan.row(item, computed))
        return MISSING if row is GONE else row

    def after_sync(self, before: set[str]) -> None:
        """Keep only the changes a rebuild must publish: rows shown before it, rows shown now
        (a window moved by every item of a snapshot marks far more than that)."""
        if self.window is None:
            return
        dirty = self.dirty
        self.dirty = {row_id: dirty.get(row_id, GONE) for row_id in before}
        for row_id in self.window.ids():
            self.dirty[row_id] = dirty.get(row_id, FETCH)

    def ordered_ids(self) -> list[str]:
        """Row ids in order: the window's, else the group's order (as ``df[mask]`` keeps it)."""
        if self.window is not None:
            return self.window.ids()
        return sorted(self.members, key=self.members.__getitem__)
