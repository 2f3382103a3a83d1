"""The engine port's WebSocket endpoints: workers on ``/``, telemetry drained on ``/otel``.

A worker socket is glue between Tornado and a ``WorkerSession``, which holds the protocol.
Its frames go out through ``fast_write``. Replies are flow-controlled: once more than
``max_write_buffer`` bytes wait unread, the worker's next frame is read only after they
have gone out, so a worker that asks and never reads makes the engine hold one reply
beyond that bound, not one per request, and is closed when its pings go unanswered. One
frame is never too big on its own: a large item goes out whole to a worker that reads.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from tornado.iostream import IOStream
from tornado.websocket import WebSocketClosedError

from .. import codec
from ..core import StreamCore
from ..protocol.worker_session import WorkerSession
from . import fast_write
from .access import admit
from .connections import GOING_AWAY
from .origin import origin_allowed
from .settings import ServerSettings
from .websocket import StrictWebSocketHandler

log = logging.getLogger("iii_live.workers")


class WorkerSocketHandler(StrictWebSocketHandler):
    def initialize(self, core: StreamCore, settings: ServerSettings) -> None:
        self.core = core
        self.server_settings = settings
        self.session: WorkerSession | None = None

    def check_origin(self, origin: str) -> bool:
        return origin_allowed(origin, self.request.host, self.server_settings.allowed_origins)

    def prepare(self) -> None:
        admit(self.request, self.server_settings)

    def open(self) -> None:
        self.set_nodelay(True)
        peer = self.request.remote_ip or ""
        self.session = WorkerSession(self.core, self._send, self._close_going_away, peer)
        self.session.open()
        log.info("worker connected from %s as %s", peer, self.session.worker.worker_id)

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        """Handle a frame; when the worker is behind on reading, Tornado reads its next frame
        only after the returned awaitable, once everything queued for it has gone out."""
        if self.session is not None:
            self.session.receive(message)
        return self._caught_up() if self._behind() else None

    def on_close(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.close()

    def _open_stream(self) -> IOStream | None:
        protocol = self.ws_connection
        if protocol is None or protocol.is_closing():
            return None
        return protocol.stream

    def _behind(self) -> bool:
        """More than ``max_write_buffer`` bytes are queued for the worker, unread."""
        stream = self._open_stream()
        return stream is not None and fast_write.buffered(stream) > self.server_settings.max_write_buffer

    async def _caught_up(self) -> None:
        stream = self._open_stream()
        if stream is None:
            return
        try:
            await stream.write(b"")  # resolves when everything queued before it is written
        except fast_write.StreamClosedError:
            pass

    def _send(self, message: dict[str, Any]) -> None:
        stream = self._open_stream()
        if stream is None:
            log.debug("dropping a message to a closed worker socket")
            return
        try:
            fast_write.write(stream, fast_write.text_frame(codec.dumps(message)))
        except (fast_write.StreamClosedError, OSError):
            log.debug("dropping a message to a closed worker socket")

    def _close_going_away(self, reason: str) -> None:
        try:
            self.close(GOING_AWAY, reason)
        except WebSocketClosedError:
            pass


class TelemetrySocketHandler(StrictWebSocketHandler):
    """``/otel``: the SDKs send OpenTelemetry frames here; they are read and dropped."""

    def initialize(self, settings: ServerSettings) -> None:
        self.server_settings = settings

    def check_origin(self, origin: str) -> bool:
        return not origin

    def prepare(self) -> None:
        admit(self.request, self.server_settings)

    def on_message(self, message: str | bytes) -> None:
        pass
