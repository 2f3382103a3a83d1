"""A notebook widget's conversation with its views, without I/O (the kernel comm protocol).

State reaches the browser two ways: numbered deltas as custom messages, the changed items'
fields as columns in the message's binary buffers (``delta_columns``; small, frequent, at
most one per frame), and the ``_keyframe`` trait ``{"seq", "items": [[id, value]...]}`` (the whole
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

A group of more than ``WHOLE_LIMIT`` items (a widget may set a lower limit) is not sent
whole: views then ask for windows (``{"type": "window", ...}``, the viewport protocol of
``viewport``) and get ``rows`` frames
for them; the keyframe carries the default window, ``{"seq", "window": frame}``, which views
show until their own is answered. The default window is also sent as a frame of its own
(view ``""``) in each frame where it changed and no view's own did: a view's request waits
while a cell runs, and the view follows the data meanwhile. A sync picks the way by the
group's size; a group sent whole that grows past twice the limit goes to windows, one in
windows that shrinks below half of it comes back through a sync.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from .chart_points import POINTS, points_json, points_message
from .delta_columns import encode_delta
from .stream_wire import CREATE, DELETE, SYNC, UPDATE, Event
from .viewport import DEFAULT_VIEW, WINDOW, Fetch, Windowed

UNACKNOWLEDGED_KEYFRAME_SECONDS = 1.0
VIEW_LEASE_SECONDS = 15.0
"""A view not heard from for this long while the kernel could hear it is taken as gone (its
page was reloaded or closed without saying so); a display no view claims within it, too."""
READY, GONE, ALIVE, RESYNC = "ready", "gone", "alive", "resync"
WHOLE_LIMIT = 10_000
"""Groups of up to this many items are sent whole; views scroll and sort them on their own."""

_DELETED: Any = object()


class Coalescer:
    """What a widget has to tell its views, merged until the next frame.

    Every event of the group updates the mirror (the full state the views should show) and
    the pending changes; a delta carries the latest value per changed item since the last
    one, whatever number of writes it stands for, with a sequence number so a view detects
    a missed delta. A keyframe is the whole mirror at a sequence number.

    It takes no lock: its session serializes the writer's events with the frames' takes.
    """

    def __init__(self) -> None:
        self.mirror: dict[str, Any] = {}
        self.seq = 0
        self._pending: dict[str, Any] = {}
        """The latest value per changed item, ``_DELETED`` for an item deleted."""
        self._deleting = False
        """Some pending change is a delete (the upserts must be told apart)."""

    def apply(self, event: Event) -> None:
        """Take one event of the group (a keyed sync, create, update, delete); others change nothing."""
        item_id = event.item_id
        kind = event.kind
        if item_id is not None:
            if kind == UPDATE or kind == CREATE:
                self.mirror[item_id] = self._pending[item_id] = event.data
            elif kind == DELETE:
                self.mirror.pop(item_id, None)
                self._pending[item_id] = _DELETED
                self._deleting = True
        elif kind == SYNC:
            snapshot = event.data or {}
            for gone in self.mirror.keys() - snapshot.keys():
                self._pending[gone] = _DELETED
                self._deleting = True
            for key, value in snapshot.items():
                if self.mirror.get(key, _DELETED) != value:
                    self._pending[key] = value
            self.mirror = dict(snapshot)

    @property
    def dirty(self) -> bool:
        return bool(self._pending)

    def take_delta(self) -> Delta | None:
        """The next numbered delta, or None when nothing changed since the last one."""
        pending = self._pending
        if not pending:
            return None
        self._pending = {}
        deletes: list[str] = []
        if self._deleting:
            self._deleting = False
            deletes = [item_id for item_id, value in pending.items() if value is _DELETED]
            for item_id in deletes:
                del pending[item_id]
        self.seq += 1
        return Delta(self.seq, pending, deletes)

    def clear(self) -> None:
        """Forget the state (nobody looks); the sequence goes on, so views never go back."""
        self.mirror = {}
        self._pending = {}
        self._deleting = False

    def next_seq(self) -> int:
        """Take a sequence number for a keyframe of another kind (a default window)."""
        self._pending = {}
        self._deleting = False
        self.seq += 1
        return self.seq

    def keyframe(self) -> dict[str, Any]:
        """The whole state at the current sequence; pending changes are folded in first."""
        if self._pending:
            self.next_seq()
        return {"seq": self.seq, "items": list(map(list, self.mirror.items()))}


class Delta(NamedTuple):
    """Changes since the last delta: the latest value of each item changed, in the order
    they first changed, and the items deleted."""

    seq: int
    upserts: dict[str, Any]
    deletes: list[str]


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
    """Decides, once per frame, what one widget sends: a keyframe when one is due, else a delta,
    or, for a large group, a frame for each window that changed; and, from what its views
    say, whether it should be live at all."""

    def __init__(
        self,
        send: Callable[..., None],
        set_keyframe: Callable[[dict[str, Any]], None],
        make_windows: Callable[[], Windowed] | None = None,
        whole_limit: int | None = None,
    ):
        self._whole_limit = whole_limit
        self.coalescer = Coalescer()
        self.viewers = Viewers()
        self.windows: Windowed | None = None
        """How a large group is seen (None: it is sent whole)."""
        self._make_windows = make_windows
        self._remake = False
        """The windows' defaults changed: the next sync makes them again."""
        self._send = send
        self._set_keyframe = set_keyframe
        self._lock = threading.Lock()
        """Serializes frames (a flush, a start, a pause)."""
        self._state = threading.Lock()
        """Serializes the group's events with what reads or resets the coalescer and the
        mode; held briefly, never while sending, so the writer never waits on the comm."""
        self._keyframe_wanted = False
        self._keyframe_stale = False
        self._last_keyframe = 0.0
        self._default_window: dict[str, Any] | None = None
        self.messages_sent = 0

    def apply(self, event: Event) -> None:
        """An event of the group (a group sync keyed by item id), on the writer's thread; a
        sync picks whether the group is sent whole or through windows."""
        with self._state:
            if event.item_id is None and event.kind == SYNC and self._make_windows is not None:
                large = len(event.data or ()) > self.whole_limit
                if large and (self.windows is None or self._remake):
                    self.windows = self._make_windows()
                    self._remake = False
                    self._changed_mode()
                elif not large and self.windows is not None:
                    self.windows = None
                    self._changed_mode()
            windows = self.windows
            if windows is None:
                self.coalescer.apply(event)
            else:
                windows.apply(event.message)

    @property
    def whole_limit(self) -> int:
        """Items up to which the group is sent whole (``WHOLE_LIMIT`` unless the widget says)."""
        return WHOLE_LIMIT if self._whole_limit is None else self._whole_limit

    def _changed_mode(self) -> None:
        self.coalescer.clear()
        self._default_window = None
        self._keyframe_wanted = True

    def receive(self, content: Any, now: float) -> None:
        """A message from a view; anything malformed is ignored."""
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        view = content.get("view")
        windows = self.windows
        if kind == READY and isinstance(view, str):
            self.viewers.ready(view, now)
            self._keyframe_wanted = True
        elif kind == GONE and isinstance(view, str):
            self.viewers.gone(view)
            if windows is not None:
                windows.forget(view)
        elif kind == ALIVE and isinstance(content.get("views"), list):
            views = [view for view in content["views"] if isinstance(view, str)]
            if self.viewers.alive(views, now):
                self._keyframe_wanted = True
        elif kind == RESYNC:
            self._keyframe_wanted = True
        elif kind == WINDOW and windows is not None:
            windows.ask(content)

    def set_windows_maker(self, make_windows: Callable[[], Windowed]) -> None:
        """New defaults for windows (a default sort, columns): windows in use are made again."""
        with self._state:
            self._make_windows = make_windows
            self._remake = self.windows is not None

    @property
    def wants_sync(self) -> bool:
        """The group must be followed afresh, from a new sync (new defaults for windows, or
        small enough to be sent whole again)."""
        windows = self.windows
        return windows is not None and (self._remake or len(windows) < self.whole_limit // 2)

    @property
    def needs_snapshot(self) -> bool:
        """The windows need one snapshot of the group (see ``Windowed.needs_snapshot``)."""
        windows = self.windows
        return windows is not None and windows.needs_snapshot

    def build(self, event: Event) -> None:
        """The callback of the subscription that reads that snapshot."""
        windows = self.windows
        if windows is not None:
            windows.build(event.message)

    @property
    def size(self) -> int:
        """Items in the group, as far as the widget follows it."""
        windows = self.windows
        return len(self.coalescer.mirror) if windows is None else len(windows)

    def start(self, now: float) -> None:
        """Publish a keyframe of the state now (when the widget is made or wakes up)."""
        with self._lock:
            self._last_keyframe = now
            self._keyframe_stale = False
            self._set_keyframe(self._keyframe())

    def pause(self) -> None:
        """Nobody looks: forget the state and take the whole-group keyframe out of synced state."""
        with self._lock, self._state:
            self.windows = None
            self._default_window = None
            self.coalescer.clear()
            self._keyframe_wanted = self._keyframe_stale = False
            self._set_keyframe({})

    def _keyframe(self) -> dict[str, Any]:
        if self.windows is None:
            with self._state:
                return self.coalescer.keyframe()
        if self._default_window is None:  # right after a sync: its values are at hand
            self.messages_sent += self._window_frames(lambda ids: {})
        with self._state:
            return {"seq": self.coalescer.next_seq(), "window": self._default_window}

    def flush(self, now: float, fetch: Fetch = lambda ids: {}) -> int:
        """Send a keyframe if one is due, and a delta or the frames of changed windows;
        returns the messages sent. ``fetch`` reads values of rows a window shows anew."""
        with self._lock:
            self._grow_into_windows()
            sent = self._window_frames(fetch) if self.windows is not None else 0
            waiting_news = self._keyframe_stale or (self.windows is None and self.coalescer.dirty)
            due = (
                self.viewers.waiting
                and waiting_news
                and now - self._last_keyframe >= UNACKNOWLEDGED_KEYFRAME_SECONDS
            )
            if self._keyframe_wanted or due:
                self._keyframe_wanted = self._keyframe_stale = False
                self._last_keyframe = now
                self._set_keyframe(self._keyframe())
                sent += 1
            elif self.windows is None:
                with self._state:
                    delta = self.coalescer.take_delta()
                if delta is not None:
                    self._send(*encode_delta(delta.seq, delta.upserts, delta.deletes))
                    self._keyframe_stale = True
                    sent += 1
            self.messages_sent += sent
            return sent

    def _grow_into_windows(self) -> None:
        """A group sent whole that grew past twice the limit goes to windows."""
        if self._make_windows is None or self.windows is not None:
            return
        if len(self.coalescer.mirror) <= 2 * self.whole_limit:
            return
        with self._state:
            windows = self._make_windows()
            windows.load(dict(self.coalescer.mirror))
            self.windows = windows
            self._changed_mode()

    def _window_frames(self, fetch: Fetch) -> int:
        windows = self.windows
        if windows is None or not windows.dirty:
            return 0
        sent = 0
        default = None
        for frame in windows.frames(fetch):
            if frame["view"] == DEFAULT_VIEW:
                default = frame
                self._default_window = points_json(frame) if frame.get("type") == POINTS else frame
                self._keyframe_stale = True
            else:
                self._send_frame(frame)
                sent += 1
        if default is not None and not sent:
            # No view's own window changed: views may be waiting for theirs (their requests
            # wait while a cell runs), and show the default one meanwhile.
            self._send_frame(default)
            sent += 1
        return sent

    def _send_frame(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == POINTS:
            self._send(*points_message(frame))
        else:
            self._send(frame)
