"""``engine.stream(name)``: notebook shortcuts that call the same ``stream::*`` functions."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .engine import Engine
    from .streams.hub import CallbackSubscription
    from .views import View
    from .widgets import LiveChart, LiveTable


class StreamHandle:
    def __init__(self, engine: Engine, stream_name: str) -> None:
        self.engine = engine
        self.name = stream_name
        self._streams = engine.core.streams
        self._direct_version = -1
        """The function registry's version when ``set`` last found it could write directly."""

    def __repr__(self) -> str:
        return f"<stream {self.name!r} of {self.engine!r}>"

    def _call(self, op: str, **payload: Any) -> Any:
        return self.engine.trigger(f"stream::{op}", {"stream_name": self.name, **payload})

    def set(self, group_id: str, item_id: str, data: Any) -> dict[str, Any]:
        # the hottest call: straight to the store when the engine's own stream::set serves it
        streams = self._streams
        version = streams.functions.version
        if version == self._direct_version or streams.sets_directly(self.name):
            self._direct_version = version
            return streams.set_item(self.name, group_id, item_id, data)
        payload = {"stream_name": self.name, "group_id": group_id, "item_id": item_id, "data": data}
        return self.engine.trigger("stream::set", payload)

    def get(self, group_id: str, item_id: str) -> Any:
        return self._call("get", group_id=group_id, item_id=item_id)

    def delete(self, group_id: str, item_id: str) -> dict[str, Any]:
        return self._call("delete", group_id=group_id, item_id=item_id)

    def list(self, group_id: str) -> builtins.list[Any]:
        return self._call("list", group_id=group_id)

    def list_groups(self) -> builtins.list[str]:
        return self._call("list_groups")

    def send(self, group_id: str, type: str, data: Any = None, id: str | None = None) -> None:
        payload: dict[str, Any] = {"group_id": group_id, "type": type, "data": data}
        if id is not None:
            payload["id"] = id
        return self._call("send", **payload)

    def update(self, group_id: str, item_id: str, ops: builtins.list[dict[str, Any]]) -> dict[str, Any]:
        return self._call("update", group_id=group_id, item_id=item_id, ops=ops)

    def retain(
        self, group_id: str | None = None, *, max_items: int | None = None, ttl: float | str | None = None
    ) -> int:
        """Keep a rolling window of a group, or with ``group_id=None`` of every group of this
        stream (existing and future ones; a group's own window wins).

        ``max_items`` keeps the most recently written items; ``ttl`` (seconds, or a duration
        such as ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``) drops items not written for that
        long, also when no write comes. Evicted items are deleted with ``delete`` events, so
        subscribers, widgets and triggers see them go. Neither bound removes the window.
        Applies at once; returns how many items it evicted then.
        """
        from .streams.retention import retention

        policy = retention(max_items, ttl, f"retain() of stream {self.name!r}")
        return self.engine.core.streams.retain(self.name, group_id, policy)

    def subscribe(
        self, group_id: str, callback: Callable[[dict[str, Any]], Any], item_id: str | None = None
    ) -> CallbackSubscription:
        return self.engine.subscribe(self.name, group_id, callback, item_id)

    def items(self, group_id: str) -> dict[str, Any]:
        """``{item_id: value}`` of a group."""
        result = self.engine.core.streams.items(self.name, group_id)
        if hasattr(result, "__await__"):
            return self.engine._require_runtime().run(result)
        return result

    # -- views ---------------------------------------------------------------------------

    def view(
        self,
        group_id: str,
        where: Any = None,
        columns: Any = None,
        group_by: str | builtins.list[str] | None = None,
        agg: dict[str, Any] | None = None,
        sort_by: str | builtins.list[str] | None = None,
        descending: bool | builtins.list[bool] = False,
        limit: int | None = None,
        *,
        name: str | None = None,
    ) -> View:
        """A live view of the group, published as the group ``view.stream_name/view.group_id``.

        ``where``: ``{field: value}``, ``[(field, op, value), ...]`` (``== != < <= > >= in
        contains between``), ``{"or": [...]}`` or an expression; ``columns``: fields and
        ``{name: expression or callable}``; ``group_by`` with ``agg`` as pandas' named
        aggregation ``{"total": ("qty", "sum")}``; ``sort_by``/``descending``/``limit`` for the
        top N. Raises ``ViewSpecError`` naming the wrong part.
        """
        from .views import ViewSpec

        spec = ViewSpec.build(
            self.name,
            group_id,
            name=name,
            where=where,
            columns=columns,
            group_by=group_by,
            agg=agg,
            sort_by=sort_by,
            descending=descending,
            limit=limit,
        )
        return self.engine.core.views.open(spec)

    # -- pandas --------------------------------------------------------------------------

    def to_frame(self, group_id: str) -> pd.DataFrame:
        """The group as a DataFrame indexed by item id (nested fields as dotted columns)."""
        from .pandas_io import to_frame

        return to_frame(self, group_id)

    def write_frame(
        self,
        group_id: str,
        frame: pd.DataFrame,
        id_column: str | None = None,
        *,
        delete_missing: bool = False,
    ) -> dict[str, int]:
        """Upsert each row as an item; events only for rows that changed. Returns counts."""
        from .pandas_io import write_frame

        return write_frame(self, group_id, frame, id_column, delete_missing=delete_missing)

    # -- widgets -------------------------------------------------------------------------

    def table(self, group_id: str, **options: Any) -> LiveTable:
        """A live table of the group (see :class:`iii_live.LiveTable` for options)."""
        from .widgets import LiveTable

        return LiveTable(self.engine, self.name, group_id, **options)

    def chart(
        self, group_id: str, x: str | None = None, y: str | builtins.list[str] | None = None, **options: Any
    ) -> LiveChart:
        """A live chart of the group (see :class:`iii_live.LiveChart` for options)."""
        from .widgets import LiveChart

        return LiveChart(self.engine, self.name, group_id, x=x, y=y, **options)
