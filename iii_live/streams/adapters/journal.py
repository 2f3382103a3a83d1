"""File-based durability for the kv adapter: a write-ahead journal plus group snapshots.

Every acknowledged change is appended to ``journal.log`` before the call returns, so a
killed process loses nothing; with ``durable=True`` each append is also fsynced, so a power
loss loses nothing either. Every ``save_interval_ms`` the groups changed since the last
save are written as snapshot files (temp file, fsync, rename) and the journal restarts.
Loading reads the snapshots, then replays any journals left by a crash.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

from ... import codec

log = logging.getLogger("iii_live.storage")

GroupKey = tuple[str, str]
Groups = dict[str, dict[str, dict[str, bytes]]]
"""``stream -> group -> item_id -> JSON bytes``, in first-write order."""

_UNSAFE = re.compile(rb"[^A-Za-z0-9._-]")
_JOURNAL = "journal.log"


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
        read (to be removed once those groups are saved).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        groups: Groups = {}
        for path in sorted(self.directory.glob("*.json")):
            try:
                doc = codec.loads(path.read_bytes())
                items = {k: codec.dumps(v) for k, v in doc["items"].items()}
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("skipping unreadable snapshot %s: %s", path, exc)
                continue
            if items:
                groups.setdefault(doc["stream_name"], {})[doc["group_id"]] = items
        replayed: set[GroupKey] = set()
        journals = self._journals()
        for path in journals:
            for record in _records(path):
                stream_name, group_id, item_id = record[1], record[2], record[3]
                replayed.add((stream_name, group_id))
                group = groups.setdefault(stream_name, {}).setdefault(group_id, {})
                if record[0] == "s":
                    group[item_id] = codec.dumps(record[4])
                else:
                    group.pop(item_id, None)
                    if not group:
                        del groups[stream_name][group_id]
                        if not groups[stream_name]:
                            del groups[stream_name]
        return groups, replayed, journals

    def _journals(self) -> list[Path]:
        """Journals in replay order: rotated ones by generation, then the live one."""
        rotated = sorted(self.directory.glob("journal-*.log"), key=lambda p: int(p.stem.split("-")[1]))
        live = self.directory / _JOURNAL
        if rotated:
            self._generation = int(rotated[-1].stem.split("-")[1])
        return rotated + ([live] if live.exists() else [])

    # -- appending -------------------------------------------------------------------

    def open(self) -> None:
        self._fd = os.open(self.directory / _JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def record_set(self, stream_name: str, group_id: str, item_id: str, value_json: bytes) -> None:
        dumps = codec.dumps
        self._append(
            b'["s",%b,%b,%b,%b]\n' % (dumps(stream_name), dumps(group_id), dumps(item_id), value_json)
        )

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
        """Close the live journal under a new name and start an empty one.

        Called under the adapter's lock, together with taking the snapshot contents, so the
        rotated journal holds exactly the changes the snapshots are about to contain.
        """
        os.fsync(self._fd)
        os.close(self._fd)
        self._generation += 1
        rotated = self.directory / f"journal-{self._generation}.log"
        os.replace(self.directory / _JOURNAL, rotated)
        self.open()
        return rotated

    def save(self, snapshots: dict[GroupKey, bytes | None], journals: list[Path]) -> None:
        """Write snapshots (``None`` removes an emptied group), then drop ``journals``."""
        for (stream_name, group_id), content in snapshots.items():
            path = self.directory / snapshot_name(stream_name, group_id)
            if content is None:
                path.unlink(missing_ok=True)
                continue
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as fh:
                fh.write(content)
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


def snapshot_bytes(stream_name: str, group_id: str, items: dict[str, bytes]) -> bytes:
    dumps = codec.dumps
    body = b",".join(dumps(item_id) + b":" + value for item_id, value in items.items())
    return b'{"stream_name":%b,"group_id":%b,"items":{%b}}' % (
        dumps(stream_name),
        dumps(group_id),
        body,
    )


def _records(path: Path) -> Iterator[list]:
    """Valid journal records; a torn or corrupt line (a crash mid-write) is skipped."""
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            try:
                record = codec.loads(line)
                valid = (
                    isinstance(record, list)
                    and record[0] in ("s", "d")
                    and len(record) == (5 if record[0] == "s" else 4)
                    and all(isinstance(part, str) for part in record[1:4])
                )
            except ValueError:
                valid = False
            if valid:
                yield record
            elif line.strip():
                log.warning("skipping corrupt journal line %s:%d", path, number)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
