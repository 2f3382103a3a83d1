"""The dashboards an engine serves, by name, and the viewer sockets open on each.

A published dashboard is a layout, the groups it shows and its view token. Its layout is
also the item ``layout`` of group ``<name>`` of the reserved stream ``iii-live~dashboards``,
so open pages subscribe to it and re-render when it is published again.

A viewer may join the groups its dashboard shows and its layout group, nothing else: the
registry answers ``refusal()`` at every join, against what is published at that moment.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from ..streams.inputs import LAYOUT_STREAM

LAYOUT_ITEM = "layout"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""Dashboard names are one URL path segment that needs no escaping."""


class Viewer(Protocol):
    """A viewer's socket, told when its dashboard is published again or unpublished."""

    def recheck(self) -> None: ...


@dataclass(frozen=True)
class Published:
    name: str
    source: Any
    """The ``Dashboard`` published: publishing another one under this name needs ``replace``."""
    layout: dict[str, Any]
    groups: frozenset[tuple[str, str]]
    token: str | None
    """What viewers present (``?token=``), besides the engine's own token; None: no token."""

    def link(self, base: str) -> str:
        """The page's URL under ``base`` (``http://host:port``, or a proxy's prefix), token included."""
        return f"{base}/d/{self.name}" + (f"?token={quote(self.token)}" if self.token else "")


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(
            f"a dashboard name is 1 to 64 letters, digits, '.', '_' or '-' (it is part of the page's URL), "
            f"not {name!r}"
        )
    return name


class Dashboards:
    """Thread-safe: publishing happens on the caller's thread, viewers live on the event loop."""

    def __init__(self) -> None:
        self._published: dict[str, Published] = {}
        self._viewers: dict[str, set[Viewer]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Published | None:
        return self._published.get(name)

    def names(self) -> list[str]:
        return sorted(self._published)

    def publish(self, published: Published, *, replace: bool) -> None:
        """Record ``published``; a name held by a different dashboard (another layout: the
        same one made again, by a cell run again, is an update) needs ``replace``."""
        with self._lock:
            current = self._published.get(published.name)
            if (
                current is not None
                and current.source is not published.source
                and current.layout != published.layout
                and not replace
            ):
                raise ValueError(
                    f"a different dashboard is published as {published.name!r}: pass replace=True to "
                    f"replace it, or choose another name"
                )
            self._published[published.name] = published

    def restore(self, name: str, previous: Published | None) -> None:
        """Undo a ``publish`` whose layout could not be stored."""
        with self._lock:
            if previous is None:
                self._published.pop(name, None)
            else:
                self._published[name] = previous

    def unpublish(self, name: str) -> Published | None:
        with self._lock:
            return self._published.pop(name, None)

    def refusal(self, name: str, stream_name: str, group_id: str) -> str | None:
        """Why a viewer of dashboard ``name`` may not join ``stream_name/group_id``, or None.

        The layout group stays open after an unpublish, so open pages see a later publish."""
        if (stream_name, group_id) == (LAYOUT_STREAM, name):
            return None
        published = self._published.get(name)
        if published is None:
            return f"dashboard {name!r} is not published"
        if (stream_name, group_id) not in published.groups:
            return f"{stream_name}/{group_id} is not shown by dashboard {name!r}"
        return None

    # -- viewers -------------------------------------------------------------------------

    def attach(self, name: str, viewer: Viewer) -> None:
        with self._lock:
            self._viewers.setdefault(name, set()).add(viewer)

    def detach(self, name: str, viewer: Viewer) -> None:
        with self._lock:
            viewers = self._viewers.get(name)
            if viewers is not None:
                viewers.discard(viewer)
                if not viewers:
                    del self._viewers[name]

    def viewers(self, name: str) -> list[Viewer]:
        with self._lock:
            return list(self._viewers.get(name, ()))

    def recheck_viewers(self, name: str) -> None:
        """After a publish or an unpublish (on the event loop): every viewer of ``name``
        closes if its token no longer admits it, and leaves the groups no longer shown."""
        for viewer in self.viewers(name):
            viewer.recheck()
