"""RFC 6455 rules that Tornado leaves to the application, enforced for every socket we serve.

A server must fail the connection (close code 1002, protocol error) when a client frame is
not masked (§5.1), or when a close frame carries a one-byte payload, a code that may not be
sent (1005, 1006, 1015, undefined ranges), or a reason that is not UTF-8 (§5.5.1, §7.4).
Tornado echoes such close codes and accepts unmasked frames, so its protocol class is
narrowed here. This reaches into Tornado's ``WebSocketProtocol13``: see ``tornado_internals``.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any, cast

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketHandler, WebSocketProtocol, WebSocketProtocol13, _WebSocketParams

log = logging.getLogger("iii_live.server")

PROTOCOL_ERROR = 1002
CLOSE = 0x8
MASKED = 0x80
FRAMES_PER_TURN = 64
"""Frames read from one client before the loop serves others."""


def valid_close_payload(data: bytes) -> bool:
    """A close frame's payload: empty, or a sendable code and a UTF-8 reason."""
    if not data:
        return True
    if len(data) == 1:
        return False
    (code,) = struct.unpack(">H", data[:2])
    if not (code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        return False
    try:
        data[2:].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class StrictWebSocketProtocol(WebSocketProtocol13):
    """Tornado's protocol, failing what RFC 6455 says a server must fail.

    The frame loop is this class's own: it waits for each frame's first two bytes itself
    and checks the mask bit there, then lets Tornado read the rest of the frame (handed
    those two bytes first). An idle connection thus waits in this loop alone, not inside
    Tornado's frame reader: about 2 KB less per connection.
    """

    _header: bytes | None = None
    _reading: asyncio.Task[None] | None = None

    async def _receive_frame_loop(self) -> None:
        """Called last by Tornado's upgrade, which awaits it: the frames are read in a task of
        their own instead, so the upgrade's coroutines (the request's, the handler's ``get``,
        Tornado's accept) end, and an open socket holds one coroutine, not six."""
        self._reading = asyncio.ensure_future(self._read_frames())

    async def _read_frames(self) -> None:
        try:
            frames = 0
            while not self.client_terminated:
                header = await self.stream.read_bytes(2)
                self._wire_bytes_in += 2
                if not header[1] & MASKED:
                    self._fail("client frames must be masked")
                self._header = header
                await self._receive_frame()
                frames += 1
                if frames % FRAMES_PER_TURN == 0:  # a client sending without pause shares the loop
                    await asyncio.sleep(0)
        except StreamClosedError:
            self._abort()
        except asyncio.CancelledError:
            self._abort()
            raise
        except Exception:  # Tornado's upgrade would have caught it: the socket goes, the engine stays
            log.exception("reading a WebSocket failed")
            self._abort()
        finally:
            self._reading = None
            self.handler.on_ws_connection_close(self.close_code, self.close_reason)

    async def _read_bytes(self, n: int) -> bytes:
        header = self._header
        if header is not None:  # the frame reader's first read: the header read above
            self._header = None
            return header
        data = await self.stream.read_bytes(n)
        self._wire_bytes_in += n
        return data

    def _handle_message(self, opcode: int, data: bytes) -> Any:
        if opcode == CLOSE and not valid_close_payload(data):
            self._fail("invalid close frame")
        return super()._handle_message(opcode, data)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        cast(StrictWebSocketHandler, self.handler).stop_writing()  # nothing may follow the close frame
        super().close(code, reason)

    def _abort(self) -> None:
        cast(StrictWebSocketHandler, self.handler).stop_writing()
        super()._abort()

    def _fail(self, reason: str) -> None:
        log.info("closing a WebSocket with %d: %s", PROTOCOL_ERROR, reason)
        self.close(PROTOCOL_ERROR, reason)
        self._abort()
        raise StreamClosedError(real_error=None)


class StrictWebSocketHandler(WebSocketHandler):
    """A WebSocketHandler speaking ``StrictWebSocketProtocol``."""

    def stop_writing(self) -> None:
        """No frame may be written any more: a close frame is going out, or the connection
        broke. A handler with a write path of its own stops it here."""

    def get_websocket_protocol(self) -> WebSocketProtocol | None:
        if self.request.headers.get("Sec-WebSocket-Version") != "13":
            return None
        params = _WebSocketParams(
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            max_message_size=self.max_message_size,
            compression_options=self.get_compression_options(),
        )
        return StrictWebSocketProtocol(self, False, params)
