"""The group a view's rows are published as, written in batches.

Rows go through the same storage, events, fan-out and triggers as ``stream::set`` and
``stream::delete`` (so subscribers, other engines through Redis, triggers and SDK workers
see an ordinary group), but a batch skips what a call from a client needs and a view does
not: decoding the payload, validating names it checked once, building a result per row.
Each row is written under the engine's write lock on its own, so writers are never held
up for a whole batch (a remote store answers each write over the network), and the batch
is delivered with one drain.
"""

from __future__ import annotations

import builtins
import logging
from typing import TYPE_CHECKING, Any

from .. import codec
from ..errors import InvocationError
from ..functions import resolve
from ..protocol.stream_wire import Event, EventDraft
from ..streams.triggers import STREAM

if TYPE_CHECKING:
    from ..core import StreamCore

log = logging.getLogger("iii_live.views")


class DerivedGroup:
    def __init__(self, core: StreamCore, stream_name: str, group_id: str, *, normalize: bool) -> None:
        self.core = core
        self.stream_name = stream_name
        self.group_id = group_id
        self.normalize = normalize
        """Rows may hold values that are not plain JSON (Python computed columns): store a
        plain copy, as ``stream::set`` does."""
        self._failing = False

    def write(self, changes: builtins.list[tuple[str, Any]]) -> builtins.list[str]:
        """Write rows (``None`` deletes one); returns the ids of rows the store refused for
        now (to be written again), after logging why."""
        streams = self.core.streams
        if streams.is_custom(self.stream_name):
            return self._write_through_functions(changes)
        stream_name, group_id = self.stream_name, self.group_id
        adapter, clock, lock = self.core.adapter, streams.clock, streams.lock
        events: builtins.list[Event] = []
        failed: builtins.list[str] = []
        for row_id, row in changes:
            value_json = None
            if row is not None:
                try:
                    row, value_json = codec.normalize(row) if self.normalize else (row, codec.dumps(row))
                    streams.check_value("stream::set", row, value_json)
                except (codec.EncodeError, InvocationError) as exc:
                    log.error("%s/%s: row %r cannot be stored: %s", stream_name, group_id, row_id, exc)
                    continue
            try:
                with lock:
                    draft = EventDraft(stream_name, group_id, row_id, clock.next(stream_name, group_id))
                    if value_json is None:
                        event = adapter.delete(draft)[1]
                    else:
                        event = adapter.set(draft, row, value_json)[1]
            except Exception as exc:
                failed.append(row_id)
                self._failed(exc)
                continue
            if event is not None:
                events.append(event)
        if events and not failed:
            self._failing = False
        self.core.hub.drain()
        self._run_triggers(events)
        return failed

    def _failed(self, exc: Exception) -> None:
        if not self._failing:
            self._failing = True
            log.error("%s/%s: writing rows failed (retrying): %s", self.stream_name, self.group_id, exc)

    def _run_triggers(self, events: builtins.list[Event]) -> None:
        triggers = self.core.triggers
        for event in events:
            matching = triggers.matching(STREAM, event.stream_name, event.group_id, event.item_id)
            if matching:
                self.core.spawn(triggers.run_stream(matching, codec.loads(event.frame)))

    def _write_through_functions(self, changes: builtins.list[tuple[str, Any]]) -> builtins.list[str]:
        """The derived stream is served by custom functions: call them row by row."""
        failed = []
        for row_id, row in changes:
            payload: dict[str, Any] = {
                "stream_name": self.stream_name,
                "group_id": self.group_id,
                "item_id": row_id,
            }
            try:
                if row is None:
                    result = self.core.call("stream::delete", payload)
                else:
                    result = self.core.call("stream::set", {**payload, "data": row})
            except InvocationError as exc:
                failed.append(row_id)
                self._failed(exc)
                continue
            if hasattr(result, "__await__"):
                self.core.spawn(resolve(result))
        return failed

    def items(self) -> dict[str, Any]:
        """The rows stored now (``{}`` if they cannot be read)."""
        try:
            items = self.core.streams.items(self.stream_name, self.group_id)
        except InvocationError as exc:
            log.error("%s/%s: reading rows failed: %s", self.stream_name, self.group_id, exc)
            return {}
        return items if isinstance(items, dict) else {}
