"""The SDK versions the docs name are the ones tested; upstream's deprecations and ``observe``."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest
from iii import InitOptions, register_worker
from iii.errors import ObserveRejection

from .conftest import wait_for

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "tests" / "interop" / "node"
SDK_PAGE = ROOT / "docs" / "sdk-workers.md"


def pinned_python_sdk() -> str:
    (pin,) = re.findall(r'"iii-sdk==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    return pin


def pinned_node_sdk() -> str:
    return json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["iii-sdk"]


def test_the_installed_sdks_are_the_pinned_ones():
    assert version("iii-sdk") == pinned_python_sdk()
    installed = NODE_DIR / "node_modules" / "iii-sdk" / "package.json"
    assert installed.exists(), "run `npm ci --prefix tests/interop/node` (scripts/test.sh does)"
    assert json.loads(installed.read_text())["version"] == pinned_node_sdk()


def test_the_docs_name_the_tested_versions():
    for page in (ROOT / "README.md", SDK_PAGE):
        text = " ".join(page.read_text().split())
        assert f"`iii-sdk` {pinned_python_sdk()}" in text, page
        assert f"`iii-sdk` {pinned_node_sdk()}" in text, page


@pytest.fixture
def worker(engine):
    w = register_worker(engine.engine_url, InitOptions(worker_name="versions", otel={"enabled": False}))
    yield w
    w.shutdown()


def test_register_trigger_is_deprecated_upstream_and_still_works(engine, worker):
    changes = []
    worker.register_function("w::on_change", changes.append)
    with pytest.warns(DeprecationWarning, match="register_trigger is deprecated"):
        worker.register_trigger(
            {"type": "stream", "function_id": "w::on_change", "config": {"stream_name": "prices"}}
        )
    wait_for(lambda: len(engine.triggers.all()) == 1)
    engine.stream("prices").set("fx", "eurusd", {"bid": 1.08})
    wait_for(lambda: changes)
    assert changes[0]["event"] == {"type": "create", "data": {"bid": 1.08}}


def test_observe_is_refused_as_unsupported(engine, worker):
    """The engine advertises no ``observe.v1``; the SDK fails ``observe`` at once, nothing hangs."""
    worker.register_function("w::target", lambda event: None)
    handle = worker.observe({"function_id": "stream::set"}, "w::target")
    with pytest.raises(ObserveRejection) as refused:
        handle.ready(timeout=10)
    assert refused.value.code == "UNSUPPORTED"
    assert "observe.v1" in refused.value.message
    assert (
        worker.trigger(
            {"function_id": "stream::get", "payload": {"stream_name": "s", "group_id": "g", "item_id": "i"}}
        )
        is None
    ), "the connection still serves"
