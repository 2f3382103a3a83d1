"""One thread per process that sends every widget's changes, a bounded number per second.

Sending from a thread, not the event loop, keeps widgets live while a cell blocks (comm
messages leave through ipykernel's IOPub thread). The Jupyter server drops comm messages
above 1000 per second, so each widget sends at most one message per frame (50 a second;
at most 60 with frames run early) and all widgets together at most
``MAX_MESSAGES_PER_SECOND``; what waits keeps coalescing. Only widgets that a view may be
looking at are here (the others cost nothing), held weakly.

In IPython, frames wait for the first ``CELL_HOLD_SECONDS`` of a cell: a short cell's writes
(a burst) leave in one message per widget when it ends, instead of messages that compete
with the writer for the interpreter and with each other for the page; a longer cell's
views follow it at the usual rate from then on.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from typing import Any, Protocol

log = logging.getLogger("iii_live.widgets")

FRAME_SECONDS = 0.02
MAX_FRAMES_PER_SECOND = 60
"""Frames run early (``wake``) come on top of the regular ones up to this many frames in
any one second: no widget sends more than 60 messages a second."""
MAX_MESSAGES_PER_SECOND = 200
CELL_HOLD_SECONDS = 0.1


class FrameRate:
    """When frames started, so that at most ``per_second`` start within any one second."""

    def __init__(self, per_second: int = MAX_FRAMES_PER_SECOND) -> None:
        self._starts: deque[float] = deque(maxlen=per_second)

    def started(self, now: float) -> None:
        self._starts.append(now)

    def delay(self, now: float) -> float:
        """Seconds until the next frame may start."""
        starts = self._starts
        if len(starts) < (starts.maxlen or 0):
            return 0.0
        return max(0.0, starts[0] + 1.0 - now)


class Flushable(Protocol):
    def flush(self, now: float) -> int:
        """Send what is due; return the number of messages sent."""


class Flusher:
    def __init__(self, frame_seconds: float = FRAME_SECONDS, max_per_second: int = MAX_MESSAGES_PER_SECOND):
        self.frame_seconds = frame_seconds
        self.max_per_second = max_per_second
        self.budget_per_frame = max(1, int(max_per_second * frame_seconds))
        self._allowance = float(self.budget_per_frame)
        """Messages the next frame may send: refilled at ``max_per_second``, so frames run
        early for a waiting view (``wake``) never add up to more than the rate."""
        self._last_frame: float | None = None
        self._widgets: list[weakref.ref[Flushable]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._next = 0
        self._woken = threading.Event()
        self._following_cells = False
        self._cell_started: float | None = None
        """When the running cell started (None: none runs, or the cells are not followed)."""
        self._cell_frame_owed = False
        """A cell ended and no frame reached every widget since: the next one runs even if
        another cell has started meanwhile (short cells run back to back would otherwise
        hold every frame)."""
        self.frames = 0
        """Frames run so far (a widget that is never held back sends in each frame it has news)."""
        self.held_back = 0
        """Widgets not reached in a frame because its budget was spent (they wait a frame)."""

    def add(self, widget: Flushable) -> None:
        with self._lock:
            if not any(ref() is widget for ref in self._widgets):
                self._widgets.append(weakref.ref(widget))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="iii-live-widgets", daemon=True)
                self._thread.start()

    def remove(self, widget: Flushable) -> None:
        with self._lock:
            self._widgets = [ref for ref in self._widgets if ref() is not widget and ref() is not None]

    def __len__(self) -> int:
        return sum(1 for ref in self._widgets if ref() is not None)

    def wake(self) -> None:
        """Run the next frame now, or as soon as ``MAX_FRAMES_PER_SECOND`` allows (a view
        waits for an answer, a cell ended)."""
        self._woken.set()

    def follow_cells(self) -> None:
        """In IPython, hold frames for the first ``CELL_HOLD_SECONDS`` of each cell and run
        one as it ends (once): what a cell wrote last reaches the views then, not up to a
        frame later."""
        with self._lock:
            if self._following_cells:
                return
            self._following_cells = True
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
        if shell is not None:
            shell.events.register("pre_run_cell", self._cell_started_now)
            shell.events.register("post_run_cell", self._cell_ended)

    def _cell_started_now(self, *_: Any) -> None:
        self._cell_started = time.monotonic()

    def _cell_ended(self, *_: Any) -> None:
        self._cell_started = None
        self._cell_frame_owed = True
        self.wake()

    def _run(self) -> None:
        rate = FrameRate()
        while True:
            started = time.monotonic()
            rate.started(started)
            self.frame(started)
            self._woken.wait(max(0.0, self.frame_seconds - (time.monotonic() - started)))
            self._woken.clear()
            time.sleep(rate.delay(time.monotonic()))

    def frame(self, now: float) -> int:
        """Flush widgets round robin, starting one further each frame, within this frame's
        budget (so no widget starves another); returns the messages sent. Early in a cell,
        none is sent (see the module)."""
        cell_started = self._cell_started
        owed = self._cell_frame_owed
        if owed:
            self._cell_frame_owed = False
        elif cell_started is not None and now - cell_started < CELL_HOLD_SECONDS:
            return 0
        with self._lock:
            widgets = [widget for widget in (ref() for ref in self._widgets) if widget is not None]
        self.frames += 1
        if self._last_frame is not None:
            refill = (now - self._last_frame) * self.max_per_second
            self._allowance = min(float(self.budget_per_frame), self._allowance + refill)
        self._last_frame = now
        budget = allowed = int(self._allowance)
        count = len(widgets)
        for offset in range(count):
            widget = widgets[(self._next + offset) % count]
            if budget <= 0:
                self.held_back += count - offset
                if owed:  # those not reached may hold the ended cell's writes
                    self._cell_frame_owed = True
                break
            try:
                budget -= widget.flush(now)
            except Exception:
                log.exception("flushing %r failed", widget)
        if count:
            self._next = (self._next + 1) % count
        sent = allowed - budget
        self._allowance -= sent
        return sent


flusher = Flusher()
