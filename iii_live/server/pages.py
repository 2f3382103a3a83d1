"""HTTP on the stream port: the stream browser at ``/``, the demo page, and their data.

Pages are static files built from ``js/pages`` (no CDN: everything comes from this
port); they subscribe over the same WebSocket endpoint as any iii client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tornado.web

from .. import codec
from ..assets import page
from ..core import StreamCore
from .access import admit
from .settings import ServerSettings


class _Guarded(tornado.web.RequestHandler):
    """A page or API that requires the engine's token, when it has one."""

    def initialize(self, settings: ServerSettings) -> None:
        self.server_settings = settings

    def prepare(self) -> None:
        admit(self.request, self.server_settings)


class StreamsApiHandler(_Guarded):
    """``GET /_iii/streams``: what the stream browser lists (read off the event loop)."""

    def initialize(  # type: ignore[override]
        self, settings: ServerSettings, core: StreamCore, describe: Callable[[], dict[str, Any]]
    ) -> None:
        super().initialize(settings)
        self.core = core
        self.describe = describe

    async def get(self) -> None:
        streams = await self.core.offload(self.core.overview)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(codec.dumps({"engine": self.describe(), "streams": streams}))


class PageHandler(_Guarded):
    def initialize(self, settings: ServerSettings, name: str) -> None:  # type: ignore[override]
        super().initialize(settings)
        self.name = name

    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(page(self.name))


class StaticFiles(tornado.web.StaticFileHandler):
    """The built front-end, under the same Host rule as the pages (no token: it holds no data)."""

    def initialize(self, path: str, settings: ServerSettings) -> None:  # type: ignore[override]
        super().initialize(path)
        self.server_settings = settings

    def prepare(self) -> None:
        admit(self.request, self.server_settings, token=False)

    def parse_url_path(self, url_path: str) -> str:
        if "\x00" in url_path:  # not a file name on any system: not found, not a server error
            raise tornado.web.HTTPError(404)
        return super().parse_url_path(url_path)
