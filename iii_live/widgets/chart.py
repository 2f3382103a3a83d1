"""``LiveChart``: a chart over the items of a group, live (uPlot in the browser)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import traitlets

from ..protocol.chart_points import ChartRanges
from ..protocol.viewport import Windowed
from .base import LiveWidget

if TYPE_CHECKING:
    from ..engine import Engine
    from ..views import View

KINDS = ("line", "bar", "scatter")
WHOLE_POINTS = 2_000
"""Points up to which a chart's group is sent whole. Beyond, each view gets at most two
points per pixel column of its range, which draws the same line: a browser that drew every
point of a group of tens of thousands, ten series each, many times a second, would stall."""


class LiveChart(LiveWidget):
    """A live chart of ``stream_name/group_id``, or of a view (``LiveChart(engine, view,
    y="total")``): each item (row) is a point.

    ``x`` is a field (numbers or timestamps; default: item order), ``y`` a field or a list
    of fields (one series each), ``kind`` is ``"line"``, ``"bar"`` or ``"scatter"``, and
    ``window`` keeps only the last N points by ``x`` (for append-style groups). Axes
    follow the data; dragging zooms, and the zoom stays while points come (double-click to
    follow the data again). A group of more than two thousand points is not sent to the
    browser: the kernel sends each view the minimum and maximum of each pixel column of the
    range it shows, and again when it zooms.
    """

    _whole_limit = WHOLE_POINTS
    x = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    y = traitlets.List(traitlets.Unicode()).tag(sync=True)
    kind = traitlets.Enum(KINDS, "line").tag(sync=True)
    window = traitlets.Int(None, allow_none=True).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        engine: Engine,
        stream_name: str | View,
        group_id: str | None = None,
        x: str | None = None,
        y: str | list[str] | None = None,
        kind: str = "line",
        window: int | None = None,
        **kwargs: Any,
    ) -> None:
        if y is None:
            raise TypeError("LiveChart needs y: a field name or a list of field names")
        ys = [y] if isinstance(y, str) else [str(name) for name in y]
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        super().__init__(
            engine, stream_name, group_id, _view_kind="chart", x=x, y=ys, kind=kind, window=window, **kwargs
        )

    def _windows_maker(self) -> Callable[[], Windowed]:
        x, ys, window = self.x, list(self.y), self.window
        return lambda: ChartRanges(x, ys, window, arrays=True)

    @traitlets.observe("x", "y", "window")
    def _defaults_changed(self, _change: Any) -> None:
        session = getattr(self, "session", None)
        if session is not None:
            session.set_windows_maker(self._windows_maker())
