"""What a table's page asks of the kernel: the view its header menu sets, and every row for
a CSV file.

A page sends

    {"type": "view", "req": R, "spec": {...} or null, "sort": {"by", "ascending"} or null,
     "hidden": [columns], "fields": [columns]}

``spec`` (``where``, ``group_by``, ``agg``, ...: see ``iii_live.protocol.view_requests``)
becomes a view over the table's group, and the table shows the view's derived group
instead; a null spec shows the group again. The rest says how the page shows it (``fields``:
the group's columns, which a grouped view's rows no longer carry). The whole choice is kept
in the table's ``controls`` trait, the view's derived group as ``controls["view"]``, so a
page reloaded (or another display of the table) shows the same. The page gets the answer
of ``view_requests``; on an error, which names the wrong part of the spec, the view before
stays and so does ``controls``.

    {"type": "export", "req": R}

is answered with every row the table shows (not only those on screen), in group order, in
messages of ``EXPORT_ROWS`` rows: ``{"type": "export", "req": R, "rows": [[id, value], ...],
"last": bool}``, or ``{"type": "export", "req": R, "error": message}``.

Requests run one at a time, in the order they came, on a thread of their own: a view's
first read of a large group must not hold the kernel's message loop. A view request that a
later one of the same table replaces before its turn (a page changing its filter faster
than views open) opens nothing and is answered ``{"type": "view", "req": R, "superseded":
true}``: the later one says what the table shows.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..protocol.view_requests import VIEW, ViewRequests

if TYPE_CHECKING:
    from ..views import View
    from .link import EngineLink

log = logging.getLogger("iii_live.widgets")

EXPORT = "export"
EXPORT_ROWS = 5_000
"""Rows per ``export`` message."""
HANDLE = "table"
"""The one view a table holds, named so to ``ViewRequests``."""
MAX_NAMES = 1_000
"""Columns a page may list as hidden or as the group's fields."""
MAX_NAME_LENGTH = 1_000
"""Longest column name kept in ``controls`` (longer ones name no column a page shows)."""


class SerialWorker:
    """Runs jobs one at a time, in order, on a daemon thread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:
                log.exception("a page's request failed")


worker = SerialWorker("iii-live-page-requests")


class PageRequests:
    """One table's view and exports, on ``link``'s engine (followed when it is replaced)."""

    def __init__(
        self,
        link: EngineLink,
        show: Callable[[str, str, bool], None],
        keep: Callable[[dict[str, Any]], None],
        send: Callable[[dict[str, Any]], None],
    ) -> None:
        self.base_stream = link.stream_name
        self.base_group = link.group_id
        self._link = link
        self._show = show
        """Show ``(stream_name, group_id)``; the flag says the rows are a grouped view's."""
        self._keep = keep
        self._send = send
        self._requests = self._requests_on_engine()
        self.choice: dict[str, Any] = {}
        """What the page chose last (what ``controls`` holds)."""
        self._view_requests = 0
        """View requests received so far: a request whose number is not the last is replaced."""

    def _requests_on_engine(self) -> ViewRequests:
        core = self._link.engine.core
        return ViewRequests(core.views.open_for_page, core.adapter.count, max_views=1)

    @property
    def view(self) -> View | None:
        return self._requests.view(HANDLE)

    def receive(self, content: Any) -> None:
        """A message from a page; those that are not a view or an export are not for us."""
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == VIEW:
            self._view_requests += 1
            number = self._view_requests
            worker.submit(lambda: self._view(content, number))
        elif kind == EXPORT:
            worker.submit(lambda: self._export(content.get("req")))

    def _view(self, content: dict[str, Any], number: int) -> None:
        if number != self._view_requests:
            self._send({"type": VIEW, "viewId": HANDLE, "req": content.get("req"), "superseded": True})
            return
        spec = content.get("spec")
        answer = self._requests.request(HANDLE, self.base_stream, self.base_group, spec, content.get("req"))
        if "error" not in answer:
            self._apply(
                {
                    "spec": spec if "groupId" in answer else None,
                    "sort": _sort(content.get("sort")),
                    "hidden": _names(content.get("hidden")),
                    "fields": _names(content.get("fields")),
                },
                answer,
            )
        self._send(answer)

    def _apply(self, choice: dict[str, Any], answer: dict[str, Any]) -> None:
        if "groupId" in answer:
            choice["view"] = {key: answer[key] for key in ("streamName", "groupId", "columns")}
            grouped = bool(answer["spec"].get("group_by") is not None)
            self._show(answer["streamName"], answer["groupId"], grouped)
        else:
            self._show(self.base_stream, self.base_group, False)
        self.choice = choice
        self._keep(choice)

    def _export(self, req: Any) -> None:
        link = self._link
        try:
            items = link.engine.stream(link.stream_name).items(link.group_id)
        except Exception as exc:
            log.warning("reading %s/%s for an export failed: %s", link.stream_name, link.group_id, exc)
            self._send({"type": EXPORT, "req": req, "error": f"the rows could not be read: {exc}"})
            return
        rows = [[item_id, value] for item_id, value in items.items()]
        for start in range(0, max(len(rows), 1), EXPORT_ROWS):
            chunk = rows[start : start + EXPORT_ROWS]
            self._send({"type": EXPORT, "req": req, "rows": chunk, "last": start + EXPORT_ROWS >= len(rows)})

    def moved(self) -> None:
        """The table's engine was replaced: its view is opened again on the new one."""
        worker.submit(self._reopen)

    def _reopen(self) -> None:
        previous, self._requests = self._requests, self._requests_on_engine()
        previous.close()
        choice = {key: value for key, value in self.choice.items() if key != "view"}
        if choice.get("spec") is None:
            return
        answer = self._requests.request(HANDLE, self.base_stream, self.base_group, choice["spec"])
        if "error" in answer:  # the new engine's data refuses it: the group is shown as it is
            choice["spec"] = None
            self._send(answer)
        self._apply(choice, answer)

    def close(self) -> None:
        """The table closed: its view closes (after requests already taken)."""
        worker.submit(lambda: self._requests.close())


def _sort(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    by, ascending = value.get("by"), value.get("ascending")
    if not (isinstance(by, str) and len(by) <= MAX_NAME_LENGTH) or not isinstance(ascending, bool):
        return None
    return {"by": by, "ascending": ascending}


def _names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [name for name in value if isinstance(name, str) and len(name) <= MAX_NAME_LENGTH][:MAX_NAMES]
