"""Published dashboards on the stream port: the page at ``/d/<name>`` and its viewers'
WebSocket at ``/d/<name>/ws``.

The page is static: its layout arrives over the socket as the item ``layout`` of the
reserved stream, so a page opened before a republish follows it. A viewer's socket speaks
the iii stream protocol (joins, leaves, resuming) and nothing else: it joins only what its
dashboard shows (others are answered ``unauthorized`` with a reason) and any other frame
closes it with 1008. It runs no function, so a viewer reads and never writes. The page's
URLs are relative, so it works under any path prefix a proxy adds (``/proxy/3112/d/ops``).

Viewers see changes at the widgets' frame rate: a viewer's session sends what it was
delivered every ``VIEWER_FRAME_SECONDS`` (``ViewerFlushes``, one timer for all viewers), not
every event-loop turn, so a viewer costs one ``send`` per frame however many changes it
carries.
"""

from __future__ import annotations

import asyncio
from typing import Any

import tornado.web

from ..assets import page
from ..core import StreamCore
from ..dashboards import Dashboards
from ..protocol.stream_session import StreamSession, Transport
from ..protocol.stream_wire import Event, decode_client_message
from .access import admit_viewer, view_token_accepted
from .connections import Connections
from .settings import ServerSettings
from .socket_transport import SocketTransport
from .stream_socket import StreamSocketHandler

POLICY_VIOLATION = 1008
VIEWER_MAX_MESSAGE_SIZE = 16 * 1024
"""Viewers send joins and leaves only: larger frames close the socket (1009)."""
MAX_CLOSE_REASON = 123
"""Bytes a close frame's reason may hold (RFC 6455 §5.5)."""
VIEWER_FRAME_SECONDS = 0.05
"""Seconds between a viewer's writes: the widgets' frame (their flusher's)."""


class DashboardPageHandler(tornado.web.RequestHandler):
    """``GET /d/<name>``: the page, for whoever holds the dashboard's link."""

    def initialize(self, settings: ServerSettings, dashboards: Dashboards) -> None:
        self.server_settings = settings
        self.dashboards = dashboards

    def get(self, name: str, slash: str) -> None:
        admit_viewer(self.request, self.server_settings, name, self.dashboards.get(name))
        if slash:  # relative, so a proxy's path prefix is kept
            query = self.request.query
            self.redirect(f"../{name}" + (f"?{query}" if query else ""))
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")  # links in markdown must not carry the token
        self.set_header("X-Content-Type-Options", "nosniff")
        self.write(page("dashboard.html"))


class ViewerSession(StreamSession):
    """A viewer's session: what the hub delivers waits for the next frame of ``flushes``."""

    def __init__(
        self, core: StreamCore, transport: Transport, flushes: ViewerFlushes, **options: Any
    ) -> None:
        super().__init__(core, transport, **options)
        self.flushes = flushes

    def flush(self) -> None:
        self.flushes.due(self)

    def deliver_and_flush(self, event: Event) -> None:
        self.deliver(event)  # not straight to the socket: it waits for the frame too
        self.flush()

    def flush_now(self) -> None:
        super().flush()


class ViewerFlushes:
    """Viewer sessions with something to send, flushed together every ``interval``."""

    def __init__(self, interval: float = VIEWER_FRAME_SECONDS) -> None:
        self.interval = interval
        self._due: dict[ViewerSession, None] = {}
        self._timer: asyncio.TimerHandle | None = None

    def due(self, session: ViewerSession) -> None:
        self._due[session] = None
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._flush)

    def _flush(self) -> None:
        self._timer = None
        due, self._due = self._due, {}
        for session in due:
            session.flush_now()


class DashboardSocketHandler(StreamSocketHandler):
    """A viewer's socket: admitted by the dashboard's grant, limited to its groups, sending
    once per frame."""

    def initialize(  # type: ignore[override]
        self,
        core: StreamCore,
        settings: ServerSettings,
        connections: Connections,
        dashboards: Dashboards,
        flushes: ViewerFlushes,
    ) -> None:
        super().initialize(core, settings, connections)
        self.dashboards = dashboards
        self.flushes = flushes
        self.dashboard = ""
        self.presented: str | None = None
        """The token the viewer presented, checked again when the dashboard is republished."""

    @property
    def max_message_size(self) -> int:
        return VIEWER_MAX_MESSAGE_SIZE

    def authorize(self) -> None:
        name = self.dashboard = self.path_args[0]
        dashboards = self.dashboards
        self.presented = admit_viewer(self.request, self.server_settings, name, dashboards.get(name))

    def new_session(self, transport: SocketTransport, **options: Any) -> StreamSession:
        name, dashboards = self.dashboard, self.dashboards
        return ViewerSession(
            self.core,
            transport,
            self.flushes,
            may_join=lambda stream_name, group_id: dashboards.refusal(name, stream_name, group_id),
            **options,
        )

    async def open(self, name: str) -> None:  # type: ignore[override]
        self.dashboards.attach(name, self)
        await super().open()

    async def on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.refuse("a dashboard page sends text frames only")
            return
        try:
            decode_client_message(message)
        except ValueError as exc:
            self.refuse(f"a dashboard page sends joins and leaves only: {exc}")
            return
        await super().on_message(message)

    def refuse(self, reason: str) -> None:
        """Close with 1008 (policy violation), saying why."""
        self.close(POLICY_VIOLATION, reason.encode()[:MAX_CLOSE_REASON].decode(errors="ignore"))

    def on_close(self) -> None:
        self.dashboards.detach(self.dashboard, self)
        super().on_close()

    def recheck(self) -> None:
        """The dashboard was published again or unpublished: close if the token presented no
        longer admits this viewer; leave the groups it no longer shows."""
        published = self.dashboards.get(self.dashboard)
        if published is not None and not view_token_accepted(
            self.presented, published.token, self.server_settings.token
        ):
            self.refuse("the dashboard's token changed: open its new link")
            return
        if self.session is not None:
            self.core.spawn(self._leave_hidden(self.session))

    async def _leave_hidden(self, session: StreamSession) -> None:
        await session.settled()  # joins under way were checked against the old layout
        for subscription in list(session.subscriptions.values()):
            if self.dashboards.refusal(self.dashboard, subscription.stream_name, subscription.group_id):
                await session.leave(
                    subscription.subscription_id,
                    subscription.stream_name,
                    subscription.group_id,
                    subscription.item_id,
                )
