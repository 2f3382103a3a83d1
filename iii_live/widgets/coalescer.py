"""What a widget has to tell its views, merged until the next frame (no I/O here).

Every event of the group updates the mirror (the full state the views should show) and
the pending changes; a delta carries the latest value per changed item since the last
one, whatever number of writes it stands for, with a sequence number so a view detects a
missed delta. A keyframe is the whole mirror at a sequence number.
"""

from __future__ import annotations

import threading
from typing import Any

from ..streams.events import CREATE, DELETE, SYNC, UPDATE

_DELETED: Any = object()


class Coalescer:
    def __init__(self) -> None:
        self.mirror: dict[str, Any] = {}
        self.seq = 0
        self._pending: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.events = 0
        """Events applied so far (a delta usually stands for many)."""

    def apply(self, message: dict[str, Any]) -> bool:
        """Take one stream event (keyed sync, create, update, delete); True if state changed."""
        event = message["event"]
        kind = event["type"]
        item_id = message.get("id")
        with self._lock:
            if kind == SYNC and item_id is None:
                snapshot = event.get("data") or {}
                for gone in self.mirror.keys() - snapshot.keys():
                    self._pending[gone] = _DELETED
                for key, value in snapshot.items():
                    if self.mirror.get(key, _DELETED) != value:
                        self._pending[key] = value
                self.mirror = dict(snapshot)
            elif kind in (CREATE, UPDATE) and item_id is not None:
                self.mirror[item_id] = event.get("data")
                self._pending[item_id] = event.get("data")
            elif kind == DELETE and item_id is not None:
                self.mirror.pop(item_id, None)
                self._pending[item_id] = _DELETED
            else:
                return False
            self.events += 1
            return True

    @property
    def dirty(self) -> bool:
        return bool(self._pending)

    def take_delta(self) -> dict[str, Any] | None:
        """The next numbered delta, or None when nothing changed since the last one."""
        with self._lock:
            if not self._pending:
                return None
            pending, self._pending = self._pending, {}
            self.seq += 1
            return {
                "type": "delta",
                "seq": self.seq,
                "upserts": [[k, v] for k, v in pending.items() if v is not _DELETED],
                "deletes": [k for k, v in pending.items() if v is _DELETED],
            }

    def keyframe(self) -> dict[str, Any]:
        """The whole state at the current sequence; pending changes are folded in first."""
        with self._lock:
            if self._pending:
                self._pending = {}
                self.seq += 1
            return {"seq": self.seq, "items": [[k, v] for k, v in self.mirror.items()]}
