"""The socket fast path: RFC 6455 text frames and the Tornado internals it relies on."""

from __future__ import annotations

import asyncio
import socket

import pytest
from tornado.iostream import IOStream, StreamBufferFullError

from iii_live.server import fast_write, tornado_internals


@pytest.mark.parametrize(
    ("length", "header"),
    [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65535, b"\x81\x7e\xff\xff"),
        (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_text_frame_headers(length, header):
    frame = fast_write.text_frame(b"x" * length)
    assert frame == header + b"x" * length


def test_tornado_internals_are_what_the_servers_expect():
    """Fails loudly when a Tornado release changes what fast_write and websocket rely on."""

    async def check() -> None:
        tornado_internals.check()

    asyncio.run(check())


def test_writes_keep_their_order_through_a_full_socket_and_stop_at_the_buffer_cap():
    async def scenario() -> bytes:
        left, right = socket.socketpair()
        left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        stream = IOStream(left, max_write_buffer_size=200_000)
        chunks = [bytes([n]) * 10_000 for n in range(15)]
        for chunk in chunks:  # the socket takes a few KB; the rest queues in Tornado, in order
            fast_write.write(stream, chunk)
        assert fast_write.buffered(stream) > 0
        with pytest.raises(StreamBufferFullError):
            for _ in range(100):
                fast_write.write(stream, b"z" * 10_000)
        received = bytearray()
        right.setblocking(False)
        while len(received) < 150_000:
            await asyncio.sleep(0.001)
            try:
                received += right.recv(1 << 20)
            except BlockingIOError:
                pass
        stream.close()
        right.close()
        return bytes(received[:150_000])

    assert asyncio.run(scenario()) == b"".join(bytes([n]) * 10_000 for n in range(15))


def test_a_closed_stream_refuses_writes_and_holds_nothing():
    """Tornado drops the socket, then the write buffer, on close: a ping or an event may
    still reach the stream before the WebSocket hears of it."""

    async def scenario() -> None:
        left, right = socket.socketpair()
        stream = IOStream(left)
        stream.close()
        right.close()
        await asyncio.sleep(0)
        assert fast_write.buffered(stream) == 0
        with pytest.raises(fast_write.StreamClosedError):
            fast_write.write(stream, fast_write.text_frame(b"late"))

    asyncio.run(scenario())
