"""The storage-and-pub/sub contract every stream adapter fulfils (spec §4.1).

Reads and writes are synchronous so that a notebook cell can call them without an event
loop; ``emit`` hands an event to the adapter's pub/sub, which feeds the hub of every engine
that shares the adapter's backend.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..events import Event
from ..hub import Hub
from ..update_ops import MISSING, UpdateOp

__all__ = ["MISSING", "StreamAdapter"]


class StreamAdapter(Protocol):
    """Values are plain JSON; ``MISSING`` marks an absent item (a stored ``null`` is present)."""

    name: str

    def open(self, hub: Hub) -> None:
        """Load state and start feeding ``hub`` with published events."""

    def close(self) -> None:
        """Flush what must be durable and stop background work."""

    def set(self, stream_name: str, group_id: str, item_id: str, value: Any, value_json: bytes) -> Any:
        """Store ``value`` (``value_json`` is its encoding) and return the old value or MISSING."""

    def get(self, stream_name: str, group_id: str, item_id: str) -> Any:
        """The stored value, or MISSING."""

    def delete(self, stream_name: str, group_id: str, item_id: str) -> Any:
        """Remove the item and return its old value, or MISSING when there was none."""

    def list(self, stream_name: str, group_id: str) -> list[Any]:
        """The values of a group in the adapter's order (kv: order of first write)."""

    def list_groups(self, stream_name: str) -> list[str]: ...

    def list_all(self) -> dict[str, list[str]]:
        """Every stream with its groups."""

    def update(
        self, stream_name: str, group_id: str, item_id: str, ops: list[UpdateOp]
    ) -> tuple[Any, Any, list[dict[str, Any]]]:
        """Apply ``ops`` atomically; return ``(old_value or MISSING, new_value, errors)``."""

    def emit(self, event: Event) -> None:
        """Publish ``event`` to every engine sharing this adapter (this one included)."""
