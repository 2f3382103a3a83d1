"""Views that pages open: what a table's header menu sets becomes a view in the engine.

A page names each view it asks for with a handle of its own (a table's id) and sends a spec
over a group without the ``name`` (equal specs share one view, and a page cannot take the
name of a view others defined). Asking again under the same handle replaces the view (the
new one is opened before the old one is closed, so an equal spec keeps its rows); a spec
that is null or sets nothing closes it; closing the owner (a connection, a widget) closes
them all. An owner holds at most ``max_views`` views.

Each request gets one answer, the ``req`` it carried echoed:

    {"type": "view", "viewId": H, "req": R, "streamName": "<stream>~views",
     "groupId": "<group>~<name>", "spec": {...}, "columns": [...], "rows": n}
    {"type": "view", "viewId": H, "req": R, "closed": true}
    {"type": "view", "viewId": H, "req": R, "error": {"part": P, "message": M}}

``streamName``/``groupId`` name the derived group to follow (``rows`` items now), ``columns``
the rows' fields when the spec fixes them (``rows`` is null when it could not be counted).
An error names the part of the spec that is
wrong (``where[0]``, ``agg.total``) as ``ViewSpecError`` does, or of the request
(``viewId``, ``streamName``, ``groupId``: ``request_error``; ``viewId`` is null when the
request has none usable), and the view shown before stays open. Nothing a page sends
raises: a failure to open is answered as an error.

Sans-I/O: ``open_view`` opens a spec (``ViewRegistry.open``, which may wait for the base
group's first read: call ``request`` off any event loop), ``count`` says how many rows a
group holds. Requests of one owner are meant to be handled one at a time, in order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import codec
from ..streams.inputs import check_name
from ..views import ViewSpecError
from ..views.errors import PageViewsFull

if TYPE_CHECKING:
    from ..views import View

log = logging.getLogger("iii_live.protocol")

VIEW = "view"
MAX_PAGE_VIEWS = 8
"""Views one connection may hold open at once."""
PAGE_KEYS = ("where", "columns", "group_by", "agg", "sort_by", "descending", "limit")
"""What a page's spec may set (the group is the page's, the name the spec's hash)."""
OWNER_PART = "view"
"""The part errors name when the request, not its spec, is refused."""
KEYS = ("viewId", "streamName", "groupId", "req", "spec")
"""What a request over the stream port holds."""

OpenView = Callable[[dict[str, Any]], "View"]
Count = Callable[[str, str], int]
Answer = dict[str, Any]


def page_spec(stream_name: str, group_id: str, spec: Any) -> dict[str, Any] | None:
    """The full spec of a page's request over ``stream_name/group_id``; None when it sets
    nothing (no view). Raises ``ViewSpecError`` naming a key a page may not set."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ViewSpecError("spec", f"a view spec is an object with {', '.join(PAGE_KEYS)}, not {spec!r}")
    for key in spec:
        if key not in PAGE_KEYS:
            raise ViewSpecError(str(key), f"a page's view may set {', '.join(PAGE_KEYS)} only")
    chosen = {key: value for key, value in spec.items() if not _unset(value)}
    if not chosen:
        return None
    return {"stream_name": stream_name, "group_id": group_id, **chosen}


def _unset(value: Any) -> bool:
    """A part left at its default (what a page sends for a control it did not use)."""
    return value is None or value is False or (isinstance(value, (list, dict)) and not value)


def error_answer(handle: str | None, req: Any, part: str, message: str) -> Answer:
    return {"type": VIEW, "viewId": handle, "req": req, "error": {"part": part, "message": message}}


def request_error(data: Any, max_name_length: int) -> Answer | None:
    """The answer to a request over the stream port whose handle or names are not usable
    (not strings, empty, too long, control characters), naming the key; None if they are."""
    if not isinstance(data, dict):
        return error_answer(None, None, "data", f"a view request's data is an object with {', '.join(KEYS)}")
    handle, req = data.get("viewId"), data.get("req")
    if req is not None and not isinstance(req, (str, int, float)):  # echoed in the answer: kept small
        return error_answer(None, None, "req", "`req` is a number or a string, echoed in the answer")
    for key in KEYS[:3]:
        value = data.get(key)
        try:
            if not isinstance(value, str):
                raise ValueError(f"`{key}` must be a string, not {codec.dumps(value).decode()[:40]}")
            check_name(key, value, ValueError, max_name_length)
        except ValueError as exc:
            usable = isinstance(handle, str) and key != "viewId"
            return error_answer(handle if usable else None, req, key, str(exc))
    return None


class ViewRequests:
    """The views one owner (a connection, a widget) opened for its pages, by handle."""

    def __init__(self, open_view: OpenView, count: Count, max_views: int = MAX_PAGE_VIEWS) -> None:
        self._open_view = open_view
        self._count = count
        self.max_views = max_views
        self._views: dict[str, View] = {}
        self._lock = threading.Lock()
        self.closed = False

    def __len__(self) -> int:
        return len(self._views)

    def view(self, handle: str) -> View | None:
        """The view open under ``handle``, if any."""
        return self._views.get(handle)

    def request(self, handle: str, stream_name: str, group_id: str, spec: Any, req: Any = None) -> Answer:
        """Open, replace or close the view of ``handle``; the answer to send the page."""
        try:
            full = page_spec(stream_name, group_id, spec)
        except ViewSpecError as exc:
            return error_answer(handle, req, exc.part, str(exc))
        if full is None:
            self._close(handle)
            return {"type": VIEW, "viewId": handle, "req": req, "closed": True}
        with self._lock:
            if self.closed:
                return error_answer(handle, req, OWNER_PART, "the page's connection is closed")
            if handle not in self._views and len(self._views) >= self.max_views:
                return error_answer(
                    handle, req, OWNER_PART, f"too many views on this connection (at most {self.max_views})"
                )
        try:
            view = self._open_view(full)
        except ViewSpecError as exc:
            return error_answer(handle, req, exc.part, str(exc))
        except PageViewsFull as exc:
            return error_answer(handle, req, OWNER_PART, str(exc))
        except Exception as exc:  # the engine stopped, storage failed: the page is told, nothing raises
            log.warning("opening a page's view over %s/%s failed: %s", stream_name, group_id, exc)
            return error_answer(handle, req, OWNER_PART, f"the view could not be opened: {exc}")
        with self._lock:
            closed = self.closed
            previous = None if closed else self._views.get(handle)
            if not closed:
                self._views[handle] = view
        if closed:  # the owner went while the view was opened
            view.close()
            return error_answer(handle, req, OWNER_PART, "the page's connection is closed")
        if previous is not None:
            previous.close()
        return {
            "type": VIEW,
            "viewId": handle,
            "req": req,
            "streamName": view.stream_name,
            "groupId": view.group_id,
            "spec": view.spec,
            "columns": view.columns,
            "rows": self._rows(view),
        }

    def _rows(self, view: View) -> int | None:
        try:
            return self._count(view.stream_name, view.group_id)
        except Exception:  # a count is a hint for the page: none is better than a failed answer
            log.exception("counting the rows of %r failed", view)
            return None

    def _close(self, handle: str) -> None:
        with self._lock:
            view = self._views.pop(handle, None)
        if view is not None:
            view.close()

    def close(self) -> None:
        """The owner went: every view it opened closes (views opened meanwhile, once open)."""
        with self._lock:
            self.closed = True
            views = list(self._views.values())
            self._views.clear()
        for view in views:
            view.close()
