"""A notebook widget's conversation with its views, without I/O (the kernel comm protocol).

State reaches the browser two ways: numbered deltas as custom messages
``{"type": "delta", "seq", "upserts": [[id, value]...], "deletes": [id...]}`` (small,
frequent) and the ``_keyframe`` trait ``{"seq", "items": [[id, value]...]}`` (the whole
group; synced state is never lost, even before a view exists). From a view:
``{"type": "ready"}`` when it exists and ``{"type": "resync"}`` when it saw a gap.

Keyframes are sent when a view asks, and about once a second until a view has said it is
ready, so a view created while a cell blocks the kernel (when its requests cannot be
answered) still catches up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .stream_wire import CREATE, DELETE, SYNC, UPDATE

UNACKNOWLEDGED_KEYFRAME_SECONDS = 1.0
READY, RESYNC = "ready", "resync"

_DELETED: Any = object()


class Coalescer:
    """What a widget has to tell its views, merged until the next frame.

    Every event of the group updates the mirror (the full state the views should show) and
    the pending changes; a delta carries the latest value per changed item since the last
    one, whatever number of writes it stands for, with a sequence number so a view detects
    a missed delta. A keyframe is the whole mirror at a sequence number.
    """

    def __init__(self) -> None:
        self.mirror: dict[str, Any] = {}
        self.seq = 0
        self._pending: dict[str, Any] = {}
        self._lock = threading.Lock()

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


class WidgetSession:
    """Decides, once per frame, what one widget sends: a keyframe when one is due, else a delta."""

    def __init__(
        self, send_delta: Callable[[dict[str, Any]], None], set_keyframe: Callable[[dict[str, Any]], None]
    ):
        self.coalescer = Coalescer()
        self._send_delta = send_delta
        self._set_keyframe = set_keyframe
        self._lock = threading.Lock()
        self._acknowledged = False
        self._keyframe_wanted = False
        self._keyframe_stale = False
        self._last_keyframe = 0.0
        self.messages_sent = 0

    def apply(self, message: dict[str, Any]) -> None:
        """An event of the group (a stream wrapper message, group syncs keyed)."""
        self.coalescer.apply(message)

    def receive(self, content: Any) -> None:
        """A message from a view."""
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == READY:
            self._acknowledged = True
            self._keyframe_wanted = True
        elif kind == RESYNC:
            self._keyframe_wanted = True

    def start(self, now: float) -> None:
        """Publish the first keyframe (the state when the widget was made)."""
        with self._lock:
            self._last_keyframe = now
            self._set_keyframe(self.coalescer.keyframe())

    def flush(self, now: float) -> int:
        """Send a keyframe if one is due, else a delta if anything changed; returns messages sent."""
        with self._lock:
            due = (
                not self._acknowledged
                and (self._keyframe_stale or self.coalescer.dirty)
                and now - self._last_keyframe >= UNACKNOWLEDGED_KEYFRAME_SECONDS
            )
            if self._keyframe_wanted or due:
                self._keyframe_wanted = self._keyframe_stale = False
                self._last_keyframe = now
                self._set_keyframe(self.coalescer.keyframe())
                self.messages_sent += 1
                return 1
            delta = self.coalescer.take_delta()
            if delta is None:
                return 0
            self._send_delta(delta)
            self._keyframe_stale = True
            self.messages_sent += 1
            return 1
