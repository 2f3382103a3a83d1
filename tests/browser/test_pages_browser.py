"""The demo page and the stream browser in Chromium: plain pages over a direct WebSocket."""

from __future__ import annotations

import datetime as dt
import http.server
import logging
import threading
from zoneinfo import ZoneInfo

import pytest

from iii_live.demo import MarketFeed

from ..conftest import wait_for
from ..proxy import CuttingProxy
from .conftest import save_screenshot

# A zone far from UTC, with a half-hour offset, so a timestamp shown without converting it
# to the viewer's local time is seen.
VIEWER_ZONE = "Asia/Kolkata"
CELL = """([group, item, column]) => {
    const entry = (globalThis.__iiiLive || []).find(e => e.group === group);
    const row = entry && entry.view.root.querySelector(`.iii-row[data-id="${item}"]`);
    const cell = row && row.querySelector(`[data-column="${column}"]`);
    return cell ? {text: cell.textContent, title: cell.title, classes: [...cell.classList],
                   clipped: cell.scrollWidth > cell.clientWidth} : null;  // null until the view is there
}"""


def http_base(engine) -> str:
    return engine.stream_url.replace("ws://", "http://", 1)


def open_group(page, engine, stream: str, group: str) -> None:
    """Open the stream browser and watch ``stream/group`` (as a user clicks it)."""
    page.goto(f"{http_base(engine)}/")
    page.locator(f"nav button[data-stream='{stream}'][data-group='{group}']").click()
    page.wait_for_function(
        "(g) => (globalThis.__iiiLive || []).some(e => e.group === g)", arg=f"{stream}/{group}"
    )


def wait_cell(page, group: str, item: str, column: str, predicate: str) -> dict:
    """Wait until the cell's state (text, title, classes, clipped) satisfies the JS ``predicate``."""
    page.wait_for_function(
        f"(args) => {{ const c = ({CELL})(args); return c !== null && ({predicate})(c); }}",
        arg=[group, item, column],
    )
    return page.evaluate(CELL, [group, item, column])


def shown_in_viewer_zone(raw: str) -> str:
    """What a timestamp should read as in ``VIEWER_ZONE``: time of day if today there, else date and time."""
    zone = ZoneInfo(VIEWER_ZONE)
    when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    when = when.astimezone(zone) if when.tzinfo else when
    if when.date() == dt.datetime.now(zone).date():
        return when.strftime("%H:%M:%S")
    return when.strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def feed(engine):
    feed = MarketFeed(engine, rate=40, seed=1).start()
    yield feed
    feed.stop()


def test_demo_page_and_stream_browser(engine, feed, page):
    base = http_base(engine)
    page.goto(f"{base}/demo")
    quotes = "(globalThis.__iiiLive || []).find(e => e.group === 'market/quotes')"
    page.wait_for_function(f"() => {quotes}?.store.items.size === 14", timeout=30_000)
    page.wait_for_function(
        "() => Number(document.querySelector('.iii-chart').dataset.points) > 20", timeout=30_000
    )
    ticks = page.evaluate(f"() => {quotes}.store.stats.deltas")
    page.wait_for_function(f"() => {quotes}.store.stats.deltas > {ticks + 10}")
    assert page.locator(".iii-table .iii-row").count() == 14
    save_screenshot(page, [page.locator("body")], "demo.png")

    open_group(page, engine, "market", "quotes")
    page.wait_for_function(
        "() => (globalThis.__iiiLive || []).find(e => e.group === 'market/quotes').store.items.size === 14"
    )
    page.wait_for_selector(".iii-table .iii-row[data-id='NVDA']")


def test_demo_timestamps_show_the_time_of_day_in_full(engine, feed, new_page):
    """The demo's `updated` column (UTC timestamps of now) reads as the viewer's time of day."""
    page = new_page(timezone_id=VIEWER_ZONE)
    page.goto(f"{http_base(engine)}/demo")
    cell = wait_cell(page, "market/quotes", "NVDA", "updated", "(c) => c.title !== ''")
    assert cell["title"].endswith("Z"), cell  # the raw value, on hover
    assert cell["text"] == shown_in_viewer_zone(cell["title"]), cell
    assert len(cell["text"]) == len("00:00:00") and not cell["clipped"], cell


def test_stream_browser_timestamps_convert_and_fit(engine, new_page):
    page = new_page(timezone_id=VIEWER_ZONE)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    events = engine.stream("events")
    events.set("log", "today", {"at": now})
    events.set("log", "utc", {"at": "2024-03-05T10:02:00Z"})
    events.set("log", "naive", {"at": "2024-03-05T10:02:00.250"})  # no zone: shown as written
    open_group(page, engine, "events", "log")
    expected = {
        "today": shown_in_viewer_zone(now),
        "utc": "2024-03-05 15:32:00",
        "naive": "2024-03-05 10:02:00",
    }
    for item, text in expected.items():
        cell = wait_cell(page, "events/log", item, "at", f"(c) => c.text === {text!r}")
        assert not cell["clipped"], cell
    assert len(expected["today"]) == len("00:00:00")


def test_changed_numbers_show_their_direction(engine, page):
    prices = engine.stream("prices")
    prices.set("g", "x", {"price": 10, "name": "a"})
    open_group(page, engine, "prices", "g")
    first = wait_cell(page, "prices/g", "x", "price", "(c) => c.text === '10'")
    assert "iii-up" not in first["classes"] and "iii-down" not in first["classes"]

    prices.set("g", "x", {"price": 11, "name": "a"})
    wait_cell(page, "prices/g", "x", "price", "(c) => c.text === '11' && c.classes.includes('iii-up')")
    prices.set("g", "x", {"price": 9.5, "name": "b"})
    cell = wait_cell(
        page, "prices/g", "x", "price", "(c) => c.text === '9.5' && c.classes.includes('iii-down')"
    )
    assert "iii-up" not in cell["classes"]
    name = wait_cell(page, "prices/g", "x", "name", "(c) => c.text === 'b'")
    assert "iii-up" not in name["classes"] and "iii-down" not in name["classes"]  # text has no direction


def test_stream_browser_shows_the_newest_items_first(engine, page):
    log = engine.stream("app")
    for i in range(60):  # more rows than one screen
        log.set("log", f"e{i:03d}", {"n": i})
    open_group(page, engine, "app", "log")
    first_row = "() => document.querySelector('.iii-table .iii-row')?.dataset.id"
    page.wait_for_function(f"() => ({first_row})() === 'e059'")
    assert "newest first" in page.locator(".iii-table-footer").inner_text()
    log.set("log", "e060", {"n": 60})
    page.wait_for_function(f"() => ({first_row})() === 'e060'")


def test_items_with_an_id_field_get_one_id_column(engine, page):
    """The item ids get a column only when the items' own ``id`` field does not already show them."""
    engine.stream("ids").set("same", "a", {"id": "a", "v": 1})
    engine.stream("ids").set("other", "a", {"id": 7, "v": 1})
    headers = "() => [...document.querySelectorAll('.iii-table .iii-th')].map((h) => h.dataset.column)"
    open_group(page, engine, "ids", "same")
    page.wait_for_function(f"() => ({headers})().includes('v')")
    assert page.evaluate(headers) == ["id", "v"]
    open_group(page, engine, "ids", "other")
    page.wait_for_function(f"() => ({headers})().includes('item id')")
    assert page.evaluate(headers) == ["item id", "id", "v"]


def test_the_stream_browser_resumes_after_a_cut_without_a_new_sync(engine, page):
    """Through a connection that drops, the page shows "reconnecting", comes back with the
    events it missed (no second sync: its keyframe count stays 1) and shows the exact state."""
    proxy = CuttingProxy(engine.port)
    try:
        stream = engine.stream("r")
        stream.set("g", "a", {"n": 0})
        page.goto(f"http://127.0.0.1:{proxy.port}/")
        page.locator("nav button[data-stream='r'][data-group='g']").click()
        store = "(globalThis.__iiiLive || []).find((e) => e.group === 'r/g')?.store"
        page.wait_for_function(f"() => {store}?.items.size === 1")
        proxy.cut()
        page.wait_for_function("() => document.getElementById('status').textContent.includes('reconnecting')")
        for n in range(1, 20):
            stream.set("g", f"k{n}", {"n": n})
        stream.delete("g", "a")
        page.wait_for_function(f"() => {store}?.items.size === 19 && !{store}.items.has('a')")
        assert page.evaluate(f"() => {store}.stats.keyframes") == 1
        assert "live" in page.locator("#status").inner_text()
    finally:
        proxy.close()


class _AccessLog(logging.Handler):
    """Collects the engine's HTTP access log lines (Tornado logs 4xx answers as warnings)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


class _IconlessSite(http.server.BaseHTTPRequestHandler):
    """A page that names no icon, on its own server, which records the paths asked for."""

    paths: list[str]

    def do_GET(self) -> None:
        self.paths.append(self.path)
        found = self.path == "/"
        body = b"<!doctype html><title>no icon</title><p>no icon here" if found else b""
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_pages_make_no_favicon_request(engine, feed, page):
    """Chromium asks for /favicon.ico when a page names no icon. Sentinel: after the demo and
    the stream browser have loaded, a page that names no icon, served elsewhere, brings its
    server a /favicon.ico request; by then the engine must have had none."""
    handler = type("Site", (_IconlessSite,), {"paths": []})
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    access = logging.getLogger("tornado.access")
    log = _AccessLog()
    access.addHandler(log)
    try:
        page.goto(f"{http_base(engine)}/demo")
        page.wait_for_selector(".iii-table .iii-row[data-id='NVDA']")
        browser_page = page.context.new_page()
        open_group(browser_page, engine, "market", "quotes")
        browser_page.wait_for_selector(".iii-table .iii-row[data-id='NVDA']")
        page.context.new_page().goto(f"http://127.0.0.1:{site.server_address[1]}/")
        wait_for(lambda: "/favicon.ico" in handler.paths, timeout=30)
        assert [line for line in log.lines if "favicon" in line] == []
    finally:
        access.removeHandler(log)
        site.shutdown()
        site.server_close()
