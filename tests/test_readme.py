"""The README and the docs pages say true things: their examples run, their links resolve."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Client, wait_for

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
DEFAULT_ENGINE_URL = "ws://127.0.0.1:49134"


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


def block_with(page: Path, text: str) -> str:
    (block,) = [b for b in python_blocks(page) if text in b]
    return block


def test_readme_stays_short():
    assert len(README.read_bytes()) < 8 * 1024, "move reference material to a page under docs/"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_resolve(page):
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text())
    local = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert local, "every page links somewhere"
    missing = [t for t in local if not (page.parent / t).exists()]
    assert missing == []


def test_the_notebook_example_does_what_it_says(capsys):
    blocks = python_blocks(README)
    first = next(b for b in blocks if "iii_live.start()" in b)
    second = blocks[blocks.index(first) + 1]
    code = first.replace("iii_live.start()", "iii_live.start(port=0, background=True)") + second
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    engine, prices = namespace["engine"], namespace["prices"]
    try:
        assert prices.get("fx", "EURUSD") == {"bid": 1.0841, "ask": 1.0843, "ticks": 1}
        assert len(prices.list("ticks")) == 1000
        assert prices.list_groups() == ["fx", "ticks"]
        assert "'type': 'sync'" in capsys.readouterr().out, "subscribe(print) printed the sync"
    finally:
        engine.stop()


@pytest.mark.subprocess
def test_the_producer_example_feeds_the_engine_and_exits(engine):
    producer = block_with(README, "for bid in")
    assert producer == block_with(ROOT / "docs" / "sdk-workers.md", "for bid in"), "one example, two pages"
    watcher = Client(f"{engine.stream_url}/stream/prices/fx")
    assert watcher.recv()["event"] == {"type": "sync", "data": []}
    out = subprocess.run(
        [sys.executable, "-c", producer.replace(DEFAULT_ENGINE_URL, engine.engine_url)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    bids = [watcher.recv()["event"]["data"]["bid"] for _ in range(3)]
    watcher.close()
    assert bids == [1.0841, 1.0843, 1.0840]


@pytest.mark.subprocess
def test_the_function_worker_example_serves_until_ctrl_c(engine):
    worker = block_with(ROOT / "docs" / "sdk-workers.md", "model::score")
    proc = subprocess.Popen(
        [sys.executable, "-c", worker.replace(DEFAULT_ENGINE_URL, engine.engine_url)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(engine.triggers.all()) == 1, timeout=30)
        assert engine.trigger({"function_id": "model::score", "payload": {}}) == {"score": 0.93}
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "register_trigger is deprecated" in err, "the SDK's deprecation warning, as documented"
    wait_for(lambda: "model::score" not in engine.functions)


def test_the_readme_commands_are_the_ones_in_use():
    text = README.read_text()
    assert "pip install -e . && iii-live demo" in text
    assert "\nbash scripts/test.sh\n" in text
    assert "\nexec bash scripts/test.sh\n" in (ROOT / ".ci" / "run").read_text(), "CI runs command two"
    assert 'python -m pytest -m "not (browser or redis or subprocess or slow)"' in text
