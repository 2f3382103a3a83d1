"""Event timestamps: strictly increasing per group, and no memory kept for idle groups."""

from __future__ import annotations

import time

from iii_live.streams.clock import PRUNE_AT, GroupClock


def test_stamps_strictly_increase_within_a_group_in_the_same_millisecond():
    clock = GroupClock()
    stamps = [clock.next("s", "g") for _ in range(1000)]
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    other = clock.next("s", "h")
    assert other <= stamps[0] + 1000  # other groups do not inherit the burst


def test_groups_written_long_ago_are_forgotten(monkeypatch):
    ticks = iter(range(10**15, 10**18, 1_000_000))  # a millisecond passes between writes
    monkeypatch.setattr(time, "time_ns", lambda: next(ticks))
    clock = GroupClock()
    for n in range(100_000):
        clock.next("s", f"group-{n}")
    assert len(clock) <= PRUNE_AT  # not 100,000 entries


def test_forgotten_groups_still_never_go_back_in_time(monkeypatch):
    clock = GroupClock()
    burst = [clock.next("s", "hot") for _ in range(50)]  # stamped ahead of the wall clock
    wall = time.time_ns()
    monkeypatch.setattr(time, "time_ns", lambda: wall - 10_000_000_000)  # the clock steps back 10 s
    for n in range(2 * PRUNE_AT):
        clock.next("s", f"g{n}")
    assert clock.next("s", "hot") > burst[-1]
