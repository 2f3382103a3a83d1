"""Published dashboards in Chromium: a notebook publishes, other browsers (no Jupyter) watch,
directly, through jupyter-server-proxy and through a reverse proxy that adds a path prefix."""

from __future__ import annotations

import asyncio
import threading
import urllib.parse
from typing import Any

import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket

import iii_live

from ..proxy import CuttingProxy
from .servers import Server, write_notebook
from .test_widgets_browser import Notebook

VIEW_TOKEN = "fleet-view-token-0123456789"
NOTEBOOK = [
    f"""
import iii_live
engine = iii_live.start(port=0)
feed = engine.stream("ops")
for i in range(5):
    feed.set("hosts", f"h{{i}}", {{"cpu": i * 10, "region": "eu" if i % 2 else "us"}})
for t in range(20):
    feed.set("load", f"{{t:04d}}", {{"t": t, "load": t % 7}})
hosts = feed.table("hosts", sort_by="cpu", height=200)
load = feed.chart("load", x="t", y="load", window=10, height=200)
dash = iii_live.Dashboard("Fleet", [["## Hosts\\nLive from the **kernel**.", hosts], [load]])
url = engine.publish(dash, name="fleet", token={VIEW_TOKEN!r})
print("PORT", engine.port)
dash
""",
    'feed.set("hosts", "h0", {"cpu": 99, "region": "us"})',
    'dash.rows.append(["*Republished* while open"])\nengine.publish(dash, name="fleet")',
    "print(hosts.sort_by, hosts.ascending)",
]
ROW_CELL = """([item, column]) => {
    const row = document.querySelector(`.iii-dash-view .iii-row[data-id="${item}"]`);
    const cell = row && row.querySelector(`[data-column="${column}"]`);
    return cell ? cell.textContent : null;
}"""


def wait_dash_cell(page, item: str, column: str, text: str) -> None:
    page.wait_for_function(f"(args) => ({ROW_CELL})(args) === {text!r}", arg=[item, column])


def first_row(page) -> str:
    return page.evaluate("() => document.querySelector('.iii-dash-view .iii-row').dataset.id")


def sort_header(page) -> str:
    return page.locator(".iii-dash-view .iii-th[data-column='cpu']").inner_text()


def sees_the_fleet(page) -> None:
    """The page shows the notebook's dashboard: markdown, the table sorted by cpu, the chart."""
    page.wait_for_function("() => document.getElementById('title').textContent === 'Fleet'")
    assert page.locator(".iii-dash-markdown h2").inner_text() == "Hosts"
    assert page.locator(".iii-dash-markdown strong").inner_text() == "kernel"
    wait_dash_cell(page, "h4", "cpu", "40")
    assert first_row(page) == "h0"  # sort_by="cpu", ascending
    page.wait_for_function(
        "() => document.querySelector('.iii-dash-view .iii-chart')?.dataset.points === '10'"
    )
    assert page.locator("#status").inner_text() == "live"


@pytest.mark.timeout(420)
def test_a_notebook_publishes_and_other_browsers_watch_it_live(tmp_path, page, new_page):
    """JupyterLab runs the notebook; two browsers without Jupyter open the link, one directly
    and one through jupyter-server-proxy (``/proxy/PORT/d/fleet``); writes, a republish and a
    viewer's own sort behave as they should."""
    write_notebook(tmp_path / "publish.ipynb", NOTEBOOK)
    lab = Server("lab", tmp_path)
    try:
        page.goto(f"{lab.base}/lab/tree/publish.ipynb")
        nb = Notebook(page)
        nb.run(0)
        port = int(nb.output_text(0).split("PORT", 1)[1].split()[0])
        page.wait_for_selector(
            ".jp-OutputArea .iii-table .iii-row[data-id='h4']"
        )  # shown in the notebook too

        direct, proxied = new_page(), new_page()
        refused = direct.goto(f"http://127.0.0.1:{port}/d/fleet")
        assert refused is not None and refused.status == 401
        direct.goto(f"http://127.0.0.1:{port}/d/fleet?token={VIEW_TOKEN}")
        response = proxied.goto(f"{lab.base}/proxy/{port}/d/fleet?token={VIEW_TOKEN}")
        assert response is not None and response.status == 200, lab.log.name
        for viewer in (direct, proxied):
            sees_the_fleet(viewer)
            viewer.evaluate("() => { window.sameDocument = true; }")

        nb.run(1)  # a write in the kernel reaches both
        for viewer in (direct, proxied):
            wait_dash_cell(viewer, "h0", "cpu", "99")

        direct.locator(".iii-dash-view .iii-th[data-column='cpu']").click()  # now descending, here only
        direct.wait_for_function(
            "() => document.querySelector('.iii-dash-view .iii-row').dataset.id === 'h0'"
        )
        assert "\u25bc" in sort_header(direct) and "\u25b2" in sort_header(proxied)

        nb.run(2)  # republished: both pages change in place, the viewer's sort stays
        for viewer in (direct, proxied):
            viewer.wait_for_selector(".iii-dash-markdown em:text('Republished')")
            assert viewer.evaluate("() => window.sameDocument") is True
        assert "\u25bc" in sort_header(direct) and "\u25b2" in sort_header(proxied)
        nb.run(3)
        assert nb.output_text(3).strip() == "cpu True"  # the kernel's table is as it was
    finally:
        lab.stop()


class PrefixProxy:
    """A reverse proxy serving ``/<prefix>/...`` from ``127.0.0.1:<target>/...``, HTTP and
    WebSocket, as ``location /<prefix>/ { proxy_pass http://127.0.0.1:PORT/; }`` does in
    nginx (with the WebSocket upgrade headers), on its own thread. ``seen`` lists the paths
    it forwarded."""

    def __init__(self, target_port: int, prefix: str) -> None:
        self.seen: list[str] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        options = {"target": f"127.0.0.1:{target_port}", "seen": self.seen}

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
            self.port = sockets[0].getsockname()[1]
            server = tornado.httpserver.HTTPServer(
                tornado.web.Application([(rf"/{prefix}/(.*)", _Forward, options)])
            )
            server.add_sockets(sockets)
            ready.set()
            self._loop.run_forever()
            server.stop()

        self._thread = threading.Thread(target=run, name="prefix-proxy", daemon=True)
        self._thread.start()
        ready.wait(5)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class _Forward(tornado.websocket.WebSocketHandler):
    def initialize(self, target: str, seen: list[str]) -> None:
        self.target = target
        self.seen = seen
        self.upstream: Any = None

    def check_origin(self, origin: str) -> bool:
        return True  # the engine behind checks the Origin it is forwarded

    def forwarded_headers(self) -> dict[str, str]:
        forwarded = ("host", "origin", "authorization", "user-agent", "accept")
        return {name: value for name, value in self.request.headers.get_all() if name.lower() in forwarded}

    async def get(self, path: str, *args: Any, **kwargs: Any) -> None:
        self.seen.append(self.request.path)
        query = f"?{self.request.query}" if self.request.query else ""
        headers = self.forwarded_headers()
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            request = tornado.httpclient.HTTPRequest(
                f"http://{self.target}/{path}{query}", headers=headers, follow_redirects=False
            )
            response = await tornado.httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
            self.set_status(502 if response.code == 599 else response.code)
            for name in ("Content-Type", "Location", "Cache-Control", "Referrer-Policy"):
                if name in response.headers:
                    self.set_header(name, response.headers[name])
            self.finish(response.body or b"")
            return
        request = tornado.httpclient.HTTPRequest(f"ws://{self.target}/{path}{query}", headers=headers)
        try:
            self.upstream = await tornado.websocket.websocket_connect(request)
        except tornado.httpclient.HTTPClientError as exc:
            raise tornado.web.HTTPError(exc.code) from None
        await super().get(path, *args, **kwargs)

    async def open(self, path: str) -> None:
        asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        while (message := await self.upstream.read_message()) is not None:
            try:
                await self.write_message(message, binary=isinstance(message, bytes))
            except tornado.websocket.WebSocketClosedError:
                return
        self.close(self.upstream.close_code, self.upstream.close_reason)

    def on_message(self, message: str | bytes) -> None:
        self.upstream.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        if self.upstream is not None:
            self.upstream.close()


@pytest.fixture
def guarded_fleet():
    """An engine with an admin token, and a dashboard of ``ops/hosts`` with its own view token."""
    engine = iii_live.start(port=0, background=True, token="admin-token-0123456789abcdef", engine_port=None)
    feed = engine.stream("ops")
    for i in range(5):
        feed.set("hosts", f"h{i}", {"cpu": i * 10})
    hosts = feed.table("hosts", sort_by="cpu")
    dashboard = iii_live.Dashboard("Fleet", [["## Hosts", hosts]])
    url = engine.publish(dashboard, name="fleet", token=VIEW_TOKEN)
    yield engine, dashboard, url
    hosts.close()
    engine.stop()


def test_a_reverse_proxy_that_adds_a_path_prefix(guarded_fleet, page):
    engine, _, url = guarded_fleet
    proxy = PrefixProxy(engine.port, "team/fleet-board")
    try:
        base = f"http://127.0.0.1:{proxy.port}/team/fleet-board"
        assert page.goto(f"{base}/d/fleet").status == 401  # the engine's answer, through the proxy
        page.goto(f"{base}/d/fleet?token={VIEW_TOKEN}")
        page.wait_for_function("() => document.getElementById('status').textContent === 'live'")
        wait_dash_cell(page, "h4", "cpu", "40")
        engine.stream("ops").set("hosts", "h4", {"cpu": 41})
        wait_dash_cell(page, "h4", "cpu", "41")
        assert "/team/fleet-board/d/fleet/ws" in proxy.seen  # the socket went through the proxy too
        assert "/team/fleet-board/_iii/static/dashboard.js" in proxy.seen
        page.goto(f"{base}/d/fleet/?token={VIEW_TOKEN}")  # a trailing slash lands on the page
        assert urllib.parse.urlsplit(page.url).path == "/team/fleet-board/d/fleet"
        wait_dash_cell(page, "h4", "cpu", "41")
    finally:
        proxy.close()


def test_a_viewer_resumes_after_a_cut_and_follows_unpublish_and_token_changes(guarded_fleet, page):
    engine, dashboard, url = guarded_fleet
    cutting = CuttingProxy(engine.port)
    try:
        page.goto(url.replace(f":{engine.port}/", f":{cutting.port}/"))
        store = "(globalThis.__iiiLive || []).find((e) => e.group === 'ops/hosts')?.store"
        page.wait_for_function(f"() => {store}?.items.size === 5")
        cutting.cut()
        page.wait_for_function("() => document.getElementById('status').textContent === 'reconnecting'")
        for n in range(5, 25):
            engine.stream("ops").set("hosts", f"h{n}", {"cpu": n * 10})
        page.wait_for_function(f"() => {store}?.items.size === 25")
        assert page.evaluate(f"() => {store}.stats.keyframes") == 1  # resumed: no second sync
        page.wait_for_function("() => document.getElementById('status').textContent === 'live'")

        engine.unpublish("fleet")
        page.wait_for_function("() => document.getElementById('title').textContent === 'Not published'")
        assert page.evaluate("() => (globalThis.__iiiLive || []).length") == 0
        engine.publish(dashboard, name="fleet", token=VIEW_TOKEN)  # the open page follows it again
        page.wait_for_function(f"() => {store}?.items.size === 25")

        engine.publish(dashboard, name="fleet", token="another-view-token-0123456789")
        page.wait_for_function(
            "() => document.getElementById('status').textContent.includes(\"the dashboard's token changed\")"
        )
    finally:
        cutting.close()
