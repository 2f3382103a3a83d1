"""A widget's tie to its engine: subscribed while a view may be looking, handed on when the
engine is replaced, shown as stopped when the engine stops, let go when the widget closes.

A widget nobody looks at costs nothing: no subscription, no state, no comm message. It
resubscribes (a sync from storage, then a keyframe to its views) as soon as a view appears,
and again when it needs the whole group (a large group's new sort order), on a thread of
its own so other widgets keep flowing meanwhile.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..protocol.stream_wire import Event
from ..protocol.viewport import read_stored
from ..protocol.widget_session import WidgetSession
from ..streams.hub import Subscription
from .hearing import hearing

if TYPE_CHECKING:
    from ..engine import Engine

LIVE, PAUSED, STOPPED, CLOSED = "live", "paused", "stopped", "closed"
"""Subscribed and sending; no view (nothing held); the engine stopped; closed for good."""


class EngineLink:
    def __init__(
        self,
        engine: Engine,
        stream_name: str,
        group_id: str,
        session: WidgetSession,
        on_state: Callable[[str], None],
        on_live: Callable[[bool], None],
    ) -> None:
        self.engine = engine
        self.stream_name = stream_name
        self.group_id = group_id
        self.session = session
        self.state = PAUSED
        self._on_state = on_state
        self._on_live = on_live
        """Told True when the widget starts sending (joins the flusher), False when it stops."""
        self._subscription: Following | None = None
        self._lock = threading.RLock()
        self._resyncing = False
        self.on_moved: Callable[[], None] | None = None
        """Called once the widget moved to the engine that replaced its own."""
        engine.widgets.add(self)

    # -- what views and the kernel say ----------------------------------------------------

    def displayed(self, now: float) -> None:
        """The kernel displayed the widget: go live for the view that should follow."""
        with self._lock:
            self.session.viewers.displayed(now)
            self.refresh(now)

    def refresh(self, now: float) -> None:
        """Subscribe if a view may be looking and nothing is held, let go if none is."""
        with self._lock:
            looking = self.session.viewers.looking(now, hearing.since())
            if self.state == LIVE and not looking:
                self._release()
                self.session.pause()
                self._set(PAUSED)
            elif self.state == PAUSED and looking:
                self._acquire(now)
            elif self.state == LIVE and not self._resyncing:
                if self.session.wants_sync:
                    self._off_thread(self._resync)
                elif self.session.needs_snapshot:
                    self._off_thread(self._snapshot)

    def _off_thread(self, read: Callable[[], None]) -> None:
        """Read the group on a thread of its own (other widgets keep flowing meanwhile)."""
        self._resyncing = True

        def run() -> None:
            try:
                read()
            finally:
                self._resyncing = False

        threading.Thread(target=run, name="iii-live-widget-sync", daemon=True).start()

    def show(self, stream_name: str, group_id: str) -> None:
        """Follow another group (a view's derived group, or the widget's own again), from
        a fresh sync: what the views hold becomes that group's items."""
        with self._lock:
            if (stream_name, group_id) == (self.stream_name, self.group_id):
                return
            self.stream_name, self.group_id = stream_name, group_id
            if self.state == LIVE:
                self._release(sending=True)
                self._subscribe()

    def read(self, item_ids: list[str]) -> dict[str, Any]:
        """The stored values of items (those that exist), from the widget's engine."""
        return read_stored(self.engine.core.call, self.stream_name, self.group_id, item_ids)

    def _resync(self) -> None:
        """Follow the group afresh: a new subscription, whose sync comes first (the lock is
        not held while it is read, so frames of other windows go on)."""
        with self._lock:
            if self.state != LIVE:
                return
            self._release(sending=True)
            engine, stream_name, group_id = self.engine, self.stream_name, self.group_id
        apply = self._while_following(stream_name, group_id, self.session.apply)
        subscription = Following(engine, stream_name, group_id, apply)
        with self._lock:
            if self.state == LIVE and self._subscription is None and self.engine is engine:
                self._subscription = subscription
                return
        subscription.close()

    def _snapshot(self) -> None:
        """One snapshot for the windows, through a second subscription closed once it came
        (its sync is delivered even so: it is queued before the subscription ends)."""
        stream_name, group_id = self.stream_name, self.group_id
        build = self._while_following(stream_name, group_id, self.session.build)
        Following(self.engine, stream_name, group_id, build).close()

    def _while_following(
        self, stream_name: str, group_id: str, deliver: Callable[[Event], None]
    ) -> Callable[[Event], None]:
        """``deliver``, for as long as the widget follows ``stream_name/group_id``: a read
        begun off the lock must not bring a group the widget left (``show``) into its views."""

        def guarded(event: Event) -> None:
            if (self.stream_name, self.group_id) == (stream_name, group_id):
                deliver(event)

        return guarded

    # -- what the engine does -------------------------------------------------------------

    def follow(self, engine: Engine) -> None:
        """Move to ``engine`` (the one that replaced this widget's engine) and resync from it."""
        with self._lock:
            if self.state == CLOSED:
                return
            self._release()
            self.engine.widgets.discard(self)
            self.engine = engine
            engine.widgets.add(self)
            now = time.monotonic()
            if self.session.viewers.looking(now, hearing.since()):
                self._acquire(now)
            else:
                self.session.pause()
                self._set(PAUSED)
        if self.on_moved is not None:
            self.on_moved()

    def engine_stopped(self) -> None:
        """The engine stopped with no successor: keep what the views show, say it stopped."""
        with self._lock:
            if self.state == CLOSED:
                return
            self.session.flush(time.monotonic())  # what the engine wrote last
            self._release()
            self._set(STOPPED)

    def close(self) -> None:
        """Let go of the subscription now; the views say the widget is closed."""
        with self._lock:
            if self.state == CLOSED:
                return
            self._release()
            self.engine.widgets.discard(self)
            self._set(CLOSED)

    # -- inside -----------------------------------------------------------------------------

    def _acquire(self, now: float) -> None:
        if not self.engine.running:
            self._set(STOPPED)
            return
        self._subscribe()
        self.session.start(now)
        self._set(LIVE)
        self._on_live(True)

    def _subscribe(self) -> None:
        self._subscription = Following(self.engine, self.stream_name, self.group_id, self.session.apply)

    def _release(self, sending: bool = False) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.close()
        if not sending:
            self._on_live(False)

    def _set(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self._on_state(state)

    def __repr__(self) -> str:
        return f"<EngineLink {self.stream_name}/{self.group_id} {self.state}>"


class Following:
    """The widget's subscription to a group: the hub hands each event to ``deliver`` (the
    session) on the writing thread, as it comes, with no message built for it; a group sync
    carries ``{item_id: value}``. ``close()`` ends it."""

    on_loop = False

    def __init__(self, engine: Engine, stream_name: str, group_id: str, deliver: Callable[[Event], None]):
        self.deliver = deliver
        self._core = engine.core
        self._subscription = Subscription(self, stream_name, group_id, keyed=True)
        engine.attach(self._subscription)

    def flush(self) -> None:
        """Nothing to do: events are delivered one by one, on the writer's thread."""

    def close(self) -> None:
        self._core.unsubscribe(self._subscription)


def weak_method(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, called only while its object lives (so holding it keeps nothing alive)."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> Any:
        bound = ref()
        return None if bound is None else bound(*args)

    return call
