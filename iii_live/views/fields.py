"""Reading the fields of items: dotted paths reach nested fields; absent is not null.

Items are JSON values. A field that an item lacks, or that sits under something other than
an object, reads as ``MISSING``; views treat it, and a JSON ``null``, as null.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .. import codec


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

Getter = Callable[[Any, Any], Any]
"""``get(item, computed)``: one field of an item (its value, or ``MISSING``); ``computed``
(the item's computed columns) is there so item fields and computed columns read alike."""

SCALARS = (str, int, float, bool)
INT_RANGE = (-(2**63), 2**64 - 1)
"""The integers JSON holds here (signed and unsigned 64-bit); others become floats."""


def path_getter(path: str) -> Getter:
    """A getter for ``path``: ``"price"``, or ``"quote.bid"`` for a nested field."""
    if "." not in path:

        def get(item: Any, computed: Any) -> Any:
            return item.get(path, MISSING) if type(item) is dict else MISSING

        return get
    parts = tuple(path.split("."))

    def get_nested(item: Any, computed: Any) -> Any:
        node = item
        for part in parts:
            if type(node) is not dict:
                return MISSING
            node = node.get(part, MISSING)
            if node is MISSING:
                return MISSING
        return node

    return get_nested


def put_path(row: dict[str, Any], path: str, value: Any) -> None:
    """Store ``value`` at ``path`` in ``row``, nesting dotted names as the item had them."""
    if "." not in path:
        row[path] = value
        return
    *parents, leaf = path.split(".")
    node = row
    for part in parents:
        child = node.get(part)
        if type(child) is not dict:
            child = node[part] = {}
        node = child
    node[leaf] = value


def json_number(value: Any) -> Any:
    """``value`` if JSON holds it; an integer beyond 64 bits as a float (null beyond that),
    a float that is not finite as null (as stored: a group key or a sort key that is nan
    would match nothing, not even itself)."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is not int or INT_RANGE[0] <= value <= INT_RANGE[1]:
        return value
    try:
        return float(value)
    except OverflowError:
        return None


def is_number(value: Any) -> bool:
    """JSON numbers (not booleans): what ``sum``, ``mean``, ``min`` and ``max`` take."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def hashable(value: Any) -> Any:
    """``value`` itself if it can key a dict, else its JSON text (objects and arrays)."""
    return value if isinstance(value, SCALARS) else codec.dumps(value)


def key_text(value: Any) -> str:
    """A group-by value as text for a row id: strings as they are, others as JSON."""
    if type(value) is str:
        return value
    if type(value) is bytes:  # an object or array, already as JSON text (see ``hashable``)
        return value.decode()
    return codec.dumps(value).decode()
