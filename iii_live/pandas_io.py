"""pandas in and out: a group as a DataFrame, and a DataFrame written as items.

``to_frame`` indexes rows by item id, with nested fields flattened into dotted columns.
``write_frame`` upserts one item per row, sends an event only for rows whose value
changed, and deletes items missing from the frame only when asked.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from . import codec

if TYPE_CHECKING:
    import pandas as pd

    from .stream_handle import StreamHandle

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?$")


def to_frame(stream: StreamHandle, group_id: str) -> pd.DataFrame:
    import pandas as pd

    items = stream.items(group_id)
    if not items:
        return pd.DataFrame(index=pd.Index([], name="item_id"))
    rows = [value if isinstance(value, dict) else {"value": value} for value in items.values()]
    frame = pd.json_normalize(rows)
    frame.index = pd.Index(list(items), name="item_id")
    for column in frame.columns:  # ISO timestamps written from pandas come back as datetimes
        values = frame[column].dropna()
        if len(values) and values.map(lambda v: isinstance(v, str) and bool(_ISO_TIME.match(v))).all():
            frame[column] = pd.to_datetime(frame[column], errors="coerce", format="ISO8601")
    return frame


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
    values.
    """
    if id_column is not None and id_column not in frame.columns:
        raise KeyError(f"id_column {id_column!r} is not a column of the frame")
    ids = frame[id_column] if id_column is not None else frame.index
    if ids.duplicated().any():
        duplicates = sorted({str(i) for i in ids[ids.duplicated()]})[:5]
        raise ValueError(f"item ids must be unique; repeated: {', '.join(duplicates)}")
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    current = stream.items(group_id)
    counts = {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0}
    seen = set()
    for item_id, record in zip(map(str, ids), records, strict=True):
        seen.add(item_id)
        value, _ = codec.normalize(record)
        if item_id not in current:
            counts["created"] += 1
        elif current[item_id] == value:
            counts["unchanged"] += 1
            continue
        else:
            counts["updated"] += 1
        stream.set(group_id, item_id, value)
    if delete_missing:
        for item_id in current.keys() - seen:
            stream.delete(group_id, item_id)
            counts["deleted"] += 1
    return counts
