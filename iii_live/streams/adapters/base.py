"""The storage-and-pub/sub contract every stream adapter fulfils (spec §4.1).

Reads and writes are synchronous so that a notebook cell can call them without an event
loop. A mutation receives an ``EventDraft`` and publishes the completed event atomically
with the write, so every engine sharing the backend sees a group's events in the order its
writes happened. Published events reach the hub of every engine on the backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..events import Event, EventDraft
from ..hub import Hub
from ..update_ops import MISSING, UpdateOp

__all__ = ["MISSING", "CheckValue", "StreamAdapter"]

CheckValue = Callable[[Any, bytes], None]
"""Raises if a value (and its JSON) may not be stored; adapters call it before writing."""


class StreamAdapter(Protocol):
    """Values are plain JSON; ``MISSING`` marks an absent item (a stored ``null`` is present)."""

    name: str

    def open(self, hub: Hub, resync: Callable[[], int]) -> None:
        """Load state and start feeding ``hub`` with published events.

        ``resync()`` re-sends every local subscriber a snapshot; an adapter calls it when
        events may have been missed.
        """

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

    def list(self, stream_name: str, group_id: str) -> list[Any]:
        """The values of a group in the adapter's order (kv: order of first write)."""

    def items(self, stream_name: str, group_id: str) -> dict[str, Any]:
        """``item_id -> value`` for a group, in the same order as ``list``."""

    def list_groups(self, stream_name: str) -> list[str]: ...

    def list_all(self) -> dict[str, list[str]]:
        """Every stream with its groups."""

    def update(self, draft: EventDraft, ops: list[UpdateOp]) -> tuple[Any, Any, list[dict[str, Any]], Event]:
        """Apply ``ops`` atomically and publish; return ``(old or MISSING, new, errors, event)``."""

    def emit(self, event: Event) -> None:
        """Publish an event that has no write (``send``, custom streams)."""
