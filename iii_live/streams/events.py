"""Stream events: the iii wrapper message, built once and serialized once (spec §1.4).

An ``Event`` is what every subscriber receives. WebSocket transports write ``frame`` (the
exact JSON text frame of the iii engine); in-process subscribers read ``message`` (the same
wrapper as a dict). Both are computed at most once, however many subscribers there are.
"""

from __future__ import annotations

import time
from typing import Any

from .. import codec

SYNC, CREATE, UPDATE, DELETE, EVENT, UNAUTHORIZED = (
    "sync",
    "create",
    "update",
    "delete",
    "event",
    "unauthorized",
)


class Event:
    """One ``{"type":"stream", ...}`` wrapper message for ``(stream_name, group_id[, id])``."""

    __slots__ = (
        "stream_name",
        "group_id",
        "item_id",
        "timestamp",
        "kind",
        "data",
        "custom_type",
        "_data_json",
        "_frame",
        "_ws_frame",
        "_message",
    )

    def __init__(
        self,
        stream_name: str,
        group_id: str,
        item_id: str | None,
        timestamp: int,
        kind: str,
        data: Any = None,
        *,
        data_json: bytes | None = None,
        custom_type: str | None = None,
    ) -> None:
        self.stream_name = stream_name
        self.group_id = group_id
        self.item_id = item_id
        self.timestamp = timestamp
        self.kind = kind
        self.data = data
        self.custom_type = custom_type
        self._data_json = data_json
        self._frame: bytes | None = None
        self._ws_frame: bytes | None = None
        self._message: dict[str, Any] | None = None

    @property
    def frame(self) -> bytes:
        """The wrapper as compact JSON bytes, field order as the Rust engine writes it."""
        if self._frame is None:
            self._frame = self._encode()
        return self._frame

    @property
    def ws_frame(self) -> bytes:
        """``frame`` as a complete unmasked WebSocket text frame (RFC 6455 §5.2).

        Every server-side connection without compression can be written these exact
        bytes, so the frame is built once per event, not once per subscriber.
        """
        if self._ws_frame is None:
            self._ws_frame = websocket_text_frame(self.frame)
        return self._ws_frame

    @property
    def message(self) -> dict[str, Any]:
        """The wrapper as a dict (shared by all in-process subscribers: do not mutate)."""
        if self._message is None:
            self._message = {
                "type": "stream",
                "timestamp": self.timestamp,
                "streamName": self.stream_name,
                "groupId": self.group_id,
                "id": self.item_id,
                "event": self._event_body(),
            }
        return self._message

    def _event_body(self) -> dict[str, Any]:
        if self.kind == EVENT:
            return {"type": EVENT, "event": {"type": self.custom_type, "data": self.data}}
        if self.kind == UNAUTHORIZED:
            return (
                {"type": UNAUTHORIZED} if self.data is None else {"type": UNAUTHORIZED, "reason": self.data}
            )
        return {"type": self.kind, "data": self.data}

    def _encode(self) -> bytes:
        dumps = codec.dumps
        if self.kind == UNAUTHORIZED:
            reason = b"" if self.data is None else b',"reason":' + dumps(self.data)
            body = b'{"type":"unauthorized"%b}' % reason
        else:
            data = self._data_json if self._data_json is not None else dumps(self.data)
            if self.kind == EVENT:
                body = b'{"type":"event","event":{"type":%b,"data":%b}}' % (
                    dumps(self.custom_type),
                    data,
                )
            else:
                body = b'{"type":"%b","data":%b}' % (self.kind.encode(), data)
        return b'{"type":"stream","timestamp":%d,"streamName":%b,"groupId":%b,"id":%b,"event":%b}' % (
            self.timestamp,
            dumps(self.stream_name),
            dumps(self.group_id),
            dumps(self.item_id),
            body,
        )

    @classmethod
    def from_message(cls, message: dict[str, Any], frame: bytes | None = None) -> Event:
        """Rebuild an event from a wrapper dict (e.g. one received over Redis pub/sub)."""
        body = message["event"]
        kind = body["type"]
        inner = (body.get("event") or {}) if kind == EVENT else body
        event = cls(
            message["streamName"],
            message["groupId"],
            message.get("id"),
            message["timestamp"],
            kind,
            inner.get("data"),
            custom_type=inner.get("type") if kind == EVENT else None,
        )
        event._frame = frame
        event._message = message
        return event

    def __repr__(self) -> str:
        return f"Event({self.kind} {self.stream_name}/{self.group_id}/{self.item_id} @{self.timestamp})"


class EventDraft:
    """A change event before storage decides its kind (create or update) and its data.

    Adapters complete it atomically with the write, so events are published in the
    order their writes happened: ``event()`` in Python, or ``frame_parts()`` for an
    adapter that assembles the frame next to the data (a Redis script).
    """

    __slots__ = ("stream_name", "group_id", "item_id", "timestamp")

    def __init__(self, stream_name: str, group_id: str, item_id: str, timestamp: int) -> None:
        self.stream_name = stream_name
        self.group_id = group_id
        self.item_id = item_id
        self.timestamp = timestamp

    def event(self, kind: str, data: Any, data_json: bytes | None = None) -> Event:
        return Event(
            self.stream_name, self.group_id, self.item_id, self.timestamp, kind, data, data_json=data_json
        )

    def frame_parts(self) -> tuple[bytes, bytes]:
        """``(head, middle)``: the frame is ``head + kind + middle + data_json + b"}}"``."""
        dumps = codec.dumps
        head = b'{"type":"stream","timestamp":%d,"streamName":%b,"groupId":%b,"id":%b,"event":{"type":"' % (
            self.timestamp,
            dumps(self.stream_name),
            dumps(self.group_id),
            dumps(self.item_id),
        )
        return head, b'","data":'


def websocket_text_frame(payload: bytes) -> bytes:
    """A final, unmasked text frame carrying ``payload``."""
    length = len(payload)
    if length < 126:
        header = bytes((0x81, length))
    elif length < 65536:
        header = bytes((0x81, 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + length.to_bytes(8, "big")
    return header + payload


class GroupClock:
    """Millisecond timestamps that strictly increase within each ``(stream, group)``.

    The iii engine stamps events with the wall clock; clients such as the motia item
    subscription drop an event whose timestamp is not newer than the last one, so two
    writes in the same millisecond would lose the second. Callers hold the engine's
    write lock.
    """

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], int] = {}

    def next(self, stream_name: str, group_id: str) -> int:
        key = (stream_name, group_id)
        now = time.time_ns() // 1_000_000
        last = self._last.get(key, 0)
        stamp = now if now > last else last + 1
        self._last[key] = stamp
        return stamp
