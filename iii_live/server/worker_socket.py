"""The engine port's WebSocket endpoints: workers on ``/``, telemetry drained on ``/otel``.

A worker socket is glue between Tornado and a ``WorkerSession``, which holds the protocol.
"""

from __future__ import annotations

import logging
from typing import Any

from tornado.web import HTTPError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from .. import codec
from ..core import StreamCore
from ..protocol.worker_session import WorkerSession
from .access import token_accepted
from .connections import GOING_AWAY
from .origin import origin_allowed
from .settings import ServerSettings

log = logging.getLogger("iii_live.workers")


class WorkerSocketHandler(WebSocketHandler):
    def initialize(self, core: StreamCore, settings: ServerSettings) -> None:
        self.core = core
        self.server_settings = settings
        self.session: WorkerSession | None = None

    def check_origin(self, origin: str) -> bool:
        return origin_allowed(origin, self.request.host, self.server_settings.allowed_origins)

    def prepare(self) -> None:
        if not token_accepted(self.request, self.server_settings.token):
            raise HTTPError(401, "a valid token is required (?token= or Authorization: Bearer)")

    def open(self) -> None:
        self.set_nodelay(True)
        peer = self.request.remote_ip or ""
        self.session = WorkerSession(self.core, self._send, self._close_going_away, peer)
        self.session.open()
        log.info("worker connected from %s as %s", peer, self.session.worker.worker_id)

    def on_message(self, message: str | bytes) -> None:
        if self.session is not None:
            self.session.receive(message)

    def on_close(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.close()

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self.write_message(codec.dumps(message).decode())
        except WebSocketClosedError:
            log.debug("dropping a message to a closed worker socket")

    def _close_going_away(self, reason: str) -> None:
        try:
            self.close(GOING_AWAY, reason)
        except WebSocketClosedError:
            pass


class TelemetrySocketHandler(WebSocketHandler):
    """``/otel``: the SDKs send OpenTelemetry frames here; they are read and dropped."""

    def initialize(self, settings: ServerSettings) -> None:
        self.server_settings = settings

    def check_origin(self, origin: str) -> bool:
        return not origin

    def prepare(self) -> None:
        if not token_accepted(self.request, self.server_settings.token):
            raise HTTPError(401, "a valid token is required")

    def on_message(self, message: str | bytes) -> None:
        pass
