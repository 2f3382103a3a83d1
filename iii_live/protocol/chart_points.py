"""A chart of a large group, without I/O: its points kept sorted by x in the kernel, and each
view sent only what its width can show of the x range it looks at.

A view asks ``{"type": "window", "view": V, "req": N, "x0": number or null, "x1": number or
null, "width": pixels}`` (no range: all of it, or the last ``window`` points, following the
data as it comes) and gets, whenever points in that range change (at most once per frame):

    {"type": "points", "view": V, "req": N, "total": points in all, "range": [x0, x1],
     "x": 0, "y": [1, ...], "n": points sent, "exact": bool, "time": bool}

with x and each series as Float64 arrays in the message's binary buffers of those indexes
(NaN: no value; ``time``: x was read from timestamps, in seconds). The default range, in
the keyframe trait, has ``x`` and ``y`` as lists instead (``null``: no value).

When the range holds more than two points per pixel column, each column is sent as its
minimum and its maximum (for every series, at the column's middle): a line drawn through
them covers the same pixels the whole data would. Otherwise the points are sent as they are
(``exact``). Either way a frame is at most ``2 * MAX_WIDTH`` points per series.

Points are kept in numpy arrays sorted by x: appending at the end (a time series) costs
O(1); a point changing its x, arriving out of order, or deleted leaves a dead slot and, if
needed, a short list merged in before the next frame; dead slots are reclaimed when they
are half the arrays. ``x`` is a field (numbers, numeric text, ISO timestamps as seconds) or,
when None, the order items were first written in.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ..views.fields import MISSING, path_getter
from .stream_wire import CREATE, DELETE, SYNC, UPDATE

POINTS = "points"
MAX_WIDTH = 4000
DEFAULT_WIDTH = 1000
DEFAULT_VIEW = ""
DEFAULT_REFRAME_SECONDS = 1.0
"""While views look at ranges of their own, the default range (kept for keyframes) is framed
at most this often."""


def number(value: Any) -> float | None:
    """A value as a plotted number: numbers, booleans, numeric text, ISO timestamps (seconds)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if np.isfinite(value) else None


class _Range:
    __slots__ = ("view", "req", "x0", "x1", "width", "sent")

    def __init__(self, view: str, req: int, x0: float | None, x1: float | None, width: int) -> None:
        self.view, self.req, self.x0, self.x1, self.width = view, req, x0, x1, width
        self.sent: tuple[Any, ...] | None = None


class ChartRanges:
    """The points of a group by x, and the range each view of a chart looks at."""

    def __init__(self, x: str | None, ys: list[str], window: int | None = None, arrays: bool = False) -> None:
        self.arrays = arrays
        """Frames hold ``x`` and ``y`` as numpy arrays (for ``points_message``), not lists."""
        self._x = path_getter(x) if x else None
        self._ys = [path_getter(y) for y in ys]
        self.window = window
        self._lock = threading.Lock()
        self._xs = np.empty(1024)
        self._values = np.empty((len(ys), 1024))
        self._alive = np.zeros(1024, dtype=bool)
        self._ids: list[str | None] = []
        self._slot_of: dict[str, int] = {}
        self._dead = 0
        self._unsorted = False
        self._arrival: dict[str, float] = {}
        self._next_arrival = 0.0
        self._ranges: dict[str, _Range] = {DEFAULT_VIEW: _Range(DEFAULT_VIEW, 0, None, None, DEFAULT_WIDTH)}
        self._version = 0
        self._framed = -1
        self._default_framed = 0.0
        self.time_axis = False
        """x is read from timestamps (text), as the first point had it."""

    def __len__(self) -> int:
        return len(self._slot_of)

    @property
    def needs_snapshot(self) -> bool:
        """Never: every point is kept, so any range can be drawn at once."""
        return False

    def build(self, message: dict[str, Any]) -> None:
        """Nothing waits for a snapshot."""

    # -- the group's events --------------------------------------------------------------------

    def apply(self, message: dict[str, Any]) -> None:
        event = message["event"]
        kind = event["type"]
        item_id = message.get("id")
        if kind == SYNC and item_id is None:
            self.load(event.get("data") or {})
            return
        with self._lock:
            if kind in (CREATE, UPDATE) and item_id is not None:
                self._put(item_id, event.get("data"))
            elif kind == DELETE and item_id is not None:
                self._remove(item_id)
                self._arrival.pop(item_id, None)
            else:
                return
            self._version += 1

    def load(self, items: dict[str, Any]) -> None:
        """The whole group (a sync), read a column at a time."""
        with self._lock:
            ids = list(items)
            values = list(items.values())
            if self._x is None:
                known = self._arrival
                self._arrival = {}
                for item_id in ids:
                    seen = known.get(item_id)
                    if seen is None:
                        seen, self._next_arrival = self._next_arrival, self._next_arrival + 1
                    self._arrival[item_id] = seen
                xs = np.fromiter(self._arrival.values(), dtype=float, count=len(ids))
            else:
                raw = [self._x(value, None) for value in values]
                self.time_axis = bool(raw) and isinstance(raw[0], str)
                xs = _column(values, self._x, raw)
            ys = np.array([_column(values, get) for get in self._ys]).reshape(len(self._ys), len(ids))
            plotted = np.flatnonzero(~np.isnan(xs))
            plotted = plotted[np.argsort(xs[plotted], kind="stable")]
            count = len(plotted)
            size = max(1024, 1 << max(count - 1, 1).bit_length())
            self._xs = np.empty(size)
            self._values = np.empty((len(self._ys), size))
            self._alive = np.zeros(size, dtype=bool)
            self._xs[:count] = xs[plotted]
            self._values[:, :count] = ys[:, plotted]
            self._alive[:count] = True
            self._ids = [ids[i] for i in plotted.tolist()]
            self._slot_of = {item_id: slot for slot, item_id in enumerate(self._ids)}  # type: ignore[misc]
            self._dead = 0
            self._unsorted = False
            self._version += 1

    def _x_of(self, item_id: str, value: Any) -> float | None:
        if self._x is None:
            seen = self._arrival.get(item_id)
            if seen is None:
                seen = self._arrival[item_id] = self._next_arrival
                self._next_arrival += 1
            return seen
        found = self._x(value, None)
        if not self._slot_of:
            self.time_axis = isinstance(found, str)
        return None if found is MISSING else number(found)

    def _put(self, item_id: str, value: Any) -> None:
        x = self._x_of(item_id, value)
        slot = self._slot_of.get(item_id)
        if slot is not None and x is not None and self._xs[slot] == x:
            self._values[:, slot] = self._point(value)  # the same x: changed in place
            return
        self._remove(item_id)
        if x is None:
            return
        slot = len(self._ids)
        if slot == len(self._xs):
            self._grow()
        if slot and x < self._xs[slot - 1]:
            self._unsorted = True
        self._xs[slot] = x
        self._values[:, slot] = self._point(value)
        self._alive[slot] = True
        self._ids.append(item_id)
        self._slot_of[item_id] = slot

    def _point(self, value: Any) -> list[float]:
        out = []
        for get in self._ys:
            found = get(value, None)
            y = None if found is MISSING else number(found)
            out.append(np.nan if y is None else y)
        return out

    def _remove(self, item_id: str) -> None:
        slot = self._slot_of.pop(item_id, None)
        if slot is None:
            return
        self._alive[slot] = False
        self._ids[slot] = None
        self._dead += 1

    def _grow(self) -> None:
        size = len(self._xs) * 2
        self._xs = np.resize(self._xs, size)
        values = np.empty((self._values.shape[0], size))
        values[:, : self._values.shape[1]] = self._values
        self._values = values
        alive = np.zeros(size, dtype=bool)
        alive[: len(self._alive)] = self._alive
        self._alive = alive

    def _tidy(self) -> None:
        """Sort what arrived out of order and reclaim dead slots (before reading ranges)."""
        used = len(self._ids)
        if not self._unsorted and self._dead * 2 <= used:
            return
        keep = np.flatnonzero(self._alive[:used])
        if self._unsorted:
            keep = keep[np.argsort(self._xs[keep], kind="stable")]
        count = len(keep)
        self._xs[:count] = self._xs[keep]
        self._values[:, :count] = self._values[:, keep]
        self._alive[:count] = True
        self._alive[count:used] = False
        ids = [self._ids[i] for i in keep]
        self._ids = ids
        self._slot_of = {item_id: slot for slot, item_id in enumerate(ids)}  # type: ignore[misc]
        self._dead = 0
        self._unsorted = False

    # -- what views ask ----------------------------------------------------------------------------

    def ask(self, content: dict[str, Any]) -> None:
        """A view's range; anything not a number is no bound, widths are clipped."""
        view = content.get("view")
        if not isinstance(view, str) or not view:
            return
        req = content.get("req")
        width = _finite(content.get("width"))
        with self._lock:
            self._ranges[view] = _Range(
                view,
                req if isinstance(req, int) and not isinstance(req, bool) else 0,
                _finite(content.get("x0")),
                _finite(content.get("x1")),
                DEFAULT_WIDTH if width is None else int(min(max(width, 1), MAX_WIDTH)),
            )

    def forget(self, view: str) -> None:
        with self._lock:
            if view != DEFAULT_VIEW:
                self._ranges.pop(view, None)

    @property
    def dirty(self) -> bool:
        return self._version != self._framed or any(r.sent is None for r in self._ranges.values())

    def frames(self, fetch: Any = None) -> list[dict[str, Any]]:
        """A points frame for each range whose points changed, its ``x`` and ``y`` as lists, or
        as arrays if ``arrays`` (``points_message`` makes it a binary message); values are all
        at hand: ``fetch`` is not needed."""
        with self._lock:
            self._tidy()
            out = []
            now = time.monotonic()
            for wanted in self._ranges.values():
                if wanted.view == DEFAULT_VIEW and len(self._ranges) > 1 and wanted.sent is not None:
                    if now - self._default_framed < DEFAULT_REFRAME_SECONDS:
                        continue  # views look at their own ranges: the default one is for keyframes
                    self._default_framed = now
                frame = self._frame(wanted)
                shape = (wanted.req, frame["range"], frame["x"].tobytes(), frame["y"].tobytes())
                if shape != wanted.sent:
                    wanted.sent = shape
                    out.append(frame if self.arrays else points_json(frame))
            self._framed = self._version
            return out

    def _frame(self, wanted: _Range) -> dict[str, Any]:
        used = len(self._ids)
        xs, values, alive = self._xs[:used], self._values[:, :used], self._alive[:used]
        low, high = self._bounds(wanted, xs, alive)
        first, last = (
            np.searchsorted(xs, [low, high], side="left")[0],
            np.searchsorted(xs, high, side="right"),
        )
        segment = slice(int(first), int(last))
        if self._dead:
            live = alive[segment]
            seg_x, seg_y = xs[segment][live], values[:, segment][:, live]
        else:  # every slot holds a point: views of the arrays, nothing copied
            seg_x, seg_y = xs[segment], values[:, segment]
        exact = len(seg_x) <= 2 * wanted.width
        if exact:
            out_x, out_y = seg_x, seg_y
        else:
            out_x, out_y = _min_max(seg_x, seg_y, low, high, wanted.width)
        return {
            "type": POINTS,
            "view": wanted.view,
            "req": wanted.req,
            "total": len(self._slot_of),
            "range": [_json_number(low), _json_number(high)],
            "x": out_x,
            "y": out_y,
            "exact": bool(exact),
            "time": self.time_axis,
        }

    def _bounds(self, wanted: _Range, xs: np.ndarray, alive: np.ndarray) -> tuple[float, float]:
        live = xs[alive] if self._dead else xs
        if not len(live):
            return (wanted.x0 or 0.0, wanted.x1 or 0.0)
        low = wanted.x0 if wanted.x0 is not None else float(live[0])
        if wanted.x0 is None and self.window is not None and len(live) > self.window:
            low = float(live[-self.window])
        high = wanted.x1 if wanted.x1 is not None else float(live[-1])
        return (low, high) if low <= high else (high, low)


def _column(values: list[Any], get: Any, found: list[Any] | None = None) -> np.ndarray:
    """One field of every item (``found``, if read already) as floats (NaN: not a number)."""
    if found is None:
        found = [get(value, None) for value in values]
    try:
        return np.array(found, dtype=float)  # plain numbers (and None): one C loop
    except (TypeError, ValueError):
        numbers = [None if item is MISSING else number(item) for item in found]
        return np.array([np.nan if n is None else n for n in numbers], dtype=float)


def _min_max(
    xs: np.ndarray, ys: np.ndarray, low: float, high: float, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each of ``width`` columns of [low, high] as its minimum then its maximum, per series."""
    edges = np.linspace(low, high, width + 1)
    starts = np.searchsorted(xs, edges[:-1], side="left")
    ends = np.searchsorted(xs, edges[1:], side="left")
    ends[-1] = len(xs)
    filled = np.flatnonzero(ends > starts)
    starts = starts[filled]
    middles = (edges[filled] + edges[filled + 1]) / 2
    out_x = np.repeat(middles, 2)
    out_y = np.empty((ys.shape[0], 2 * len(filled)))
    with np.errstate(invalid="ignore"):
        out_y[:, 0::2] = np.fmin.reduceat(ys, starts, axis=1) if len(starts) else np.empty((ys.shape[0], 0))
        out_y[:, 1::2] = np.fmax.reduceat(ys, starts, axis=1) if len(starts) else np.empty((ys.shape[0], 0))
    return out_x, out_y


def points_message(frame: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
    """A points frame as a comm message: ``x`` and each series of ``y`` as little-endian
    Float64 buffers (NaN: no value), named by their indexes, ``n`` points each."""
    xs, ys = frame["x"], frame["y"]
    buffers = [np.ascontiguousarray(column, dtype="<f8").tobytes() for column in (xs, *ys)]
    content = {**frame, "x": 0, "y": list(range(1, len(buffers))), "n": len(xs)}
    return content, buffers


def points_json(frame: dict[str, Any]) -> dict[str, Any]:
    """A points frame as plain JSON (the default window in the keyframe trait)."""
    return {
        **frame,
        "x": [_json_number(x) for x in frame["x"].tolist()],
        "y": [[_json_number(y) for y in series.tolist()] for series in frame["y"]],
    }


def _json_number(value: float) -> float | None:
    """NaN and infinities are not JSON: null."""
    return value if value == value and value not in (np.inf, -np.inf) else None
