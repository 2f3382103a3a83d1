"""The stream browser and the demo page over large groups, in Chromium: they follow them
through windows on a direct WebSocket (the engine sends what is on screen), never the whole
group."""

from __future__ import annotations

import datetime as dt

from iii_live.demo import MarketFeed

from ..conftest import wait_for
from .test_pages_browser import http_base, open_group

ITEMS = 50_000
ENTRY = "(globalThis.__iiiLive || []).find(e => e.group === '{}')"


def row_at(page, group: str, position: int) -> str | None:
    return page.evaluate(
        f"(p) => {ENTRY.format(group)}?.view.root.querySelector(`.iii-row[data-position='${{p}}']`)"
        "?.dataset.id ?? null",
        position,
    )


def test_the_stream_browser_pages_through_a_large_group(engine, page):
    log = engine.stream("big")
    for i in range(ITEMS):
        log.set("log", f"e{i:06d}", {"n": i})
    open_group(page, engine, "big", "log")
    wait_for(lambda: row_at(page, "big/log", 0) == f"e{ITEMS - 1:06d}", timeout=30)  # newest first
    entry = ENTRY.format("big/log")
    assert page.evaluate(f"() => [{entry}.store.windowed, {entry}.store.items.size]") == [True, 0]
    assert page.locator(".iii-table-footer").inner_text().startswith(f"{ITEMS} items")
    page.evaluate(f"() => {{ {entry}.view.viewport.scrollTop = 30000 * 26; }}")
    wait_for(lambda: row_at(page, "big/log", 30_000) == f"e{ITEMS - 1 - 30_000:06d}", timeout=30)
    page.evaluate(f"() => {{ {entry}.view.viewport.scrollTop = 0; }}")
    wait_for(lambda: row_at(page, "big/log", 0) == f"e{ITEMS - 1:06d}", timeout=30)
    log.set("log", "newest", {"n": -1})  # at the top of a newest-first log: it comes into view
    wait_for(lambda: row_at(page, "big/log", 0) == "newest", timeout=30)
    assert page.locator(".iii-table-footer").inner_text().startswith(f"{ITEMS + 1} items")


def test_the_demo_page_draws_a_long_index_through_the_engine(engine, page):
    index = engine.stream("market")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for i in range(20_000):
        moment = (start + dt.timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
        index.set("index", f"h{i:06d}", {"t": moment, "index": 100 + (i % 50), "average": 100})
    feed = MarketFeed(engine, rate=40, seed=1).start()
    try:
        page.goto(f"{http_base(engine)}/demo")
        chart = ENTRY.format("market/index")
        page.wait_for_function(f"() => Number({chart}?.view.root.dataset.points) > 0", timeout=30_000)
        shown = f"{chart}.view.root.dataset"
        windowed, total, points = page.evaluate(
            f"() => [{chart}.store.windowed, Number({shown}.total), Number({shown}.points)]"
        )
        assert windowed and total >= 20_000 and points <= 2 * 1200
        first_last = page.evaluate(f"() => JSON.parse({chart}.view.root.dataset.last)[0]")
        page.wait_for_function(f"() => JSON.parse({chart}.view.root.dataset.last)[0] > {first_last}")  # live
        quotes = ENTRY.format("market/quotes")
        page.wait_for_function(f"() => {quotes}?.store.items.size === 14")  # a small group: whole
    finally:
        feed.stop()
