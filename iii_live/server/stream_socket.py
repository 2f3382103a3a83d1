"""The stream port's WebSocket endpoint: iii join/leave on ``/``, and path subscriptions.

``/stream/{stream}/{group}[/{item}]`` subscribes on connect (the URL the iii docs promise;
the Rust engine answers it with 404); join and leave work on every path.

Outbound frames are prebuilt by the event (``Event.ws_frame``) and appended to the
connection's pending list; the hub flushes each connection once per loop turn with one
write. A client that stops reading fills its write buffer up to ``max_write_buffer`` and is
then disconnected, so it never holds up the others.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from tornado.iostream import StreamBufferFullError, StreamClosedError
from tornado.web import HTTPError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..errors import InvocationError
from ..functions import resolve
from ..streams.client_messages import JOIN, check_names, decode_client_message
from ..streams.events import Event
from ..streams.hub import Subscription
from ..streams.triggers import LEAVE
from .access import token_accepted
from .origin import origin_allowed
from .pages import page

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("iii_live.server")

GOING_AWAY = 1001


class StreamConnection:
    """One socket's subscriptions and pending frames; a hub subscriber on the loop."""

    __slots__ = ("handler", "engine", "context", "keyed", "subscriptions", "_pending", "_closed", "last_seen")
    on_loop = True

    def __init__(
        self, handler: StreamSocketHandler, engine: Engine, context: Any, keyed: bool = False
    ) -> None:
        self.handler = handler
        self.engine = engine
        self.context = context
        self.keyed = keyed
        """``?sync=keyed``: group syncs carry ``{item_id: value}`` (an iii-live extension)."""
        self.subscriptions: dict[str, Subscription] = {}
        self._pending: list[bytes] = []
        self._closed = False
        self.last_seen = time.monotonic()
        """When the peer last sent anything (a frame, a pong): read by the keepalive."""

    def __repr__(self) -> str:
        return f"<StreamConnection {self.handler.request.remote_ip} subs={len(self.subscriptions)}>"

    # -- hub subscriber ----------------------------------------------------------------

    def deliver(self, event: Event) -> None:
        self._pending.append(event.ws_frame)

    def send_raw(self, data: bytes) -> None:
        """Queue prebuilt frame bytes (a ping) and write them now."""
        self._pending.append(data)
        self.flush()

    def drop(self, reason: str) -> None:
        """Cut the connection without a closing handshake (a dead or stuck peer)."""
        self._closed = True
        self.handler.abort()

    def flush(self) -> None:
        """Write the pending frames with one syscall when the socket can take them.

        While Tornado's own write buffer is empty the bytes go straight to the socket (no
        Future, no buffer copy); whatever the socket does not take, and every write behind
        queued bytes, goes through the IOStream, which keeps the order.
        """
        pending = self._pending
        if not pending:
            return
        data = b"".join(pending) if len(pending) > 1 else pending[0]
        pending.clear()
        protocol = self.handler.ws_connection
        if self._closed or protocol is None or protocol.server_terminated or protocol.client_terminated:
            return
        stream = protocol.stream
        try:
            if not stream._write_buffer and stream.socket is not None:
                try:
                    sent = stream.socket.send(data)
                except BlockingIOError:
                    sent = 0
                if sent == len(data):
                    return
                data = memoryview(data)[sent:]
            stream.write(data)
        except StreamBufferFullError:
            log.warning("%r stopped reading; disconnecting it", self)
            self._closed = True
            stream.close()
        except (StreamClosedError, OSError):
            self._closed = True

    # -- join / leave ------------------------------------------------------------------

    def _event_payload(
        self, subscription_id: str, stream_name: str, group_id: str, item_id: str | None
    ) -> dict[str, Any]:
        return {
            "subscription_id": subscription_id,
            "stream_name": stream_name,
            "group_id": group_id,
            "id": item_id,
            "context": self.context,
        }

    async def join(self, subscription_id: str, stream_name: str, group_id: str, item_id: str | None) -> None:
        module = self.engine.streams
        limits = self.engine.limits
        try:
            check_names(subscription_id, stream_name, group_id, item_id, limits)
        except ValueError as exc:
            module.notify_unauthorized(self, stream_name, group_id, item_id, str(exc))
            return
        full = len(self.subscriptions) >= limits.max_subscriptions_per_connection
        if full and subscription_id not in self.subscriptions:
            limit = limits.max_subscriptions_per_connection
            reason = f"too many subscriptions on this connection (max_subscriptions_per_connection={limit})"
            module.notify_unauthorized(self, stream_name, group_id, item_id, reason)
            return
        payload = self._event_payload(subscription_id, stream_name, group_id, item_id)
        if await module.triggers.run_join(stream_name, group_id, payload):
            module.notify_unauthorized(self, stream_name, group_id, item_id)
            return
        if self._closed:
            return
        previous = self.subscriptions.pop(subscription_id, None)
        if previous is not None:
            module.detach(previous)
        subscription = Subscription(self, stream_name, group_id, item_id, subscription_id, keyed=self.keyed)
        self.subscriptions[subscription_id] = subscription
        try:
            await resolve(module.attach(subscription))
        except InvocationError as exc:
            log.error("sync for %s/%s failed: %s", stream_name, group_id, exc)

    async def leave(self, subscription_id: str, stream_name: str, group_id: str, item_id: str | None) -> None:
        module = self.engine.streams
        payload = self._event_payload(subscription_id, stream_name, group_id, item_id)
        await module.triggers.run_leave(stream_name, group_id, payload)
        subscription = self.subscriptions.pop(subscription_id, None)
        if subscription is not None:
            module.detach(subscription)

    def close(self) -> None:
        """The socket closed: drop every subscription, then fire their leave triggers."""
        self._closed = True
        self._pending.clear()
        module = self.engine.streams
        remaining = list(self.subscriptions.values())
        self.subscriptions.clear()
        for subscription in remaining:
            module.detach(subscription)
        if remaining and module.triggers.has(LEAVE):
            self.engine.runtime.spawn(self._leave_all(remaining))

    async def _leave_all(self, subscriptions: list[Subscription]) -> None:
        triggers = self.engine.streams.triggers
        for s in subscriptions:
            payload = self._event_payload(s.subscription_id, s.stream_name, s.group_id, s.item_id)
            await triggers.run_leave(s.stream_name, s.group_id, payload)


class StreamSocketHandler(WebSocketHandler):
    def initialize(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: StreamConnection | None = None
        self.auth_context: Any = None

    def check_origin(self, origin: str) -> bool:
        return origin_allowed(origin, self.request.host, self.engine.config.allowed_origins)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        """``GET /`` without an upgrade is the stream browser; everything else is a WebSocket.

        Not a coroutine: Tornado runs a socket's whole life inside ``get()``, so returning
        the upgrade's coroutine instead of awaiting it saves a frame per connection.
        """
        if self.request.path == "/" and self.request.headers.get("Upgrade", "").lower() != "websocket":
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(page("browser.html"))
            return None
        return super().get(*args, **kwargs)

    async def prepare(self) -> None:
        """Before the upgrade: the token, the per-address limit, then ``auth_function``.

        The auth function's ``context`` rides on every join and leave of the connection.
        """
        engine = self.engine
        if not token_accepted(self.request, engine.token):
            raise HTTPError(401, "a valid token is required (?token= or Authorization: Bearer)")
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            return
        limit = engine.limits.max_connections_per_address
        if engine.connections_by_address[self.request.remote_ip or ""] >= limit:
            raise HTTPError(
                429, f"too many connections from this address (max_connections_per_address={limit})"
            )
        function_id = engine.config.auth_function
        if function_id:
            self.auth_context = await self._authenticate(function_id)

    async def _authenticate(self, function_id: str) -> Any:
        request = self.request
        address = getattr(request.connection, "context", None)
        peer = getattr(address, "address", None)
        if isinstance(peer, tuple) and len(peer) >= 2:
            host = f"[{peer[0]}]" if ":" in peer[0] else peer[0]
            addr = f"{host}:{peer[1]}"
        else:
            addr = request.remote_ip or ""
        auth_input = {
            "headers": {name.lower(): value for name, value in request.headers.get_all()},
            "path": request.path,
            "query_params": query_to_multi_map(request.query),
            "addr": addr,
        }
        required = self.engine.config.auth_required
        try:
            result = await resolve(self.engine.functions.call(function_id, auth_input))
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
        keyed = self.get_query_argument("sync", "") == "keyed"
        self.connection = StreamConnection(self, self.engine, self.auth_context, keyed)
        self.engine.connections.add(self.connection)
        self.engine.connections_by_address[self.request.remote_ip or ""] += 1
        stream = self.ws_connection.stream if self.ws_connection else None
        if stream is not None:
            stream.max_write_buffer_size = self.engine.config.max_write_buffer
        if stream_name is not None and group_id is not None:
            await self.connection.join(str(uuid.uuid4()), stream_name, group_id, item_id)

    def on_pong(self, data: bytes) -> None:
        if self.connection is not None:
            self.connection.last_seen = time.monotonic()

    def on_ping(self, data: bytes) -> None:
        self.on_pong(data)

    async def on_message(self, message: str | bytes) -> None:
        connection = self.connection
        if connection is None:
            return
        connection.last_seen = time.monotonic()
        try:
            parsed = decode_client_message(message)
        except ValueError as exc:
            log.debug("ignoring client frame: %s", exc)
            return
        args = (parsed.subscription_id, parsed.stream_name, parsed.group_id, parsed.item_id)
        try:
            if parsed.type == JOIN:
                await connection.join(*args)
            else:
                await connection.leave(*args)
        except Exception:  # a bug must cost this frame, never the connection or the engine
            log.exception("handling %s from %r failed", parsed.type, connection)

    def on_close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            self.engine.connections.discard(connection)
            address = self.request.remote_ip or ""
            self.engine.connections_by_address[address] -= 1
            if self.engine.connections_by_address[address] <= 0:
                del self.engine.connections_by_address[address]
            connection.close()

    def close_going_away(self) -> None:
        try:
            self.close(GOING_AWAY, "engine stopping")
        except WebSocketClosedError:
            pass

    def abort(self) -> None:
        """Drop the TCP connection without waiting for the closing handshake."""
        if self.ws_connection is not None and self.ws_connection.stream is not None:
            self.ws_connection.stream.close()
        self.on_close()


def query_to_multi_map(query: str) -> dict[str, list[str]]:
    """Query string as iii parses it: split on ``&`` and the first ``=``, no decoding."""
    params: dict[str, list[str]] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        params.setdefault(key, []).append(value)
    return params
