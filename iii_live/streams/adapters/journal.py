"""File-based durability for the kv adapter: a write-ahead journal plus group snapshots.

Every acknowledged change is appended to ``journal.log`` before the call returns, so a
killed process loses nothing; with ``durable=True`` each append is also fsynced, so a power
loss loses nothing either. A save renames the live journal to ``journal-{n}.log`` (``n``
counts up) and writes a snapshot file for each changed group (temp file, fsync, rename).
Loading reads the snapshots, then replays the journals still on disk, oldest first.

A snapshot is read a few pages at a time, with the engine's write lock held for each batch
only, so writes may land while it is read: it holds every change made before its journal
was rotated, and maybe some made after. Those are in the live journal too, and replaying
them over the snapshot gives the same state (a set stores its value again, a delete
removes the item or finds it gone, an item deleted and written again ends last either
way). Reading a snapshot needs no buffer the size of its group. Each snapshot records the
journal generation it includes, and loading replays older journals only for the groups
whose snapshots do not include them: replaying changes a snapshot already holds could
move items out of first-write order.

Replay follows write order whatever a failure leaves behind, because the journals on disk
are always consecutive generations ending with the live one, and no snapshot is older than
a journal that was removed:

- a journal is removed only by a save that snapshotted every group it touches; a save that
  fails removes none, and the next save snapshots the failed one's groups again and
  removes its journal together with its own;
- journals are removed oldest first, each removal durable before the next.

Replaying such a run over the snapshots gives every item its last write in the run, or its
snapshot value when the run never touched it: both are its latest value.

Damaged contents never stop start-up: a journal line or a snapshot that is not what this
module writes (torn, zeroed, truncated, or of the wrong shape) is skipped with a warning
that names the file (and line) and what is wrong, and everything else loads. Files that
cannot be read at all (an I/O error) stop start-up with the error naming the file, as
skipping them could lose acknowledged writes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from ... import codec

log = logging.getLogger("iii_live.storage")

GroupKey = tuple[str, str]
Groups = dict[str, dict[str, dict[str, bytes]]]
"""``stream -> group -> item_id -> JSON bytes``, in first-write order."""

_UNSAFE = re.compile(rb"[^A-Za-z0-9._-]")
_JOURNAL = "journal.log"
_ROTATED = re.compile(r"journal-([0-9]{1,18})\.log")


def snapshot_name(stream_name: str, group_id: str) -> str:
    """A readable, unique file name: percent-encoded names, hashed when too long."""

    def encode(name: str) -> str:
        return _UNSAFE.sub(lambda m: b"%%%02X" % m.group()[0], name.encode()).decode()

    name = f"{encode(stream_name)}+{encode(group_id)}"
    if len(name) > 180:
        digest = hashlib.sha256(f"{stream_name}\0{group_id}".encode()).hexdigest()[:40]
        name = f"{encode(stream_name)[:60]}+{digest}"
    return name + ".json"


class Journal:
    def __init__(self, directory: str | os.PathLike[str], durable: bool = False) -> None:
        self.directory = Path(directory)
        self.durable = durable
        self._fd = -1
        self._generation = 0

    # -- loading ---------------------------------------------------------------------

    def load(self) -> tuple[Groups, set[GroupKey], list[Path]]:
        """Read snapshots and replay journals.

        Returns the groups, the keys of groups the journals touched, and the journal files
        read, oldest first (to be removed once those groups are saved).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        groups: Groups = {}
        covered: dict[GroupKey, int] = {}
        """The last journal generation each snapshot includes: older journals skip its group."""
        for path in sorted(self.directory.glob("*.json")):
            if not path.is_file():
                continue
            try:
                stream_name, group_id, generation, items = _read_snapshot(path)
            except ValueError as exc:
                log.warning("skipping a damaged snapshot %s: %s", path, exc)
                continue
            covered[(stream_name, group_id)] = generation
            self._generation = max(self._generation, generation)
            if items:
                groups.setdefault(stream_name, {})[group_id] = items
        replayed: set[GroupKey] = set()
        journals = self._journals()
        for generation, path in journals:
            for _kind, stream_name, group_id, item_id, value_json in _records(path):
                if generation <= covered.get((stream_name, group_id), 0):
                    continue
                replayed.add((stream_name, group_id))
                group = groups.setdefault(stream_name, {}).setdefault(group_id, {})
                if value_json is not None:  # a set; a delete carries no value
                    group[item_id] = value_json
                else:
                    group.pop(item_id, None)
                    if not group:
                        del groups[stream_name][group_id]
                        if not groups[stream_name]:
                            del groups[stream_name]
        return groups, replayed, [path for _, path in journals]

    def _journals(self) -> list[tuple[int, Path]]:
        """``(generation, journal)`` in replay order: rotated ones by generation, then the
        live one (whose changes no snapshot includes)."""
        rotated = sorted(
            (int(match[1]), path)
            for path in self.directory.glob("journal-*.log")
            if (match := _ROTATED.fullmatch(path.name)) and path.is_file()
        )
        if rotated:
            self._generation = max(self._generation, rotated[-1][0])
        live = self.directory / _JOURNAL
        return rotated + ([(sys.maxsize, live)] if live.exists() else [])

    @property
    def generation(self) -> int:
        """The last rotated journal's generation: what a snapshot taken now includes."""
        return self._generation

    # -- appending -------------------------------------------------------------------

    def open(self) -> None:
        """Open (or create) the live journal; its directory entry is durable before any append."""
        self._fd = os.open(self.directory / _JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        _fsync_dir(self.directory)

    def record_set(self, stream_name: str, group_id: str, item_id: str, value_json: bytes) -> None:
        dumps = codec.dumps
        self._append(
            b'["s",%b,%b,%b,%b]\n' % (dumps(stream_name), dumps(group_id), dumps(item_id), value_json)
        )

    def record_sets(self, stream_name: str, group_id: str, items: list[tuple[bytes, bytes]]) -> None:
        """Many sets of one group in one append: ``(JSON item id, JSON value)`` pairs."""
        if not items:
            return
        head = b'["s",%b,%b,' % (codec.dumps(stream_name), codec.dumps(group_id))
        self._append(b"".join(b"%b%b,%b]\n" % (head, id_json, value_json) for id_json, value_json in items))

    def record_delete(self, stream_name: str, group_id: str, item_id: str) -> None:
        dumps = codec.dumps
        self._append(b'["d",%b,%b,%b]\n' % (dumps(stream_name), dumps(group_id), dumps(item_id)))

    def _append(self, line: bytes) -> None:
        written = os.write(self._fd, line)
        while written < len(line):
            written += os.write(self._fd, line[written:])
        if self.durable:
            os.fdatasync(self._fd)

    # -- saving ----------------------------------------------------------------------

    def rotate(self) -> Path:
        """Rename the live journal to the next generation and start an empty one.

        Called under the adapter's lock, together with taking the snapshot contents, so the
        rotated journal holds exactly the changes the snapshots are about to contain. If the
        rename fails nothing has changed: appends still go to the live journal.
        """
        os.fsync(self._fd)
        self._generation += 1
        rotated = self.directory / f"journal-{self._generation}.log"
        os.replace(self.directory / _JOURNAL, rotated)
        previous, self._fd = self._fd, -1
        os.close(previous)
        self.open()
        return rotated

    def save(self, snapshots: Mapping[GroupKey, Iterable[bytes] | None], journals: list[Path]) -> None:
        """Write snapshots, each given as the chunks of its file (``None`` removes an emptied
        group), then remove ``journals``.

        ``journals`` must be oldest first and hold only changes the snapshots include.
        """
        for (stream_name, group_id), chunks in snapshots.items():
            path = self.directory / snapshot_name(stream_name, group_id)
            if chunks is None:
                path.unlink(missing_ok=True)
                continue
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        _fsync_dir(self.directory)
        for journal in journals:
            journal.unlink(missing_ok=True)
            _fsync_dir(self.directory)

    def close(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1


def snapshot_chunks(
    stream_name: str, group_id: str, generation: int, members: Iterable[bytes]
) -> Iterator[bytes]:
    """A snapshot file's contents, in chunks: the group with every change of the journals up to
    ``generation``; ``members`` are runs of ``,"item_id":value``."""
    dumps = codec.dumps
    yield b'{"stream_name":%b,"group_id":%b,"generation":%d,"items":{' % (
        dumps(stream_name),
        dumps(group_id),
        generation,
    )
    first = True
    for chunk in members:
        if first and chunk:
            chunk, first = chunk[1:], False  # the first member has no comma before it
        yield chunk
    yield b"}}"


Record = tuple[str, str, str, str, bytes | None]
"""``(kind, stream_name, group_id, item_id, value JSON)``: kind ``"s"`` (set) or ``"d"`` (delete)."""


def _records(path: Path) -> Iterator[Record]:
    """The journal's records; a damaged line (a torn write, a zeroed region) is skipped."""
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = _parse_record(line)
            except ValueError as exc:
                log.warning("skipping a damaged journal line %s:%d: %s", path, number, exc)
                continue
            yield record


def _parse_record(line: bytes) -> Record:
    """Raises ``ValueError`` saying what is wrong."""
    record = codec.loads(line)
    kind = record[0] if isinstance(record, list) and record else None
    if kind not in ("s", "d") or len(record) != (5 if kind == "s" else 4):
        raise ValueError("not a set or delete record")
    stream_name, group_id, item_id = record[1:4]
    if not (_is_name(stream_name) and _is_name(group_id) and _is_name(item_id)):
        raise ValueError("a stream, group or item name is not a non-empty string")
    return kind, stream_name, group_id, item_id, codec.dumps(record[4]) if kind == "s" else None


def _read_snapshot(path: Path) -> tuple[str, str, int, dict[str, bytes]]:
    """``(stream_name, group_id, generation, items)``; raises ``ValueError`` saying what is wrong.

    Snapshots written before generations were recorded count as generation 0."""
    doc = codec.loads(path.read_bytes())
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    stream_name, group_id, items = doc.get("stream_name"), doc.get("group_id"), doc.get("items")
    generation = doc.get("generation", 0)
    if not (isinstance(stream_name, str) and _is_name(stream_name)) or not (
        isinstance(group_id, str) and _is_name(group_id)
    ):
        raise ValueError("`stream_name` or `group_id` is not a non-empty string")
    if not isinstance(generation, int) or isinstance(generation, bool) or generation < 0:
        raise ValueError("`generation` is not a non-negative integer")
    if not isinstance(items, dict):
        raise ValueError("`items` is not an object")
    if "" in items:
        raise ValueError("an item id is empty")
    values = {item_id: codec.dumps(value) for item_id, value in items.items()}
    return stream_name, group_id, generation, values


def _is_name(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
