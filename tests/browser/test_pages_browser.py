"""The demo page and the stream browser in Chromium: plain pages over a direct WebSocket."""

from __future__ import annotations

import iii_live
from iii_live.demo import MarketFeed

from .conftest import save_screenshot


def test_demo_page_and_stream_browser(page):
    engine = iii_live.start(port=0, background=True)
    feed = MarketFeed(engine, rate=40, seed=1).start()
    try:
        base = engine.stream_url.replace("ws://", "http://", 1)
        page.goto(f"{base}/demo")
        page.wait_for_function(
            "() => window.__iiiDemo && window.__iiiDemo.quotes.items.size === 14", timeout=30_000
        )
        page.wait_for_function(
            "() => Number(document.querySelector('.iii-chart').dataset.points) > 20", timeout=30_000
        )
        ticks = page.evaluate("() => window.__iiiDemo.quotes.stats.deltas")
        page.wait_for_function(f"() => window.__iiiDemo.quotes.stats.deltas > {ticks + 10}")
        assert page.locator(".iii-table .iii-row").count() == 14
        save_screenshot(page, [page.locator("body")], "demo.png")

        page.goto(f"{base}/")
        page.locator("nav button[data-group='quotes']").click()
        page.wait_for_function("() => window.__iiiPage && window.__iiiPage.store.items.size === 14")
        page.wait_for_selector(".iii-table .iii-row[data-id='NVDA']")
    finally:
        feed.stop()
        engine.stop()
