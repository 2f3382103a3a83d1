"""The subscription index and fan-out: who receives which event, in which order.

Events are published under the engine's write lock (``Subscriptions.publish`` takes it for
adapters and the Redis listener alike), so they enter the outbox in storage order;
``drain()`` then delivers them outside the lock, one drainer at a time, so every subscriber
of a group sees the same order and a subscriber's callback may write again without
deadlocking (its event is delivered after the current one).

Subscribers that own sockets live on the engine's event loop (``on_loop = True``): the hub
hands them events in batches, once per loop turn, then calls ``flush()`` so each socket
gets one write per turn. Other subscribers (Python callbacks, widgets) are called on the
thread that drains, so they keep receiving while the loop is blocked by a busy cell.

Events waiting for the loop are bounded (``max_loop_backlog``): when a writer outruns a
loop that cannot keep up (or is blocked by a long cell), the backlog is dropped and the
socket subscribers get a fresh sync from storage instead, so memory stays bounded and no
one is left stale.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

from ..protocol.stream_wire import Event

if TYPE_CHECKING:
    from .history import Log

log = logging.getLogger("iii_live.hub")

MAX_LOOP_BACKLOG = 100_000

Schedule = Callable[[Callable[[], None]], None]
"""Runs a callable on the engine's event loop soon; safe to call from any thread."""


class Subscriber(Protocol):
    """One receiver of events: a stream-port session, a widget, a Python callback."""

    on_loop: bool
    """True when ``deliver``/``flush`` must run on the engine's event loop."""

    def deliver(self, event: Event) -> None: ...

    def flush(self) -> None:
        """Called on the loop after a batch of ``deliver`` calls (on_loop subscribers)."""


class LoopSubscriber(Subscriber, Protocol):
    """A subscriber served on the loop (``on_loop = True``): a socket's session."""

    def deliver_and_flush(self, event: Event) -> None:
        """``deliver(event)`` then ``flush()``, in one call: the loop turn carried this event
        alone (the steady case, where a fan-out makes one call per socket)."""


@dataclass(eq=False, slots=True)
class Subscription:
    """``subscriber`` wants events of ``(stream_name, group_id)``, or of one item in it."""

    subscriber: Subscriber
    stream_name: str
    group_id: str
    item_id: str | None = None
    subscription_id: str = ""
    keyed: bool = False
    """Group syncs carry ``{item_id: value}`` instead of iii's bare list of values."""
    resume: bool = False
    """The subscriber can resume: the group's history is followed while it is subscribed."""
    log: Log | None = None
    """The group history it follows (set when subscribed with ``resume``)."""


@dataclass(eq=False, slots=True)
class PendingJoin:
    """A subscription whose sync is still being read: its group's events are kept meanwhile."""

    subscription: Subscription
    buffer: list[Event] = field(default_factory=list)


Subs = tuple[Subscription, ...]


class _GroupSubscriptions(NamedTuple):
    """One group's subscriptions, split by where they are served, so fan-out never
    looks at a socket subscription from the writer's thread or at a callback on the loop."""

    on_loop: Subs = ()
    direct: Subs = ()

    def plus(self, sub: Subscription) -> _GroupSubscriptions:
        if sub.subscriber.on_loop:
            return _GroupSubscriptions(self.on_loop + (sub,), self.direct)
        return _GroupSubscriptions(self.on_loop, self.direct + (sub,))

    def minus(self, sub: Subscription) -> _GroupSubscriptions:
        return _GroupSubscriptions(
            tuple(s for s in self.on_loop if s is not sub), tuple(s for s in self.direct if s is not sub)
        )


_NONE = _GroupSubscriptions()


class Hub:
    def __init__(self, max_loop_backlog: int = MAX_LOOP_BACKLOG) -> None:
        self.max_loop_backlog = max_loop_backlog
        self.on_overflow: Callable[[list[Subscription]], object] = lambda subscriptions: None
        """Called on the loop with the socket subscriptions whose backlog was dropped."""
        self._overflowed = False
        self._index: dict[tuple[str, str], _GroupSubscriptions] = {}
        self._index_lock = threading.Lock()
        self._pending: dict[tuple[str, str], list[PendingJoin]] = {}
        self._outbox: deque[tuple[Event, _GroupSubscriptions]] = deque()
        self._drain_lock = threading.Lock()
        self._schedule: Schedule | None = None
        self._loop_batch: deque[tuple[Event, Subs]] = deque()
        self._flush_lock = threading.Lock()
        self._flush_scheduled = False

    def bind(self, schedule: Schedule) -> None:
        """Where on-loop subscribers are served (until then their events wait)."""
        self._schedule = schedule

    # -- subscriptions (callers hold the write lock) -------------------------------

    def add(self, subscription: Subscription) -> None:
        key = (subscription.stream_name, subscription.group_id)
        with self._index_lock:
            self._index[key] = self._index.get(key, _NONE).plus(subscription)

    def remove(self, subscription: Subscription) -> None:
        key = (subscription.stream_name, subscription.group_id)
        with self._index_lock:
            remaining = self._index.get(key, _NONE).minus(subscription)
            if remaining.on_loop or remaining.direct:
                self._index[key] = remaining
            else:
                self._index.pop(key, None)
            pending = self._pending.get(key)
            if pending:
                pending[:] = [p for p in pending if p.subscription is not subscription]
                if not pending:
                    del self._pending[key]

    def hold(self, pending: PendingJoin) -> None:
        """Keep every event of the pending subscription's group in its buffer until ``release``."""
        key = (pending.subscription.stream_name, pending.subscription.group_id)
        with self._index_lock:
            self._pending.setdefault(key, []).append(pending)

    def release(self, pending: PendingJoin, sync: Event, replay: list[Event]) -> None:
        """Queue ``sync`` then ``replay`` for the subscription, and make it live."""
        subscription = pending.subscription
        key = (subscription.stream_name, subscription.group_id)
        with self._index_lock:
            waiting = self._pending.get(key, [])
            if pending not in waiting:
                return  # unsubscribed meanwhile
            waiting.remove(pending)
            if not waiting:
                del self._pending[key]
            self._index[key] = self._index.get(key, _NONE).plus(subscription)
        self.publish_to(sync, subscription)
        for event in replay:
            self.publish_to(event, subscription)

    def all_subscriptions(self) -> list[Subscription]:
        """Live subscriptions (those whose sync is still being read are not included)."""
        return [sub for group in list(self._index.values()) for sub in group.on_loop + group.direct]

    def counts(self) -> dict[tuple[str, str], int]:
        """Number of live subscriptions per ``(stream, group)``."""
        return {key: len(group.on_loop) + len(group.direct) for key, group in list(self._index.items())}

    # -- fan-out -------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        """Queue ``event`` for every current subscription of its group.

        Call with the engine's write lock held, then ``drain()`` after releasing it.
        """
        key = (event.stream_name, event.group_id)
        if self._pending:
            for pending in self._pending.get(key, ()):
                pending.buffer.append(event)
        group = self._index.get(key)
        if group is not None:
            self._outbox.append((event, group))

    def publish_to(self, event: Event, subscription: Subscription) -> None:
        """Queue ``event`` (a sync, a replayed event) for one subscription only."""
        self._outbox.append((event, _NONE.plus(subscription)))

    def drain(self) -> None:
        """Deliver queued events in order; returns at once if another thread is draining."""
        outbox = self._outbox
        while outbox:
            if not self._drain_lock.acquire(blocking=False):
                return
            try:
                while outbox:
                    event, group = outbox.popleft()
                    for sub in group.direct:
                        if sub.item_id is None or sub.item_id == event.item_id:
                            try:
                                sub.subscriber.deliver(event)
                            except Exception:
                                log.exception("subscriber %r failed on %r", sub.subscriber, event)
                    if group.on_loop:
                        self._to_loop(event, group.on_loop)
            finally:
                self._drain_lock.release()

    def _to_loop(self, event: Event, on_loop: Subs) -> None:
        """Batch an event for its socket subscribers, served on the loop's next turn."""
        if len(self._loop_batch) >= self.max_loop_backlog:
            self._loop_batch.clear()
            if not self._overflowed:
                self._overflowed = True
                log.warning(
                    "more than %d events waited for the event loop; resyncing sockets",
                    self.max_loop_backlog,
                )
        self._loop_batch.append((event, on_loop))
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_scheduled:  # the loop clears it before taking the batch: nothing is missed
            return
        with self._flush_lock:
            if self._flush_scheduled or self._schedule is None:
                return
            self._flush_scheduled = True
        try:
            self._schedule(self._flush)
        except RuntimeError:  # loop closed: the engine is stopping
            self._flush_scheduled = False

    def _flush(self) -> None:
        """On the loop: hand each batched event to its socket subscribers, then flush each."""
        with self._flush_lock:
            self._flush_scheduled = False
        if self._overflowed:
            self._overflowed = False
            self._loop_batch.clear()
            self.on_overflow([sub for group in list(self._index.values()) for sub in group.on_loop])
        batch = self._loop_batch
        if len(batch) == 1:  # the steady case: one event this turn, no batch to gather
            event, subs = batch.popleft()
            item_id = event.item_id
            for sub in subs:
                if sub.item_id is None or sub.item_id == item_id:
                    try:
                        cast(LoopSubscriber, sub.subscriber).deliver_and_flush(event)
                    except Exception:
                        log.exception("subscriber %r failed on %r", sub.subscriber, event)
            return
        touched: dict[int, Subscriber] = {}
        while batch:
            event, subs = batch.popleft()
            item_id = event.item_id
            for sub in subs:
                if sub.item_id is not None and sub.item_id != item_id:
                    continue
                subscriber = sub.subscriber
                try:
                    subscriber.deliver(event)
                except Exception:
                    log.exception("subscriber %r failed on %r", subscriber, event)
                touched[id(subscriber)] = subscriber
        for subscriber in touched.values():
            try:
                subscriber.flush()
            except Exception:
                log.exception("subscriber %r failed to flush", subscriber)


class CallbackSubscription:
    """An in-process subscriber: ``callback(message)`` on the writing thread; ``close()`` ends it."""

    on_loop = False

    def __init__(
        self, callback: Callable[[dict[str, Any]], Any], unsubscribe: Callable[[Subscription], None]
    ) -> None:
        self.callback = callback
        self._unsubscribe = unsubscribe
        self.subscription: Subscription | None = None

    def deliver(self, event: Event) -> None:
        self.callback(event.message)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self.subscription is not None:
            self._unsubscribe(self.subscription)
            self.subscription = None

    def __enter__(self) -> CallbackSubscription:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
