"""One stream-port connection's windows into large groups: the viewport protocol over a direct
WebSocket (an iii-live extension; the pages use it for groups too large to sync whole).

A client sends

    {"type": "window", "data": {"subscriptionId": S, "streamName", "groupId",
     "kind": "rows", ...a table's window (``viewport``: offset, anchor, before, after, sort,
     columns)}}
    {"type": "window", "data": {"subscriptionId": S, "streamName", "groupId",
     "kind": "points", "x": field or null, "y": [fields], "window": n or null,
     ...a chart's range (``chart_points``: x0, x1, width)}}

and gets, about once per frame while what it shows changes, the frame of its kind with
``subscriptionId``, ``streamName`` and ``groupId`` in place of ``view``:
``{"type": "rows" | "points", "subscriptionId": S, ...}``. ``{"type": "window", "data":
{"subscriptionId": S, "close": true}}`` ends a window; closing the socket ends them all.

Each group (and chart) a connection looks at is read once, by a keyed subscription whose
sync builds its orders, on an I/O thread, then followed write by write; its windows share
it. Row values are read on an I/O thread; frames are written on the loop, and wait while
the client has not read the previous ones. Names are checked as joins check them, windows
count against ``max_subscriptions_per_connection``; anything else is ignored.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Protocol, TypeGuard

from .. import codec
from ..core import StreamCore
from ..functions import resolve
from ..streams.hub import Subscription
from ..streams.inputs import check_name
from .chart_points import ChartRanges
from .stream_wire import Event
from .viewport import DEFAULT_VIEW, WINDOW, TableWindows, Windowed, read_stored

log = logging.getLogger("iii_live.protocol")

FRAME_SECONDS = 0.05
ROWS, POINTS = "rows", "points"
MAX_FIELDS = 16
"""Series a chart window may ask for."""


class Transport(Protocol):
    def send(self, frames: list[bytes]) -> None: ...

    def buffered(self) -> int: ...


class RawFrame:
    """A message that is not a stream event, written through the same encoder as events."""

    __slots__ = ("frame", "resume_frame", "transport_frame", "transport_resume_frame")

    def __init__(self, data: bytes) -> None:
        self.frame = self.resume_frame = data
        self.transport_frame: bytes | None = None
        self.transport_resume_frame: bytes | None = None


class _Follower:
    """Feeds a group's events to its windows, on the writer's thread."""

    on_loop = False

    def __init__(self, windows: Windowed) -> None:
        self.windows = windows

    def deliver(self, event: Event) -> None:
        self.windows.apply(event.message)

    def flush(self) -> None:
        pass


class _Builder(_Follower):
    """Gives the sync of a second subscription to the windows' new orders."""

    def deliver(self, event: Event) -> None:
        self.windows.build(event.message)


class _Source:
    """One group (for one kind of window) a connection looks at."""

    def __init__(self, stream_name: str, group_id: str, windows: Windowed) -> None:
        self.stream_name = stream_name
        self.group_id = group_id
        self.windows = windows
        self.views: set[str] = set()
        self.subscription = Subscription(_Follower(windows), stream_name, group_id, keyed=True)
        self.syncing = False
        """Following afresh (a sync under way): its windows wait."""
        self.building = False
        """A snapshot for new orders is being read."""


class ViewportSession:
    def __init__(self, core: StreamCore, transport: Transport, encode: Any, conflate_at: int) -> None:
        self.core = core
        self.transport = transport
        self.encode = encode
        self.conflate_at = conflate_at
        self._sources: dict[tuple[Any, ...], _Source] = {}
        self._views: dict[str, tuple[Any, ...]] = {}
        self._ticking: asyncio.Task[None] | None = None
        self.closed = False

    def receive(self, raw: str | bytes) -> bool:
        """Take a client frame if it is a window message (True); others are not for us."""
        try:
            message = codec.loads(raw.encode() if isinstance(raw, str) else raw)
        except (codec.JSONDecodeError, RecursionError):
            return False
        if not isinstance(message, dict) or message.get("type") != WINDOW:
            return False
        data = message.get("data")
        if isinstance(data, dict):
            task = asyncio.ensure_future(self._request(data))
            task.add_done_callback(_logged)
        return True

    async def _request(self, data: dict[str, Any]) -> None:
        view = data.get("subscriptionId")
        if not self._named(view):
            return
        if data.get("close") is True:
            self._close_view(view)
            return
        stream_name, group_id = data.get("streamName"), data.get("groupId")
        key = _key(stream_name, group_id, data)
        if key is None or not (self._named(stream_name) and self._named(group_id)):
            return
        if self._views.get(view) not in (None, key):
            self._close_view(view)
        if view not in self._views and len(self._views) >= self.core.limits.max_subscriptions_per_connection:
            return
        self._views[view] = key  # counted from now, while its group is read
        source = self._sources.get(key)
        if source is None:
            source = self._sources[key] = _Source(stream_name, group_id, _windows(key))
            await self._sync(source)
        if self.closed or self._views.get(view) != key:
            return
        source.views.add(view)
        source.windows.ask({**data, "view": view})
        if self._ticking is None or self._ticking.done():
            self._ticking = asyncio.ensure_future(self._tick())

    def _named(self, name: Any) -> TypeGuard[str]:
        if not isinstance(name, str):
            return False
        try:
            check_name("name", name, ValueError, self.core.limits.max_name_length)
        except ValueError:
            return False
        return True

    async def _sync(self, source: _Source) -> None:
        """(Re)subscribe: the sync reads the whole group, off the loop."""
        core = self.core
        source.syncing = True
        try:
            core.unsubscribe(source.subscription)
            pending = await core.offload(functools.partial(core.subscribe, source.subscription))
            if pending is not None:
                await resolve(pending)
        except Exception:
            log.exception("reading %s/%s for a window failed", source.stream_name, source.group_id)
        finally:
            source.syncing = False
        if self.closed:
            core.unsubscribe(source.subscription)

    async def _snapshot(self, source: _Source) -> None:
        """One snapshot for new orders, through a second subscription (``TableWindows.build``),
        read off the loop and closed once read."""
        core = self.core
        reader = Subscription(_Builder(source.windows), source.stream_name, source.group_id, keyed=True)
        source.building = True
        try:
            pending = await core.offload(functools.partial(core.subscribe, reader))
            if pending is not None:
                await resolve(pending)
        except Exception:
            log.exception("reading %s/%s for a window failed", source.stream_name, source.group_id)
        finally:
            core.unsubscribe(reader)
            source.building = False

    def _close_view(self, view: str) -> None:
        key = self._views.pop(view, None)
        source = self._sources.get(key) if key is not None else None
        if source is None:
            return
        source.views.discard(view)
        source.windows.forget(view)
        if not source.views:
            del self._sources[key]  # type: ignore[arg-type]
            self.core.unsubscribe(source.subscription)

    async def _tick(self) -> None:
        """About once a frame: each group's changed windows, framed and written."""
        while self._sources and not self.closed:
            await asyncio.sleep(FRAME_SECONDS)
            if self.transport.buffered() > self.conflate_at:
                continue  # the client has not read the last frames: newer ones will do
            for source in list(self._sources.values()):
                windows = source.windows
                if source.syncing:
                    continue
                if windows.needs_snapshot and not source.building:
                    asyncio.ensure_future(self._snapshot(source)).add_done_callback(_logged)
                if windows.dirty:
                    read = functools.partial(self._read, source)
                    frames = await self.core.offload(functools.partial(windows.frames, read))
                    self._write(source, frames)

    def _write(self, source: _Source, frames: list[dict[str, Any]]) -> None:
        out = []
        for frame in frames:
            view = frame.pop("view")
            if view == DEFAULT_VIEW or self.closed:
                continue
            message = {
                "type": frame.pop("type"),
                "subscriptionId": view,
                "streamName": source.stream_name,
                "groupId": source.group_id,
                **frame,
            }
            out.append(self.encode(RawFrame(codec.dumps(message))))
        if out:
            self.transport.send(out)

    def _read(self, source: _Source, item_ids: list[str]) -> dict[str, Any]:
        """Stored values of rows a window shows anew (on an I/O thread)."""
        return read_stored(self.core.call, source.stream_name, source.group_id, item_ids)

    def close(self) -> None:
        """The socket went: every window ends."""
        self.closed = True
        for source in self._sources.values():
            self.core.unsubscribe(source.subscription)
        self._sources.clear()
        self._views.clear()
        if self._ticking is not None:
            self._ticking.cancel()


def _key(stream_name: Any, group_id: Any, data: dict[str, Any]) -> tuple[Any, ...] | None:
    """What a window reads: a group's rows, or a group's points for one chart."""
    kind = data.get("kind", ROWS)
    if kind == ROWS:
        return (stream_name, group_id, ROWS)
    if kind != POINTS:
        return None
    x, ys, window = data.get("x"), data.get("y"), data.get("window")
    if isinstance(ys, str):
        ys = [ys]
    if not isinstance(ys, list) or not all(isinstance(y, str) for y in ys) or not 0 < len(ys) <= MAX_FIELDS:
        return None
    if x is not None and not isinstance(x, str):
        return None
    if not (isinstance(window, int) and not isinstance(window, bool) and window > 0):
        window = None
    return (stream_name, group_id, POINTS, x, tuple(ys), window)


def _windows(key: tuple[Any, ...]) -> Windowed:
    if key[2] == ROWS:
        return TableWindows()
    _, _, _, x, ys, window = key
    return ChartRanges(x, list(ys), window)


def _logged(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a window request failed", exc_info=task.exception())
