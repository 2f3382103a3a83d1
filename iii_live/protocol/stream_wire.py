"""The iii stream wrapper message: the one place that writes and reads it (spec §1.3, §1.4).

Server to client, every message is
``{"type":"stream","timestamp":ms,"streamName":..,"groupId":..,"id":..,"event":{..}}``
with the keys in the Rust engine's order; client to server, ``join`` and ``leave``.

An ``Event`` is one wrapper message. It is serialized at most once, however many
subscribers receive it: WebSocket transports write ``frame`` (plus whatever framing they
cache in ``transport_frame``), in-process subscribers read ``message``. Redis scripts build
the same bytes from ``frame_parts`` (golden tests hold them equal).

Clients that opt in to resuming (an iii-live extension) receive ``resume_frame`` instead:
the same wrapper with ``seq`` and ``epoch`` after ``timestamp`` (the event's place in its
group's history), and, on the first frame of a resumed subscription, ``recovered``.
"""

from __future__ import annotations

from dataclasses import dataclass
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
CHANGE_KINDS = frozenset({CREATE, UPDATE, DELETE})
"""Events that change stored state (the others: ``sync``, ``event``, ``unauthorized``)."""
RESUMED = "iii-live:resumed"
"""The custom type of the ``event`` that tells a resumed subscription its missed events follow."""


class Event:
    """One wrapper message for ``(stream_name, group_id[, item_id])``."""

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
        "_message",
        "transport_frame",
        "seq",
        "epoch",
        "recovered",
        "_resume_frame",
        "transport_resume_frame",
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
        """The value (create/update/sync), the old value (delete), the payload (event),
        or the reason (unauthorized, optional)."""
        self.custom_type = custom_type
        """The ``type`` of a ``stream::send`` event."""
        self._data_json = data_json
        self._frame: bytes | None = None
        self._message: dict[str, Any] | None = None
        self.transport_frame: bytes | None = None
        """``frame`` as a transport writes it (a WebSocket text frame), built once by it."""
        self.seq: int | None = None
        """The event's place in its group's history (a sync: the last event it holds)."""
        self.epoch: str | None = None
        """Names the history ``seq`` counts in; a new one means that history was lost."""
        self.recovered: bool | None = None
        """On the first frame of a resumed subscription: whether its missed events follow."""
        self._resume_frame: bytes | None = None
        self.transport_resume_frame: bytes | None = None
        """``resume_frame`` as a transport writes it."""

    @property
    def frame(self) -> bytes:
        """The wrapper as compact JSON bytes, keys in the Rust engine's order."""
        if self._frame is None:
            self._frame = encode(self)
        return self._frame

    @property
    def resume_frame(self) -> bytes:
        """The wrapper with ``seq``, ``epoch`` (and ``recovered``), for clients that resume."""
        if self._resume_frame is None:
            self._resume_frame = encode(self, resumable=True)
        return self._resume_frame

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
                "event": _event_body(self),
            }
        return self._message

    def __repr__(self) -> str:
        return f"Event({self.kind} {self.stream_name}/{self.group_id}/{self.item_id} @{self.timestamp})"


def encode(event: Event, *, resumable: bool = False) -> bytes:
    """The wrapper frame of ``event``, byte for byte as the iii engine writes it, or with its
    place in the group's history when ``resumable``."""
    dumps = codec.dumps
    kind = event.kind
    if kind == UNAUTHORIZED:
        reason = b"" if event.data is None else b',"reason":' + dumps(event.data)
        body = b'{"type":"unauthorized"%b}' % reason
    else:
        data = event._data_json if event._data_json is not None else dumps(event.data)
        if kind == EVENT:
            body = b'{"type":"event","event":{"type":%b,"data":%b}}' % (dumps(event.custom_type), data)
        else:
            body = b'{"type":"%b","data":%b}' % (kind.encode(), data)
    history = _history(event) if resumable else b""
    return _head(event.timestamp, event.stream_name, event.group_id, event.item_id, history) + body + b"}"


def _history(event: Event) -> bytes:
    """``,"seq":N,"epoch":"E"[,"recovered":b]`` (nothing when the event has no place in one)."""
    if event.seq is None:
        return b""
    part = b',"seq":%d,"epoch":%b' % (event.seq, codec.dumps(event.epoch))
    if event.recovered is not None:
        part += b',"recovered":true' if event.recovered else b',"recovered":false'
    return part


def _head(
    timestamp: int, stream_name: str, group_id: str, item_id: str | None, history: bytes = b""
) -> bytes:
    dumps = codec.dumps
    return b'{"type":"stream","timestamp":%d%b,"streamName":%b,"groupId":%b,"id":%b,"event":' % (
        timestamp,
        history,
        dumps(stream_name),
        dumps(group_id),
        dumps(item_id),
    )


def _event_body(event: Event) -> dict[str, Any]:
    if event.kind == EVENT:
        return {"type": EVENT, "event": {"type": event.custom_type, "data": event.data}}
    if event.kind == UNAUTHORIZED:
        if event.data is None:
            return {"type": UNAUTHORIZED}
        return {"type": UNAUTHORIZED, "reason": event.data}
    return {"type": event.kind, "data": event.data}


def decode(raw: bytes) -> Event:
    """An event from a wrapper frame (one received over Redis pub/sub); ``ValueError`` if not one.

    The frame is kept as received, so it is forwarded byte for byte.
    """
    try:
        message = codec.loads(raw)
        body = message["event"]
        kind = body["type"]
        inner = (body.get("event") or {}) if kind == EVENT else body
        event = Event(
            message["streamName"],
            message["groupId"],
            message.get("id"),
            message["timestamp"],
            kind,
            inner.get("reason") if kind == UNAUTHORIZED else inner.get("data"),
            custom_type=inner.get("type") if kind == EVENT else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a stream wrapper frame: {exc}") from None
    if not isinstance(event.stream_name, str) or not isinstance(event.group_id, str):
        raise ValueError("a stream wrapper frame needs string streamName and groupId")
    event._frame = raw
    event._message = message
    return event


class EventDraft:
    """A change before storage decides its kind (create or update) and its data.

    Adapters complete it atomically with the write, so events are published in the order
    their writes happened: ``event()`` in Python, or ``frame_parts()`` for an adapter that
    assembles the frame next to the data (a Redis script).
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
        head = _head(self.timestamp, self.stream_name, self.group_id, self.item_id) + b'{"type":"'
        return head, b'","data":'


# -- client to server -----------------------------------------------------------------

JOIN, LEAVE = "join", "leave"


@dataclass(frozen=True, slots=True)
class ClientMessage:
    """``{"type":"join"|"leave","data":{"subscriptionId","streamName","groupId","id"?}}``."""

    type: str
    subscription_id: str
    stream_name: str
    group_id: str
    item_id: str | None = None
    data: dict[str, Any] | None = None
    """The whole ``data`` object, for extensions that ride on a join."""


def decode_client_message(raw: str | bytes) -> ClientMessage:
    """Parse a client frame; raises ``ValueError`` naming what is wrong.

    Names are not checked here: a join with names out of bounds is answered, not ignored.
    """
    if isinstance(raw, str):
        raw = raw.encode()
    if not raw.strip():
        raise ValueError("empty frame")
    try:
        message = codec.loads(raw)
    except (codec.JSONDecodeError, RecursionError):
        raise ValueError("frame is not valid JSON") from None
    if not isinstance(message, dict):
        raise ValueError("frame is not a JSON object")
    kind = message.get("type")
    if kind not in (JOIN, LEAVE):
        raise ValueError(f"unknown message type {kind!r}")
    data: Any = message.get("data")
    if not isinstance(data, dict):
        raise ValueError("`data` must be an object")
    fields = []
    for key in ("subscriptionId", "streamName", "groupId"):
        value = data.get(key)
        if not isinstance(value, str):
            raise ValueError(f"`data.{key}` must be a string")
        fields.append(value)
    item_id = data.get("id")
    if item_id is not None and not isinstance(item_id, str):
        raise ValueError("`data.id` must be a string or null")
    return ClientMessage(kind, fields[0], fields[1], fields[2], item_id, data)
