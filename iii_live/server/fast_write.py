"""Prebuilt WebSocket frames written straight to the socket: the fan-out hot path.

An event's text frame is built once (``text_frame``) and written to every subscribed
socket. While Tornado's own write buffer is empty the bytes go straight to the socket (no
Future, no buffer copy); whatever the socket does not take, and every write behind queued
bytes, goes through the IOStream, which keeps the order.

This reaches into Tornado's ``IOStream`` (``_write_buffer``, ``socket``): see
``tornado_internals``.
"""

from __future__ import annotations

from tornado.iostream import IOStream, StreamBufferFullError, StreamClosedError

__all__ = ["StreamBufferFullError", "StreamClosedError", "buffered", "text_frame", "write"]


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
