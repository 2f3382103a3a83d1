"""The Tornado applications of the two ports: their routes and WebSocket settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tornado.web

from ..assets import STATIC
from ..core import StreamCore
from ..dashboards import Dashboards
from .connections import Connections
from .dashboard_pages import DashboardPageHandler, DashboardSocketHandler, ViewerFlushes
from .pages import PageHandler, StaticFiles, StreamsApiHandler
from .settings import ServerSettings
from .stream_socket import StreamSocketHandler
from .worker_socket import TelemetrySocketHandler, WorkerSocketHandler

NAME = r"([^/]+)"
WORKER_MAX_MESSAGE_SIZE = 64 * 1024 * 1024
"""The official Python SDK sends frames up to 64 MiB (its own ``max_size``)."""


def make_stream_app(
    core: StreamCore,
    settings: ServerSettings,
    connections: Connections,
    describe: Callable[[], dict[str, Any]],
    dashboards: Dashboards,
) -> tornado.web.Application:
    """WebSockets on ``/`` and ``/stream/...``; the stream browser on ``GET /``; the demo page;
    published dashboards on ``/d/<name>`` and their viewers' sockets on ``/d/<name>/ws``.

    ``describe()`` gives the engine's addresses and counts for the stream browser.
    """
    sockets = {"core": core, "settings": settings, "connections": connections}
    return tornado.web.Application(
        [
            (
                rf"/d/{NAME}/ws",
                DashboardSocketHandler,
                {**sockets, "dashboards": dashboards, "flushes": ViewerFlushes()},
            ),
            (rf"/d/{NAME}(/?)", DashboardPageHandler, {"settings": settings, "dashboards": dashboards}),
            (rf"/stream/{NAME}/{NAME}/{NAME}/?", StreamSocketHandler, sockets),
            (rf"/stream/{NAME}/{NAME}/?", StreamSocketHandler, sockets),
            (r"/", StreamSocketHandler, sockets),
            (r"/demo", PageHandler, {"settings": settings, "name": "demo.html"}),
            (r"/_iii/streams", StreamsApiHandler, {"settings": settings, "core": core, "describe": describe}),
            (r"/_iii/static/(.*)", StaticFiles, {"path": str(STATIC), "settings": settings}),
        ],
        websocket_max_message_size=settings.limits.max_message_size,
    )


def make_worker_app(core: StreamCore, settings: ServerSettings) -> tornado.web.Application:
    """The engine port: workers on ``/``, telemetry drained on ``/otel``."""
    return tornado.web.Application(
        [
            (r"/", WorkerSocketHandler, {"core": core, "settings": settings}),
            (r"/otel/?", TelemetrySocketHandler, {"settings": settings}),
        ],
        websocket_ping_interval=settings.ping_interval or None,
        websocket_max_message_size=WORKER_MAX_MESSAGE_SIZE,
    )
