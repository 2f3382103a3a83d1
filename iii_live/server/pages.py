"""HTTP on the stream port: the stream browser at ``/``, the demo page, and their data.

Pages are static files built from ``js/pages`` (no CDN: everything comes from this
port); they subscribe over the same WebSocket endpoint as any iii client.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import tornado.web

from .. import codec
from .access import token_accepted

if TYPE_CHECKING:
    from ..engine import Engine

STATIC = Path(__file__).resolve().parent.parent / "static"


def page(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def overview(engine: Engine) -> dict[str, Any]:
    """Streams, their groups with item and subscriber counts, and the engine's addresses."""
    listed = engine.trigger({"function_id": "stream::list_all", "payload": {}})
    subscribers = engine.hub.counts()
    streams = []
    for stream in listed["stream"]:
        groups = []
        for group_id in stream["groups"]:
            items = engine.adapter.items(stream["id"], group_id)
            groups.append(
                {
                    "id": group_id,
                    "items": len(items),
                    "subscribers": subscribers.get((stream["id"], group_id), 0),
                }
            )
        streams.append({"id": stream["id"], "groups": groups})
    return {
        "engine": {
            "stream_url": engine.stream_url,
            "engine_url": engine.engine_url,
            "connections": len(engine.connections),
            "workers": len(engine.workers),
        },
        "streams": streams,
    }


class _Guarded(tornado.web.RequestHandler):
    """A page or API that requires the engine's token, when it has one."""

    def initialize(self, engine: Engine) -> None:
        self.engine = engine

    def prepare(self) -> None:
        if not token_accepted(self.request, self.engine.token):
            raise tornado.web.HTTPError(401, "a valid token is required (?token=)")


class StreamsApiHandler(_Guarded):
    """``GET /_iii/streams``: what the stream browser lists."""

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(codec.dumps(overview(self.engine)))


class PageHandler(_Guarded):
    def initialize(self, engine: Engine, name: str) -> None:  # type: ignore[override]
        super().initialize(engine)
        self.name = name

    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(page(self.name))
