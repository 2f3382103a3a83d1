"""The Tornado internals the servers rely on, and the check that they are still there.

``fast_write`` writes to ``IOStream.socket`` when ``IOStream._write_buffer._size`` is 0
(Tornado sets the buffer to None after the socket, on close);
``websocket`` narrows ``WebSocketProtocol13`` through ``_receive_frame_loop`` (which
Tornado's upgrade awaits last), ``_receive_frame``, ``_read_bytes``, ``_handle_message``,
``_abort`` and ``on_ws_connection_close``, built with ``_WebSocketParams``;
``stream_socket`` replaces an open socket's ``RequestHandler._headers`` and ``ui`` and
drops its request's ``connection`` and ``server_connection``. These are private, so
they are used only within the versions ``pyproject.toml`` allows, and ``check()`` (run by
the tests) fails loudly if a release changes them.
"""

from __future__ import annotations

import inspect
import socket

import tornado
import tornado.websocket
from tornado.iostream import IOStream

SUPPORTED = ((6, 4), (7, 0))
"""``[low, high)`` of the Tornado versions whose internals the servers rely on."""

PROTOCOL_METHODS = {
    "_receive_frame_loop": True,
    "_receive_frame": True,
    "_read_bytes": True,
    "_handle_message": False,
    "_abort": False,
}
"""``WebSocketProtocol13`` methods overridden or called, and whether each is a coroutine."""


def check() -> None:
    """Raise ``RuntimeError`` naming what changed. Call it on an event loop."""
    low, high = SUPPORTED
    if not low <= tuple(tornado.version_info[:2]) < high:
        raise RuntimeError(f"tornado {tornado.version} is outside the supported range {low}..{high}")
    protocol = tornado.websocket.WebSocketProtocol13
    for name, coroutine in PROTOCOL_METHODS.items():
        method = getattr(protocol, name, None)
        if method is None or inspect.iscoroutinefunction(method) != coroutine:
            raise RuntimeError(f"tornado {tornado.version}: WebSocketProtocol13.{name} changed")
    if not callable(getattr(tornado.websocket.WebSocketHandler, "on_ws_connection_close", None)):
        raise RuntimeError(f"tornado {tornado.version}: WebSocketHandler.on_ws_connection_close changed")
    params = getattr(tornado.websocket, "_WebSocketParams", None)
    fields = set(inspect.signature(params).parameters) if params is not None else set()
    if not {"ping_interval", "ping_timeout", "max_message_size", "compression_options"} <= fields:
        raise RuntimeError(f"tornado {tornado.version}: _WebSocketParams changed")
    left, right = socket.socketpair()
    stream = IOStream(left)
    try:
        if not isinstance(getattr(stream, "socket", None), socket.socket):
            raise RuntimeError(f"tornado {tornado.version}: IOStream.socket is not the socket")
        if not isinstance(getattr(getattr(stream, "_write_buffer", None), "_size", None), int):
            raise RuntimeError(f"tornado {tornado.version}: IOStream's _write_buffer has no _size")
    finally:
        stream.close()
        right.close()
