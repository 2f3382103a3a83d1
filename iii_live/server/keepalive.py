"""Keepalive for the stream port: one timer for every socket, not one per socket.

Every ``interval`` seconds each connection gets a ping (the same two bytes for all); a
peer that has sent nothing, not even a pong, for ``2 * interval`` seconds is cut off, so
dead peers are closed within three intervals. The pings of a round go out in slices spread
over the interval, each connection at the same place in every round: at 10,000 sockets,
pinging them all at once, then reading 10,000 pongs, would hold up the loop (and every
delivery) for about a second. A per-socket timer (Tornado's own
``websocket_ping_interval``) costs about 2 KB per idle connection; this costs a float.
"""

from __future__ import annotations

import asyncio
import logging
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
        self._round_started = 0.0
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
        deadline = time.monotonic() - 2 * self.interval
        for _ in range(min(self._per_slice, len(self._round))):
            connection = self._round.pop()
            connection.notice_reading()
            if connection.last_seen < deadline:
                log.info("closing %r: no answer to pings for %.0f s", connection, 2 * self.interval)
                connection.drop("keepalive timeout")
            else:
                connection.send_raw(PING_FRAME)
        delay = SLICE_SECONDS if self._round else self._round_started + self.interval - time.monotonic()
        self._handle = loop.call_later(max(delay, 0.0), self._slice, loop)

    def _begin_round(self) -> None:
        self._round_started = time.monotonic()
        current = list(self.connections)
        still_open = set(current)
        known = set(self._order)
        self._order = [c for c in self._order if c in still_open] + [c for c in current if c not in known]
        self._round = self._order[::-1]
        slices = max(1, round(self.interval / SLICE_SECONDS))
        self._per_slice = max(1, -(-len(self._order) // slices))
