"""``LiveTable``: one row per item of a group, live."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import traitlets

from ..protocol.viewport import Sort, TableWindows, Windowed
from ..views import View
from .base import LiveWidget
from .link import weak_method
from .page_requests import PageRequests

if TYPE_CHECKING:
    from ..engine import Engine


def _view_defaults(
    view: View, columns: Any, sort_by: str | None, max_rows: int | None, options: dict[str, Any]
) -> tuple[Any, str | None, int | None]:
    """A view's columns, first sort field and direction, and limit, where not given."""
    spec = view.view_spec
    if columns is None and view.columns:
        columns = view.columns
    if sort_by is None and spec.sort_by:
        sort_by = spec.sort_by[0]
        first_descending = spec.descending[0] if isinstance(spec.descending, list) else spec.descending
        options.setdefault("ascending", not first_descending)
    if spec.grouped:
        options.setdefault("show_id", False)
    return columns, sort_by, max_rows if max_rows is not None else spec.limit


class LiveTable(LiveWidget):
    """A live table of ``stream_name/group_id``, or of a view: ``LiveTable(engine, view)``.

    ``columns`` selects fields (nested ones as ``"a.b"``; default: every field, flattened);
    clicking a header sorts; ``sort_by``/``ascending`` set the initial order; ``max_rows``
    shows the first rows of the sorted order, or the newest items when unsorted. Changed
    cells flash briefly; clicking a row selects it. Only the visible rows are drawn. A group
    of more than ten thousand items is not sent to the browser: each view asks the kernel
    for the rows it shows, sorted there by an index kept per write, so a million rows
    scroll and sort as fast as a hundred.
    A table of a view shows its derived group, with the view's columns, order and limit
    unless given here.

    Each header has a menu: sort, filter (text contains, a number range, a set of values),
    hide the column, group by it; the toolbar picks group-by fields and aggregates, takes a
    filter expression and exports the rows as CSV. Filters and group-bys become a view in
    the kernel (``page_view``), which the table then shows; what the page chose is kept in
    ``controls``, so a reloaded page shows the same.
    """

    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sort_by = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    ascending = traitlets.Bool(True).tag(sync=True)
    max_rows = traitlets.Int(None, allow_none=True).tag(sync=True)
    show_id = traitlets.Bool(True).tag(sync=True)
    controls = traitlets.Dict().tag(sync=True)
    """What the page set with the header menu: ``spec`` (the view over the group, or None),
    ``sort``, ``hidden`` columns, and ``view``, the derived group shown (set by the kernel)."""
    _grouped = False
    """The table shows a grouped view's rows (which have their own columns)."""

    def __init__(
        self,
        engine: Engine,
        stream_name: str | View,
        group_id: str | None = None,
        columns: Any = None,
        sort_by: str | None = None,
        max_rows: int | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(stream_name, View):
            columns, sort_by, max_rows = _view_defaults(stream_name, columns, sort_by, max_rows, kwargs)
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
        show, keep = weak_method(self._show_group), weak_method(self._keep_controls)
        self._page = PageRequests(self._link, show, keep, weak_method(self.send))
        self._link.on_moved = self._page.moved
        weakref.finalize(self, self._page.close)

    @property
    def page_view(self) -> View | None:
        """The view the page's filters and group-by opened (None: the table shows its group)."""
        page = getattr(self, "_page", None)
        return page.view if page is not None else None

    def _received(self, widget: Any, content: Any, buffers: Any) -> None:
        super()._received(widget, content, buffers)
        self._page.receive(content)

    def _show_group(self, stream_name: str, group_id: str, grouped: bool) -> None:
        if (stream_name, group_id) == (self._link.stream_name, self._link.group_id):
            return  # a new sort or hidden column only: the rows stay as they are
        self._grouped = grouped
        self.session.set_windows_maker(self._windows_maker())
        self._link.show(stream_name, group_id)

    def _keep_controls(self, choice: dict[str, Any]) -> None:
        self.controls = choice

    def _windows_maker(self) -> Callable[[], Windowed]:
        sort = Sort(self.sort_by, self.ascending)
        columns = None if self._grouped else tuple(self.columns) or None
        limit = self.max_rows
        return lambda: TableWindows(sort, columns, limit)

    def close(self) -> None:
        """Let go of the group and close the view the page opened."""
        super().close()
        page = getattr(self, "_page", None)
        if page is not None:
            page.close()

    @traitlets.observe("sort_by", "ascending", "columns", "max_rows")
    def _defaults_changed(self, _change: Any) -> None:
        session = getattr(self, "session", None)
        if session is not None:
            session.set_windows_maker(self._windows_maker())

    def __getitem__(self, columns: str | list[str]) -> LiveTable:
        """DataFrame-style selection: ``table[["price", "qty"]]`` is a table of those columns."""
        selected = [columns] if isinstance(columns, str) else list(columns)
        return LiveTable(
            self.engine,
            self.view or self.stream_name,
            None if self.view else self.group_id,
            columns=selected,
            sort_by=self.sort_by,
            ascending=self.ascending,
            max_rows=self.max_rows,
            show_id=self.show_id,
            height=self.height,
        )
