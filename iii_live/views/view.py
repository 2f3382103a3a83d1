"""``View``: the handle ``engine.stream(name).view(...)`` returns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .spec import ViewSpec

if TYPE_CHECKING:
    import pandas as pd

    from .live_view import LiveView
    from .registry import ViewRegistry


class View:
    """A live view of a group, published as the group ``stream_name/group_id``.

    Subscribe to that group like to any other (WebSocket clients, widgets, SDK workers,
    other engines through Redis). ``close()`` deletes it; equal specs share one view, which
    closes with its last handle.
    """

    def __init__(self, live: LiveView, registry: ViewRegistry) -> None:
        self._live = live
        self._registry = registry
        self._closed = False

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        base = f"{self.base_stream}/{self.base_group}"
        return f"<iii_live.View{state} {base} as {self.stream_name}/{self.group_id}>"

    @property
    def stream_name(self) -> str:
        """The stream of the derived group (``<base stream>~views``)."""
        return self._live.stream_name

    @property
    def group_id(self) -> str:
        """The derived group (``<base group>~<name>``)."""
        return self._live.group_id

    @property
    def name(self) -> str:
        return self._live.spec.name

    @property
    def base_stream(self) -> str:
        """The stream of the group the view follows."""
        return self._live.spec.stream_name

    @property
    def base_group(self) -> str:
        """The group the view follows."""
        return self._live.spec.group_id

    @property
    def spec(self) -> dict[str, Any]:
        """The definition as a dict: ``engine.view(view.spec)`` opens the same view."""
        return self._live.spec.to_dict()

    @property
    def view_spec(self) -> ViewSpec:
        return self._live.spec

    def to_json(self) -> str:
        return self._live.spec.to_json()

    @property
    def columns(self) -> list[str]:
        """The rows' fields when the spec fixes them (grouped or with ``columns``), else ``[]``."""
        plan = self._live.plan
        if plan.grouped:
            return [*plan.group_fields, *(aggregate.name for aggregate in plan.aggregates)]
        return [name for name, _ in plan.projection] if plan.projection is not None else []

    @property
    def stats(self) -> dict[str, int]:
        """Work done so far: items read (one per write, plus each sync's), rows written."""
        return {"items_evaluated": self._live.items_evaluated, "rows_written": self._live.rows_written}

    def items(self) -> dict[str, Any]:
        """``{row id: row}`` in the view's order, current (pending rows are published first)."""
        return self._live.ordered_rows()

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame indexed by row id, in the view's order."""
        from ..pandas_io import to_frame

        return to_frame(_Rows(self.items()), self.group_id)  # type: ignore[arg-type]

    def flush(self) -> int:
        """Publish pending changes now (they go out within the publish interval anyway)."""
        return self._live.publish()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._registry.release(self._live)

    def __enter__(self) -> View:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Rows:
    """Rows already read, shaped as ``to_frame`` reads a stream."""

    def __init__(self, rows: dict[str, Any]) -> None:
        self._rows = rows

    def items(self, group_id: str) -> dict[str, Any]:
        return self._rows
