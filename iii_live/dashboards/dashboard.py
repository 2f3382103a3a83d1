"""``Dashboard``: a title and rows of live tables, live charts and markdown.

A dashboard describes what to show, not the data: each table or chart names the group it
shows and the options it shows it with. ``layout()`` is the JSON a published page renders
(docs/dashboards.md); in a notebook the dashboard displays as the widgets themselves, laid
out the same way.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..widgets.base import LiveWidget

OPTIONS = {
    "table": ("columns", "sort_by", "ascending", "max_rows", "height", "show_id"),
    "chart": ("x", "y", "kind", "window", "title", "height"),
}
"""The widget options a page reproduces, by view kind (the traits the views read)."""
CELL_HELP = "a LiveTable, a LiveChart, a markdown string, or a list of those (a column)"


class Dashboard:
    """Rows of cells under a title. A cell is a ``LiveTable``, a ``LiveChart``, a markdown
    string, or a list of cells stacked as a column. Cells of a row share its width.

    Display it in a notebook, or share it: ``engine.publish(dash, name="ops")``. After
    changing its rows or its widgets' options, publish it again to update open pages.
    """

    def __init__(self, title: str, rows: list[list[Any]]) -> None:
        if not isinstance(title, str):
            raise TypeError(f"a dashboard's title is a string, not {type(title).__name__}")
        if not isinstance(rows, (list, tuple)):
            raise TypeError(f"rows is a list of rows, each a list of cells ({CELL_HELP})")
        self.title = title
        self.rows: list[Any] = [list(row) if isinstance(row, tuple) else row for row in rows]
        self.layout()  # refuses now what a page could not show

    def __repr__(self) -> str:
        return f"<Dashboard {self.title!r}: {len(self.rows)} rows, {len(self.widgets())} live views>"

    def layout(self) -> dict[str, Any]:
        """``{"title", "rows": [[cell, ...], ...]}``, a cell being ``{"kind": "table" | "chart",
        "stream", "group", "options"}``, ``{"kind": "markdown", "text"}`` or ``{"kind":
        "column", "cells"}``. Raises ``TypeError`` naming a cell that is none of these."""
        rows = []
        for r, row in enumerate(self.rows):
            if not isinstance(row, list):
                raise TypeError(f"rows[{r}] is {type(row).__name__}: a row is a list of cells ({CELL_HELP})")
            rows.append([_cell(cell, f"rows[{r}][{c}]") for c, cell in enumerate(row)])
        return {"title": self.title, "rows": rows}

    def widgets(self) -> list[LiveWidget]:
        """Every table and chart, in layout order."""
        return [cell for cell in _leaves(self.rows) if not isinstance(cell, str)]

    def groups(self) -> frozenset[tuple[str, str]]:
        """``(stream_name, group_id)`` of every group the dashboard shows."""
        return frozenset((widget.stream_name, widget.group_id) for widget in self.widgets())

    def widget(self) -> Any:
        """The dashboard as notebook widgets (an ``ipywidgets.VBox``): the title, then a box per row."""
        import ipywidgets as ui  # type: ignore[import-untyped]

        title = ui.HTML(f"<h2 style='margin:4px 0'>{html.escape(self.title)}</h2>")
        return ui.VBox([title, *(_notebook_row(ui, row) for row in self.rows)])

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget()._repr_mimebundle_(**kwargs)


def _cell(cell: Any, where: str) -> dict[str, Any]:
    if isinstance(cell, str):
        return {"kind": "markdown", "text": cell}
    if isinstance(cell, (list, tuple)):
        return {"kind": "column", "cells": [_cell(inner, f"{where}[{i}]") for i, inner in enumerate(cell)]}
    from ..widgets.base import LiveWidget

    if not isinstance(cell, LiveWidget):
        raise TypeError(f"{where} is {type(cell).__name__}: a dashboard cell is {CELL_HELP}")
    kind = cell._view_kind
    return {
        "kind": kind,
        "stream": cell.stream_name,
        "group": cell.group_id,
        "options": {name: getattr(cell, name) for name in OPTIONS[kind]},
    }


def _leaves(cells: list[Any]) -> Iterator[Any]:
    for cell in cells:
        if isinstance(cell, (list, tuple)):
            yield from _leaves(list(cell))
        else:
            yield cell


def _notebook_row(ui: Any, cells: list[Any]) -> Any:
    share = ui.Layout(flex="1 1 0", min_width="0")
    boxes = [ui.Box([_notebook_cell(ui, cell)], layout=share) for cell in cells]
    return ui.HBox(boxes, layout=ui.Layout(width="100%", grid_gap="12px"))


def _notebook_cell(ui: Any, cell: Any) -> Any:
    if isinstance(cell, (list, tuple)):
        return ui.VBox([_notebook_cell(ui, inner) for inner in cell], layout=ui.Layout(width="100%"))
    if isinstance(cell, str):
        from IPython.display import Markdown

        output = ui.Output(layout=ui.Layout(width="100%"))
        output.append_display_data(Markdown(cell))
        return output
    return cell
