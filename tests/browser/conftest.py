"""Playwright driving Debian's Chromium (browsers cannot be downloaded here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .servers import CHROMIUM, CHROMIUM_ARGS

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread
    while it is open, which must not leak into other tests."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is not installed at /usr/bin/chromium (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


TEST_HOOKS = "globalThis.__iiiLiveTestHooks = true;"


@pytest.fixture
def new_page(browser):
    """Makes a page in a fresh context (closed after the test). With ``hooks`` (the default)
    the page exposes its live views as ``globalThis.__iiiLive``; ``options`` go to the context."""
    contexts = []

    def make(hooks: bool = True, **options):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
        contexts.append(context)
        if hooks:
            context.add_init_script(TEST_HOOKS)
        page = context.new_page()
        page.set_default_timeout(60_000)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def page_without_hooks(new_page):
    """A page as users get it: no test flag, so no ``__iiiLive``."""
    return new_page(hooks=False)


def save_screenshot(page, locators, name: str) -> None:
    """Refresh the README's screenshots (the area around ``locators``) when III_LIVE_SCREENSHOTS=1."""
    if os.environ.get("III_LIVE_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    locators[0].scroll_into_view_if_needed()
    boxes = [locator.bounding_box() for locator in locators]
    left, top = min(b["x"] for b in boxes), min(b["y"] for b in boxes)
    right = max(b["x"] + b["width"] for b in boxes)
    bottom = max(b["y"] + b["height"] for b in boxes)
    clip = {"x": left, "y": top, "width": right - left, "height": bottom - top}
    page.screenshot(path=str(SCREENSHOTS / name), clip=clip)
