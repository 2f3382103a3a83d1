"""pandas in and out: a group as a DataFrame, and a DataFrame written as items.

``to_frame`` indexes rows by item id, with nested fields flattened into dotted columns.
``write_frame`` upserts one item per row, sends an event only for rows whose value
changed, and deletes items missing from the frame only when asked.

Writing is column-wise: each column becomes JSON tokens in one pass (numbers, booleans
and datetimes through orjson's numpy support, strings by joining them), the tokens are
joined into rows, and the rows go to storage in one bulk write (``StreamFunctions.
set_many``). Every check runs first, so a frame that cannot be written leaves nothing
half-written.
"""

from __future__ import annotations

import re
from collections import Counter
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from . import codec
from .streams import inputs

if TYPE_CHECKING:
    import pandas as pd

    from .stream_handle import StreamHandle

CHUNK_ROWS = 65_536
"""Rows encoded at a time: bounds the memory the tokens of a large frame take at once."""

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?$")
_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_NULL = b"null"


# -- out -------------------------------------------------------------------------------


def to_frame(stream: StreamHandle, group_id: str) -> pd.DataFrame:
    import pandas as pd

    items = stream.items(group_id)
    if not items:
        return pd.DataFrame(index=pd.Index([], name="item_id"))
    values = list(items.values())
    if set(map(type, values)) == {dict}:
        frame = pd.DataFrame(values, columns=_shared_columns(values))
        objects = [column for column in frame.columns if pd.api.types.is_object_dtype(frame[column].dtype)]
        if any(_holds_dicts(frame[column]) for column in objects):
            frame = pd.json_normalize(values)
    else:
        frame = pd.json_normalize(
            [value if isinstance(value, dict) else {"value": value} for value in values]
        )
    for column in frame.columns:  # ISO timestamps written from pandas come back as datetimes
        converted = _as_datetimes(frame[column])
        if converted is not None:
            frame[column] = converted
    # The index comes last: columns replaced over a range index need no alignment.
    frame.index = pd.Index(list(items), name="item_id")
    return frame


def _shared_columns(values: list[dict[str, Any]]) -> list[str] | None:
    """The first item's fields when no other item has more: given to pandas, it skips
    gathering the keys of every row (the usual frame, written by ``write_frame``)."""
    first = list(values[0])
    return first if len(set().union(*values)) == len(first) else None


def _holds_dicts(column: pd.Series) -> bool:
    return any(type(value) is dict for value in column.to_numpy())


def _as_datetimes(column: pd.Series) -> pd.Series | None:
    """The column as datetimes when every non-null value is an ISO date and time string."""
    import pandas as pd

    if not (pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype)):
        return None
    values = column.dropna()
    if not len(values) or pd.api.types.infer_dtype(values, skipna=True) != "string":
        return None
    strings = values.tolist()
    if not _ISO_TIME.match(strings[0]) or min(map(len, strings)) < 16:
        return None
    if not set(map(itemgetter(10), strings)) <= {"T", " "}:
        return None
    converted = pd.to_datetime(column, errors="coerce", format="ISO8601")
    if converted.isna().sum() != column.isna().sum():
        return None
    return converted


# -- in --------------------------------------------------------------------------------


def write_frame(
    stream: StreamHandle,
    group_id: str,
    frame: pd.DataFrame,
    id_column: str | None = None,
    *,
    delete_missing: bool = False,
) -> dict[str, int]:
    """Upsert rows as items (ids from ``id_column``, else the index); returns counts.

    Values go through the same JSON conversion as any write: timestamps become ISO
    strings, NaN and None become null, numpy numbers plain numbers, categoricals their
    values. Column names must be strings, ids unique (as strings), and every column of a
    type JSON can hold; otherwise a ``ValueError`` (``KeyError`` for a missing
    ``id_column``) says what is wrong and nothing is written.
    """
    if id_column is not None and id_column not in frame.columns:
        raise KeyError(f"id_column {id_column!r} is not a column of the frame")
    item_ids = _item_ids(frame[id_column] if id_column is not None else frame.index)
    rows = frame_rows(frame, item_ids)
    streams = stream.engine.core.streams
    if not streams.supports_bulk(stream.name):
        inputs.item_ids("stream::set", item_ids, streams.limits)
        streams.check_values("stream::set", rows)
        return _write_rows(stream, group_id, item_ids, rows, delete_missing)
    result = streams.set_many(stream.name, group_id, item_ids, rows, delete_missing=delete_missing)
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "deleted": result.deleted,
    }


def _write_rows(
    stream: StreamHandle, group_id: str, item_ids: list[str], rows: list[bytes], delete_missing: bool
) -> dict[str, int]:
    """One ``stream::set`` per changed row: for streams served by custom functions."""
    current = stream.items(group_id)
    counts = {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0}
    for item_id, row in zip(item_ids, rows, strict=True):
        value = codec.loads(row)
        if item_id not in current:
            counts["created"] += 1
        elif current[item_id] == value:
            counts["unchanged"] += 1
            continue
        else:
            counts["updated"] += 1
        stream.set(group_id, item_id, value)
    if delete_missing:
        for item_id in current.keys() - set(item_ids):
            stream.delete(group_id, item_id)
            counts["deleted"] += 1
    return counts


def _item_ids(ids: pd.Index | pd.Series) -> list[str]:
    """Ids as strings (as every write names items), refusing repeats."""
    values = ids.tolist()
    if all(type(value) is str for value in values):
        item_ids, unique = values, ids.is_unique  # an Index remembers it: a rewrite asks for free
    else:
        item_ids = [value if type(value) is str else str(value) for value in values]
        unique = len(set(item_ids)) == len(item_ids)  # after str(): 1 and "1" are the same id
    if not unique:
        repeated = sorted(item_id for item_id, count in Counter(item_ids).items() if count > 1)
        raise ValueError(f"item ids must be unique; repeated: {', '.join(repeated[:5])}")
    return item_ids


def frame_rows(frame: pd.DataFrame, item_ids: list[str]) -> list[bytes]:
    """Each row of ``frame`` as compact JSON (the bytes ``codec.dumps`` gives its record)."""
    names = [column for column in frame.columns if not isinstance(column, str)]
    if names:
        raise ValueError(
            f"column names must be strings (they become JSON keys); not: {', '.join(map(repr, names[:5]))}"
        )
    if frame.columns.has_duplicates:
        repeated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise ValueError(f"column names must be unique; repeated: {', '.join(map(repr, repeated[:5]))}")
    columns = [frame.iloc[:, position] for position in range(frame.shape[1])]
    for column in columns:
        _check_dtype(column)
    keys = [codec.dumps(name).replace(b"%", b"%%") for name in frame.columns]
    row = (b"{" + b",".join(key + b":%b" for key in keys) + b"}").__mod__
    if not keys:
        return [b"{}"] * len(frame)
    rows: list[bytes] = []
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = slice(start, start + CHUNK_ROWS)
        tokens = [_tokens(column.iloc[chunk], item_ids[chunk]) for column in columns]
        rows += map(row, zip(*tokens, strict=True))
    return rows


def _check_dtype(column: pd.Series) -> None:
    import pandas as pd

    dtype = column.dtype
    if (
        dtype.kind in "cSV"
        or isinstance(dtype, (pd.PeriodDtype, pd.IntervalDtype))
        or (isinstance(dtype, pd.CategoricalDtype) and dtype.categories.dtype.kind in "cSV")
    ):
        raise ValueError(f"column {column.name!r} has dtype {dtype}, which has no JSON form")


def _tokens(column: pd.Series, item_ids: list[str]) -> list[bytes]:
    """The JSON of each value of a column (one chunk of it)."""
    import pandas as pd

    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        labels = pd.Series(dtype.categories, name=column.name)
        categories = _tokens(labels, list(map(str, dtype.categories))) + [_NULL]
        return np.array(categories, dtype=object)[column.cat.codes.to_numpy()].tolist()
    if dtype.kind in "iufb":
        if isinstance(dtype, np.dtype):
            return _array_tokens(column.to_numpy())
        numpy_dtype = getattr(dtype, "numpy_dtype", None)
        if numpy_dtype is not None:
            nulls = column.isna().to_numpy()
            return _with_nulls(_array_tokens(column.to_numpy(dtype=numpy_dtype, na_value=0)), nulls)
    if dtype.kind == "M" and isinstance(dtype, np.dtype):
        values = column.to_numpy()
        nulls = np.isnat(values)
        exact = values.astype("datetime64[us]")
        if (exact == values)[~nulls].all():
            return _with_nulls(_array_tokens(np.where(nulls, np.datetime64(0, "us"), exact)), nulls)
    values = column.to_numpy(dtype=object)
    nulls = column.isna().to_numpy()
    if nulls.any():
        values = values.copy()
        values[nulls] = None
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        tokens = _string_tokens(values)
        if tokens is not None:
            return tokens
    return _object_tokens(column.name, values, item_ids)


def _array_tokens(values: np.ndarray) -> list[bytes]:
    """JSON tokens of a numeric, boolean or datetime array, from one orjson call."""
    if not len(values):
        return []
    return orjson.dumps(values, option=_NUMPY)[1:-1].split(b",")


def _string_tokens(values: np.ndarray) -> list[bytes] | None:
    """JSON strings of an array of str (and None), joined and split in C; None when some
    string needs escaping (or has no UTF-8 form), for the codec to encode one by one."""
    strings = [value if value is not None else "" for value in values]
    tokens = codec.json_strings(strings)
    if tokens is None:
        return None
    for index, value in enumerate(values):
        if value is None:
            tokens[index] = _NULL
    return tokens


def _with_nulls(tokens: list[bytes], nulls: np.ndarray) -> list[bytes]:
    for index in np.flatnonzero(nulls).tolist():
        tokens[index] = _NULL
    return tokens


def _object_tokens(name: Any, values: np.ndarray, item_ids: list[str]) -> list[bytes]:
    """Values of any other kind, one at a time, through the codec every write uses."""
    tokens = []
    for item_id, value in zip(item_ids, values, strict=True):
        try:
            tokens.append(codec.dumps(value))
        except codec.EncodeError as exc:
            raise ValueError(f"column {name!r}, item {item_id!r}: {exc}") from None
    return tokens
