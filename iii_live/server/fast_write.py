"""Prebuilt WebSocket frames written straight to the socket: the fan-out hot path.

An event's text frame is built once (``text_frame``) and written to every subscribed
socket. While Tornado's own write buffer is empty the bytes go straight to the socket (no
Future, no buffer copy); whatever the socket does not take, and every write behind queued
bytes, goes through the IOStream, which keeps the order.

This reaches into Tornado's ``IOStream`` (``_write_buffer``, ``socket``): see
``tornado_internals``.
"""

from __future__ import annotations

from tornado.iostream import IOStream, StreamClosedError

__all__ = ["StreamClosedError", "buffered", "text_frame", "write"]


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


def write(stream: IOStream, data: bytes) -> bool:
    """Write ``data`` after what is already queued; True when the socket took all of it at
    once, False when some of it waits in Tornado's buffer. Raises ``StreamClosedError`` or
    ``OSError`` when the socket is gone."""
    if not stream._write_buffer and stream.socket is not None:
        try:
            sent = stream.socket.send(data)
        except BlockingIOError:
            sent = 0
        if sent == len(data):
            return True
        stream.write(memoryview(data)[sent:])
        return False
    stream.write(data)
    return False


def buffered(stream: IOStream) -> int:
    """Bytes queued in Tornado for this stream, not yet taken by the socket."""
    return len(stream._write_buffer)
