"""Garbage collection for a process that only serves (``iii-live serve``): no pause that
grows with the number of open connections while they merely stay open.

CPython's full collection walks every object that can hold references, and an open
stream socket keeps about 70 of them (Tornado's handler, stream and coroutines, the
session), so at 10,000 subscribers one full collection stops the engine, and every
delivery, for 0.2 s or more. CPython runs one whenever the objects that survived into its
oldest generation since the last grew by a quarter, which steady serving reaches within a
minute or so (each ping's answer leaves a new read future behind, each alive until the
next ping).

Here, once a ``tick`` (every second), what survived is frozen (``gc.freeze``): after one
collection of the objects not yet frozen, which costs what is new, not what is open.
Frozen objects are still freed by reference counting; only cyclic garbage among them
waits, and a closed connection is such garbage. So once a quarter of the sockets open at
the last full collection have closed since, or the frozen objects doubled, or after
``full_every`` seconds, everything is unfrozen, collected once, and frozen again.

Only for a process that serves: in a notebook kernel it would hold back the user's own
cyclic garbage too, so the library never does this on its own.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

from .connections import Connections

log = logging.getLogger("iii_live.server")

TICK_SECONDS = 1.0
FULL_EVERY_SECONDS = 900.0
CLOSED_SHARE = 0.25
"""Sockets closed since the last full collection, as a share of those open then, that start another."""
MIN_CLOSED = 64
GROWTH = 2.0
"""Frozen objects past this multiple of the last full collection's count start another."""


class ServingGC:
    def __init__(
        self,
        tick_seconds: float = TICK_SECONDS,
        full_every: float = FULL_EVERY_SECONDS,
        closed_share: float = CLOSED_SHARE,
        min_closed: int = MIN_CLOSED,
    ) -> None:
        self.tick_seconds = tick_seconds
        self.full_every = full_every
        self.closed_share = closed_share
        self.min_closed = min_closed
        self.full_collections = 0
        self._baseline = 0
        self._closed_at_full = 0
        self._open_at_full = 0
        self._last_full = -float("inf")
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ServingGC:
        """Freeze what the process holds now, then tick on a daemon thread until ``stop()``."""
        self.tick()
        self._thread = threading.Thread(target=self._run, name="iii-live-gc", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop ticking and give every object back to the collector."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        gc.unfreeze()

    def tick(self) -> None:
        """Collect what is not frozen and freeze what survived; a full collection when due."""
        gc.collect()
        gc.freeze()
        frozen = gc.get_freeze_count()
        now = time.monotonic()
        closed = Connections.closed - self._closed_at_full
        if (
            closed > self._open_at_full * self.closed_share + self.min_closed
            or frozen > self._baseline * GROWTH
            or now - self._last_full > self.full_every
        ):
            started = time.perf_counter()
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self._baseline = gc.get_freeze_count()
            self._closed_at_full = Connections.closed
            self._open_at_full = Connections.opened - Connections.closed
            self._last_full = now
            self.full_collections += 1
            log.debug(
                "full collection: %d objects kept, %.0f ms",
                self._baseline,
                (time.perf_counter() - started) * 1000,
            )

    def _run(self) -> None:
        while not self._stopped.wait(self.tick_seconds):
            self.tick()
