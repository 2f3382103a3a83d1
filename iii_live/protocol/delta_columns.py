"""A widget delta as columns: numbers in binary buffers, the rest in one JSON value per column.

A delta of thousands of items as JSON costs the browser a parse per item and the kernel a
text encoding of every number; as columns it costs one typed-array view per numeric field.
The comm message's content is

    {"type": "delta", "seq", "runs": [run, ...], "deletes": [id, ...]}

where the runs, in the order the items changed, are

    {"ids": [id, ...], "columns": [[field, "f64" | "i32", buffer index] | [field, "json", [value, ...]], ...]}
        items that are objects with the same fields (in the first one's order: when every
        item of a delta has the same fields, they make one run); a column of numbers
        is a little-endian Float64 (or Int32, when every value is an integer that fits) array
        in the message's buffer of that index, any other column a list of values;
    {"ids": [id, ...], "values": [value, ...]}
        items that are not objects.
"""

from __future__ import annotations

import sys
from array import array
from operator import itemgetter
from typing import Any

F64, I32, JSON = "f64", "i32", "json"
EXACT_INT = 2**53
"""Integers beyond this are not exact as doubles: they go as JSON, as the browser parses them."""
INT32_CODE = next(code for code in "ilh" if array(code).itemsize == 4)
_OBJECTS = {dict}


def encode_delta(seq: int, upserts: dict[str, Any], deletes: list[str]) -> tuple[dict[str, Any], list[bytes]]:
    """``(content, buffers)`` of a delta message: the upserts, in order, as runs of columns."""
    runs: list[dict[str, Any]] = []
    buffers: list[bytes] = []
    ids = list(upserts)
    values = list(upserts.values())
    if values and set(map(type, values)) == _OBJECTS:
        run = _one_run(ids, values, buffers)
        if run is not None:  # the usual delta
            return {"type": "delta", "seq": seq, "runs": [run], "deletes": deletes}, buffers
    start = 0
    shape: tuple[str, ...] | None = None
    for index, value in enumerate(values):
        fields = tuple(value) if type(value) is dict else None
        if fields != shape or not index:
            if index:
                runs.append(_run(ids[start:index], values[start:index], shape, buffers))
            start, shape = index, fields
    if values:
        runs.append(_run(ids[start:], values[start:], shape, buffers))
    return {"type": "delta", "seq": seq, "runs": runs, "deletes": deletes}, buffers


def _one_run(ids: list[str], records: list[dict[str, Any]], buffers: list[bytes]) -> dict[str, Any] | None:
    """Objects that all have the first one's fields as one run, in passes in C; None if
    some differ (as many fields, each found in every object: the same fields)."""
    fields = tuple(records[0])
    if set(map(len, records)) != {len(fields)}:
        return None
    try:
        columns = [list(map(itemgetter(field), records)) for field in fields]
    except KeyError:
        return None
    return {"ids": ids, "columns": [_column(f, c, buffers) for f, c in zip(fields, columns, strict=True)]}


def _run(
    ids: list[str], values: list[Any], fields: tuple[str, ...] | None, buffers: list[bytes]
) -> dict[str, Any]:
    if fields is None:
        return {"ids": ids, "values": values}
    columns = [list(map(itemgetter(field), values)) for field in fields]
    return {"ids": ids, "columns": [_column(f, c, buffers) for f, c in zip(fields, columns, strict=True)]}


def _column(field: str, column: list[Any], buffers: list[bytes]) -> list[Any]:
    kinds = set(map(type, column))
    if not kinds or not kinds <= {int, float}:
        return [field, JSON, column]
    if kinds == {int}:
        try:
            return [field, I32, _buffer(array(INT32_CODE, column), buffers)]
        except OverflowError:  # beyond Int32
            if min(column) < -EXACT_INT or max(column) > EXACT_INT:
                return [field, JSON, column]
    return [field, F64, _buffer(array("d", column), buffers)]


def _buffer(numbers: array, buffers: list[bytes]) -> int:
    if sys.byteorder == "big":
        numbers.byteswap()
    buffers.append(numbers.tobytes())
    return len(buffers) - 1
