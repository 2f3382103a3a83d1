"""A stream session's transport over one WebSocket: its write path and its backlog.

Frames go straight to the socket while Tornado holds none of the socket's bytes (see
``fast_write``); what the socket does not take waits in Tornado's buffer, in order. The
backlog is what the session's conflation and the keepalive read, and the hard cap
``max_write_buffer`` ends a socket whose reader stopped.

This is an object of its own, in slots, and not the handler's state: a fan-out to
thousands of sockets costs mostly the memory it reads per socket, and a write reads this
object, Tornado's buffer and the socket instead of the handler's, the protocol's and the
stream's dicts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tornado.iostream import IOStream

from . import fast_write

log = logging.getLogger("iii_live.server")


class SocketTransport(fast_write.SocketWriter):
    __slots__ = ("_added_since_tick", "_drop", "_limit", "_queued_at_tick", "queued", "stopped")

    def __init__(self, stream: IOStream, limit: int, drop: Callable[[str], None]) -> None:
        super().__init__(stream)
        self._limit = limit
        self._drop = drop
        """Cuts the connection (the handler's): the backlog passed ``limit``."""
        self.queued = False
        """Some bytes went to Tornado's buffer (the socket did not take them at once)."""
        self.stopped = False
        """Nothing more is written: the socket was dropped, or is closing."""
        self._queued_at_tick = 0
        self._added_since_tick = 0
        """Bytes written since the keepalive last looked (``read_since_tick``)."""

    def send(self, frames: list[bytes]) -> None:
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        if self.queued:
            queued = self.buffered()
            if queued and queued + len(data) > self._limit:  # one big frame on an empty buffer is fine
                log.warning("a socket has more than %d bytes unread; disconnecting it", self._limit)
                self._drop(f"backlog past max_write_buffer={self._limit}")
                return
        self._write(data)

    def send_now(self, frame: bytes) -> bool:
        if self.queued:
            return False
        self._write(frame)
        return True

    def _write(self, data: bytes) -> None:
        if self.stopped:
            return
        self._added_since_tick += len(data)
        try:
            if not self.write(data):
                self.queued = True
        except (fast_write.StreamClosedError, OSError):
            self.stopped = True

    def buffered(self) -> int:
        if not self.queued:
            return 0
        queued = 0 if self.stopped else super().buffered()
        self.queued = queued > 0
        return queued

    def read_since_tick(self) -> bool:
        """Once per keepalive tick: whether the backlog shrank since the last one (the peer
        reads, though it may not answer pings behind that backlog)."""
        queued = self.buffered()
        read = bool(self._queued_at_tick) and queued < self._queued_at_tick + self._added_since_tick
        self._queued_at_tick = queued
        self._added_since_tick = 0
        return read

    def when_drained(self, callback: Callable[[], None]) -> None:
        if self.stopped:
            return
        try:
            flushed = self._stream.write(b"")  # resolves once everything written before it has left
        except fast_write.StreamClosedError:
            return
        flushed.add_done_callback(
            lambda f: callback() if not f.cancelled() and f.exception() is None else None
        )
