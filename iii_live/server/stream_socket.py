"""The stream port's WebSocket endpoint: upgrade checks, then a ``StreamSession`` per socket.

Routes ``/`` (iii join/leave) and ``/stream/{stream}/{group}[/{item}]``, which subscribes on
connect (the URL the iii docs promise; the Rust engine answers it with 404); join and
leave work on every path. ``GET /`` without an upgrade is the stream browser.

Before the upgrade: the Host and the token, the per-address limit (counted from this
moment), then ``auth_function``. After it, frames go to the session, and the handler is the
session's transport: frames go out through ``fast_write``. A slow reader's changes are
conflated by the session; a peer that reads nothing for two ping intervals, or whose
backlog passes the hard cap ``max_write_buffer``, is disconnected, so no client holds up
the others.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from tornado.httputil import HTTPHeaders, HTTPServerRequest
from tornado.util import ObjectDict
from tornado.web import HTTPError
from tornado.websocket import WebSocketClosedError

from ..assets import page
from ..core import StreamCore
from ..errors import InvocationError
from ..functions import resolve
from ..protocol.stream_session import StreamSession
from ..protocol.stream_wire import JOIN, ClientMessage, Event
from . import fast_write
from .access import admit
from .connections import GOING_AWAY, Connections
from .origin import origin_allowed
from .settings import ServerSettings
from .socket_transport import SocketTransport
from .websocket import StrictWebSocketHandler

log = logging.getLogger("iii_live.server")


FORGOTTEN_HEADERS = HTTPHeaders()
"""Every open socket's request and response headers: empty, shared, never written (Tornado
refuses header writes once a socket is open)."""
FORGOTTEN_UI = ObjectDict()
"""Every open socket's template namespace (a socket renders no template)."""


def ws_frame(event: Event) -> bytes:
    """The event as a WebSocket text frame, built once for every socket."""
    frame = event.transport_frame
    if frame is None:
        frame = event.transport_frame = fast_write.text_frame(event.frame)
    return frame


def ws_resume_frame(event: Event) -> bytes:
    """The event's resumable frame as a WebSocket text frame, built once for every socket."""
    frame = event.transport_resume_frame
    if frame is None:
        frame = event.transport_resume_frame = fast_write.text_frame(event.resume_frame)
    return frame


class StreamSocketHandler(StrictWebSocketHandler):
    def initialize(self, core: StreamCore, settings: ServerSettings, connections: Connections) -> None:
        self.core = core
        self.server_settings = settings
        self.connections = connections
        self.session: StreamSession | None = None
        self.auth_context: Any = None
        self.last_seen = time.monotonic()
        """When the peer last sent anything (a frame, a pong): read by the keepalive."""
        self._reserved: str | None = None
        self.transport: SocketTransport | None = None
        """The session's way out, once the socket is open."""

    def __repr__(self) -> str:
        return f"<stream socket {self.request.remote_ip} {self.session!r}>"

    def check_origin(self, origin: str) -> bool:
        return origin_allowed(origin, self.request.host, self.server_settings.allowed_origins)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        """``GET /`` without an upgrade is the stream browser; everything else is a WebSocket.

        Not a coroutine: Tornado runs a socket's whole life inside ``get()``, so returning
        the upgrade's coroutine instead of awaiting it saves a frame per connection.
        """
        if self.request.path == "/" and not self._upgrading():
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(page("browser.html"))
            return None
        return super().get(*args, **kwargs)

    def _upgrading(self) -> bool:
        return self.request.headers.get("Upgrade", "").lower() == "websocket"

    def authorize(self) -> None:
        """Refuse the request (the Host and the engine's token); a dashboard viewer's socket
        checks its dashboard's grant instead."""
        admit(self.request, self.server_settings)

    async def prepare(self) -> None:
        settings = self.server_settings
        self.authorize()
        if not self._upgrading():
            return
        limit = settings.limits.max_connections_per_address
        address = self.request.remote_ip or ""
        if not self.connections.reserve(address, limit):
            raise HTTPError(
                429, f"too many connections from this address (max_connections_per_address={limit})"
            )
        self._reserved = address
        if settings.auth_function:
            self.auth_context = await self._authenticate(settings.auth_function)

    async def _authenticate(self, function_id: str) -> Any:
        """Run ``auth_function`` (spec §1.9); fail-open unless ``auth_required``."""
        request = self.request
        auth_input = {
            "headers": {name.lower(): value for name, value in request.headers.get_all()},
            "path": request.path,
            "query_params": query_to_multi_map(request.query),
            "addr": _peer_address(request),
        }
        required = self.server_settings.auth_required
        try:
            result = await resolve(self.core.call(function_id, auth_input))
        except InvocationError as exc:
            if required:
                raise HTTPError(403, f"auth function {function_id} failed") from None
            log.warning("auth function %s failed (connection accepted without context): %s", function_id, exc)
            return None
        if isinstance(result, dict):
            if required and result.get("unauthorized") is True:
                raise HTTPError(403, "refused by the auth function")
            return result.get("context")
        if required:
            raise HTTPError(403, f"auth function {function_id} returned no {{context}}")
        log.warning(
            "auth function %s returned %r, expected {context}; ignored", function_id, type(result).__name__
        )
        return None

    async def open(
        self, stream_name: str | None = None, group_id: str | None = None, item_id: str | None = None
    ) -> None:
        self.set_nodelay(True)
        stream = self.ws_connection.stream if self.ws_connection is not None else None
        assert stream is not None  # open() runs on an upgraded connection
        transport = SocketTransport(stream, self.server_settings.max_write_buffer, self.drop)
        self.transport = transport
        query = self.get_query_argument
        self.session = self.new_session(
            transport,
            context=self.auth_context,
            keyed=query("sync", "") == "keyed",
            encode=ws_frame,
            encode_resumable=ws_resume_frame,
            resume=query("resume", "") in ("1", "true"),
            conflate_at=self.server_settings.conflate_at,
        )
        self.connections.add(self)
        self._forget_upgrade()
        if stream_name is not None and group_id is not None:
            since = {"seq": _integer(query("since_seq", "")), "epoch": query("since_epoch", None)}
            options = {"since": since} if query("since_seq", None) is not None else None
            path = ClientMessage(JOIN, str(uuid.uuid4()), stream_name, group_id, item_id, options)
            await self.session.submit(path)

    def _forget_upgrade(self) -> None:
        """An open socket needs no more of its upgrade: the request's headers, the response
        headers Tornado prepared, the template namespace (about 2 KB a connection) and the
        HTTP connection objects that read the upgrade (about 20 objects the collector would
        walk at every full collection)."""
        request = self.request
        request.headers = self._headers = FORGOTTEN_HEADERS
        request.connection = request.server_connection = None
        self.ui = FORGOTTEN_UI

    def new_session(self, transport: SocketTransport, **options: Any) -> StreamSession:
        """This socket's session (a dashboard viewer's is narrower)."""
        return StreamSession(self.core, transport, **options)

    async def on_message(self, message: str | bytes) -> None:
        self.last_seen = time.monotonic()
        if self.session is None:
            return
        try:
            await self.session.receive(message)
        except Exception:  # a bug must cost this frame, never the connection or the engine
            log.exception("handling a frame from %r failed", self)

    def on_pong(self, data: bytes) -> None:
        self.last_seen = time.monotonic()

    def on_ping(self, data: bytes) -> None:
        self.last_seen = time.monotonic()

    def on_close(self) -> None:
        self._release()
        session, self.session = self.session, None
        self.connections.discard(self)
        if session is not None:
            session.close()

    def on_finish(self) -> None:
        if self.get_status() != 101:  # the upgrade did not happen
            self._release()

    def _release(self) -> None:
        if self._reserved is not None:
            self.connections.release(self._reserved)
            self._reserved = None

    # -- keepalive ----------------------------------------------------------------------------

    def notice_reading(self) -> None:
        """Once per keepalive tick: a backlog that shrank since the last tick shows the peer reads."""
        if self.transport is not None and self.transport.read_since_tick():
            self.last_seen = time.monotonic()

    def send_raw(self, data: bytes) -> None:
        """Write prebuilt frame bytes now (a keepalive ping)."""
        if self.transport is not None:
            self.transport.send([data])

    def stop_writing(self) -> None:
        if self.transport is not None:
            self.transport.stopped = True

    def drop(self, reason: str) -> None:
        """Cut the connection without a closing handshake (a dead or stuck peer)."""
        log.info("dropping %r: %s", self, reason)
        self.stop_writing()
        if self.ws_connection is not None and self.ws_connection.stream is not None:
            self.ws_connection.stream.close()
        self.on_close()

    def close_going_away(self) -> None:
        try:
            self.close(GOING_AWAY, "engine stopping")
        except WebSocketClosedError:
            pass


def _integer(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def query_to_multi_map(query: str) -> dict[str, list[str]]:
    """Query string as iii parses it: split on ``&`` and the first ``=``, no decoding."""
    params: dict[str, list[str]] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        params.setdefault(key, []).append(value)
    return params


def _peer_address(request: HTTPServerRequest) -> str:
    """``ip:port`` of the peer (IPv6 as ``[::1]:port``), as iii's ``addr``."""
    peer = getattr(getattr(request.connection, "context", None), "address", None)
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = f"[{peer[0]}]" if ":" in peer[0] else peer[0]
        return f"{host}:{peer[1]}"
    return request.remote_ip or ""
