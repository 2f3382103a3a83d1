"""The keepalive: pings spread over each round, every connection once a round, silent peers cut."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

from iii_live.server.keepalive import SLICE_SECONDS, Keepalive

INTERVAL = 4 * SLICE_SECONDS  # four slices a round


class FakeConnection:
    """A connection that records its pings; ``answers`` makes each ping refresh ``last_seen``."""

    def __init__(self, keepalive: CountingKeepalive, answers: bool = True) -> None:
        self.keepalive = keepalive
        self.answers = answers
        self.last_seen = time.monotonic()
        self.pinged_in: list[int] = []
        """The slice number of each ping."""
        self.dropped = False

    def notice_reading(self) -> None:
        pass

    def send_raw(self, data: bytes) -> None:
        assert data == b"\x89\x00"
        self.pinged_in.append(self.keepalive.slices)
        if self.answers:
            self.last_seen = time.monotonic()

    def drop(self, reason: str) -> None:
        self.dropped = True
        self.keepalive.connections.remove(self)

    def close_going_away(self) -> None:
        pass


class CountingKeepalive(Keepalive):
    """Counts its slices; ``stall_after`` blocks the loop for ``stall`` seconds after that slice,
    as a busy loop (a burst of fan-out, thousands of handshakes) would."""

    def __init__(self, interval: float, stall_after: int = 0, stall: float = 0.0) -> None:
        super().__init__([], interval)
        self.connections: list[FakeConnection] = []
        self.slices = 0
        self.stall_after = stall_after
        self.stall = stall

    def _slice(self, loop: asyncio.AbstractEventLoop) -> None:
        self.slices += 1
        super()._slice(loop)
        if self.slices == self.stall_after:
            time.sleep(self.stall)


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.005)


def test_a_round_pings_every_connection_once_in_slices_of_a_quarter():
    async def scenario() -> list[FakeConnection]:
        keepalive = CountingKeepalive(INTERVAL)
        keepalive.connections[:] = [FakeConnection(keepalive) for _ in range(40)]
        keepalive.start(asyncio.get_running_loop())
        await until(lambda: all(c.pinged_in for c in keepalive.connections))
        keepalive.stop()
        return keepalive.connections

    connections = asyncio.run(scenario())
    assert all(len(c.pinged_in) == 1 for c in connections)
    per_slice = Counter(c.pinged_in[0] for c in connections)
    assert sorted(per_slice.values()) == [10, 10, 10, 10]


def test_a_silent_peer_is_cut_and_the_others_and_a_latecomer_keep_their_place():
    async def scenario() -> tuple[CountingKeepalive, FakeConnection, FakeConnection]:
        keepalive = CountingKeepalive(INTERVAL)
        keepalive.connections[:] = [FakeConnection(keepalive) for _ in range(20)]
        silent = FakeConnection(keepalive, answers=False)
        keepalive.connections.append(silent)
        keepalive.start(asyncio.get_running_loop())
        await until(lambda: keepalive.slices > 2)  # mid-round: the latecomer waits for the next round
        latecomer = FakeConnection(keepalive)
        keepalive.connections.append(latecomer)
        await until(lambda: silent.dropped)
        await until(lambda: len(latecomer.pinged_in) >= 2)
        keepalive.stop()
        return keepalive, silent, latecomer

    keepalive, silent, latecomer = asyncio.run(scenario())
    assert silent not in keepalive.connections
    assert not any(c.dropped for c in keepalive.connections)
    assert latecomer in keepalive.connections
    assert all(len(c.pinged_in) >= 2 for c in keepalive.connections)
    first_places = [c.pinged_in[0] % 4 for c in keepalive.connections if c is not latecomer]
    second_places = [c.pinged_in[1] % 4 for c in keepalive.connections if c is not latecomer]
    assert first_places == second_places  # each keeps its slice in the round


def test_peers_that_answer_are_kept_when_the_loop_was_too_busy_to_ping_them_in_time():
    async def scenario() -> tuple[CountingKeepalive, FakeConnection]:
        # the loop stalls for three intervals after the first round: every peer then looks
        # silent for longer than two intervals, but only because it was not pinged
        keepalive = CountingKeepalive(INTERVAL, stall_after=4, stall=3 * INTERVAL)
        keepalive.connections[:] = [FakeConnection(keepalive) for _ in range(20)]
        silent = FakeConnection(keepalive, answers=False)
        keepalive.connections.append(silent)
        keepalive.start(asyncio.get_running_loop())
        await until(lambda: silent.dropped)
        await until(lambda: all(len(c.pinged_in) >= 3 for c in keepalive.connections))
        keepalive.stop()
        return keepalive, silent

    keepalive, silent = asyncio.run(scenario())
    assert silent not in keepalive.connections
    assert len(keepalive.connections) == 20
    assert not any(c.dropped for c in keepalive.connections)


def test_a_slice_that_fires_late_pings_what_the_round_is_behind_on():
    async def scenario() -> list[FakeConnection]:
        # the loop stalls past the whole interval after the first slice of the first round
        keepalive = CountingKeepalive(INTERVAL, stall_after=1, stall=2 * INTERVAL)
        keepalive.connections[:] = [FakeConnection(keepalive) for _ in range(40)]
        keepalive.start(asyncio.get_running_loop())
        await until(lambda: all(c.pinged_in for c in keepalive.connections))
        keepalive.stop()
        return keepalive.connections

    connections = asyncio.run(scenario())
    per_slice = Counter(c.pinged_in[0] for c in connections)
    assert per_slice == {1: 10, 2: 30}
