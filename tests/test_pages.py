"""The stream port's HTTP side: stream browser, its data, static files, keyed syncs, the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from .conftest import Client


def http_get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def http_base(engine) -> str:
    return engine.stream_url.replace("ws://", "http://", 1)


def test_stream_browser_and_its_data(engine):
    engine.stream("orders").set("eu", "o1", {"total": 1})
    engine.stream("orders").set("eu", "o2", {"total": 2})
    watcher = Client(f"{engine.stream_url}/stream/orders/eu")
    watcher.recv()
    status, kind, body = http_get(http_base(engine) + "/")
    assert status == 200 and kind.startswith("text/html") and b"iii-live" in body
    status, kind, body = http_get(http_base(engine) + "/_iii/streams")
    assert kind.startswith("application/json")
    data = json.loads(body)
    assert data["streams"] == [{"id": "orders", "groups": [{"id": "eu", "items": 2, "subscribers": 1}]}]
    assert data["engine"]["connections"] == 1
    status, kind, body = http_get(http_base(engine) + "/_iii/static/page.js")
    assert status == 200 and b"WebSocket" in body
    assert http_get(http_base(engine) + "/_iii/static/../engine.py")[0] in (403, 404)
    watcher.close()


def test_keyed_sync_extension(engine, client_factory):
    engine.stream("s").set("g", "a", {"n": 1})
    engine.stream("s").set("g", "b", 2)
    keyed = client_factory(f"{engine.stream_url}/stream/s/g?sync=keyed")
    assert keyed.recv()["event"] == {"type": "sync", "data": {"a": {"n": 1}, "b": 2}}
    plain = client_factory(f"{engine.stream_url}/stream/s/g")
    assert plain.recv()["event"] == {"type": "sync", "data": [{"n": 1}, 2]}


def test_rich_repr_lists_streams(engine):
    engine.stream("metrics").set("cpu", "h1", 1)
    rendered = engine._repr_html_()
    assert engine.stream_url in rendered and engine.engine_url in rendered
    assert "<td>metrics</td><td>cpu</td><td>1</td><td>0</td>" in rendered


@pytest.mark.subprocess
def test_demo_command_serves_a_live_feed():
    proc = subprocess.Popen(
        [sys.executable, "-m", "iii_live.cli", "demo", "--port", "0", "--rate", "50"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("iii-live demo: open http://127.0.0.1:")
        page_url = line.split()[3]
        status, _, body = http_get(page_url)
        assert status == 200 and b"/stream/market/quotes" in body
        ws_url = page_url.replace("http://", "ws://", 1).rsplit("/demo", 1)[0]
        quotes = Client(f"{ws_url}/stream/market/quotes?sync=keyed")
        quotes.recv()
        update = quotes.recv()
        assert update["event"]["type"] in ("create", "update")
        assert set(update["event"]["data"]) == {"symbol", "price", "change", "volume", "updated"}
        quotes.close()
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
