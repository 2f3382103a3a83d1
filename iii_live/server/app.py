"""The stream port's Tornado application: its routes and WebSocket settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import tornado.web

from .pages import STATIC, PageHandler, StreamsApiHandler
from .stream_socket import StreamSocketHandler
from .worker_socket import TelemetrySocketHandler, WorkerSocketHandler

if TYPE_CHECKING:
    from ..engine import Engine

NAME = r"([^/]+)"


def make_app(engine: Engine) -> tornado.web.Application:
    """WebSockets on ``/`` and ``/stream/...``; the stream browser on ``GET /``; the demo page."""
    args = {"engine": engine}
    return tornado.web.Application(
        [
            (rf"/stream/{NAME}/{NAME}/{NAME}/?", StreamSocketHandler, args),
            (rf"/stream/{NAME}/{NAME}/?", StreamSocketHandler, args),
            (r"/", StreamSocketHandler, args),
            (r"/demo", PageHandler, {**args, "name": "demo.html"}),
            (r"/_iii/streams", StreamsApiHandler, args),
            (r"/_iii/static/(.*)", tornado.web.StaticFileHandler, {"path": str(STATIC)}),
        ],
        websocket_max_message_size=engine.limits.max_message_size,
    )


def make_worker_app(engine: Engine) -> tornado.web.Application:
    """The engine port: workers on ``/``, telemetry drained on ``/otel``."""
    args = {"engine": engine}
    return tornado.web.Application(
        [(r"/", WorkerSocketHandler, args), (r"/otel/?", TelemetrySocketHandler, args)],
        websocket_ping_interval=engine.config.ping_interval or None,
        websocket_max_message_size=64 * 1024 * 1024,
    )
