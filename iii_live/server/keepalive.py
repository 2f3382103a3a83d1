"""Keepalive for the stream port: one timer for every socket, not one per socket.

Every ``interval`` seconds each connection gets a ping (the same two bytes for all); a
peer that has not answered its last ping and has sent nothing, not even a pong, for
``2 * interval`` seconds is cut off, so dead peers are closed within three intervals. Only
an unanswered ping counts against a peer: when a busy loop pings late, the peer's silence
meanwhile is the engine's doing. The pings of a round go out in slices spread over the
interval, each connection at the same place in every round: at 10,000 sockets, pinging
them all at once, then reading 10,000 pongs, would hold up the loop (and every delivery)
for about a second. A slice that fires late pings as many more as the round is behind, so
a round stays one interval long. A per-socket timer (Tornado's own
``websocket_ping_interval``) costs about 2 KB per idle connection; this costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable

from .connections import Connection

log = logging.getLogger("iii_live.server")

PING_FRAME = b"\x89\x00"
"""An empty WebSocket ping, unmasked (server to client)."""
SLICE_SECONDS = 0.05
"""How often a slice of the round's connections is pinged."""


class Keepalive:
    def __init__(self, connections: Iterable[Connection], interval: float) -> None:
        self.connections = connections
        self.interval = interval
        self._handle: asyncio.TimerHandle | None = None
        self._order: list[Connection] = []
        """Every connection in the order of its pings: each keeps its place from round to
        round (new ones at the end), so its pings stay about ``interval`` apart."""
        self._round: list[Connection] = []
        """Connections still to ping this round, the next one last."""
        self._round_started = -math.inf
        self._previous_round_started = -math.inf
        """Every connection of the previous round was pinged after this: one not heard from
        since has not answered."""
        self._round_size = 0
        self._per_slice = 1

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.interval > 0:
            self._handle = loop.call_later(self.interval, self._slice, loop)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _slice(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._round:
            self._begin_round()
        now = time.monotonic()
        deadline = now - 2 * self.interval
        behind = self._due(now) - (self._round_size - len(self._round))
        for _ in range(min(max(self._per_slice, behind), len(self._round))):
            connection = self._round.pop()
            connection.notice_reading()
            last_seen = connection.last_seen
            if last_seen < deadline and last_seen < self._previous_round_started:
                log.info("closing %r: no answer to pings for %.0f s", connection, now - last_seen)
                connection.drop("keepalive timeout")
            else:
                connection.send_raw(PING_FRAME)
        delay = SLICE_SECONDS if self._round else self._round_started + self.interval - time.monotonic()
        self._handle = loop.call_later(max(delay, 0.0), self._slice, loop)

    def _begin_round(self) -> None:
        self._previous_round_started = self._round_started
        self._round_started = time.monotonic()
        current = list(self.connections)
        still_open = set(current)
        known = set(self._order)
        self._order = [c for c in self._order if c in still_open] + [c for c in current if c not in known]
        self._round = self._order[::-1]
        self._round_size = len(self._order)
        slices = max(1, round(self.interval / SLICE_SECONDS))
        self._per_slice = max(1, -(-len(self._order) // slices))

    def _due(self, now: float) -> int:
        """How many of this round's pings should have gone out by ``now``."""
        elapsed = min(1.0, (now - self._round_started) / self.interval)
        return math.ceil(self._round_size * elapsed)
