"""Decoding and validation of ``stream::*`` payloads (spec §2).

Every failure is an ``InvocationError`` with code ``deserialization_error`` whose message
names the offending field, as the iii engine's serde errors do. The decoded inputs are
plain (not frozen) slots classes: one is built on every call's path, and a frozen one
costs three times as much to build.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvocationError, deserialization_error
from ..limits import DEFAULT_LIMITS, Limits
from .update_ops import I64_MAX, I64_MIN, OP_TYPES, UpdateOp


@dataclass(slots=True)
class ItemRef:
    stream_name: str
    group_id: str
    item_id: str


@dataclass(slots=True)
class GroupRef:
    stream_name: str
    group_id: str


@dataclass(slots=True)
class SetInput:
    stream_name: str
    group_id: str
    item_id: str
    data: Any


@dataclass(slots=True)
class SendInput:
    stream_name: str
    group_id: str
    type: str
    data: Any
    id: str | None


@dataclass(slots=True)
class UpdateInput:
    stream_name: str
    group_id: str
    item_id: str
    ops: list[UpdateOp]


_MISSING = object()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value[:40]}"'
    if isinstance(value, list):
        return "sequence"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


class _Reader:
    """Reads typed fields out of one payload, raising errors that name the field."""

    def __init__(self, function_id: str, payload: Any, limits: Limits) -> None:
        if not isinstance(payload, dict):
            raise deserialization_error(
                function_id, f"invalid type: {_json_type(payload)}, expected an object"
            )
        self.function_id = function_id
        self.payload = payload
        self.limits = limits

    def fail(self, reason: str) -> InvocationError:
        return deserialization_error(self.function_id, reason)

    def any(self, field: str) -> Any:
        value = self.payload.get(field, _MISSING)
        if value is _MISSING:
            raise self.fail(f"missing field `{field}`")
        return value

    def string(self, field: str, value: Any = _MISSING) -> str:
        if value is _MISSING:
            value = self.any(field)
        if not isinstance(value, str):
            raise self.fail(f"invalid type for `{field}`: {_json_type(value)}, expected a string")
        return value

    def name(self, field: str) -> str:
        value = self.string(field)
        check_name(field, value, self.fail, self.limits.max_name_length)
        return value

    def optional_name(self, field: str) -> str | None:
        value = self.payload.get(field)
        if value is None:
            return None
        value = self.string(field, value)
        check_name(field, value, self.fail, self.limits.max_name_length)
        return value


def check_name(field: str, value: str, fail: Any, max_length: int) -> None:
    """Names are 1..max_length characters without control characters (C0, DEL and C1) or
    unpaired surrogates (which have no UTF-8 form, so no JSON form either)."""
    if not value:
        raise fail(f"`{field}` must not be empty")
    if len(value) > max_length:
        raise fail(
            f"`{field}` is {len(value)} characters long; the maximum is {max_length} (max_name_length)"
        )
    if not value.isprintable():
        categories = {unicodedata.category(ch) for ch in value}
        if "Cc" in categories:
            raise fail(f"`{field}` contains control characters")
        if "Cs" in categories:
            raise fail(f"`{field}` contains unpaired surrogates")


def item_ref(function_id: str, payload: Any, limits: Limits = DEFAULT_LIMITS) -> ItemRef:
    r = _Reader(function_id, payload, limits)
    return ItemRef(r.name("stream_name"), r.name("group_id"), r.name("item_id"))


def group_ref(function_id: str, payload: Any, limits: Limits = DEFAULT_LIMITS) -> GroupRef:
    r = _Reader(function_id, payload, limits)
    return GroupRef(r.name("stream_name"), r.name("group_id"))


def stream_name(function_id: str, payload: Any, limits: Limits = DEFAULT_LIMITS) -> str:
    return _Reader(function_id, payload, limits).name("stream_name")


def list_all_input(function_id: str, payload: Any) -> None:
    if payload is not None:
        _Reader(function_id, payload, DEFAULT_LIMITS)


def item_ids(function_id: str, ids: Sequence[Any], limits: Limits = DEFAULT_LIMITS) -> None:
    """Check the item ids of a bulk write: the common case in a few passes in C."""
    n = limits.max_name_length
    if not ids or (
        all(type(item_id) is str for item_id in ids)
        and min(map(len, ids)) > 0
        and max(map(len, ids)) <= n
        and "".join(ids).isprintable()
    ):
        return

    def fail(reason: str) -> InvocationError:
        return deserialization_error(function_id, reason)

    for index, item_id in enumerate(ids):
        field = f"item_ids[{index}]"
        if not isinstance(item_id, str):
            raise fail(f"invalid type for `{field}`: {_json_type(item_id)}, expected a string")
        check_name(field, item_id, fail, n)


VIEWS_STREAM_SUFFIX = "~views"
"""Streams named ``<stream>~views`` hold the rows of views over ``<stream>`` (``views.spec``)."""
LAYOUT_STREAM = "iii-live~dashboards"
"""The stream whose group ``<name>`` holds a published dashboard's layout (``dashboards``)."""


def writable_stream(function_id: str, stream_name: str) -> None:
    """Refuse a write to a stream the engine writes itself: the rows of views (a row written
    from elsewhere would be wrong until the view next changes it, or outlive the view) and
    the layouts of dashboards (a layout written from elsewhere would change what every
    viewer of a published dashboard sees)."""
    if stream_name.endswith(VIEWS_STREAM_SUFFIX):
        raise deserialization_error(
            function_id, f"`stream_name` {stream_name!r} holds the rows of views: only views write to it"
        )
    if stream_name == LAYOUT_STREAM:
        raise deserialization_error(
            function_id,
            f"`stream_name` {stream_name!r} holds the layouts of dashboards: only publish() writes to it",
        )


def plain_item_names(stream: Any, group: Any, item: Any, max_length: int) -> bool:
    """Whether an item's three names are texts of 1..max_length printable characters: what
    almost every write has, checked in a few C operations (anything else takes the full
    check, which names what is wrong)."""
    return (
        type(stream) is str
        and type(group) is str
        and type(item) is str
        and 0 < len(stream) <= max_length
        and 0 < len(group) <= max_length
        and 0 < len(item) <= max_length
        and (stream + group + item).isprintable()
    )


def set_input(function_id: str, payload: Any, limits: Limits = DEFAULT_LIMITS) -> SetInput:
    if type(payload) is dict:  # fast path for the hottest call; errors take the full path
        stream: Any = payload.get("stream_name")
        group: Any = payload.get("group_id")
        item: Any = payload.get("item_id")
        if plain_item_names(stream, group, item, limits.max_name_length) and "data" in payload:
            return SetInput(stream, group, item, payload["data"])
    r = _Reader(function_id, payload, limits)
    return SetInput(r.name("stream_name"), r.name("group_id"), r.name("item_id"), r.any("data"))


def send_input(function_id: str, payload: Any, limits: Limits = DEFAULT_LIMITS) -> SendInput:
    r = _Reader(function_id, payload, limits)
    event_type = r.string("type")
    if len(event_type) > limits.max_payload_bytes:  # characters: at least as many bytes
        raise r.fail(
            f"`type` is {len(event_type)} characters long; the limit is {limits.max_payload_bytes} "
            "(max_payload_bytes)"
        )
    return SendInput(
        r.name("stream_name"), r.name("group_id"), event_type, r.any("data"), r.optional_name("id")
    )


def update_input(function_id: str, payload: Any, limits: Limits = DEFAULT_LIMITS) -> UpdateInput:
    r = _Reader(function_id, payload, limits)
    ref = (r.name("stream_name"), r.name("group_id"), r.name("item_id"))
    raw_ops = r.any("ops")
    if not isinstance(raw_ops, list):
        raise r.fail(f"invalid type for `ops`: {_json_type(raw_ops)}, expected a sequence")
    ops = [_update_op(r, index, raw) for index, raw in enumerate(raw_ops)]
    return UpdateInput(*ref, ops)


def _update_op(r: _Reader, index: int, raw: Any) -> UpdateOp:
    where = f"ops[{index}]"
    if not isinstance(raw, dict):
        raise r.fail(f"invalid type for `{where}`: {_json_type(raw)}, expected an object")
    op_type = raw.get("type", _MISSING)
    if op_type is _MISSING:
        raise r.fail(f"missing field `{where}.type`")
    if not isinstance(op_type, str) or op_type not in OP_TYPES:
        raise r.fail(
            f"unknown variant `{op_type}` for `{where}.type`, expected one of "
            + ", ".join(f"`{t}`" for t in sorted(OP_TYPES))
        )
    path = raw.get("path")
    if op_type in ("set", "increment", "decrement", "remove"):
        if "path" not in raw:
            raise r.fail(f"missing field `{where}.path`")
        r.string(f"{where}.path", path)
    elif path is not None and not isinstance(path, str):
        if not isinstance(path, list) or not all(isinstance(s, str) for s in path):
            raise r.fail(
                f"invalid type for `{where}.path`: {_json_type(path)}, "
                "expected a string or a sequence of strings"
            )
    if op_type in ("increment", "decrement"):
        by = raw.get("by", _MISSING)
        if by is _MISSING:
            raise r.fail(f"missing field `{where}.by`")
        if not isinstance(by, int) or isinstance(by, bool) or not I64_MIN <= by <= I64_MAX:
            raise r.fail(f"invalid type for `{where}.by`: {_json_type(by)}, expected i64")
        return UpdateOp(op_type, path, None, by)
    if op_type in ("merge", "append") and "value" not in raw:
        raise r.fail(f"missing field `{where}.value`")
    return UpdateOp(op_type, path, raw.get("value"))
