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

__all__ = ["SocketWriter", "StreamClosedError", "buffered", "text_frame", "write"]


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


class SocketWriter:
    """One open stream's writes: straight to its socket while Tornado holds none of its bytes.

    It keeps the socket's ``send`` and Tornado's write buffer itself, so a write reads three
    objects instead of five (a fan-out to thousands of sockets costs mostly those reads).
    """

    __slots__ = ("_buffer", "_send", "_stream")

    def __init__(self, stream: IOStream) -> None:
        self._stream = stream
        self._buffer = stream._write_buffer
        self._send = stream.socket.send

    def write(self, data: bytes) -> bool:
        """Write ``data`` after what is already queued; True when the socket took all of it
        at once, False when some of it waits in Tornado's buffer. Raises
        ``StreamClosedError`` or ``OSError`` once the socket is gone."""
        if not self._buffer._size:
            try:
                sent = self._send(data)
            except BlockingIOError:
                sent = 0
            if sent == len(data):
                return True
            self._stream.write(memoryview(data)[sent:])
            return False
        self._stream.write(data)
        return False

    def buffered(self) -> int:
        """Bytes queued in Tornado, not yet taken by the socket."""
        return self._buffer._size


def write(stream: IOStream, data: bytes) -> bool:
    """``SocketWriter.write`` for a stream written to now and then (a worker's socket)."""
    if stream.socket is None:  # closed: Tornado drops the socket, then the buffer
        raise StreamClosedError()
    return SocketWriter(stream).write(data)


def buffered(stream: IOStream) -> int:
    """Bytes queued in Tornado for this stream, not yet taken by the socket (none once closed)."""
    buffer = stream._write_buffer
    return buffer._size if buffer is not None else 0
