"""The ``kv`` adapter: the embedded default, in memory or file-backed (spec §4.2).

Values are kept as JSON bytes: a read decodes a fresh copy (callers can never alias stored
state), a write stores the bytes the event frame is built from, and the file journal writes
them as they are. Pub/sub is local: ``emit`` goes straight to this engine's hub.
"""

from __future__ import annotations

import builtins
import logging
import threading
from pathlib import Path
from typing import Any

from ... import codec
from ...errors import ConfigError
from ...protocol.stream_wire import CREATE, DELETE, UPDATE, Event, EventDraft
from ..update_ops import MISSING, UpdateOp, updated_value
from .base import CheckValue, EventSink
from .journal import GroupKey, Groups, Journal, snapshot_bytes

log = logging.getLogger("iii_live.storage")

DEFAULT_FILE_PATH = "kv_store_data.db"
DEFAULT_SAVE_INTERVAL_MS = 5000
MIN_SAVE_INTERVAL_MS = 100
CONFIG_KEYS = frozenset({"store_method", "file_path", "save_interval_ms", "channel_size", "durable"})


class KvAdapter:
    name = "kv"

    def __init__(
        self,
        store_method: str = "in_memory",
        file_path: str | Path = DEFAULT_FILE_PATH,
        save_interval_ms: int = DEFAULT_SAVE_INTERVAL_MS,
        durable: bool = False,
    ) -> None:
        if store_method not in ("in_memory", "file_based"):
            raise ConfigError(f"kv store_method must be 'in_memory' or 'file_based', not {store_method!r}")
        if not isinstance(save_interval_ms, int) or isinstance(save_interval_ms, bool):
            raise ConfigError(f"kv save_interval_ms must be an integer, not {save_interval_ms!r}")
        self.store_method = store_method
        self.file_path = Path(file_path)
        self.save_interval_ms = max(save_interval_ms or DEFAULT_SAVE_INTERVAL_MS, MIN_SAVE_INTERVAL_MS)
        self._groups: Groups = {}
        self._lock = threading.RLock()
        self._sink: EventSink | None = None
        self._journal = Journal(self.file_path, durable) if store_method == "file_based" else None
        self._dirty: set[GroupKey] = set()
        self._saving = threading.Lock()
        self._unsaved_journals: list[Path] = []
        self._stop = threading.Event()
        self._saver: threading.Thread | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KvAdapter:
        unknown = set(config) - CONFIG_KEYS
        if unknown:
            raise ConfigError(f"unknown kv adapter key(s): {', '.join(sorted(unknown))}")
        return cls(
            store_method=config.get("store_method") or "in_memory",
            file_path=config.get("file_path") or DEFAULT_FILE_PATH,
            save_interval_ms=config.get("save_interval_ms") or DEFAULT_SAVE_INTERVAL_MS,
            durable=bool(config.get("durable", False)),
        )

    def __repr__(self) -> str:
        if self._journal is None:
            return "KvAdapter(in_memory)"
        mode = ", durable" if self._journal.durable else ""
        return f"KvAdapter(file_based {str(self.file_path)!r}{mode})"

    # -- lifecycle -------------------------------------------------------------------

    def open(self, sink: EventSink) -> None:
        self._sink = sink
        if self._journal is None:
            return
        groups, replayed, journals = self._journal.load()
        self._groups = groups
        if journals:
            self._journal.save({key: self._snapshot(key) for key in replayed}, journals)
        self._journal.open()
        self._stop.clear()
        self._saver = threading.Thread(target=self._save_loop, name="iii-live-kv-saver", daemon=True)
        self._saver.start()

    def close(self) -> None:
        if self._journal is None:
            return
        self._stop.set()
        if self._saver is not None:
            self._saver.join()
            self._saver = None
        try:
            self.save()
        except OSError:
            log.exception(
                "saving the kv store to %s failed; its journal keeps every change for the next start",
                self.file_path,
            )
        self._journal.close()

    def save(self) -> None:
        """Write snapshots of the groups changed since the last successful save.

        A failed save loses nothing and reorders nothing: its groups stay dirty and its
        rotated journal stays on disk, so the next save snapshots those groups again and
        removes that journal together with its own.
        """
        if self._journal is None:
            return
        with self._saving:
            with self._lock:
                if not self._dirty:
                    return
                saving = self._dirty
                snapshots = {key: self._snapshot(key) for key in sorted(saving)}
                self._unsaved_journals.append(self._journal.rotate())
                self._dirty = set()
            try:
                self._journal.save(snapshots, self._unsaved_journals)
            except BaseException:
                with self._lock:
                    self._dirty |= saving
                raise
            self._unsaved_journals = []

    def _save_loop(self) -> None:
        while not self._stop.wait(self.save_interval_ms / 1000):
            try:
                self.save()
            except OSError:
                log.exception("saving the kv store to %s failed; will retry", self.file_path)

    def _snapshot(self, key: GroupKey) -> bytes | None:
        items = self._groups.get(key[0], {}).get(key[1])
        return snapshot_bytes(key[0], key[1], items) if items else None

    def _changed(self, stream_name: str, group_id: str, item_id: str, value_json: bytes | None) -> None:
        journal = self._journal
        if journal is None:
            return
        if value_json is None:
            journal.record_delete(stream_name, group_id, item_id)
        else:
            journal.record_set(stream_name, group_id, item_id, value_json)
        self._dirty.add((stream_name, group_id))

    # -- storage ---------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {"adapter": "kv", "store_method": self.store_method, "healthy": True}

    def set(self, draft: EventDraft, value: Any, value_json: bytes) -> tuple[Any, Event]:
        stream_name, group_id, item_id = draft.stream_name, draft.group_id, draft.item_id
        with self._lock:
            old = self._stored(stream_name, group_id, item_id)
            self._changed(stream_name, group_id, item_id, value_json)
            self._group(stream_name, group_id)[item_id] = value_json
            event = draft.event(CREATE if old is None else UPDATE, value, value_json)
            self.emit(event)
        return (MISSING if old is None else codec.loads(old)), event

    def _stored(self, stream_name: str, group_id: str, item_id: str) -> bytes | None:
        return self._groups.get(stream_name, {}).get(group_id, {}).get(item_id)

    def _group(self, stream_name: str, group_id: str) -> dict[str, bytes]:
        return self._groups.setdefault(stream_name, {}).setdefault(group_id, {})

    def get(self, stream_name: str, group_id: str, item_id: str) -> Any:
        stored = self._stored(stream_name, group_id, item_id)
        return MISSING if stored is None else codec.loads(stored)

    def delete(self, draft: EventDraft) -> tuple[Any, Event | None]:
        stream_name, group_id, item_id = draft.stream_name, draft.group_id, draft.item_id
        with self._lock:
            groups = self._groups.get(stream_name, {})
            group = groups.get(group_id)
            if not group or item_id not in group:
                return MISSING, None
            self._changed(stream_name, group_id, item_id, None)
            old_json = group.pop(item_id)
            if not group:
                del groups[group_id]
                if not groups:
                    del self._groups[stream_name]
            old = codec.loads(old_json)
            event = draft.event(DELETE, old, old_json)
            self.emit(event)
        return old, event

    def list(self, stream_name: str, group_id: str) -> builtins.list[Any]:
        with self._lock:
            values = list(self._groups.get(stream_name, {}).get(group_id, {}).values())
        return codec.loads(b"[" + b",".join(values) + b"]")

    def items(self, stream_name: str, group_id: str) -> dict[str, Any]:
        with self._lock:
            stored = dict(self._groups.get(stream_name, {}).get(group_id, {}))
        return {item_id: codec.loads(value) for item_id, value in stored.items()}

    def count(self, stream_name: str, group_id: str) -> int:
        return len(self._groups.get(stream_name, {}).get(group_id, ()))

    def list_groups(self, stream_name: str) -> builtins.list[str]:
        with self._lock:
            return list(self._groups.get(stream_name, ()))

    def list_all(self) -> dict[str, builtins.list[str]]:
        with self._lock:
            return {stream: list(groups) for stream, groups in self._groups.items()}

    def update(
        self, draft: EventDraft, ops: builtins.list[UpdateOp], check: CheckValue | None = None
    ) -> tuple[Any, Any, builtins.list[dict[str, Any]], Event]:
        stream_name, group_id, item_id = draft.stream_name, draft.group_id, draft.item_id
        with self._lock:
            stored = self._stored(stream_name, group_id, item_id)
            old, new_value, new_json, errors = updated_value(stored, ops, check)
            self._changed(stream_name, group_id, item_id, new_json)
            self._group(stream_name, group_id)[item_id] = new_json
            event = draft.event(CREATE if stored is None else UPDATE, new_value, new_json)
            self.emit(event)
        return old, new_value, errors, event

    def emit(self, event: Event) -> None:
        if self._sink is not None:
            self._sink.publish(event)
