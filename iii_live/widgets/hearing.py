"""Whether the kernel can hear its views now, and since when.

Messages from views reach the kernel on its shell channel, which waits while a cell runs.
Views renew a lease every few seconds; a view whose lease runs out is taken as gone, but
only time during which the kernel could have heard it counts, so a long cell never makes
the views look gone. IPython's ``pre_run_cell``/``post_run_cell`` events tell when cells
run; outside IPython the kernel always hears.
"""

from __future__ import annotations

import threading
import time
from typing import Any


class Hearing:
    def __init__(self) -> None:
        self._since: float | None = time.monotonic()
        self._installed = False
        self._lock = threading.Lock()

    def since(self) -> float | None:
        """Since when the kernel has been able to hear views, or None while a cell runs."""
        return self._since

    def install(self) -> None:
        """Follow the cells of the IPython shell this runs in, if any (once)."""
        with self._lock:
            if self._installed:
                return
            self._installed = True
        shell = _ipython()
        if shell is None:
            return
        shell.events.register("pre_run_cell", self._cell_started)
        shell.events.register("post_run_cell", self._cell_ended)
        if threading.current_thread() is threading.main_thread():
            self._since = None  # the shell runs cells on the main thread: one runs now

    def _cell_started(self, *_: Any) -> None:
        self._since = None

    def _cell_ended(self, *_: Any) -> None:
        self._since = time.monotonic()


def _ipython() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


hearing = Hearing()
