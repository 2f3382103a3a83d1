"""Which engine a ``start()`` finds again, and the widgets an engine hands on to the next.

``start()`` finds a running engine by a key: ``(host, port)`` for a fixed port. An engine on a
free port (``port=0``) has a key only inside a Jupyter kernel: the notebook cell that called
``start()`` and which of that cell's ``start(port=0)`` calls it was. Re-running a cell so finds
what that cell started before (returned when the arguments are the same, replaced when not),
while engines on free ports started by other cells, or outside a kernel (scripts, tests), stay
independent. A cell is known by the ``cellId`` its front-end sends (JupyterLab, Notebook 7),
else by its source.

When an engine with a key stops, its widgets wait under that key, showing that their engine
stopped; the next engine started with the key takes them over, and they resync from its
storage.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .engine import Engine

Key = tuple[Any, ...]


class Follower(Protocol):
    """What an engine tells the widgets made from it."""

    state: str
    """``live``, ``paused`` (no view looks), ``stopped`` or ``closed``."""

    def follow(self, engine: Engine) -> None:
        """``engine`` replaced yours: show its data."""

    def engine_stopped(self) -> None:
        """Your engine stopped with no successor (yet)."""


_lock = threading.Lock()
_cell_runs: dict[str, tuple[str, int]] = {}
"""Per cell: the run (execute request) that last called ``start(port=0)`` and how many times."""
_waiting: dict[Key, weakref.WeakSet[Any]] = {}
"""Widgets of stopped engines, by the key a successor will be started with."""


def engine_key(host: str, port: int) -> Key | None:
    """The key ``start()`` finds an engine by (None: a new, independent engine)."""
    if port:
        return (host, port)
    cell = _calling_cell()
    return None if cell is None else (host, 0, *cell)


def _calling_cell() -> tuple[str, int] | None:
    """``(cell, n)``: the notebook cell running now and the number of this ``start(port=0)``
    call within its current run; None outside a kernel."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None:
        return None
    try:
        request = kernel.get_parent("shell") or {}
    except Exception:
        return None
    cell = (request.get("metadata") or {}).get("cellId") or (request.get("content") or {}).get("code")
    run = (request.get("header") or {}).get("msg_id")
    if not isinstance(cell, str) or not cell or not run:
        return None
    with _lock:
        last_run, count = _cell_runs.get(cell, ("", 0))
        count = count + 1 if last_run == run else 1
        _cell_runs[cell] = (run, count)
    return cell, count


def stopped(key: Key | None, widgets: list[Follower]) -> None:
    """An engine stopped: its widgets say so, and wait under its key for a successor."""
    for widget in widgets:
        widget.engine_stopped()
    if key is not None and widgets:
        with _lock:
            _waiting.setdefault(key, weakref.WeakSet()).update(widgets)


def started(key: Key | None, engine: Engine) -> None:
    """An engine started: it takes the widgets waiting under its key."""
    if key is None:
        return
    with _lock:
        waiting = list(_waiting.pop(key, ()))
    for widget in waiting:
        widget.follow(engine)


def states(widgets: weakref.WeakSet[Follower]) -> dict[str, int]:
    """How many of ``widgets`` are in each state (``{"live": 1, "paused": 19}``)."""
    counts: dict[str, int] = {}
    for widget in list(widgets):
        counts[widget.state] = counts.get(widget.state, 0) + 1
    return counts
