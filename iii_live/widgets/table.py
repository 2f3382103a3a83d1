"""``LiveTable``: one row per item of a group, live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import traitlets

from .base import LiveWidget

if TYPE_CHECKING:
    from ..engine import Engine


class LiveTable(LiveWidget):
    """A live table of ``stream_name/group_id``.

    ``columns`` selects fields (nested ones as ``"a.b"``; default: every field, flattened);
    clicking a header sorts; ``sort_by``/``ascending`` set the initial order; ``max_rows``
    shows the first rows of the sorted order, or the newest items when unsorted. Changed
    cells flash briefly. Ten thousand rows scroll smoothly: only visible rows are drawn.
    """

    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sort_by = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    ascending = traitlets.Bool(True).tag(sync=True)
    max_rows = traitlets.Int(None, allow_none=True).tag(sync=True)
    show_id = traitlets.Bool(True).tag(sync=True)

    def __init__(
        self,
        engine: Engine,
        stream_name: str,
        group_id: str,
        columns: Any = None,
        sort_by: str | None = None,
        max_rows: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            engine,
            stream_name,
            group_id,
            _view_kind="table",
            columns=[str(c) for c in columns] if columns is not None else [],
            sort_by=sort_by,
            max_rows=max_rows,
            **kwargs,
        )

    def __getitem__(self, columns: str | list[str]) -> LiveTable:
        """DataFrame-style selection: ``table[["price", "qty"]]`` is a table of those columns."""
        selected = [columns] if isinstance(columns, str) else list(columns)
        return LiveTable(
            self.engine,
            self.stream_name,
            self.group_id,
            columns=selected,
            sort_by=self.sort_by,
            max_rows=self.max_rows,
            height=self.height,
        )
