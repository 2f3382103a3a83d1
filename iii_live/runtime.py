"""The event loop an engine serves on, and safe ways to reach it from any thread.

Inside a Jupyter kernel (or any running asyncio loop) the engine attaches to the caller's
loop. Otherwise, or with ``background=True``, it runs its own loop on a daemon thread, so
sockets keep being served while the calling thread blocks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger("iii_live.runtime")
T = TypeVar("T")


class Runtime:
    def __init__(self, loop: asyncio.AbstractEventLoop, thread: threading.Thread | None) -> None:
        self.loop = loop
        self.thread = thread
        self._thread_id = thread.ident if thread is not None else threading.get_ident()
        self._tasks: set[asyncio.Task[Any]] = set()

    @classmethod
    def attach(cls) -> Runtime | None:
        """The running loop of the calling thread, if there is one."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        return cls(loop, None)

    @classmethod
    def start_thread(cls, name: str = "iii-live-engine") -> Runtime:
        """A new loop running on its own daemon thread."""
        ready = threading.Event()
        box: dict[str, asyncio.AbstractEventLoop] = {}

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            box["loop"] = loop
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        ready.wait()
        return cls(box["loop"], thread)

    @property
    def owns_thread(self) -> bool:
        return self.thread is not None

    def in_loop(self) -> bool:
        """True when called on the loop's own thread."""
        return threading.get_ident() == self._thread_id

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` on the loop, from any thread."""
        if self.in_loop():
            self.loop.call_soon(fn, *args)
        else:
            self.loop.call_soon_threadsafe(fn, *args)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Start ``coro`` as a task on the loop, from any thread; failures are logged."""
        if self.loop.is_closed():
            coro.close()
            return
        self.call_soon(self._start_task, coro)

    def _start_task(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def run(self, awaitable: Awaitable[T], timeout: float | None = None) -> T:
        """Wait, from another thread, for ``awaitable`` to finish on the loop."""
        if self.in_loop():
            raise RuntimeError("Runtime.run() would block the loop it waits for")

        async def wrapper() -> T:
            return await awaitable

        future = asyncio.run_coroutine_threadsafe(wrapper(), self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError from None

    def call(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        """Run ``fn`` on the loop and return its result (directly when already there)."""
        if self.in_loop():
            return fn()

        async def wrapper() -> T:
            return fn()

        return self.run(wrapper(), timeout)

    def stop(self) -> None:
        """Stop the loop thread, if this runtime owns one."""
        if self.thread is None or self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout=10)
