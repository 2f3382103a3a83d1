"""A widget that shows one stream group live, over the kernel comm.

The traits and the comm are here; what is sent when is the ``WidgetSession``'s
(``iii_live.protocol.widget_session``), and the tie to the engine the ``EngineLink``'s.
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from ..assets import STATIC
from ..protocol.viewport import WINDOW, Windowed
from ..protocol.widget_session import WidgetSession
from ..views import View
from .flusher import flusher
from .hearing import hearing
from .link import EngineLink, weak_method

if TYPE_CHECKING:
    from ..engine import Engine


def shown_group(source: str | View, group_id: str | None) -> tuple[str, str]:
    """``(stream_name, group_id)`` a widget shows: a group, or the derived group of a view."""
    if isinstance(source, View):
        if group_id is not None:
            raise TypeError("a widget of a view takes the view alone, not a group_id too")
        return source.stream_name, source.group_id
    if group_id is None:
        raise TypeError("a widget needs a stream name and a group id, or a view")
    return source, group_id


class LiveWidget(anywidget.AnyWidget):
    # The bundles' text, not their paths: anywidget keeps each widget made from a file path
    # alive for ever (to reload it when the file changes), so it could never be collected.
    _esm = (STATIC / "widget.js").read_text()
    _css = (STATIC / "widget.css").read_text()
    _whole_limit: int | None = None
    """Items up to which the group is sent whole (None: the session's default)."""
    _view_kind = traitlets.Unicode("table").tag(sync=True)
    _keyframe = traitlets.Dict().tag(sync=True)
    _store_id = traitlets.Unicode().tag(sync=True)
    _state = traitlets.Unicode("live").tag(sync=True)
    """``live``, ``paused`` (no view was looking), ``stopped`` (the engine) or ``closed``."""
    stream_name = traitlets.Unicode().tag(sync=True)
    group_id = traitlets.Unicode().tag(sync=True)
    height = traitlets.Int(360).tag(sync=True)

    def __init__(
        self, engine: Engine, stream_name: str | View, group_id: str | None = None, **kwargs: Any
    ) -> None:
        self.view: View | None = stream_name if isinstance(stream_name, View) else None
        """The view whose derived group the widget shows, if it was made from one."""
        stream_name, group_id = shown_group(stream_name, group_id)
        super().__init__(stream_name=stream_name, group_id=group_id, _store_id=uuid.uuid4().hex, **kwargs)
        hearing.install()
        flusher.follow_cells()
        self.session = WidgetSession(
            weak_method(self.send),
            weak_method(self._publish_keyframe),
            self._windows_maker(),
            self._whole_limit,
        )
        self._link = EngineLink(
            engine,
            stream_name,
            group_id,
            self.session,
            weak_method(self._state_changed),
            weak_method(self._sending),
        )
        weakref.finalize(self, self._link.close)
        self.on_msg(weak_method(self._received))
        self._link.displayed(time.monotonic())  # made to be shown: live until a view claims it or none does

    @property
    def engine(self) -> Engine:
        """The engine the widget shows data of (the one that replaced its first, after a restart)."""
        return self._link.engine

    @property
    def state(self) -> str:
        """``live``, ``paused`` (no view is looking: nothing held, nothing sent), ``stopped``
        (its engine stopped) or ``closed``."""
        return self._link.state

    @property
    def views(self) -> int:
        """Views of this widget the kernel has heard of (in every open page)."""
        return len(self.session.viewers)

    def __repr__(self) -> str:
        items = self.session.size
        state = self.state
        shown = f"{items} items" if state == "live" else state
        return f"<{type(self).__name__} {self.stream_name}/{self.group_id}: {shown}, {self.views} views>"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self._link.displayed(time.monotonic())
        return super()._repr_mimebundle_(**kwargs)

    def _windows_maker(self) -> Callable[[], Windowed] | None:
        """How the widget sees a group too large to send whole (None: it always sends it whole)."""
        return None

    def _received(self, _widget: Any, content: Any, _buffers: Any) -> None:
        now = time.monotonic()
        self.session.receive(content, now)
        self._link.refresh(now)
        if isinstance(content, dict) and content.get("type") == WINDOW:
            flusher.wake()  # answer a scroll now, not at the next frame

    def _publish_keyframe(self, keyframe: dict[str, Any]) -> None:
        self._keyframe = keyframe

    def _state_changed(self, state: str) -> None:
        self._state = state

    def _sending(self, live: bool) -> None:
        if live:
            flusher.add(self)
        else:
            flusher.remove(self)

    def flush(self, now: float) -> int:
        """Called by the flusher thread each frame; returns the messages sent."""
        self._link.refresh(now)
        return self.session.flush(now, self._link.read) if self._link.state == "live" else 0

    @property
    def messages_sent(self) -> int:
        """Deltas and keyframes sent to the views so far."""
        return self.session.messages_sent

    @property
    def items(self) -> dict[str, Any]:
        """The items the widget holds, by id: all of a group sent whole; none of a large group
        (its views ask for their rows) or while paused."""
        return dict(self.session.coalescer.mirror)

    def close(self) -> None:
        """Let go of the group now; the views stay, saying the widget is closed."""
        link = getattr(self, "_link", None)
        if link is not None:
            link.close()
