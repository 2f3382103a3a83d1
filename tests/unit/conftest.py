"""Unit tests: protocols, the hub and the core driven without sockets or a running engine.

``LooplessCore`` is a real ``StreamCore`` on the in-memory kv adapter whose on-loop
deliveries run at once (no event loop turns to wait for) and whose spawned coroutines run
on the caller's asyncio loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from iii_live.core import StreamCore
from iii_live.limits import Limits
from iii_live.streams.adapters.kv import KvAdapter


def make_core(limits: Limits | None = None, adapter: Any = None) -> StreamCore:
    """A core whose fan-out is synchronous; call it inside a running asyncio loop."""

    def spawn(coro: Any) -> None:
        asyncio.get_running_loop().create_task(coro)

    async def offload(fn: Callable[[], Any]) -> Any:
        return fn()

    core = StreamCore(adapter or KvAdapter(), limits or Limits(), spawn=spawn, offload=offload)
    core.open(lambda fn: fn())
    return core


class ListTransport:
    """A session transport that records what is sent; the test sets its backlog and drains it."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.backlog = 0
        self._drained: list[Callable[[], None]] = []

    def send(self, frames: list[bytes]) -> None:
        self.sent.extend(frames)

    def buffered(self) -> int:
        return self.backlog

    def send_now(self, frame: bytes) -> bool:
        if self.backlog:
            return False
        self.sent.append(frame)
        return True

    def when_drained(self, callback: Callable[[], None]) -> None:
        self._drained.append(callback)

    def drain(self) -> None:
        """The peer read everything: run the drain callbacks (they may send and ask again)."""
        self.backlog = 0
        callbacks, self._drained = self._drained, []
        for callback in callbacks:
            callback()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def frames(sent: list[bytes]) -> list[dict[str, Any]]:
    """What a session sent, decoded."""
    import json

    return [json.loads(frame) for frame in sent]
