"""Custom streams: a Python object serves one stream name instead of the adapter (spec §5).

``engine.create_stream(name, adapter)`` registers the functions ``stream::get(name)``,
``stream::set(name)``, ... exactly as ``iii.helpers.create_stream`` does from a worker, so
the stream module routes to either the same way. Methods may be sync or async and take
either one input object (``input.group_id`` or ``input["group_id"]``, the shape of iii's
``IStream``) or keyword arguments named after the input fields (``group_id, item_id``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..functions import then

OPS = ("get", "set", "delete", "list", "list_groups", "update")
_FIELDS = frozenset({"stream_name", "group_id", "item_id", "data", "ops"})


def custom_function_id(op: str, stream_name: str) -> str:
    return f"stream::{op}({stream_name})"


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
    return {op: _handler(getattr(adapter, op)) for op in OPS if callable(getattr(adapter, op, None))}


def _handler(method: Callable[..., Any]) -> Callable[[Any], Any]:
    params = [
        p
        for p in inspect.signature(method).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    by_keyword = all(p.name in _FIELDS for p in params)
    names = [p.name for p in params]

    def handle(payload: Any) -> Any:
        if by_keyword:
            result = method(**{name: payload.get(name) for name in names})
        else:
            result = method(StreamInput(payload))
        return then(result, _plain)

    return handle


def _plain(result: Any) -> Any:
    """Results may be pydantic models (iii's ``StreamSetResult``): return plain JSON."""
    dump = getattr(result, "model_dump", None)
    return dump() if callable(dump) else result
