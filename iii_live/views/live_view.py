"""One view kept current: fed by its base group's events, publishing its rows as a group.

The view subscribes to its base group like any subscriber: a ``sync`` (keyed) builds or
rebuilds it, then each ``create``/``update``/``delete`` costs one item's worth of work on
the thread that delivers it. Rows that changed are published by the engine's view
publisher, at most once per interval, to the derived group (``derived``) through the same
storage, events and triggers as ``stream::set``, so the rows are stored, sent to every
subscriber with iii's frames, shared through Redis and seen by triggers like any other
group's items.

A resync (the base group was deleted, a Redis outage) goes through the same path: items
gone from the snapshot leave the view, so a view of a deleted group is empty, and fills
again when the group returns.
"""

from __future__ import annotations

import logging
import threading
from itertools import islice
from typing import TYPE_CHECKING, Any

from ..errors import InvocationError
from ..functions import discard, resolve
from ..protocol.stream_wire import CREATE, DELETE, SYNC, UPDATE, Event
from ..streams.hub import Subscription
from .derived import DerivedGroup
from .errors import ViewSpecError
from .fields import MISSING
from .grouped_rows import GroupedRows
from .item_rows import ItemRows
from .publisher import Publisher
from .spec import ViewSpec

if TYPE_CHECKING:
    from ..core import StreamCore

log = logging.getLogger("iii_live.views")

PUBLISH_CHUNK = 128
"""Rows built and written at a time (see ``publish``)."""
SYNC_TIMEOUT = 30.0
"""Seconds ``open`` waits for the base group's first sync before going on without it."""


class LiveView:
    """Also the subscriber of its base group (``deliver``), served on the delivering thread."""

    on_loop = False

    def __init__(self, core: StreamCore, spec: ViewSpec, publisher: Publisher) -> None:
        self.core = core
        self.spec = spec
        self.plan = spec.plan
        self.rows: ItemRows | GroupedRows = GroupedRows(self.plan) if spec.grouped else ItemRows(self.plan)
        self.stream_name = spec.derived_stream
        self.group_id = spec.derived_group
        self.derived = DerivedGroup(core, self.stream_name, self.group_id, normalize=self.plan.has_callables)
        self.users = 0
        """Open handles (``View`` objects) on this view; it closes with the last."""
        self.by_page = False
        """Opened by a page (counted against the engine's ``max_page_views``)."""
        self.rows_written = 0
        self._publisher = publisher
        self._lock = threading.Lock()
        self._publishing = threading.Lock()
        self._synced = threading.Event()
        self._opened = threading.Event()
        self._failure: ViewSpecError | None = None
        """What the data refused (a field no item has)."""
        self._open_failed: BaseException | None = None
        """Why ``open`` failed, whatever it was."""
        self._marked = False
        self._closed = False
        self._stopped = False
        """Closed, or refused by its data: events are ignored."""
        self._subscription = Subscription(self, spec.stream_name, spec.group_id, keyed=True)

    def __repr__(self) -> str:
        return f"<view {self.spec.stream_name}/{self.spec.group_id} -> {self.stream_name}/{self.group_id}>"

    # -- lifecycle -----------------------------------------------------------------------

    def open(self) -> None:
        """Subscribe, build from the first sync, remove stale rows, publish every row.

        Raises ``ViewSpecError`` when the data refuses the spec (a field no item has).
        """
        try:
            pending = self.core.subscribe(self._subscription)
            if pending is None:
                synced = self._synced.wait(SYNC_TIMEOUT)
            else:  # a base stream served by async functions: its sync comes later
                self.core.spawn(resolve(pending))
                synced = False
            if self._failure is not None:
                raise self._failure
            if not synced:
                log.info("%r: its base group's sync is on its way; rows follow when it arrives", self)
            with self._publishing:
                with self._lock:
                    current = set(self.rows.ordered_ids())
                self.derived.write([(row_id, None) for row_id in self.derived.items().keys() - current])
            self.publish()
        except BaseException as exc:
            self._open_failed = exc
            raise
        finally:
            self._opened.set()

    def wait_open(self) -> None:
        """Wait for ``open`` (run by another thread) to finish; raise what refused it."""
        self._opened.wait()
        if self._failure is not None:
            raise self._failure
        if self._open_failed is not None:  # storage, say: there is no view to share
            raise RuntimeError(f"{self!r} could not be opened: {self._open_failed}")

    def close(self) -> None:
        """Stop following the base group and delete the derived group's rows."""
        with self._lock:
            if self._closed:
                return
            self._closed = self._stopped = True
        self.core.unsubscribe(self._subscription)
        self._publisher.forget(self)
        with self._publishing:
            self.derived.write([(row_id, None) for row_id in self.derived.items()])

    # -- following the base group --------------------------------------------------------

    def deliver(self, event: Event) -> None:
        """An event of the base group (the ``Subscriber`` protocol)."""
        kind = event.kind
        with self._lock:
            if self._stopped:
                return
            rows = self.rows
            if kind == CREATE or kind == UPDATE:
                rows.upsert(event.item_id, event.data)  # type: ignore[arg-type]
            elif kind == DELETE:
                rows.remove(event.item_id)  # type: ignore[arg-type]
            elif kind == SYNC and event.item_id is None:
                self._sync(event.data)
            else:
                return
            if self._marked or not rows.dirty:
                return
            self._marked = True
        self._publisher.mark(self)

    def flush(self) -> None:
        """The ``Subscriber`` protocol's hook for on-loop subscribers (this one is not)."""

    def _sync(self, snapshot: Any) -> None:
        items = snapshot if isinstance(snapshot, dict) else {}
        if not self._synced.is_set():
            try:
                self.plan.check_data(self.spec.stream_name, self.spec.group_id, items)
            except ViewSpecError as exc:
                self._failure = exc
                self._stopped = True
                self._synced.set()
                if self._opened.is_set():  # a late sync: no caller is waiting to be told
                    log.error("%r stopped: %s", self, exc)
                return
        rows = self.rows
        before = set(rows.ordered_ids()) | set(rows.dirty)
        for gone in rows.tracked_ids() - items.keys():
            rows.remove(gone)
        for item_id, item in items.items():
            rows.upsert(item_id, item)
        rows.after_sync(before)
        self._synced.set()

    # -- publishing ----------------------------------------------------------------------

    def publish(self) -> int:
        """Write the rows that changed since the last time; returns how many were written.

        Rows are built and written a chunk at a time, so only a chunk's worth of rows and
        events is alive at once: a long publication leaves nothing for the garbage
        collector to promote (its full collections pause every thread).
        """
        with self._publishing:
            with self._lock:
                self._marked = False
                if self._closed:
                    return 0
                pending = iter(self.rows.take_dirty().items())
            written = 0
            while chunk := list(islice(pending, PUBLISH_CHUNK)):
                with self._lock:
                    changes, fetches = self.rows.resolve(chunk)
                for row_id in fetches:
                    row = self._fetch(row_id)
                    if row is not MISSING:
                        changes.append((row_id, row))
                failed = self.derived.write(changes)
                if failed:
                    with self._lock:
                        self.rows.requeue(failed)
                        self._marked = True
                    self._publisher.mark(self)
                written += len(changes) - len(failed)
            self.rows_written += written
            return written

    def _fetch(self, item_id: str) -> Any:
        """The row of a base item that just entered the view's top N."""
        base = {"stream_name": self.spec.stream_name, "group_id": self.spec.group_id, "item_id": item_id}
        try:
            item = self.core.call("stream::get", base)
            if hasattr(item, "__await__"):
                discard(item)
                log.warning(
                    "%r: %s entered the top but its stream answers reads asynchronously", self, item_id
                )
                return MISSING
        except InvocationError as exc:
            log.error("%r: reading %s failed: %s", self, item_id, exc)
            return MISSING
        if item is None:
            return MISSING
        assert isinstance(self.rows, ItemRows)
        return self.rows.fetched(item)

    # -- reading -------------------------------------------------------------------------

    def ordered_rows(self) -> dict[str, Any]:
        """The published rows in the view's order (pending changes are published first)."""
        self.publish()
        with self._lock:
            order = self.rows.ordered_ids()
        stored = self.derived.items()
        return {row_id: stored[row_id] for row_id in order if row_id in stored}

    @property
    def items_evaluated(self) -> int:
        return self.rows.evaluated
