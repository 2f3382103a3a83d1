"""A notebook widget's conversation with its views, without I/O (the kernel comm protocol).

State reaches the browser two ways: numbered deltas as custom messages
``{"type": "delta", "seq", "upserts": [[id, value]...], "deletes": [id...]}`` (small,
frequent) and the ``_keyframe`` trait ``{"seq", "items": [[id, value]...]}`` (the whole
group; synced state is never lost, even before a view exists).

Each view names itself with an id of its own and says when it exists
(``{"type": "ready", "view"}``), when it goes (``{"type": "gone", "view"}``), and that it
is still there, every few seconds (``{"type": "alive", "views": [...]}``, for the views of
one page); ``{"type": "resync"}`` asks for a keyframe after a gap. A widget is worth
sending for only while some view may be looking (``Viewers``): a view heard from recently,
or a display not yet claimed by a view.

Keyframes are sent when a view asks, and about once a second while a display waits for its
view, so a view created while a cell blocks the kernel (when its messages cannot be
answered) still catches up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .stream_wire import CREATE, DELETE, SYNC, UPDATE

UNACKNOWLEDGED_KEYFRAME_SECONDS = 1.0
VIEW_LEASE_SECONDS = 15.0
"""A view not heard from for this long while the kernel could hear it is taken as gone (its
page was reloaded or closed without saying so); a display no view claims within it, too."""
READY, GONE, ALIVE, RESYNC = "ready", "gone", "alive", "resync"

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

    def clear(self) -> None:
        """Forget the state (nobody looks); the sequence goes on, so views never go back."""
        with self._lock:
            self.mirror = {}
            self._pending = {}

    def keyframe(self) -> dict[str, Any]:
        """The whole state at the current sequence; pending changes are folded in first."""
        with self._lock:
            if self._pending:
                self._pending = {}
                self.seq += 1
            return {"seq": self.seq, "items": [[k, v] for k, v in self.mirror.items()]}


class Viewers:
    """The views of one widget, as they announce themselves, and whether any may be looking.

    Time counts against a view only while the kernel can hear it (``heard_since``: since
    when messages from views reach the kernel, or None while a cell runs and they wait), so
    a long cell never makes live views look gone.
    """

    def __init__(self) -> None:
        self._views: dict[str, float] = {}
        self._waiting: float | None = None
        """When the widget was displayed with no view claiming it since."""

    def __len__(self) -> int:
        return len(self._views)

    def displayed(self, now: float) -> None:
        """The kernel displayed the widget: a view should follow."""
        self._waiting = now

    @property
    def waiting(self) -> bool:
        return self._waiting is not None

    def ready(self, view: str, now: float) -> None:
        self._views[view] = now
        self._waiting = None

    def gone(self, view: str) -> None:
        self._views.pop(view, None)

    def alive(self, views: list[str], now: float) -> list[str]:
        """Renew these views' leases; returns those not known (taken as new views)."""
        unknown = [view for view in views if view not in self._views]
        for view in views:
            self.ready(view, now)
        return unknown

    def looking(self, now: float, heard_since: float | None) -> bool:
        """Whether a view may be looking; views and a display whose lease ran out are dropped."""
        if heard_since is not None:
            deadline = now - VIEW_LEASE_SECONDS
            for view, heard in list(self._views.items()):
                if max(heard, heard_since) < deadline:
                    del self._views[view]
            if self._waiting is not None and max(self._waiting, heard_since) < deadline:
                self._waiting = None
        return bool(self._views) or self._waiting is not None


class WidgetSession:
    """Decides, once per frame, what one widget sends: a keyframe when one is due, else a delta;
    and, from what its views say, whether it should be live at all."""

    def __init__(
        self, send_delta: Callable[[dict[str, Any]], None], set_keyframe: Callable[[dict[str, Any]], None]
    ):
        self.coalescer = Coalescer()
        self.viewers = Viewers()
        self._send_delta = send_delta
        self._set_keyframe = set_keyframe
        self._lock = threading.Lock()
        self._keyframe_wanted = False
        self._keyframe_stale = False
        self._last_keyframe = 0.0
        self.messages_sent = 0

    def apply(self, message: dict[str, Any]) -> None:
        """An event of the group (a stream wrapper message, group syncs keyed)."""
        self.coalescer.apply(message)

    def receive(self, content: Any, now: float) -> None:
        """A message from a view; anything malformed is ignored."""
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        view = content.get("view")
        if kind == READY and isinstance(view, str):
            self.viewers.ready(view, now)
            self._keyframe_wanted = True
        elif kind == GONE and isinstance(view, str):
            self.viewers.gone(view)
        elif kind == ALIVE and isinstance(content.get("views"), list):
            views = [view for view in content["views"] if isinstance(view, str)]
            if self.viewers.alive(views, now):
                self._keyframe_wanted = True
        elif kind == RESYNC:
            self._keyframe_wanted = True

    def start(self, now: float) -> None:
        """Publish a keyframe of the state now (when the widget is made or wakes up)."""
        with self._lock:
            self._last_keyframe = now
            self._keyframe_stale = False
            self._set_keyframe(self.coalescer.keyframe())

    def pause(self) -> None:
        """Nobody looks: forget the state and take the whole-group keyframe out of synced state."""
        with self._lock:
            self.coalescer.clear()
            self._keyframe_wanted = self._keyframe_stale = False
            self._set_keyframe({})

    def flush(self, now: float) -> int:
        """Send a keyframe if one is due, else a delta if anything changed; returns messages sent."""
        with self._lock:
            due = (
                self.viewers.waiting
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
