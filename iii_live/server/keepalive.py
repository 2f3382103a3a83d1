"""Keepalive for the stream port: one timer for every socket, not one per socket.

Every ``interval`` seconds each connection gets a ping (the same two bytes for all); a
peer that has sent nothing, not even a pong, for ``interval + timeout`` seconds is cut off,
so dead peers are closed within a bounded time. A per-socket timer (Tornado's own
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


class Keepalive:
    def __init__(self, connections: Iterable[Connection], interval: float, timeout: float | None = None):
        self.connections = connections
        self.interval = interval
        self.timeout = interval if timeout is None else timeout
        self._handle: asyncio.TimerHandle | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.interval > 0:
            self._handle = loop.call_later(self.interval, self._tick, loop)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        deadline = time.monotonic() - self.interval - self.timeout
        for connection in self.connections:
            connection.notice_reading()
            if connection.last_seen < deadline:
                log.info(
                    "closing %r: no answer to pings for %.0f s", connection, self.interval + self.timeout
                )
                connection.drop("keepalive timeout")
            else:
                connection.send_raw(PING_FRAME)
        self._handle = loop.call_later(self.interval, self._tick, loop)
