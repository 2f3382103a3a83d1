"""Frames a client sends on the stream port: ``join`` and ``leave`` (spec §1.3).

``{"type":"join","data":{"subscriptionId":..,"streamName":..,"groupId":..,"id"?:..}}``.
Anything else (bad JSON, another type, a missing or ill-typed field) parses to ``None``
and is ignored, as the iii engine ignores it; the connection stays open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import codec
from .inputs import check_name

JOIN, LEAVE = "join", "leave"


@dataclass(frozen=True, slots=True)
class ClientMessage:
    type: str
    subscription_id: str
    stream_name: str
    group_id: str
    item_id: str | None = None


class _Invalid(ValueError):
    pass


def parse_client_message(raw: str | bytes) -> ClientMessage | None:
    try:
        return decode_client_message(raw)
    except _Invalid:
        return None


def decode_client_message(raw: str | bytes) -> ClientMessage:
    """Parse a frame; raises ``ValueError`` naming what is wrong."""
    if isinstance(raw, str):
        raw = raw.encode()
    if not raw.strip():
        raise _Invalid("empty frame")
    try:
        message = codec.loads(raw)
    except (codec.JSONDecodeError, RecursionError):
        raise _Invalid("frame is not valid JSON") from None
    if not isinstance(message, dict):
        raise _Invalid("frame is not a JSON object")
    kind = message.get("type")
    if kind not in (JOIN, LEAVE):
        raise _Invalid(f"unknown message type {kind!r}")
    data: Any = message.get("data")
    if not isinstance(data, dict):
        raise _Invalid("`data` must be an object")
    fields = []
    for key in ("subscriptionId", "streamName", "groupId"):
        value = data.get(key)
        if not isinstance(value, str):
            raise _Invalid(f"`data.{key}` must be a string")
        fields.append(value)
    item_id = data.get("id")
    if item_id is not None and not isinstance(item_id, str):
        raise _Invalid("`data.id` must be a string or null")
    check_names(fields[1], fields[2], item_id)
    return ClientMessage(kind, fields[0], fields[1], fields[2], item_id)


def check_names(stream_name: str, group_id: str, item_id: str | None) -> None:
    """Raise ``ValueError`` if a name is empty, too long or has control characters."""
    for key, value in (("streamName", stream_name), ("groupId", group_id), ("id", item_id)):
        if value is not None:
            check_name(key, value, _Invalid)
