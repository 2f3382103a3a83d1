"""The group a view's rows are published as, written in batches.

Rows go through the same storage, events, fan-out and triggers as ``stream::set`` and
``stream::delete`` (so subscribers, other engines through Redis, triggers and SDK workers
see an ordinary group), but a batch skips what a call from a client needs and a view does
not: decoding the payload, validating names it checked once, building a result per row.
A batch (a chunk of a publication: a few hundred µs of work) is stored under one hold of
the engine's write lock, one row per hold for a remote store since each waits on the
network, and delivered with one drain.
"""

from __future__ import annotations

import builtins
import logging
from typing import TYPE_CHECKING, Any

from .. import codec
from ..errors import InvocationError
from ..functions import resolve
from ..protocol.stream_wire import Event, EventDraft
from ..streams.triggers import STREAM, Trigger

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
        """Write rows (``None`` deletes one; bytes are a row already as JSON); returns the ids
        of rows the store refused for now (to be written again), after logging why."""
        streams = self.core.streams
        if streams.is_custom(self.stream_name):
            return self._write_through_functions(changes)
        encoded: builtins.list[tuple[str, Any, bytes | None]] = []
        for row_id, row in changes:
            if row is None:
                encoded.append((row_id, None, None))
                continue
            try:
                if type(row) is bytes:
                    row, value_json = codec.loads(row), row
                elif self.normalize:
                    row, value_json = codec.normalize(row)
                else:
                    value_json = codec.dumps(row)
                streams.check_value("stream::set", row, value_json)
            except (codec.EncodeError, InvocationError) as exc:
                log.error("%s/%s: row %r cannot be stored: %s", self.stream_name, self.group_id, row_id, exc)
                continue
            encoded.append((row_id, row, value_json))
        chunk = 1 if getattr(self.core.adapter, "remote", False) else len(encoded)
        triggered: builtins.list[tuple[builtins.list[Trigger], Event]] = []
        failed: builtins.list[str] = []
        for start in range(0, len(encoded), chunk or 1):
            self._store(encoded[start : start + chunk], triggered, failed)
        if encoded and not failed:
            self._failing = False
        self.core.hub.drain()
        for matching, event in triggered:
            self.core.spawn(self.core.triggers.run_stream(matching, codec.loads(event.frame)))
        return failed

    def _store(
        self,
        rows: builtins.list[tuple[str, Any, bytes | None]],
        triggered: builtins.list[tuple[builtins.list[Trigger], Event]],
        failed: builtins.list[str],
    ) -> None:
        """Store rows under one hold of the write lock, keeping the events triggers want."""
        stream_name, group_id = self.stream_name, self.group_id
        adapter, clock, triggers = self.core.adapter, self.core.streams.clock, self.core.triggers
        with self.core.streams.lock:
            for row_id, row, value_json in rows:
                draft = EventDraft(stream_name, group_id, row_id, clock.next(stream_name, group_id))
                try:
                    if value_json is None:
                        event = adapter.delete(draft)[1]
                    else:
                        event = adapter.set(draft, row, value_json)[1]
                except Exception as exc:
                    failed.append(row_id)
                    self._failed(exc)
                    continue
                if event is not None:
                    matching = triggers.matching(STREAM, stream_name, group_id, row_id)
                    if matching:
                        triggered.append((matching, event))

    def _failed(self, exc: Exception) -> None:
        if not self._failing:
            self._failing = True
            log.error("%s/%s: writing rows failed (retrying): %s", self.stream_name, self.group_id, exc)

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
