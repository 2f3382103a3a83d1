"""Rows of a grouped view: one per group-by key, its aggregates kept one item at a time.

Each item's contribution (its key, its aggregate inputs, its arrival number) is remembered,
because an update event carries only the new value: the old contribution leaves its group,
the new one joins its group. A group whose last item leaves is deleted. When the view is
sorted or limited, a group's sort key moves in the window after each change.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..limits import DEFAULT_LIMITS
from ..streams.inputs import check_name
from .aggregates import FieldState
from .arrivals import Arrivals
from .fields import MISSING, SCALARS, hashable, key_text, put_path
from .ordering import Ordering, SortKey, TopWindow
from .plan import ViewPlan

ALL_ROW_ID = "all"
"""The one row of a view that aggregates without ``group_by``."""


def row_id_of(parts: tuple[Any, ...]) -> str:
    """Group-by values joined with ``|`` (``\\`` escapes a ``|`` or ``\\`` inside one); a key
    that is no valid item id (empty, too long, control characters) is ``~`` and its digest."""
    if not parts:
        return ALL_ROW_ID
    if len(parts) == 1:
        text = key_text(parts[0])
    else:
        text = "|".join(key_text(p).replace("\\", "\\\\").replace("|", "\\|") for p in parts)
    try:
        check_name("row id", text, ValueError, DEFAULT_LIMITS.max_name_length)
    except ValueError:
        return _digest(text)
    return text


def typed_row_id_of(parts: tuple[Any, ...]) -> str:
    """The id of a key whose ``row_id_of`` another key already holds (``1`` and ``"1"``):
    ``~`` and a digest of its values with their types."""
    return _digest(repr(tuple((type(part).__name__, part) for part in parts)))


def _digest(text: str) -> str:
    return "~" + hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


class Group:
    __slots__ = ("key", "parts", "row_id", "size", "fields", "sort_key")

    def __init__(self, key: Any, parts: tuple[Any, ...], fields: list[FieldState]) -> None:
        self.key = key
        self.parts = parts
        self.row_id = row_id_of(parts)
        self.size = 0
        self.fields = fields
        self.sort_key: SortKey | None = None


class GroupedRows:
    def __init__(self, plan: ViewPlan) -> None:
        self.plan = plan
        self.items: dict[str, tuple[Any, Any, int]] = {}
        """Each counted item's ``(group key, aggregate inputs, place in the base group)``; the
        inputs are a tuple, or the bare value when the view reads one field."""
        self.groups: dict[Any, Group] = {}
        self.by_row_id: dict[str, Group] = {}
        self.window = TopWindow(plan.limit) if plan.ordering is not None else None
        self.dirty: dict[str, Any] = {}
        """Row id -> group key, for groups whose row must be written or deleted."""
        self.evaluated = 0
        self.arrivals = Arrivals() if plan.needs_arrivals else None
        # what each write reads, looked up once
        self._compute = plan.compute if plan.computed else None
        self._predicate = plan.predicate
        self._read_key = plan.group_readers[0] if len(plan.group_readers) == 1 else None
        self._read_value = plan.inputs[0] if len(plan.inputs) == 1 else None
        self._inputs = plan.inputs
        self._columns = [(a.name, a.input, a.read, "." in a.name) for a in plan.aggregates]
        self._by_key = Ordering([False] * len(plan.group_fields))

    def tracked_ids(self) -> set[str]:
        return set(self.items)

    def upsert(self, item_id: str, item: Any) -> None:
        self.evaluated += 1
        place = self.arrivals.place(item_id) if self.arrivals is not None else 0
        computed = self._compute(item) if self._compute is not None else None
        old = self.items.get(item_id)
        if self._predicate is not None and not self._predicate(item, computed):
            if old is not None:
                self._drop(item_id)
            return
        read_key = self._read_key
        if read_key is not None:  # one group-by field, the common case
            key = read_key(item, computed)
            if key is not MISSING and key is not None and not isinstance(key, SCALARS):
                key = hashable(key)
        else:
            key = self._key(item, computed)
        if key is MISSING or key is None:
            if old is not None:
                self._drop(item_id)
            return
        read_value = self._read_value
        values = read_value(item, computed) if read_value is not None else self._values(item, computed)
        left = None
        if old is not None:
            old_key, old_values, _ = old
            if old_key == key:  # the item stays in its group: move its values only
                if old_values == values:
                    return
                group = self.groups[old_key]
                if read_value is not None:
                    group.fields[0].move(old_values, values, place)
                else:
                    for state, before, after in zip(group.fields, old_values, values, strict=True):
                        state.move(before, after, place)
                self.items[item_id] = (old_key, values, place)
                self._settle(group)
                return
            left = self._subtract(old)
        joined = self._add(key, values, place)
        self.items[item_id] = (joined.key, values, place)  # one key object per group, not per item
        if left is not None and left is not joined:
            self._settle(left)
        self._settle(joined)

    def remove(self, item_id: str) -> None:
        """The item was deleted from the base group."""
        if self.arrivals is not None:
            self.arrivals.forget(item_id)
        self._drop(item_id)

    def _drop(self, item_id: str) -> None:
        """The item leaves the view (deleted, filtered out, or without a group key)."""
        old = self.items.pop(item_id, None)
        if old is not None:
            self._settle(self._subtract(old))

    def _key(self, item: Any, computed: Any) -> Any:
        """The key of several group-by fields (a tuple), or MISSING if one is null."""
        readers = self.plan.group_readers
        parts = []
        for read in readers:
            value = read(item, computed)
            if value is MISSING or value is None:
                return MISSING
            parts.append(value if isinstance(value, SCALARS) else hashable(value))
        return tuple(parts)

    def _values(self, item: Any, computed: Any) -> tuple[Any, ...]:
        """The aggregate inputs of an item (a view with one input keeps the bare value)."""
        return tuple([read(item, computed) for read in self._inputs])

    def _add(self, key: Any, values: Any, place: int) -> Group:
        group = self.groups.get(key)
        if group is None:
            parts = (key,) if len(self.plan.group_readers) == 1 else key
            fields = [FieldState(needs) for needs in self.plan.input_needs]
            group = self.groups[key] = Group(key, parts, fields)
            if group.row_id in self.by_row_id:  # another key reads the same (1 and "1")
                group.row_id = typed_row_id_of(parts)
            self.by_row_id[group.row_id] = group
        group.size += 1
        if self._read_value is not None:
            group.fields[0].add(values, place)
        else:
            for state, value in zip(group.fields, values, strict=True):
                state.add(value, place)
        return group

    def _subtract(self, entry: tuple[Any, Any, int]) -> Group:
        key, values, place = entry
        group = self.groups[key]
        group.size -= 1
        if self._read_value is not None:
            group.fields[0].remove(values, place)
        else:
            for state, value in zip(group.fields, values, strict=True):
                state.remove(value, place)
        return group

    def _settle(self, group: Group) -> None:
        """After a group changed: drop it if empty, move it in the window, mark what to write."""
        if group.size == 0:
            del self.groups[group.key]
            self.by_row_id.pop(group.row_id, None)
        window = self.window
        if window is None:
            self.dirty[group.row_id] = group.key
            return
        new = self._sort_key(group) if group.size else None
        if new == group.sort_key:
            shown = new is not None and window.contains(new)
        else:
            shown, other, _ = window.move(group.sort_key, new)
            group.sort_key = new
            if other is not None:
                self.dirty[other] = self.by_row_id[other].key
        if shown:
            self.dirty[group.row_id] = group.key

    def _sort_key(self, group: Group) -> SortKey:
        plan = self.plan
        assert plan.ordering is not None
        values = [
            source.aggregate.read(group.fields[source.aggregate.input])
            if source.aggregate is not None
            else group.parts[source.key_part or 0]
            for source in plan.sort_sources
        ]
        return plan.ordering.key(values, group.row_id)

    def row(self, group: Group) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name, part in zip(self.plan.group_fields, group.parts, strict=True):
            value = part.decode() if type(part) is bytes else part
            if "." in name:
                put_path(row, name, value)
            else:
                row[name] = value
        fields = group.fields
        for name, index, read, nested in self._columns:
            if nested:
                put_path(row, name, read(fields[index]))
            else:
                row[name] = read(fields[index])
        return row

    def _shown(self, group: Group | None) -> bool:
        if group is None:
            return False
        return self.window is None or (group.sort_key is not None and self.window.contains(group.sort_key))

    def take_dirty(self) -> dict[str, Any]:
        """The pending changes (the view publishes them with ``resolve``)."""
        dirty, self.dirty = self.dirty, {}
        return dirty

    def resolve(self, pending: list[tuple[str, Any]]) -> tuple[list[tuple[str, Any]], list[str]]:
        """``(changes, [])``: rows to write (None deletes), built from the groups' state now."""
        groups, row, everything = self.groups, self.row, self.window is None
        changes: list[tuple[str, Any]] = []
        for row_id, key in pending:
            group = groups.get(key)
            # the key's group now, if it still has this id (a key's group made again may not)
            if group is not None and group.row_id == row_id and (everything or self._shown(group)):
                changes.append((row_id, row(group)))
            else:
                changes.append((row_id, None))
        return changes, []

    def requeue(self, row_ids: list[str]) -> None:
        """Rows the store refused: write them again next time."""
        for row_id in row_ids:
            group = self.by_row_id.get(row_id)
            self.dirty.setdefault(row_id, group.key if group is not None else MISSING)

    def after_sync(self, before: set[str]) -> None:
        """Keep only the changes a rebuild must publish: rows shown before it, rows shown now."""
        if self.window is None:
            return
        dirty = self.dirty
        self.dirty = {row_id: dirty.get(row_id, MISSING) for row_id in before}
        for row_id in self.window.ids():
            self.dirty[row_id] = self.by_row_id[row_id].key

    def ordered_ids(self) -> list[str]:
        """Row ids in order: the window's, else by group key as pandas' ``groupby`` sorts."""
        if self.window is not None:
            return self.window.ids()
        by_key = self._by_key
        groups = sorted(self.groups.values(), key=lambda g: by_key.key(g.parts, g.row_id))
        return [group.row_id for group in groups]
