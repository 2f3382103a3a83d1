"""Frames a client sends on the stream port: ``join`` and ``leave`` (spec §1.3).

``{"type":"join","data":{"subscriptionId":..,"streamName":..,"groupId":..,"id"?:..}}``.
Anything else (bad JSON, another type, a missing or ill-typed field) raises ``ValueError``
saying what is wrong; the server ignores such frames, as the iii engine does, and the
connection stays open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import codec
from ..limits import Limits
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


def decode_client_message(raw: str | bytes) -> ClientMessage:
    """Parse a frame; raises ``ValueError`` naming what is wrong.

    Names are not checked here: a join with names out of bounds is answered (see
    ``check_names``), not ignored.
    """
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
    return ClientMessage(kind, fields[0], fields[1], fields[2], item_id)


def check_names(
    subscription_id: str, stream_name: str, group_id: str, item_id: str | None, limits: Limits
) -> None:
    """Raise ``ValueError`` if a name is empty, too long or has control characters."""
    named = (
        ("subscriptionId", subscription_id),
        ("streamName", stream_name),
        ("groupId", group_id),
        ("id", item_id),
    )
    for key, value in named:
        if value is not None:
            check_name(key, value, _Invalid, limits.max_name_length)
