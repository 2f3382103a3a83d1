"""Prebuilt WebSocket frames written straight to the socket: the fan-out hot path.

An event's text frame is built once (``text_frame``) and written to every subscribed
socket. While Tornado's own write buffer is empty the bytes go straight to the socket (no
Future, no buffer copy); whatever the socket does not take, and every write behind queued
bytes, goes through the IOStream, which keeps the order.

This reaches into Tornado's ``IOStream`` (``_write_buffer``, ``socket``), within the version
range ``pyproject.toml`` pins; ``check_tornado()`` (run by the tests) fails loudly if those
internals change.
"""

from __future__ import annotations

import socket

import tornado
from tornado.iostream import IOStream, StreamBufferFullError, StreamClosedError

__all__ = ["StreamBufferFullError", "StreamClosedError", "buffered", "check_tornado", "text_frame", "write"]

SUPPORTED_TORNADO = ((6, 4), (7, 0))
"""``[low, high)`` of the Tornado versions whose internals this module relies on."""


def text_frame(payload: bytes) -> bytes:
    """A final, unmasked text frame carrying ``payload`` (RFC 6455 §5.2)."""
    length = len(payload)
    if length < 126:
        header = bytes((0x81, length))
    elif length < 65536:
        header = bytes((0x81, 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + length.to_bytes(8, "big")
    return header + payload


def write(stream: IOStream, data: bytes) -> None:
    """Write ``data`` after what is already queued; raises ``StreamBufferFullError`` when the
    peer has stopped reading (the buffer passed ``max_write_buffer_size``), and
    ``StreamClosedError`` or ``OSError`` when the socket is gone."""
    if not stream._write_buffer and stream.socket is not None:
        try:
            sent = stream.socket.send(data)
        except BlockingIOError:
            sent = 0
        if sent == len(data):
            return
        stream.write(memoryview(data)[sent:])
        return
    stream.write(data)


def buffered(stream: IOStream) -> int:
    """Bytes queued in Tornado for this stream, not yet taken by the socket."""
    return len(stream._write_buffer)


def check_tornado() -> None:
    """Raise if the running Tornado lacks what ``write`` and ``buffered`` rely on.

    Call it on an event loop (an IOStream needs one).
    """
    low, high = SUPPORTED_TORNADO
    version = tuple(tornado.version_info[:2])
    if not low <= version < high:
        raise RuntimeError(f"tornado {tornado.version} is outside the supported range {low}..{high}")
    left, right = socket.socketpair()
    stream = IOStream(left)
    try:
        if not isinstance(getattr(stream, "socket", None), socket.socket):
            raise RuntimeError(f"tornado {tornado.version}: IOStream.socket is not the socket")
        if not hasattr(getattr(stream, "_write_buffer", None), "__len__"):
            raise RuntimeError(f"tornado {tornado.version}: IOStream has no sized _write_buffer")
    finally:
        stream.close()
        right.close()
