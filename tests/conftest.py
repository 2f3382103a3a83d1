"""Shared fixtures: real engines on free ports, real WebSocket clients; test markers.

Markers (registered in pyproject.toml; the fast development run leaves them out) are
applied here from a test's folder and fixtures, or written on the test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

import iii_live

from .redis_server import RedisServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what a test needs from what it uses: its folder and its fixtures."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "browser" in item.path.parts:
            item.add_marker(pytest.mark.browser)
        if "redis_server" in fixtures:
            item.add_marker(pytest.mark.redis)
        if "node_sdk" in fixtures:
            item.add_marker(pytest.mark.subprocess)


@pytest.fixture
def redis_server(tmp_path):
    """A real redis-server on a free port, killed after the test."""
    server = RedisServer(tmp_path)
    yield server
    server.kill()


def redis_engine(server: RedisServer, **options: Any) -> iii_live.Engine:
    """An engine on ``server``, returned once its pub/sub subscription is live."""
    adapter = {"name": "redis", "config": {"redis_url": server.url, "probe_interval_ms": 200}}
    engine = iii_live.start(port=0, background=True, adapter=adapter, **options)
    wait_for(lambda: engine.status()["storage"]["subscribed"])
    return engine


@pytest.fixture
def redis_engines(redis_server):
    """``make(**options)`` starts another engine on the test's Redis; all stop after the test."""
    started: list[iii_live.Engine] = []

    def make(**options: Any) -> iii_live.Engine:
        engine = redis_engine(redis_server, **options)
        started.append(engine)
        return engine

    yield make
    for engine in started:
        engine.stop()


@pytest.fixture
def engine():
    eng = iii_live.start(port=0, background=True)
    yield eng
    eng.stop()


class Client:
    """A synchronous iii stream-port client over a real socket."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.ws: ClientConnection = connect(url, open_timeout=5, legacy=True, **kwargs)

    def send(self, message: Any) -> None:
        self.ws.send(message if isinstance(message, (str, bytes)) else json.dumps(message))

    def join(self, sub_id: str, stream: str, group: str, item: str | None = None) -> None:
        data = {"subscriptionId": sub_id, "streamName": stream, "groupId": group}
        if item is not None:
            data["id"] = item
        self.send({"type": "join", "data": data})

    def leave(self, sub_id: str, stream: str, group: str, item: str | None = None) -> None:
        self.send(
            {
                "type": "leave",
                "data": {"subscriptionId": sub_id, "streamName": stream, "groupId": group, "id": item},
            }
        )

    def recv(self, timeout: float = 5) -> dict[str, Any]:
        return json.loads(self.ws.recv(timeout=timeout))

    def recv_raw(self, timeout: float = 5) -> str | bytes:
        return self.ws.recv(timeout=timeout)

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def client_factory():
    clients: list[Client] = []

    def make(url: str, **kwargs: Any) -> Client:
        c = Client(url, **kwargs)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout:.1f}s")


def call(engine: iii_live.Engine, function_id: str, **payload: Any) -> Any:
    return engine.trigger({"function_id": function_id, "payload": payload})
