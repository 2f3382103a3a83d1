"""Views that look at a large group through a window, without I/O: the viewport protocol.

A view shows a few dozen rows of a group that may hold millions, and asks for those:

    {"type": "window", "view": V, "req": N, "offset": its first visible row,
     "anchor": the id of that row as the view shows it (or null),
     "before": rows above it, "after": rows from it on,
     "sort": {"by": a field path, or null for the order items were first written in,
              "ascending": bool}, "columns": [field paths] or null}

It gets, whenever what its window covers changes (at most once per frame):

    {"type": "rows", "view": V, "req": N, "total": rows in all, "offset": where its first
     visible row is now, "start": the position of rows[0], "rows": [[id, value], ...],
     "sort": {...}}

With ``columns`` the values carry only those fields. ``sort.by`` null with ``ascending``
false is newest first.

A window holds its place by an anchor at its first visible row (``row_order``): rows
written or deleted before it change ``offset``, and the view scrolls by as much, so the rows
the reader sees stay where they are; a row that moves by sort leaves the window. A window at
the top (offset 0) stays at the top, so the head of a sorted table or of a newest-first log
stays in view as it changes.

Requests are taken as far as they make sense: offsets are clipped to the rows there are,
row counts to ``MAX_ROWS``; a request without a view id is dropped; a sort or columns that
name fields no item has order by id and carry nothing for them. Nothing a view sends raises.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..functions import discard
from ..views.fields import MISSING, path_getter, put_path
from .row_order import ArrivalOrder, NewestFirst, RowOrder, SortedOrder
from .stream_wire import CREATE, DELETE, SYNC, UPDATE

WINDOW, ROWS = "window", "rows"
MAX_ROWS = 500
"""Rows one window may cover (``before + after``)."""
DEFAULT_ROWS = 100
"""Rows of the default window: what a view shows before its own request is answered."""
MAX_COLUMNS = 200
MAX_PATH = 200
MAX_SORTED_ORDERS = 2
"""Sorted orders kept per group (each costs O(log n) per write); the one asked for least
recently goes first, unless a window still reads it."""
DEFAULT_VIEW = ""
"""The window every view starts from (top rows in the default order), kept in synced state."""

Fetch = Callable[[list[str]], dict[str, Any]]
"""Reads the current values of items from storage (absent ids: deleted)."""


class Windowed(Protocol):
    """A group seen through windows (a table's rows, a chart's ranges): fed the group's events,
    asked for windows by views, it frames what each window shows."""

    @property
    def needs_snapshot(self) -> bool:
        """It needs one snapshot of the whole group (a new order to build), given to ``build``
        by a second subscription while the first keeps flowing."""

    def build(self, message: dict[str, Any]) -> None: ...

    def __len__(self) -> int: ...

    def apply(self, message: dict[str, Any]) -> None: ...

    def load(self, items: dict[str, Any]) -> None: ...

    def ask(self, content: dict[str, Any]) -> None:
        """A view's window request, as it sent it (taken as far as it makes sense)."""

    def forget(self, view: str) -> None: ...

    @property
    def dirty(self) -> bool: ...

    def frames(self, fetch: Fetch) -> list[dict[str, Any]]: ...


def read_stored(
    call: Callable[[str, Any], Any], stream_name: str, group_id: str, item_ids: list[str]
) -> dict[str, Any]:
    """The stored values of items, through ``stream::get`` (``call`` is ``StreamCore.call``).

    Values that would have to be awaited (a custom stream's async function) are left out:
    a window never waits on the event loop, which a busy cell may hold.
    """
    found: dict[str, Any] = {}
    for item_id in item_ids:
        payload = {"stream_name": stream_name, "group_id": group_id, "item_id": item_id}
        try:
            value = call("stream::get", payload)
        except Exception:
            continue
        if hasattr(value, "__await__"):
            discard(value)
        elif value is not None:
            found[item_id] = value
    return found


_PENDING: Any = object()


@dataclass(frozen=True, slots=True)
class Sort:
    by: str | None = None
    """A field path, or None for the order items were first written in."""
    ascending: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"by": self.by, "ascending": self.ascending}


@dataclass(frozen=True, slots=True)
class WindowRequest:
    view: str
    req: int = 0
    offset: int = 0
    anchor: str | None = None
    before: int = 0
    after: int = DEFAULT_ROWS
    sort: Sort = Sort()
    columns: tuple[str, ...] | None = None


def parse_window(content: Any) -> WindowRequest | None:
    """A window request from a view's message, clipped to what makes sense; None when it
    names no view (there is no one to answer)."""
    if not isinstance(content, dict):
        return None
    view = content.get("view")
    if not isinstance(view, str) or len(view) > MAX_PATH:
        return None
    before = _count(content.get("before"), 0)
    after = _count(content.get("after"), DEFAULT_ROWS)
    after = min(after, MAX_ROWS)
    anchor = content.get("anchor")
    return WindowRequest(
        view=view,
        req=_count(content.get("req"), 0),
        offset=_count(content.get("offset"), 0),
        anchor=anchor if isinstance(anchor, str) and len(anchor) <= MAX_PATH * 10 else None,
        before=min(before, MAX_ROWS - after),
        after=after,
        sort=_sort(content.get("sort")),
        columns=_columns(content.get("columns")),
    )


def _count(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return default
    return int(min(max(value, 0), 2**53))


def _sort(value: Any) -> Sort:
    if not isinstance(value, dict):
        return Sort()
    by = value.get("by")
    ascending = value.get("ascending")
    return Sort(
        by if isinstance(by, str) and 0 < len(by) <= MAX_PATH else None,
        ascending if isinstance(ascending, bool) else True,
    )


def _columns(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(c for c in value[:MAX_COLUMNS] if isinstance(c, str) and 0 < len(c) <= MAX_PATH)


def project(value: Any, columns: tuple[str, ...] | None) -> Any:
    """``value`` with only ``columns`` (nested paths stay nested); all of it without columns."""
    if columns is None or type(value) is not dict:
        return value
    row: dict[str, Any] = {}
    for column in columns:
        found = path_getter(column)(value, None)
        if found is not MISSING:
            put_path(row, column, found)
    return row


class _Window:
    """One view's window: what it asked for and what it was sent last."""

    __slots__ = ("request", "anchor", "at_top", "sent", "limit")

    def __init__(self, request: WindowRequest, limit: int | None) -> None:
        self.request = request
        self.limit = limit
        self.anchor: Any = None
        """Where its first visible row is (None: not placed yet, at the requested offset)."""
        self.at_top = request.offset == 0
        self.sent: tuple[Any, ...] | None = None

    def place(self, order: RowOrder) -> tuple[int, int, int, list[str]]:
        """``(total, offset, start, ids)`` now; the anchor moves to the first visible row."""
        total = len(order)
        shown = total if self.limit is None else min(total, self.limit)
        sort = self.request.sort
        newest_last = sort.by is None and sort.ascending
        base = total - shown if newest_last else 0  # unsorted, a limit keeps the newest
        if self.anchor is None and self.request.anchor is not None:
            self.anchor = order.anchor_of(self.request.anchor)
        if self.at_top:
            offset = 0
        elif self.anchor is None:
            offset = min(self.request.offset, shown)
        else:
            offset = min(max(order.position(self.anchor) - base, 0), shown)
        self.anchor = order.anchor(base + offset)
        start = max(0, offset - self.request.before)
        end = min(shown, offset + self.request.after)
        return shown, offset, start, order.ids(base + start, end - start)


class TableWindows:
    """A group's rows, in every order a view asks for, and each view's window into them.

    Fed the group's events (a keyed sync first), it keeps the arrival order and the sorted
    orders views ask for; values are held only for rows some window shows (read from storage
    when a window moves). A sorted order not built yet needs the whole group once
    (``needs_snapshot``): the host subscribes a second time, with ``build`` as the callback,
    and closes that subscription once it is built. Its sync is delivered in the hub's order,
    after every event it holds and before every later one, so the order joins exact while
    the first subscription keeps the others current.
    """

    def __init__(
        self, default_sort: Sort = Sort(), columns: tuple[str, ...] | None = None, limit: int | None = None
    ) -> None:
        self.limit = limit
        """At most this many rows: the first of the order, or the newest when unsorted."""
        self.arrival = ArrivalOrder()
        self._sorted: OrderedDict[Sort, SortedOrder] = OrderedDict()
        self._unbuilt: dict[Sort, SortedOrder] = {}
        """Sorted orders asked for and waiting for a snapshot to be built from."""
        self._windows: dict[str, _Window] = {}
        self._values: dict[str, Any] = {}
        self._changed: set[str] = set()
        self._version = 0
        self._framed = -1
        self._loading = False
        self._lock = threading.Lock()
        self.request(WindowRequest(DEFAULT_VIEW, sort=default_sort, columns=columns))

    def __len__(self) -> int:
        return len(self.arrival)

    # -- the group's events ------------------------------------------------------------------

    def apply(self, message: dict[str, Any]) -> None:
        """One event of the group (a stream wrapper message; group syncs keyed)."""
        event = message["event"]
        kind = event["type"]
        item_id = message.get("id")
        if kind == SYNC and item_id is None:
            self.load(event.get("data") or {})
            return
        with self._lock:
            if kind in (CREATE, UPDATE) and item_id is not None:
                value = event.get("data")
                self.arrival.add(item_id)
                for order in self._sorted.values():
                    order.set(item_id, value)
                if item_id in self._values:
                    self._values[item_id] = value
                    self._changed.add(item_id)
            elif kind == DELETE and item_id is not None:
                self.arrival.discard(item_id)
                for order in self._sorted.values():
                    order.discard(item_id)
                if self._values.pop(item_id, _PENDING) is not _PENDING:
                    self._changed.add(item_id)
            else:
                return
            self._version += 1

    def load(self, items: dict[str, Any]) -> None:
        """The whole group, as a sync carries it (its order: the arrival order of new items).
        Frames wait meanwhile (``dirty`` is False), they do not block."""
        self._loading = True
        try:
            with self._lock:
                self._load(items)
                self._version += 1
        finally:
            self._loading = False

    @property
    def needs_snapshot(self) -> bool:
        """Sorted orders wait to be built from the whole group (see ``build``)."""
        return bool(self._unbuilt)

    def build(self, message: dict[str, Any]) -> None:
        """The callback of a second subscription: its sync builds the orders waiting for one
        (its other events are the first subscription's to apply)."""
        if message.get("id") is not None or message["event"]["type"] != SYNC:
            return
        items = message["event"].get("data") or {}
        self._loading = True
        try:
            with self._lock:
                self._build(items)
                self._version += 1
        finally:
            self._loading = False

    def _build(self, items: dict[str, Any]) -> None:
        for sort, order in self._unbuilt.items():
            order.replace(items)
            self._sorted[sort] = order
        self._unbuilt = {}
        while len(self._sorted) > MAX_SORTED_ORDERS and self._drop_unused_order():
            pass
        self._fill_values(items)

    def _load(self, items: dict[str, Any]) -> None:
        self.arrival.replace(list(items))
        for order in self._sorted.values():
            order.replace(items)
        self._build(items)
        for item_id in list(self._values):
            value = items.get(item_id, _PENDING)
            if value is _PENDING:
                del self._values[item_id]
            else:
                self._values[item_id] = value
            self._changed.add(item_id)

    def _fill_values(self, items: dict[str, Any]) -> None:
        """Values of the rows the windows show, from a snapshot at hand."""
        for window in self._windows.values():
            shown = self._order(window.request.sort)
            if shown is not None:
                for item_id in window.place(shown)[3]:
                    if item_id not in self._values and item_id in items:
                        self._values[item_id] = items[item_id]

    # -- what views ask ------------------------------------------------------------------------

    def ask(self, content: dict[str, Any]) -> None:
        """A view's window request as it sent it; one that names no view is dropped."""
        request = parse_window(content)
        if request is not None and request.view != DEFAULT_VIEW:
            self.request(request)

    def request(self, request: WindowRequest) -> None:
        """A view's window, new or moved."""
        with self._lock:
            sort = request.sort
            if sort in self._sorted:
                self._sorted.move_to_end(sort)
            elif sort.by is not None and sort not in self._unbuilt:
                self._unbuilt[sort] = SortedOrder(sort.by, sort.ascending)
            self._windows[request.view] = _Window(request, self.limit)

    def forget(self, view: str) -> None:
        """A view went."""
        with self._lock:
            if view != DEFAULT_VIEW:
                self._windows.pop(view, None)

    def _drop_unused_order(self) -> bool:
        """Drop the least recently asked for order no window reads; False if all are read."""
        in_use = {window.request.sort for window in self._windows.values()}
        for sort in list(self._sorted):
            if sort not in in_use:
                del self._sorted[sort]
                return True
        return False

    def _order(self, sort: Sort) -> RowOrder | None:
        """The order a sort reads (None: a sorted order still waiting to be built)."""
        if sort.by is None:
            return self.arrival if sort.ascending else NewestFirst(self.arrival)
        return self._sorted.get(sort)

    # -- what views get --------------------------------------------------------------------------

    def frames(self, fetch: Fetch) -> list[dict[str, Any]]:
        """A rows frame for each window whose rows, their values, its total or its place
        changed since the last frame (the default window's has view ``""``)."""
        with self._lock:
            version = self._version
            changed, self._changed = self._changed, set()
            placed = []
            for window in self._windows.values():
                order = self._order(window.request.sort)
                if order is not None:
                    placed.append((window, window.place(order)))
            needed = {item_id for _, (_, _, _, ids) in placed for item_id in ids}
            missing = [item_id for item_id in needed if item_id not in self._values]
            for item_id in missing:
                self._values[item_id] = _PENDING
        found = fetch(missing) if missing else {}
        with self._lock:
            for item_id in missing:
                if self._values.get(item_id) is _PENDING:
                    self._values[item_id] = found.get(item_id)
            for item_id in [item_id for item_id in self._values if item_id not in needed]:
                del self._values[item_id]
            out = []
            for window, (total, offset, start, ids) in placed:
                request = window.request
                shape = (request.req, total, offset, start, tuple(ids))
                if shape == window.sent and changed.isdisjoint(ids):
                    continue
                window.sent = shape
                values = self._values
                rows = [[item_id, project(values.get(item_id), request.columns)] for item_id in ids]
                out.append(
                    {
                        "type": ROWS,
                        "view": request.view,
                        "req": request.req,
                        "total": total,
                        "offset": offset,
                        "start": start,
                        "rows": rows,
                        "sort": request.sort.as_json(),
                    }
                )
            self._framed = version
            return out

    @property
    def dirty(self) -> bool:
        """Events or requests arrived since the last frames (a frame may be due)."""
        if self._loading:
            return False
        return self._version != self._framed or any(w.sent is None for w in self._windows.values())
