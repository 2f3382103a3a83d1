"""Group histories for resuming clients: numbering, the window, epochs, letting go."""

from __future__ import annotations

from iii_live.protocol.stream_wire import CREATE, Event
from iii_live.streams.history import GroupHistory


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def change(group: str = "g") -> Event:
    return Event("s", group, "i", 0, CREATE, 1)


def test_only_followed_groups_are_numbered_and_kept():
    history = GroupHistory()
    unfollowed = change("other")
    history.stamp(unfollowed)
    log = history.follow("s", "g")
    events = [change() for _ in range(3)]
    for event in events:
        history.stamp(event)
    history.stamp(change("other"))
    assert unfollowed.seq is None and [e.seq for e in events] == [1, 2, 3]
    assert {e.epoch for e in events} == {log.epoch} and len(history) == 1


def test_since_returns_exactly_what_followed_or_none_when_it_is_not_all_kept():
    history = GroupHistory(window=5)
    log = history.follow("s", "g")
    events = [change() for _ in range(8)]
    for event in events:
        history.stamp(event)
    assert history.since(log, 8, log.epoch) == []
    assert history.since(log, 5, log.epoch) == events[5:]
    assert history.since(log, 3, log.epoch) == events[3:]  # the window holds 4..8
    assert history.since(log, 2, log.epoch) is None  # 3 is gone
    assert history.since(log, 5, "another") is None
    assert history.since(log, 9, log.epoch) is None
    assert history.since(log, -1, log.epoch) is None


def test_events_older_than_the_ttl_are_not_replayed():
    clock = Clock()
    history = GroupHistory(ttl=10, clock=clock)
    log = history.follow("s", "g")
    history.stamp(change())
    clock.now = 5
    history.stamp(change())
    clock.now = 12
    assert history.since(log, 1, log.epoch) is not None  # the second is 7 s old
    assert history.since(log, 0, log.epoch) is None  # the first is 12 s old


def test_a_history_let_go_comes_back_under_a_new_epoch():
    clock = Clock()
    history = GroupHistory(ttl=10, clock=clock)
    log = history.follow("s", "g")
    history.stamp(change())
    history.unfollow(log)
    clock.now = 5
    again = history.follow("s", "g")  # back within the ttl: the same history
    assert again is log and history.since(again, 0, log.epoch) is not None
    history.unfollow(again)
    clock.now = 20
    fresh = history.follow("s", "g")
    assert fresh is not log and fresh.epoch != log.epoch and history.since(fresh, 1, log.epoch) is None
    history.forget()
    assert not history.current(fresh)
