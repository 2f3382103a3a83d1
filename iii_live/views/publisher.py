"""One thread per engine that writes the views' changed rows to their derived groups.

A view marks itself when a write changes one of its rows; this thread then publishes every
marked view, at most once per ``interval``: the first change after a quiet spell goes out
at once, and under a stream of writes each derived row is written once per interval with
its latest value, however many writes it stands for. Publishing runs off the writer's
thread, so a write pays only for the view's bookkeeping.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

log = logging.getLogger("iii_live.views")

PUBLISH_INTERVAL = 0.03
"""Seconds between two publications (so a derived row lags a write by about this, at most)."""


class Publishable(Protocol):
    def publish(self) -> int:
        """Write what changed; return the number of rows written."""


class Publisher:
    def __init__(self, interval: float = PUBLISH_INTERVAL) -> None:
        self.interval = interval
        self._marked: dict[Publishable, None] = {}
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def mark(self, view: Publishable) -> None:
        """``view`` has changes to publish (called once until it publishes them)."""
        with self._wake:
            if self._stopped:
                return
            self._marked[view] = None
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="iii-live-views", daemon=True)
                self._thread.start()
            self._wake.notify()

    def forget(self, view: Publishable) -> None:
        with self._wake:
            self._marked.pop(view, None)

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._marked.clear()
            self._wake.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        last = 0.0
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._marked or self._stopped)
                if self._stopped:
                    return
                delay = last + self.interval - time.monotonic()
                if delay > 0 and self._wake.wait_for(lambda: self._stopped, delay):
                    return
                views = list(self._marked)
                self._marked.clear()
            last = time.monotonic()
            for view in views:
                try:
                    view.publish()
                except Exception:
                    log.exception("publishing %r failed", view)
