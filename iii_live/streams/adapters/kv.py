"""The ``kv`` adapter: the embedded default, in memory or file-backed (spec §4.2).

Values are kept as JSON bytes, packed into pages (``pages.PagedGroup``): a read decodes a
fresh copy (callers can never alias stored state), a write stores the bytes the event
frame is built from, and the file journal writes them as they are. Pub/sub is local:
``emit`` goes straight to this engine's hub. Retention (``retention``) is applied here, in
the same step as the write that triggers it.

Writes come with the engine's write lock held (the adapter contract). Once open, the
adapter guards its state with that same lock (the sink's), so reads and the saver take it
and a write needs no lock of its own.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ... import codec
from ...errors import ConfigError
from ...protocol.stream_wire import CREATE, DELETE, UPDATE, Event, EventDraft
from ..retention import Policies, RecencyIndex, Retention, Stamp
from ..update_ops import MISSING, UpdateOp, updated_value
from .base import BulkResult, CheckValue, EventSink
from .journal import GroupKey, Journal, snapshot_chunks
from .pages import PagedGroup, array_json, object_json, object_members, split_values

log = logging.getLogger("iii_live.storage")

DEFAULT_FILE_PATH = "kv_store_data.db"
DEFAULT_SAVE_INTERVAL_MS = 5000
MIN_SAVE_INTERVAL_MS = 100
SNAPSHOT_PAGES = 256
"""Pages a snapshot reads per hold of the lock: writes wait for one batch, not a whole group."""
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
        self._groups: dict[str, dict[str, PagedGroup]] = {}
        self._lock = threading.RLock()
        self._sink: EventSink | None = None
        self._journal = Journal(self.file_path, durable) if store_method == "file_based" else None
        self._dirty: set[GroupKey] = set()
        self._saving = threading.Lock()
        self._unsaved_journals: list[Path] = []
        self._stop = threading.Event()
        self._saver: threading.Thread | None = None
        self._policies = Policies()
        self._retaining = False
        """Whether any policy is set (read on every write)."""
        self._recency: dict[GroupKey, RecencyIndex] = {}
        self._evicted: list[Event] = []
        self.now: Callable[[], float] = time.monotonic
        """The clock of ``ttl`` (seconds); a write's time is when it happened in this process."""

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
        self._lock = getattr(sink, "lock", self._lock)
        if self._journal is None:
            return
        groups, replayed, journals = self._journal.load()
        self._groups = {
            stream_name: {group_id: PagedGroup.from_items(items) for group_id, items in stream.items()}
            for stream_name, stream in groups.items()
        }
        del groups
        if journals:
            generation = self._journal.generation
            self._journal.save({key: self._snapshot(key, generation) for key in replayed}, journals)
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
                self._unsaved_journals.append(self._journal.rotate())
                generation = self._journal.generation
                self._dirty = set()
            try:
                snapshots = {key: self._snapshot(key, generation) for key in sorted(saving)}
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

    def _records(self, key: GroupKey) -> bytes | None:
        group = self._groups.get(key[0], {}).get(key[1])
        return group.records() if group else None

    def _snapshot(self, key: GroupKey, generation: int) -> Iterator[bytes] | None:
        """A group's snapshot file (with the journals up to ``generation``), read
        ``SNAPSHOT_PAGES`` pages at a time under the lock (see ``journal``: it may hold changes
        made while it is read); None if the group is gone."""
        with self._lock:
            group = self._existing(*key)
            if not group:
                return None
            pages, loose = group.pages(), group.loose_records()

        def members() -> Iterator[bytes]:
            for first in range(0, len(pages), SNAPSHOT_PAGES):
                with self._lock:
                    records = b"".join(pages[first : first + SNAPSHOT_PAGES])
                yield object_members(records)
            yield object_members(loose)

        return snapshot_chunks(key[0], key[1], generation, members())

    # -- storage ---------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {"adapter": "kv", "store_method": self.store_method, "healthy": True}

    def set(self, draft: EventDraft, value: Any, value_json: bytes) -> tuple[Any, Event]:
        stream_name, group_id, item_id = draft.stream_name, draft.group_id, draft.item_id
        groups = self._groups.get(stream_name)
        group = None if groups is None else groups.get(group_id)
        if group is None:
            group = self._group(stream_name, group_id)
        old = group.put(item_id, value_json)
        if self._journal is not None:
            self._changed(stream_name, group_id, item_id, value_json)
        event = Event(
            stream_name,
            group_id,
            item_id,
            draft.timestamp,
            CREATE if old is None else UPDATE,
            value,
            data_json=value_json,
        )
        if self._sink is not None:
            self._sink.publish(event)
        if self._retaining:
            self._written(stream_name, group_id, (item_id,), draft.timestamp)
        return (MISSING if old is None else codec.loads(old)), event

    def _group(self, stream_name: str, group_id: str) -> PagedGroup:
        """The group, created if it does not exist (callers hold the lock)."""
        groups = self._groups.get(stream_name)
        if groups is None:
            groups = self._groups[stream_name] = {}
        group = groups.get(group_id)
        if group is None:
            group = groups[group_id] = PagedGroup()
        return group

    def _existing(self, stream_name: str, group_id: str) -> PagedGroup | None:
        groups = self._groups.get(stream_name)
        return None if groups is None else groups.get(group_id)

    def _drop_if_empty(self, stream_name: str, group_id: str, group: PagedGroup) -> None:
        groups = self._groups.get(stream_name)
        if not group and groups is not None and groups.get(group_id) is group:
            del groups[group_id]
            if not groups:
                del self._groups[stream_name]
            self._recency.pop((stream_name, group_id), None)

    def _changed(self, stream_name: str, group_id: str, item_id: str, value_json: bytes | None) -> None:
        journal = self._journal
        if journal is None:
            return
        if value_json is None:
            journal.record_delete(stream_name, group_id, item_id)
        else:
            journal.record_set(stream_name, group_id, item_id, value_json)
        self._dirty.add((stream_name, group_id))

    def get(self, stream_name: str, group_id: str, item_id: str) -> Any:
        with self._lock:
            group = self._existing(stream_name, group_id)
            stored = None if group is None else group.get(item_id)
        return MISSING if stored is None else codec.loads(stored)

    def delete(self, draft: EventDraft) -> tuple[Any, Event | None]:
        stream_name, group_id, item_id = draft.stream_name, draft.group_id, draft.item_id
        with self._lock:
            group = self._existing(stream_name, group_id)
            old_json = None if group is None else group.pop(item_id)
            if group is None or old_json is None:
                return MISSING, None
            self._changed(stream_name, group_id, item_id, None)
            recency = self._recency.get((stream_name, group_id))
            if recency is not None:
                recency.remove(item_id)
            self._drop_if_empty(stream_name, group_id, group)
            old = codec.loads(old_json)
            event = draft.event(DELETE, old, bytes(old_json))
            self.emit(event)
        return old, event

    def list(self, stream_name: str, group_id: str) -> builtins.list[Any]:
        with self._lock:
            records = self._records((stream_name, group_id))
        return [] if records is None else codec.loads(array_json(records))

    def items(self, stream_name: str, group_id: str) -> dict[str, Any]:
        with self._lock:
            records = self._records((stream_name, group_id))
        return {} if records is None else codec.loads(object_json(records))

    def count(self, stream_name: str, group_id: str) -> int:
        with self._lock:
            group = self._existing(stream_name, group_id)
            return 0 if group is None else len(group)

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
            group = self._existing(stream_name, group_id)
            stored = None if group is None else group.get(item_id)
            old, new_value, new_json, errors = updated_value(
                None if stored is None else bytes(stored), ops, check
            )
            self._group(stream_name, group_id).put(item_id, new_json)
            self._changed(stream_name, group_id, item_id, new_json)
            event = draft.event(CREATE if stored is None else UPDATE, new_value, new_json)
            self.emit(event)
            if self._retaining:
                self._written(stream_name, group_id, (item_id,), draft.timestamp)
        return old, new_value, errors, event

    def emit(self, event: Event) -> None:
        if self._sink is not None:
            self._sink.publish(event)

    # -- many rows at once -------------------------------------------------------------

    def set_many(
        self,
        stream_name: str,
        group_id: str,
        timestamp: int,
        item_ids: Sequence[str],
        values_json: Sequence[bytes],
        *,
        delete_missing: bool = False,
        events: bool = True,
    ) -> BulkResult:
        """Store many items in one step; publish events for the rows that changed only.

        Rows compare with stored values as bytes; new items are packed into pages at once.
        ``events=False`` skips building events that no one would receive (no subscriber, no
        trigger): storage and the journal are the same either way.
        """
        published: builtins.list[Event] = []
        with self._lock:
            group = self._group(stream_name, group_id)
            new: builtins.list[int]
            changed: builtins.list[int]
            if not group:
                new, changed, unchanged = list(range(len(item_ids))), [], 0
            else:
                new, changed, unchanged = _diff(group, item_ids, values_json)
            for index in changed:
                group.put(item_ids[index], values_json[index])
            if new:
                whole = len(new) == len(item_ids)
                new_ids = item_ids if whole else [item_ids[i] for i in new]
                new_values = values_json if whole else [values_json[i] for i in new]
                group.extend(new_ids, new_values)
            if self._journal is not None and (new or changed):
                written = sorted(changed + new)
                written_ids = [item_ids[i] for i in written]
                self._journal.record_sets(
                    stream_name,
                    group_id,
                    list(zip(_ids_json(written_ids), [values_json[i] for i in written], strict=True)),
                )
                self._dirty.add((stream_name, group_id))
            if events:
                kinds = sorted([(i, UPDATE) for i in changed] + [(i, CREATE) for i in new])
                for index, kind in kinds:
                    value_json = values_json[index]
                    published.append(
                        Event(
                            stream_name,
                            group_id,
                            item_ids[index],
                            timestamp,
                            kind,
                            codec.loads(value_json),
                            data_json=value_json,
                        )
                    )
            deleted = 0
            if delete_missing:
                keep = set(item_ids)
                missing = [item_id for item_id in group.keys() if item_id not in keep]
                deleted = len(missing)
                published += self._remove(stream_name, group_id, group, missing, timestamp, events)
            for event in published:
                self.emit(event)
            if self._retaining and self._existing(stream_name, group_id) is not None:
                self._written(stream_name, group_id, item_ids, timestamp)
                published += self.evicted()
            elif not group:
                self._drop_if_empty(stream_name, group_id, group)
        return BulkResult(len(new), len(changed), unchanged, deleted, published)

    def _remove(
        self,
        stream_name: str,
        group_id: str,
        group: PagedGroup,
        item_ids: Sequence[str],
        timestamp: int,
        events: bool,
    ) -> builtins.list[Event]:
        """Delete items of a group (callers hold the lock and publish the returned events)."""
        removed = []
        recency = self._recency.get((stream_name, group_id))
        for item_id in item_ids:
            old_json = group.pop(item_id)
            if old_json is None:
                continue
            self._changed(stream_name, group_id, item_id, None)
            if recency is not None:
                recency.remove(item_id)
            if events:
                old = bytes(old_json)
                removed.append(
                    Event(stream_name, group_id, item_id, timestamp, DELETE, codec.loads(old), data_json=old)
                )
        self._drop_if_empty(stream_name, group_id, group)
        return removed

    # -- retention -------------------------------------------------------------------

    def retain(
        self, stream_name: str, group_id: str | None, policy: Retention | None, stamp: Stamp
    ) -> builtins.list[Event]:
        """Set (or with None, remove) a policy and apply it now; returns the delete events."""
        evicted = []
        with self._lock:
            self._policies.set(stream_name, group_id, policy)
            self._retaining = bool(self._policies)
            groups = self._groups.get(stream_name, {})
            for gid in [group_id] if group_id is not None else list(groups):
                group = groups.get(gid)
                if group is None:
                    continue
                applied = self._policies.get(stream_name, gid)
                if applied is None:
                    self._recency.pop((stream_name, gid), None)
                    continue
                recency = self._index(stream_name, gid, group)
                victims = recency.victims(applied, self.now())
                if victims:
                    evicted += self._remove(stream_name, gid, group, victims, stamp(stream_name, gid), True)
            for event in evicted:
                self.emit(event)
        return evicted

    def policies(self) -> dict[tuple[str, str | None], Retention]:
        with self._lock:
            return self._policies.all()

    def expire(self, stamp: Stamp) -> builtins.list[Event]:
        """Evict what the policies' ``ttl`` expired; returns the delete events."""
        evicted = []
        with self._lock:
            if not self._policies:
                return []
            now = self.now()
            for (stream_name, group_id), recency in list(self._recency.items()):
                policy = self._policies.get(stream_name, group_id)
                group = self._existing(stream_name, group_id)
                if policy is None or policy.ttl is None or group is None:
                    continue
                victims = recency.victims(policy, now)
                if victims:
                    timestamp = stamp(stream_name, group_id)
                    evicted += self._remove(stream_name, group_id, group, victims, timestamp, True)
            for event in evicted:
                self.emit(event)
        return evicted

    def evicted(self) -> builtins.list[Event]:
        """The delete events retention published during the last write (taken once)."""
        evicted = self._evicted
        if evicted:
            self._evicted = []
        return evicted

    def _index(self, stream_name: str, group_id: str, group: PagedGroup) -> RecencyIndex:
        """A group's recency index; items written before it existed count as written now."""
        recency = self._recency.get((stream_name, group_id))
        if recency is None:
            recency = self._recency[(stream_name, group_id)] = RecencyIndex()
            now = self.now()
            for item_id in group.keys():
                recency.touch(item_id, now)
        return recency

    def _written(self, stream_name: str, group_id: str, item_ids: Sequence[str], timestamp: int) -> None:
        """Record writes in the recency index and evict what the policy no longer allows."""
        policy = self._policies.get(stream_name, group_id)
        if policy is None:
            return
        group = self._groups[stream_name][group_id]
        recency = self._index(stream_name, group_id, group)
        now = self.now()
        for item_id in item_ids:
            recency.touch(item_id, now)
        victims = recency.victims(policy, now)
        if victims:
            evicted = self._remove(stream_name, group_id, group, victims, timestamp, True)
            for event in evicted:
                self.emit(event)
            self._evicted = self._evicted + evicted


def _diff(
    group: PagedGroup, item_ids: Sequence[str], values_json: Sequence[bytes]
) -> tuple[builtins.list[int], builtins.list[int], int]:
    """Positions of new and changed rows, and how many are unchanged: values compare as
    stored bytes. Rows naming the stored items in their order (a frame written again) are
    compared pairwise, without a lookup."""
    stored = split_values(group.records())
    keys = group.keys()
    if keys == list(item_ids):
        changed = [
            index for index, (old, new) in enumerate(zip(stored, values_json, strict=True)) if old != new
        ]
        return [], changed, len(item_ids) - len(changed)
    get = dict(zip(keys, stored, strict=True)).get
    new_rows, changed = [], []
    for index, (item_id, value_json) in enumerate(zip(item_ids, values_json, strict=True)):
        old = get(item_id)
        if old is None:
            new_rows.append(index)
        elif old != value_json:
            changed.append(index)
    return new_rows, changed, len(item_ids) - len(new_rows) - len(changed)


def _ids_json(item_ids: Sequence[str]) -> builtins.list[bytes]:
    strings = codec.json_strings(list(item_ids))
    return [codec.dumps(item_id) for item_id in item_ids] if strings is None else strings
