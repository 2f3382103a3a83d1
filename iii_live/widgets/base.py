"""A widget that shows one stream group live, over the kernel comm.

The traits and the comm are here; what is sent when is the ``WidgetSession``'s
(``iii_live.protocol.widget_session``).
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from ..assets import STATIC
from ..protocol.widget_session import WidgetSession
from ..views import View
from .flusher import flusher

if TYPE_CHECKING:
    from ..engine import Engine
    from ..streams.hub import CallbackSubscription


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
    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"
    _view_kind = traitlets.Unicode("table").tag(sync=True)
    _keyframe = traitlets.Dict().tag(sync=True)
    _store_id = traitlets.Unicode().tag(sync=True)
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
        self.engine = engine
        self.session = WidgetSession(self.send, self._publish_keyframe)
        self._subscription: CallbackSubscription | None = engine.subscribe(
            stream_name, group_id, self.session.apply, keyed=True
        )
        self.session.start(time.monotonic())
        self.on_msg(lambda _widget, content, _buffers: self.session.receive(content))
        flusher.add(self)

    def __repr__(self) -> str:
        items = len(self.session.coalescer.mirror)
        return f"<{type(self).__name__} {self.stream_name}/{self.group_id}: {items} items>"

    def _publish_keyframe(self, keyframe: dict[str, Any]) -> None:
        self._keyframe = keyframe

    def flush(self, now: float) -> int:
        """Called by the flusher thread each frame; returns the messages sent."""
        return self.session.flush(now)

    @property
    def messages_sent(self) -> int:
        """Deltas and keyframes sent to the views so far."""
        return self.session.messages_sent

    @property
    def items(self) -> dict[str, Any]:
        """The items the widget shows, by id."""
        return dict(self.session.coalescer.mirror)

    def close(self) -> None:
        flusher.remove(self)
        subscription = getattr(self, "_subscription", None)
        if subscription is not None:
            subscription.close()
            self._subscription = None
        super().close()
