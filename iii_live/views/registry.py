"""The views an engine owns: one ``LiveView`` per derived group, shared by equal specs.

Opening a spec that is already open (same stream, group and name, which equal specs share
by default) returns another handle on the same view, so ten pages asking for the same
view cost one. The view closes with its last handle, or when the engine stops.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..streams.inputs import check_name
from .errors import PageViewsFull, ViewSpecError
from .live_view import LiveView
from .publisher import Publisher
from .spec import ViewSpec
from .view import View

if TYPE_CHECKING:
    from ..core import StreamCore


class ViewRegistry:
    def __init__(self, core: StreamCore) -> None:
        self.core = core
        self.publisher = Publisher()
        self._views: dict[tuple[str, str], LiveView] = {}
        self._page_views = 0
        """Views opened by pages (``open_for_page``), counted against ``max_page_views``."""
        self._lock = threading.Lock()
        self._closed = False

    def open_for_page(self, spec: ViewSpec | dict[str, Any] | str) -> View:
        """``open`` for a page: a view no one holds yet counts against ``max_page_views``."""
        return self.open(spec, by_page=True)

    def open(self, spec: ViewSpec | dict[str, Any] | str, by_page: bool = False) -> View:
        """A handle on the view of ``spec`` (a ``ViewSpec``, its dict or its JSON)."""
        spec = ViewSpec.parse(spec)
        limit = self.core.limits.max_name_length
        for part, name in (("stream_name", spec.stream_name), ("group_id", spec.group_id)):
            check_name(part, name, lambda reason, part=part: ViewSpecError(part, reason), limit)
        for part, name in (("stream_name", spec.derived_stream), ("name", spec.derived_group)):
            if len(name) > limit:
                raise ViewSpecError(
                    part, f"the derived name {name[:40]!r}... is longer than {limit} characters"
                )
        key = (spec.derived_stream, spec.derived_group)
        with self._lock:
            if self._closed:
                raise RuntimeError("the engine is stopped; start it again to open views")
            live = self._views.get(key)
            if live is None:
                most = self.core.limits.max_page_views
                if by_page and self._page_views >= most:
                    raise PageViewsFull(
                        f"pages hold {most} views on this engine, the most it allows (max_page_views)"
                    )
                live = self._views[key] = LiveView(self.core, spec, self.publisher)
                live.users = 1
                live.by_page = by_page
                self._page_views += by_page
                opening = True
            elif live.spec != spec:
                raise ViewSpecError(
                    "name", f"another view named {spec.name!r} is open on {spec.stream_name}/{spec.group_id}"
                )
            else:
                live.users += 1
                opening = False
        if not opening:
            try:
                live.wait_open()
            except BaseException:
                self.release(live)
                raise
            return View(live, self)
        try:
            live.open()
        except BaseException:
            with self._lock:
                live.users = 0
                self._forget(live)
            live.close()
            raise
        return View(live, self)

    def _forget(self, live: LiveView) -> None:
        key = (live.stream_name, live.group_id)
        if self._views.get(key) is live:
            del self._views[key]
            self._page_views -= live.by_page

    def release(self, live: LiveView) -> None:
        """One handle closed; the view goes with its last."""
        with self._lock:
            live.users -= 1
            if live.users > 0:
                return
            self._forget(live)
        live.close()

    def views(self) -> list[LiveView]:
        with self._lock:
            return list(self._views.values())

    def close(self) -> None:
        """Close every view (their derived groups are deleted) and stop publishing."""
        with self._lock:
            self._closed = True
            views = list(self._views.values())
            self._views.clear()
            self._page_views = 0
        for live in views:
            live.close()
        self.publisher.stop()
