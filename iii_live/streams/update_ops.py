"""``stream::update`` operations, applied as the iii engine applies them (spec §2.9).

Pure functions over JSON values: ``apply_update_ops(old_value, ops)`` returns the new value
and the per-op errors. A failing op is skipped and reported; the others still apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import codec
from ..codec import nesting_depth

DOC_URL = "https://iii.dev/docs/workers/iii-state#error-codes"
MAX_PATH_DEPTH = 32
MAX_SEGMENT_BYTES = 256
MAX_MERGE_KEYS = 1024
MAX_MERGE_DEPTH = 16
FORBIDDEN_SEGMENTS = frozenset({"__proto__", "constructor", "prototype"})
I64_MIN, I64_MAX, U64_MAX = -(2**63), 2**63 - 1, 2**64 - 1

MISSING: Any = object()
"""Marks an item that does not exist yet (distinct from a stored JSON ``null``)."""


@dataclass(frozen=True, slots=True)
class UpdateOp:
    """One decoded op. ``path`` is a string or a list of segments, or None when absent."""

    type: str
    path: Any = None
    value: Any = None
    by: int = 0


class _OpFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message


def apply_update_ops(old_value: Any, ops: list[UpdateOp]) -> tuple[Any, list[dict[str, Any]]]:
    """Apply ``ops`` to ``old_value`` (``MISSING`` when the item does not exist).

    Returns ``(new_value, errors)``. ``old_value`` is modified in place and op values are
    linked into the result, so pass private copies (storage decodes a fresh value per call).
    """
    missing = old_value is MISSING
    current: Any = {} if missing else old_value
    errors: list[dict[str, Any]] = []
    for index, op in enumerate(ops):
        try:
            current = _APPLY[op.type](current, op, missing)
        except _OpFailed as failure:
            errors.append(
                {
                    "op_index": index,
                    "code": failure.code,
                    "message": failure.message,
                    "doc_url": DOC_URL,
                }
            )
    return current, errors


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _segments(op_name: str, path: Any) -> list[str]:
    """Validate a path and return its literal segments ([] means the root)."""
    if path is None or path == "":
        segments: list[str] = []
    elif isinstance(path, str):
        segments = [path]
    else:
        segments = list(path)
    if len(segments) > MAX_PATH_DEPTH:
        raise _OpFailed(
            f"{op_name}.path.too_deep",
            f"Path has {len(segments)} segments; the maximum is {MAX_PATH_DEPTH}.",
        )
    for segment in segments:
        if not isinstance(segment, str) or segment == "":
            raise _OpFailed(f"{op_name}.path.empty_segment", "Path contains an empty segment.")
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise _OpFailed(
                f"{op_name}.path.segment_too_long",
                f"Path segment is longer than {MAX_SEGMENT_BYTES} bytes.",
            )
        if segment in FORBIDDEN_SEGMENTS:
            raise _OpFailed(
                f"{op_name}.path.proto_polluted",
                f"Path segment '{segment}' is not allowed.",
            )
    return segments


def _label(segments: list[str]) -> str:
    if not segments:
        return "root"
    if len(segments) == 1:
        return segments[0]
    return "[" + ", ".join(segments) + "]"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _add(op_name: str, label: str, target: Any, by: int) -> Any:
    if not _is_number(target):
        raise _OpFailed(
            f"{op_name}.not_number", f"Expected number at path '{label}', got {type_name(target)}."
        )
    if isinstance(target, int):
        total = target + by
        if I64_MIN <= total <= U64_MAX:
            return total
        raise _OpFailed(
            f"{op_name}.not_number", f"Expected number at path '{label}', got a number out of range."
        )
    return float(target) + by


def _apply_set(current: Any, op: UpdateOp, missing: bool) -> Any:
    segments = _segments("set", op.path)
    if not segments:
        return op.value
    if not isinstance(current, dict):
        raise _OpFailed(
            "set.target_not_object",
            f"Cannot set at path '{_label(segments)}': target is {type_name(current)}, expected object.",
        )
    current[segments[0]] = op.value
    return current


def _check_merge_value(value: Any) -> None:
    if not isinstance(value, dict):
        raise _OpFailed(
            "merge.value.not_an_object",
            f"Merge value must be an object, got {type_name(value)}.",
        )
    if len(value) > MAX_MERGE_KEYS:
        raise _OpFailed(
            "merge.value.too_many_keys",
            f"Merge value has {len(value)} keys; the maximum is {MAX_MERGE_KEYS}.",
        )
    for key in value:
        if key in FORBIDDEN_SEGMENTS:
            raise _OpFailed("merge.value.proto_polluted", f"Merge key '{key}' is not allowed.")
    if nesting_depth(value) > MAX_MERGE_DEPTH:
        raise _OpFailed(
            "merge.value.too_deep",
            f"Merge value is nested deeper than {MAX_MERGE_DEPTH} levels.",
        )


def _walk_objects(current: Any, segments: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Walk ``segments`` from ``current``, replacing any non-object on the way with ``{}``.

    Returns ``(root, parent_of_last_segment)``.
    """
    root = current if isinstance(current, dict) else {}
    node = root
    for segment in segments[:-1]:
        child = node.get(segment)
        if not isinstance(child, dict):
            child = {}
            node[segment] = child
        node = child
    return root, node


def _apply_merge(current: Any, op: UpdateOp, missing: bool) -> Any:
    segments = _segments("merge", op.path)
    _check_merge_value(op.value)
    if not segments:
        if isinstance(current, dict):
            current.update(op.value)
        return current
    root, parent = _walk_objects(current, segments)
    target = parent.get(segments[-1])
    if not isinstance(target, dict):
        target = {}
        parent[segments[-1]] = target
    target.update(op.value)
    return root


def _apply_step(op_name: str, sign: int, current: Any, op: UpdateOp, missing: bool) -> Any:
    segments = _segments(op_name, op.path)
    delta = sign * op.by
    if not segments:
        if missing:
            return delta
        return _add(op_name, "root", current, delta)
    label = _label(segments)
    if not isinstance(current, dict):
        raise _OpFailed(
            f"{op_name}.target_not_object",
            f"Cannot {op_name} at path '{label}': target is {type_name(current)}, expected object.",
        )
    key = segments[0]
    current[key] = _add(op_name, label, current[key], delta) if key in current else delta
    return current


def _apply_increment(current: Any, op: UpdateOp, missing: bool) -> Any:
    return _apply_step("increment", 1, current, op, missing)


def _apply_decrement(current: Any, op: UpdateOp, missing: bool) -> Any:
    return _apply_step("decrement", -1, current, op, missing)


def _initial(value: Any) -> Any:
    return value if isinstance(value, str) else [value]


def _append_to(label: str, target: Any, value: Any) -> Any:
    if isinstance(target, list):
        target.append(value)
        return target
    if isinstance(target, str) and isinstance(value, str):
        return target + value
    if target is None:
        return _initial(value)
    raise _OpFailed(
        "append.type_mismatch",
        f"Cannot append at path '{label}': target is {type_name(target)}, "
        "expected array, string, null, or missing field.",
    )


def _apply_append(current: Any, op: UpdateOp, missing: bool) -> Any:
    segments = _segments("append", op.path)
    value = op.value
    label = _label(segments)
    if not segments:
        return _append_to(label, None if missing else current, value)
    if not isinstance(current, dict):
        raise _OpFailed(
            "append.target_not_object",
            f"Cannot append at path '{label}': target is {type_name(current)}, expected object.",
        )
    root, parent = _walk_objects(current, segments)
    leaf = segments[-1]
    if leaf in parent:
        parent[leaf] = _append_to(label, parent[leaf], value)
    else:
        parent[leaf] = _initial(value) if len(segments) == 1 else [value]
    return root


def _apply_remove(current: Any, op: UpdateOp, missing: bool) -> Any:
    segments = _segments("remove", op.path)
    if not segments:
        return None
    if not isinstance(current, dict):
        raise _OpFailed(
            "remove.target_not_object",
            f"Cannot remove at path '{_label(segments)}': target is {type_name(current)}, expected object.",
        )
    current.pop(segments[0], None)
    return current


_APPLY = {
    "set": _apply_set,
    "merge": _apply_merge,
    "increment": _apply_increment,
    "decrement": _apply_decrement,
    "append": _apply_append,
    "remove": _apply_remove,
}
OP_TYPES = frozenset(_APPLY)


def updated_value(
    stored: bytes | None, ops: list[UpdateOp], check: Callable[[Any, bytes], None] | None = None
) -> tuple[Any, Any, bytes, list[dict[str, Any]]]:
    """What an adapter stores for ``stream::update``, from the stored JSON bytes.

    Returns ``(old_value or MISSING, new_value, new_json, errors)``; ``check`` may refuse
    the new value before anything is written.
    """
    old = MISSING if stored is None else codec.loads(stored)
    working = MISSING if stored is None else codec.loads(stored)
    new_value, errors = apply_update_ops(working, ops)
    new_value, new_json = codec.normalize(new_value)
    if check is not None:
        check(new_value, new_json)
    return old, new_value, new_json, errors
