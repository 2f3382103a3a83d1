"""A widget that shows one stream group live, over the kernel comm.

State reaches the browser two ways: numbered deltas as custom messages (small, frequent)
and the ``_keyframe`` trait (the whole group; synced state is never lost, even before a
view exists). Keyframes are sent when a view asks (on a gap, or a page reload), and about
once a second until a view has said it is ready, so a view created while a cell blocks the
kernel (when its requests cannot be answered) still catches up.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from .coalescer import Coalescer
from .flusher import flusher

if TYPE_CHECKING:
    from ..engine import CallbackSubscription, Engine

STATIC = Path(__file__).resolve().parent.parent / "static"
UNACKNOWLEDGED_KEYFRAME_SECONDS = 1.0


class LiveWidget(anywidget.AnyWidget):
    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"
    _view_kind = traitlets.Unicode("table").tag(sync=True)
    _keyframe = traitlets.Dict().tag(sync=True)
    _store_id = traitlets.Unicode().tag(sync=True)
    stream_name = traitlets.Unicode().tag(sync=True)
    group_id = traitlets.Unicode().tag(sync=True)
    height = traitlets.Int(360).tag(sync=True)

    def __init__(self, engine: Engine, stream_name: str, group_id: str, **kwargs: Any) -> None:
        super().__init__(stream_name=stream_name, group_id=group_id, _store_id=uuid.uuid4().hex, **kwargs)
        self.engine = engine
        self.coalescer = Coalescer()
        self._send_lock = threading.Lock()
        self._acknowledged = False
        self._keyframe_wanted = False
        self._keyframe_stale = False
        self._last_keyframe = 0.0
        self.messages_sent = 0
        self._subscription: CallbackSubscription | None = engine.subscribe(
            stream_name, group_id, self._on_event, keyed=True
        )
        self._keyframe = self.coalescer.keyframe()
        self._last_keyframe = time.monotonic()
        self.on_msg(self._on_view_message)
        flusher.add(self)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.stream_name}/{self.group_id}: {len(self.coalescer.mirror)} items>"
        )

    def _on_event(self, message: dict[str, Any]) -> None:
        self.coalescer.apply(message)

    def _on_view_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ready":
            self._acknowledged = True
            self._keyframe_wanted = True
        elif kind == "resync":
            self._keyframe_wanted = True

    def flush(self, now: float) -> int:
        """Send a keyframe if one is due, else a delta if anything changed (flusher thread)."""
        with self._send_lock:
            due = (
                not self._acknowledged
                and (self._keyframe_stale or self.coalescer.dirty)
                and now - self._last_keyframe >= UNACKNOWLEDGED_KEYFRAME_SECONDS
            )
            if self._keyframe_wanted or due:
                self._keyframe_wanted = self._keyframe_stale = False
                self._last_keyframe = now
                self._keyframe = self.coalescer.keyframe()
                self.messages_sent += 1
                return 1
            delta = self.coalescer.take_delta()
            if delta is None:
                return 0
            self.send(delta)
            self._keyframe_stale = True
            self.messages_sent += 1
            return 1

    @property
    def items(self) -> dict[str, Any]:
        """The items the widget shows, by id."""
        return dict(self.coalescer.mirror)

    def close(self) -> None:
        flusher.remove(self)
        subscription = getattr(self, "_subscription", None)
        if subscription is not None:
            subscription.close()
            self._subscription = None
        super().close()
