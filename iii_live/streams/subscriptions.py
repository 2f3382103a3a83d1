"""Joining subscribers to groups: a ``sync`` first, then every later event, no gap, no overlap.

This is also the sink that adapters publish through: every event enters the hub under the
engine's write lock, whether a local write made it or the Redis listener received it.

How a join closes the race between reading the snapshot and receiving events:

- local storage (kv, custom streams): the snapshot is read and the subscription added
  under the write lock, so no write falls between the two;
- a remote store (Redis) is read off the event loop. Meanwhile the group's events are held
  for the subscriber. The read runs in one transaction with a *fence*, a marker published
  on the engine's own channel: events received before the fence were written before the
  snapshot (they are dropped), events after it were written after (they follow the sync).
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from ..errors import InvocationError
from ..functions import resolve
from ..protocol.stream_wire import EVENT, RESUMED, SYNC, Event, decode
from .adapters.base import FencedRead, Following
from .clock import now_ms
from .history import GroupHistory
from .hub import Hub, PendingJoin, Subscription

if TYPE_CHECKING:
    from .adapters.base import StreamAdapter
    from .stream_functions import StreamFunctions

log = logging.getLogger("iii_live.streams")

FENCE_TIMEOUT = 5.0
"""Seconds a remote join waits for its fence; past it the held events are all replayed
after the sync (some may repeat what the sync holds; the state still converges)."""

Offload = Callable[[Callable[[], Any]], Coroutine[Any, Any, Any]]
"""Runs a blocking callable on a worker thread; the awaitable gives its result."""
Spawn = Callable[[Coroutine[Any, Any, Any]], None]
Since = tuple[int, str]
"""``(seq, epoch)``: the last event a resuming client saw."""
"""Runs an awaitable to completion on the engine's loop, from any thread; failures are logged."""


class _FencedJoin(PendingJoin):
    __slots__ = ("fenced", "stamp")

    def __init__(self, subscription: Subscription) -> None:
        super().__init__(subscription)
        self.fenced = threading.Event()
        self.stamp = 0


class Subscriptions:
    def __init__(
        self,
        hub: Hub,
        streams: StreamFunctions,
        adapter: StreamAdapter,
        offload: Offload,
        spawn: Spawn,
        history: GroupHistory | None = None,
    ) -> None:
        self.hub = hub
        self.streams = streams
        self.adapter = adapter
        self.lock = streams.lock
        self.history = history if history is not None else GroupHistory()
        self._store_numbers = getattr(adapter, "numbers_events", False)
        """The store numbers followed groups' events itself, in a history all its engines share."""
        self._offload = offload
        self._spawn = spawn
        self._fences: dict[str, _FencedJoin] = {}

    # -- joining -------------------------------------------------------------------------

    def attach(self, subscription: Subscription, since: Since | None = None) -> Awaitable[None] | None:
        """Subscribe, with the sync queued first; blocks for a remote store's read.

        A resuming subscription (``resume``) given ``since`` gets what it missed instead of a
        sync when the group's history still holds it. Returns an awaitable when the snapshot
        comes from an async custom-stream function.
        """
        if self._resumed(subscription, since):
            return None
        if self._remote(subscription):
            self._join_fenced(subscription, since)
            return None
        return self._join_local(subscription, since)

    async def attach_async(self, subscription: Subscription, since: Since | None = None) -> None:
        """``attach`` for the event loop: a remote store's read runs on a worker thread."""
        if self._resumed(subscription, since):
            return
        if self._remote(subscription):
            await self._offload(functools.partial(self._join_fenced, subscription, since))
        else:
            await resolve(self._join_local(subscription, since))

    def detach(self, subscription: Subscription) -> None:
        with self.lock:
            self.hub.remove(subscription)
            if subscription.log is not None:
                self.history.unfollow(subscription.log)
                subscription.log = None

    def _remote(self, subscription: Subscription) -> bool:
        return getattr(self.adapter, "remote", False) and not self.streams.is_custom(subscription.stream_name)

    def _follow(self, subscription: Subscription) -> None:
        """A resuming subscription follows its group's history (again, if it was let go)."""
        if subscription.resume and not self.history.current(subscription.log):
            subscription.log = self.history.follow(subscription.stream_name, subscription.group_id)

    def _resumed(self, subscription: Subscription, since: Since | None) -> bool:
        """Follow the group's history kept here; if it holds every event after ``since``,
        subscribe with those (after a ``recovered`` marker) instead of a snapshot. (A store
        that numbers events itself answers this in its fenced read.)"""
        if not subscription.resume or self._store_numbers:
            return False
        with self.lock:
            self._follow(subscription)
            log = subscription.log
            missed = None if since is None or log is None else self.history.since(log, *since)
            if missed is None:
                return False
            self.hub.add(subscription)
            replay = _of_item(missed, subscription.item_id)
            self.hub.publish_to(_resumed_marker(subscription, since, len(replay)), subscription)  # type: ignore[arg-type]
            for event in replay:
                self.hub.publish_to(event, subscription)
        self.hub.drain()
        return True

    def _join_local(
        self, subscription: Subscription, since: Since | None = None, *, rejoin: bool = False
    ) -> Awaitable[None] | None:
        with self.lock:
            if rejoin:
                self.hub.remove(subscription)
                self._follow(subscription)
            try:
                snapshot = self.streams.snapshot(subscription)
            finally:
                self.hub.add(subscription)
            if not hasattr(snapshot, "__await__"):
                self.hub.publish_to(self._sync_event(subscription, snapshot, since), subscription)
        self.hub.drain()
        if hasattr(snapshot, "__await__"):
            return self._sync_when_read(subscription, snapshot, since)
        return None

    async def _sync_when_read(self, subscription: Subscription, pending: Any, since: Since | None) -> None:
        """A custom stream answered with an awaitable: events may precede this sync; it wins."""
        snapshot = await resolve(pending)
        with self.lock:
            self.hub.publish_to(self._sync_event(subscription, snapshot, since), subscription)
        self.hub.drain()

    def _join_fenced(self, subscription: Subscription, since: Since | None = None) -> None:
        """Hold the group's events, read with a fence, then release sync + events after the fence.

        A resuming subscription follows the store's shared history, and gets the events it
        missed (then those after the fence) when that history holds them."""
        pending = _FencedJoin(subscription)
        token = uuid.uuid4().hex
        following = subscription.resume and self._store_numbers
        with self.lock:
            if following:
                self._follow(subscription)
            self._fences[token] = pending
            self.hub.hold(pending)
        try:
            read: FencedRead = self.adapter.read_fenced(  # type: ignore[attr-defined]
                subscription.stream_name,
                subscription.group_id,
                subscription.item_id,
                subscription.keyed,
                token,
                *((Following(self.history.ttl, self.history.window), since) if following else ()),
            )
        except Exception as exc:
            with self.lock:
                self._fences.pop(token, None)
                self.hub.remove(subscription)
            log.error("sync for %s/%s failed: %s", subscription.stream_name, subscription.group_id, exc)
            raise
        if not pending.fenced.wait(FENCE_TIMEOUT):
            log.warning(
                "no fence from the store within %.0f s for %s/%s; replaying every held event",
                FENCE_TIMEOUT,
                subscription.stream_name,
                subscription.group_id,
            )
        with self.lock:
            self._fences.pop(token, None)
            if not pending.stamp:
                pending.stamp = self.streams.clock.next(subscription.stream_name, subscription.group_id)
            after = list(pending.buffer)
            if read.missed is not None and read.position is not None and since is not None:
                missed = _of_item(_numbered(read.missed, since[0], read.position[1]), subscription.item_id)
                first = _resumed_marker(subscription, since, len(missed))
                after = missed + after
            else:
                stamp = min(pending.stamp, after[0].timestamp - 1) if after else pending.stamp
                first = self._sync_event(subscription, read.snapshot, since, stamp, read.position)
            self.hub.release(pending, first, after)
        self.hub.drain()

    def _sync_event(
        self,
        subscription: Subscription,
        snapshot: Any,
        since: Since | None,
        stamp: int | None = None,
        position: tuple[int, str] | None = None,
    ) -> Event:
        """The sync; for a resuming subscription, with the place in the history it reflects
        (``position``: the last event it holds, from the store that keeps the history, or the
        history kept here) and, after a resume that could not recover, that."""
        if stamp is None:
            stamp = self.streams.clock.next(subscription.stream_name, subscription.group_id)
        sync = Event(
            subscription.stream_name, subscription.group_id, subscription.item_id, stamp, SYNC, snapshot
        )
        log = subscription.log
        if position is None and log is not None and not self._store_numbers:
            position = log.seq, log.epoch
        if position is not None:
            sync.seq, sync.epoch = position
            if since is not None:
                sync.recovered = False
        return sync

    # -- resync ----------------------------------------------------------------------

    def resync(self, subscriptions: list[Subscription] | None = None) -> int:
        """Send subscribers (default: all live ones) a fresh sync from storage; returns how many.

        Used when events may have been missed (a pub/sub outage, a dropped backlog), so no
        subscriber is left silently stale. Never blocks on a remote store: those re-joins run
        on worker threads.
        """
        if subscriptions is None:  # the store lost events: no history is whole any more
            with self.lock:
                self.history.forget()
        targets = self.hub.all_subscriptions() if subscriptions is None else subscriptions
        for subscription in targets:
            try:
                if self._remote(subscription):
                    with self.lock:
                        self.hub.remove(subscription)
                    self._spawn(self._offload(functools.partial(self._join_fenced, subscription)))
                    continue
                pending = self._join_local(subscription, rejoin=True)
            except Exception as exc:
                log.error("resync of %s/%s failed: %s", subscription.stream_name, subscription.group_id, exc)
                continue
            if pending is not None:
                self._spawn(_logged(pending, subscription))
        return len(targets)

    # -- the adapters' sink ----------------------------------------------------------

    def publish(self, event: Event) -> None:
        """Number an event in its group's history and queue it for the group's subscribers,
        under the write lock."""
        with self.lock:
            if self.history.logs and not self._store_numbers:
                self.history.stamp(event)
            self.hub.publish(event)

    def fence(self, token: str) -> None:
        """The store says: every event before this point is in the snapshot read with ``token``."""
        with self.lock:
            pending = self._fences.get(token)
            if pending is None:
                return
            pending.buffer.clear()
            subscription = pending.subscription
            pending.stamp = self.streams.clock.next(subscription.stream_name, subscription.group_id)
            if subscription.log is not None:
                subscription.log.established = True
        pending.fenced.set()

    def drain(self) -> None:
        self.hub.drain()


def _of_item(events: list[Event], item_id: str | None) -> list[Event]:
    """The events an item subscription gets of its group's (all, for a group subscription)."""
    return events if item_id is None else [event for event in events if event.item_id == item_id]


def _numbered(frames: list[bytes], since_seq: int, epoch: str) -> list[Event]:
    """Frames a store kept after ``since_seq``, as events numbered from the one after it."""
    events = []
    for seq, frame in enumerate(frames, since_seq + 1):
        event = decode(frame)
        event.seq, event.epoch = seq, epoch
        events.append(event)
    return events


def _resumed_marker(subscription: Subscription, since: Since, missed: int) -> Event:
    """The first frame of a resume that recovers: ``missed`` events follow it."""
    marker = Event(
        subscription.stream_name,
        subscription.group_id,
        subscription.item_id,
        now_ms(),
        EVENT,
        {"missed": missed},
        custom_type=RESUMED,
    )
    marker.seq, marker.epoch, marker.recovered = since[0], since[1], True
    return marker


async def _logged(pending: Awaitable[None], subscription: Subscription) -> None:
    try:
        await pending
    except InvocationError as exc:
        log.error("resync of %s/%s failed: %s", subscription.stream_name, subscription.group_id, exc)
