"""Published dashboards on the stream port: the page at ``/d/<name>`` and its viewers'
WebSocket at ``/d/<name>/ws``.

The page is static: its layout arrives over the socket as the item ``layout`` of the
reserved stream, so a page opened before a republish follows it. A viewer's socket speaks
the iii stream protocol (joins, leaves, resuming) and nothing else: it joins only what its
dashboard shows (others are answered ``unauthorized`` with a reason) and any other frame
closes it with 1008. It runs no function, so a viewer reads and never writes. The page's
URLs are relative, so it works under any path prefix a proxy adds (``/proxy/3112/d/ops``).

A page repaints at most once per animation frame, so viewers' frames are written together
every ``VIEWER_WRITE_INTERVAL`` (``ViewerWrites``): one timer for all viewers, and one
``send`` per viewer per interval however many changes it carries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import tornado.web

from ..assets import page
from ..core import StreamCore
from ..dashboards import Dashboards
from ..protocol.stream_session import StreamSession
from ..protocol.stream_wire import decode_client_message
from .access import admit_viewer, view_token_accepted
from .connections import Connections
from .settings import ServerSettings
from .stream_socket import StreamSocketHandler

POLICY_VIOLATION = 1008
VIEWER_MAX_MESSAGE_SIZE = 16 * 1024
"""Viewers send joins and leaves only: larger frames close the socket (1009)."""
MAX_CLOSE_REASON = 123
"""Bytes a close frame's reason may hold (RFC 6455 §5.5)."""
VIEWER_WRITE_INTERVAL = 0.025
"""Seconds between writes to a viewer: 40 a second, more than a page repaints."""


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


class ViewerWrites:
    """The frames waiting for each viewer socket, written every ``interval`` on one timer.

    A viewer's frames keep their order; its session sees them as buffered, so a reader
    that falls behind is conflated as on any socket; ``when_drained`` waits for them too.
    """

    def __init__(self, interval: float = VIEWER_WRITE_INTERVAL) -> None:
        self.interval = interval
        self._frames: dict[DashboardSocketHandler, list[bytes]] = {}
        self._sizes: dict[DashboardSocketHandler, int] = {}
        self._drained: dict[DashboardSocketHandler, list[Callable[[], None]]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, viewer: DashboardSocketHandler, frames: list[bytes]) -> None:
        self._frames.setdefault(viewer, []).extend(frames)
        self._sizes[viewer] = self._sizes.get(viewer, 0) + sum(map(len, frames))
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._write)

    def waiting(self, viewer: DashboardSocketHandler) -> int:
        """Bytes waiting for ``viewer``."""
        return self._sizes.get(viewer, 0)

    def when_written(self, viewer: DashboardSocketHandler, callback: Callable[[], None]) -> bool:
        """Hold ``callback`` until ``viewer``'s waiting frames are written; False if none wait."""
        if viewer not in self._frames:
            return False
        self._drained.setdefault(viewer, []).append(callback)
        return True

    def discard(self, viewer: DashboardSocketHandler) -> None:
        self._frames.pop(viewer, None)
        self._sizes.pop(viewer, None)
        self._drained.pop(viewer, None)

    def _write(self) -> None:
        self._timer = None
        frames, self._frames, self._sizes = self._frames, {}, {}
        drained, self._drained = self._drained, {}
        for viewer, waiting in frames.items():
            viewer.write_now(waiting)
            for callback in drained.get(viewer, ()):
                viewer.drained_after_write(callback)


class DashboardSocketHandler(StreamSocketHandler):
    """A viewer's socket: admitted by the dashboard's grant, limited to its groups; its
    frames go out through ``ViewerWrites``."""

    def initialize(  # type: ignore[override]
        self,
        core: StreamCore,
        settings: ServerSettings,
        connections: Connections,
        dashboards: Dashboards,
        writes: ViewerWrites,
    ) -> None:
        super().initialize(core, settings, connections)
        self.dashboards = dashboards
        self.writes = writes
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
        self.may_join = lambda stream_name, group_id: dashboards.refusal(name, stream_name, group_id)

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
        self.writes.discard(self)
        super().on_close()

    # -- the session's transport, batched ----------------------------------------------------

    def send(self, frames: list[bytes]) -> None:
        self.writes.add(self, frames)

    def buffered(self) -> int:
        return super().buffered() + self.writes.waiting(self)

    def when_drained(self, callback: Callable[[], None]) -> None:
        if not self.writes.when_written(self, callback):
            super().when_drained(callback)

    def write_now(self, frames: list[bytes]) -> None:
        super().send(frames)

    def drained_after_write(self, callback: Callable[[], None]) -> None:
        super().when_drained(callback)

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
