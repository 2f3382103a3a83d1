"""The storage-and-pub/sub contract every stream adapter fulfils (spec §4.1).

Reads and writes are synchronous so that a notebook cell can call them without an event
loop. A mutation receives an ``EventDraft`` and publishes the completed event atomically
with the write, through the engine's ``EventSink``, so every engine sharing the backend
sees a group's events in the order its writes happened.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from ...protocol.stream_wire import Event, EventDraft
from ..retention import Retention, Stamp
from ..update_ops import MISSING, UpdateOp

__all__ = [
    "MISSING",
    "BulkResult",
    "CheckValue",
    "EventSink",
    "RemoteStreamAdapter",
    "Following",
    "FencedRead",
    "Histories",
    "RetainingAdapter",
    "StreamAdapter",
]

CheckValue = Callable[[Any, bytes], None]
"""Raises if a value (and its JSON) may not be stored; adapters call it before writing."""


class Histories(Protocol):
    """What an adapter that numbers events itself needs of the engine's group histories."""

    window: int
    ttl: float

    def followed(self) -> builtins.list[tuple[str, str]]:
        """The groups resuming clients of this engine follow."""

    def follows(self, stream_name: str, group_id: str) -> bool: ...


class EventSink(Protocol):
    """Where an adapter publishes events: the engine's subscriptions, under its write lock."""

    @property
    def history(self) -> Histories:
        """The engine's group histories (for adapters that number events themselves)."""

    def publish(self, event: Event) -> None:
        """Queue an event for delivery (takes the write lock; reentrant inside a write)."""

    def drain(self) -> None:
        """Deliver what was queued; call after ``publish`` outside of a write."""

    def fence(self, token: str) -> None:
        """A fenced read's marker came back (remote adapters, see ``read_fenced``)."""

    def resync(self) -> int:
        """Send every subscriber a fresh sync: events may have been missed."""


class StreamAdapter(Protocol):
    """Values are plain JSON; ``MISSING`` marks an absent item (a stored ``null`` is present)."""

    name: str

    def open(self, sink: EventSink) -> None:
        """Load state and start publishing to ``sink`` (events of other engines included)."""

    def close(self) -> None:
        """Flush what must be durable and stop background work."""

    def status(self) -> dict[str, Any]:
        """Health of the backend: at least ``{"adapter": name, "healthy": bool}``."""

    def set(self, draft: EventDraft, value: Any, value_json: bytes) -> tuple[Any, Event]:
        """Store and publish ``create`` or ``update``; return ``(old value or MISSING, event)``."""

    def get(self, stream_name: str, group_id: str, item_id: str) -> Any:
        """The stored value, or MISSING."""

    def delete(self, draft: EventDraft) -> tuple[Any, Event | None]:
        """Remove the item and publish ``delete`` if it existed; return ``(old or MISSING, event)``."""

    def list(self, stream_name: str, group_id: str) -> builtins.list[Any]:
        """The values of a group in the adapter's order (kv: order of first write)."""

    def items(self, stream_name: str, group_id: str) -> dict[str, Any]:
        """``item_id -> value`` for a group, in the same order as ``list``."""

    def count(self, stream_name: str, group_id: str) -> int:
        """How many items a group holds (without reading them)."""

    def list_groups(self, stream_name: str) -> builtins.list[str]: ...

    def list_all(self) -> dict[str, builtins.list[str]]:
        """Every stream with its groups."""

    def update(
        self, draft: EventDraft, ops: builtins.list[UpdateOp], check: CheckValue | None = None
    ) -> tuple[Any, Any, builtins.list[dict[str, Any]], Event]:
        """Apply ``ops`` atomically and publish; return ``(old or MISSING, new, errors, event)``."""

    def emit(self, event: Event) -> None:
        """Publish an event that has no write (``send``, custom streams)."""


class BulkResult(NamedTuple):
    """What ``set_many`` did: row counts, and the events it published (for triggers)."""

    created: int
    updated: int
    unchanged: int
    deleted: int
    events: list[Event]


class RetainingAdapter(StreamAdapter, Protocol):
    """An adapter with bulk writes and retention (kv and redis; optional for others)."""

    def set_many(
        self,
        stream_name: str,
        group_id: str,
        timestamp: int,
        item_ids: Sequence[str],
        values_json: Sequence[bytes],
        *,
        delete_missing: bool = False,
        events: bool = True,
    ) -> BulkResult:
        """Store many items of one group, publishing events for changed rows only, atomically
        with the write; all of them carry ``timestamp``. ``events=False`` is a hint that no
        local subscriber or trigger wants the returned events."""

    def retain(
        self, stream_name: str, group_id: str | None, policy: Retention | None, stamp: Stamp
    ) -> builtins.list[Event]:
        """Set or remove (None) the policy of a group or (``group_id`` None) of every group of a
        stream, and evict what it no longer allows; returns the delete events."""

    def policies(self) -> dict[tuple[str, str | None], Retention]:
        """Every policy in force: ``(stream, group or None for the whole stream) -> policy``."""

    def expire(self, stamp: Stamp) -> builtins.list[Event]:
        """Evict items not written for their policy's ``ttl``; returns the delete events."""

    def evicted(self) -> builtins.list[Event]:
        """The delete events retention published in the write just made (under the write
        lock, right after it); each event is returned once. Evictions carry the write's
        timestamp."""


class Following(NamedTuple):
    """How long and how much of a followed group's history a store keeps."""

    ttl: float
    window: int


class FencedRead(NamedTuple):
    """What a fenced read found: the snapshot (item value or None, keyed dict, or list), the
    group history's ``(seq, epoch)`` at that point when it was followed, and, for a resume the
    history could serve, the frames missed instead of a snapshot."""

    snapshot: Any
    position: tuple[int, str] | None = None
    missed: builtins.list[bytes] | None = None


class RemoteStreamAdapter(StreamAdapter, Protocol):
    """An adapter whose reads cross the network: they must not run on the event loop, and a
    new subscriber's snapshot is read with a fence instead of under the write lock.

    It numbers the events of followed groups itself (``numbers_events``), in a history every
    engine on the store shares, so a client can resume on any of them."""

    remote: bool
    numbers_events: bool

    def read_fenced(
        self,
        stream_name: str,
        group_id: str,
        item_id: str | None,
        keyed: bool,
        token: str,
        follow: Following | None = None,
        since: tuple[int, str] | None = None,
    ) -> FencedRead:
        """Read, and atomically with the read publish ``token`` so that
        ``EventSink.fence(token)`` is called by the listener at that point of the event
        stream; with ``follow``, follow the group's history and resume from ``since``."""

    def follow(self, groups: builtins.list[tuple[str, str]], follow: Following) -> None:
        """Renew the histories of groups still followed."""
