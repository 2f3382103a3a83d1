"""JSON encoding shared by storage, events and every transport.

One encoder for everything, so a value that was accepted at write time can always be
serialized again at fan-out time (orjson refuses nesting deeper than 254 levels on output,
so the same limit applies on input).

``orjson.dumps`` returns a bytes object that keeps an allocation of about 4 KB, however
short its JSON; ``dumps`` returns a right-sized copy, because its results are kept (in
storage, in events waiting for delivery). A million stored items would otherwise hold 4 GB.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_DUMPS_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

JSONDecodeError = orjson.JSONDecodeError
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


class EncodeError(ValueError):
    """A value cannot be represented as JSON."""


def dumps(value: Any) -> bytes:
    """Compact JSON bytes; numpy scalars, datetimes and non-string keys are converted."""
    try:
        return b"%b" % orjson.dumps(value, default=_default, option=_DUMPS_OPTIONS)
    except orjson.JSONEncodeError as exc:
        raise EncodeError(f"value is not JSON-serializable: {exc}") from None


def json_strings(strings: list[str]) -> list[bytes] | None:
    """Each string as JSON (as ``dumps`` gives it), in a few passes in C for many strings at
    once; None when one needs escaping (a quote, a backslash, a control character) or has no
    UTF-8 form, for the caller to encode them one by one."""
    if not strings:
        return []
    if _NEEDS_ESCAPE.search("".join(strings)):
        return None
    try:
        return ('"' + '"\x1f"'.join(strings) + '"').encode().split(b"\x1f")
    except UnicodeEncodeError:
        return None


loads = orjson.loads
"""JSON text to Python values (orjson's own function: the hottest call of reads and writes)."""


def normalize(value: Any) -> tuple[Any, bytes]:
    """Return ``(json_value, json_bytes)``: a private copy of ``value`` as plain JSON types.

    Storing the copy means later mutation of the caller's object cannot change stored
    state behind the engine's back.
    """
    encoded = dumps(value)
    return orjson.loads(encoded), encoded


def nesting_depth(value: Any) -> int:
    """How deeply objects and arrays nest in ``value`` (a scalar is 0, ``[1]`` is 1)."""
    deepest = 0
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, level + 1))
    return deepest


def _default(value: Any) -> Any:
    """Fallback for types orjson does not know: pandas/numpy values and sets."""
    isoformat = getattr(value, "isoformat", None)
    if isoformat is not None:
        return isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    item = getattr(value, "item", None)  # numpy scalars not covered by OPT_SERIALIZE_NUMPY
    if item is not None:
        return item()
    tolist = getattr(value, "tolist", None)
    if tolist is not None:
        return tolist()
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")
