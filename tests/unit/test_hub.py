"""Fan-out order, loop batching, the backlog bound, and held subscriptions."""

from __future__ import annotations

import threading

from iii_live.protocol.stream_wire import CREATE, SYNC, Event
from iii_live.streams.hub import Hub, PendingJoin, Subscription


class Recorder:
    def __init__(self, on_loop: bool) -> None:
        self.on_loop = on_loop
        self.events: list[Event] = []
        self.flushes = 0
        self.alone = 0
        """Events that came alone in their loop turn (``deliver_and_flush``)."""

    def deliver(self, event: Event) -> None:
        self.events.append(event)

    def flush(self) -> None:
        self.flushes += 1

    def deliver_and_flush(self, event: Event) -> None:
        self.alone += 1
        self.deliver(event)
        self.flush()


def change(n: int, group: str = "g", item: str = "i") -> Event:
    return Event("s", group, item, n, CREATE, n)


def test_every_subscriber_sees_the_publish_order_across_threads():
    hub, lock = Hub(), threading.Lock()
    subs = [Recorder(on_loop=False) for _ in range(3)]
    for sub in subs:
        hub.add(Subscription(sub, "s", "g"))
    published: list[int] = []

    def writer(base: int) -> None:
        for n in range(base, base + 500):
            with lock:  # the engine's write lock
                published.append(n)
                hub.publish(change(n))
            hub.drain()

    threads = [threading.Thread(target=writer, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    hub.drain()
    for sub in subs:
        assert [e.timestamp for e in sub.events] == published


def test_on_loop_subscribers_get_a_batch_then_one_flush():
    hub = Hub()
    scheduled: list = []
    hub.bind(scheduled.append)
    sock = Recorder(on_loop=True)
    direct = Recorder(on_loop=False)
    hub.add(Subscription(sock, "s", "g"))
    hub.add(Subscription(direct, "s", "g"))
    for n in range(5):
        hub.publish(change(n))
    hub.drain()
    assert len(direct.events) == 5 and sock.events == []  # direct ones at once, sockets on the loop
    assert len(scheduled) == 1  # one loop callback for the whole batch
    scheduled.pop()()
    assert [e.timestamp for e in sock.events] == list(range(5)) and sock.flushes == 1
    assert sock.alone == 0


def test_an_event_alone_in_its_turn_takes_one_call_per_subscription():
    hub = Hub()
    scheduled: list = []
    hub.bind(scheduled.append)
    group, item, other = Recorder(on_loop=True), Recorder(on_loop=True), Recorder(on_loop=True)
    hub.add(Subscription(group, "s", "g"))
    hub.add(Subscription(item, "s", "g", item_id="i"))
    hub.add(Subscription(other, "s", "g", item_id="j"))
    hub.publish(change(7))
    hub.drain()
    scheduled.pop()()
    assert (group.alone, item.alone, other.alone) == (1, 1, 0)
    assert [e.timestamp for e in group.events] == [7] == [e.timestamp for e in item.events]
    assert other.events == []


def test_item_subscriptions_only_get_their_item():
    hub = Hub()
    hub.bind(lambda fn: fn())
    item = Recorder(on_loop=True)
    hub.add(Subscription(item, "s", "g", item_id="x"))
    hub.publish(change(1, item="y"))
    hub.publish(change(2, item="x"))
    hub.publish(Event("s", "g", None, 3, "event", 1, custom_type="t"))
    hub.drain()
    assert [e.timestamp for e in item.events] == [2]


def test_backlog_overflow_drops_the_batch_and_asks_for_a_resync():
    hub = Hub(max_loop_backlog=10)
    scheduled: list = []
    hub.bind(scheduled.append)
    sock = Recorder(on_loop=True)
    subscription = Subscription(sock, "s", "g")
    hub.add(subscription)
    resynced: list = []
    hub.on_overflow = resynced.append
    for n in range(25):
        hub.publish(change(n))
        hub.drain()
    scheduled.pop()()
    assert resynced == [[subscription]]
    assert len(sock.events) < 10  # the dropped backlog never reached the socket


def test_held_subscription_gets_sync_then_replay_then_live_events():
    hub = Hub()
    hub.bind(lambda fn: fn())
    sub = Recorder(on_loop=False)
    pending = PendingJoin(Subscription(sub, "s", "g"))
    hub.hold(pending)
    hub.publish(change(1))
    hub.publish(change(2))
    hub.drain()
    assert sub.events == [] and [e.timestamp for e in pending.buffer] == [1, 2]
    sync = Event("s", "g", None, 0, SYNC, [])
    hub.release(pending, sync, pending.buffer[1:])  # the read already held event 1
    hub.publish(change(3))
    hub.drain()
    assert [e.timestamp for e in sub.events] == [0, 2, 3]


def test_unsubscribing_while_held_cancels_the_release():
    hub = Hub()
    sub = Recorder(on_loop=False)
    subscription = Subscription(sub, "s", "g")
    pending = PendingJoin(subscription)
    hub.hold(pending)
    hub.remove(subscription)
    hub.release(pending, Event("s", "g", None, 0, SYNC, []), [])
    hub.publish(change(1))
    hub.drain()
    assert sub.events == [] and hub.counts() == {}
