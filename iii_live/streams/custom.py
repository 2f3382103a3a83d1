"""Custom streams: a Python object serves one stream name instead of the adapter (spec §5).

``engine.create_stream(name, adapter)`` registers the functions ``stream::get(name)``,
``stream::set(name)``, ... exactly as ``iii.helpers.create_stream`` does from a worker, so
the stream module routes to either the same way. Methods may be sync or async and take
one input object (``input.group_id`` or ``input["group_id"]``, the shape of iii's
``IStream``), keyword arguments named after the input fields (``group_id, item_id``), or
positional ones in that order (``def set(self, group, item, value)``, with or without a
leading stream name).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..functions import FunctionRegistry, then

OPS = ("get", "set", "delete", "list", "list_groups", "update")
_FIELDS = frozenset({"stream_name", "group_id", "item_id", "data", "ops"})
_POSITIONAL = {
    "get": ("group_id", "item_id"),
    "set": ("group_id", "item_id", "data"),
    "delete": ("group_id", "item_id"),
    "list": ("group_id",),
    "list_groups": (),
    "update": ("group_id", "item_id", "ops"),
}
"""Field order for methods with their own parameter names (``def get(self, group, item)``)."""
_INPUT_NAMES = frozenset({"input", "inp", "request", "req", "payload", "params", "args"})
"""A single parameter with one of these names receives the whole input object."""


def custom_function_id(op: str, stream_name: str) -> str:
    return f"stream::{op}({stream_name})"


def custom_stream_names(functions: FunctionRegistry) -> list[str]:
    """Streams served by custom functions (those with a ``stream::list_groups(name)``)."""
    prefix, suffix = "stream::list_groups(", ")"
    return [
        function_id[len(prefix) : -len(suffix)]
        for function_id in functions.ids()
        if function_id.startswith(prefix) and function_id.endswith(suffix)
    ]


class StreamInput(dict):
    """A payload readable as a dict or through attributes, like iii's pydantic inputs."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def handlers_for(adapter: Any) -> dict[str, Callable[[Any], Any]]:
    """One handler per op the adapter implements; ``get``..``list_groups`` are required."""
    missing = [op for op in OPS[:-1] if not callable(getattr(adapter, op, None))]
    if missing:
        raise TypeError(
            f"a custom stream adapter needs methods {', '.join(OPS[:-1])}; "
            f"{type(adapter).__name__} lacks {', '.join(missing)}"
        )
    return {op: _handler(op, getattr(adapter, op)) for op in OPS if callable(getattr(adapter, op, None))}


def _handler(op: str, method: Callable[..., Any]) -> Callable[[Any], Any]:
    params = [
        p
        for p in inspect.signature(method).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.default is p.empty
    ]
    names = [p.name for p in params]
    order = _POSITIONAL[op]
    if all(name in _FIELDS for name in names):

        def call(payload: Any) -> Any:
            return method(**{name: payload.get(name) for name in names})
    elif len(names) in (len(order), len(order) + 1) and not (len(names) == 1 and names[0] in _INPUT_NAMES):
        fields = order if len(names) == len(order) else ("stream_name", *order)

        def call(payload: Any) -> Any:
            return method(*(payload.get(name) for name in fields))
    else:

        def call(payload: Any) -> Any:
            return method(StreamInput(payload))

    return lambda payload: then(call(payload), _plain)


def _plain(result: Any) -> Any:
    """Results may be pydantic models (iii's ``StreamSetResult``): return plain JSON."""
    dump = getattr(result, "model_dump", None)
    return dump() if callable(dump) else result
