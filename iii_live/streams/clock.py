"""Event timestamps: milliseconds that strictly increase within each ``(stream, group)``.

The iii engine stamps events with the wall clock; clients such as the motia item
subscription drop an event whose timestamp is not newer than the last one, so two writes
in the same millisecond would lose the second. A group needs remembering only while its
last stamp is not in the past: older entries are forgotten, so the clock holds no state
for groups that are not being written right now (names clients choose cannot pile up).
"""

from __future__ import annotations

import time

PRUNE_AT = 1024
"""Entries kept before the stale ones are swept (amortized: a sweep per this many groups)."""


class GroupClock:
    def __init__(self) -> None:
        self._last: dict[tuple[str, str], int] = {}
        self._prune_at = PRUNE_AT
        self._floor = 0
        """No stamp is below this (the time of the last sweep), even if the wall clock steps back."""

    def next(self, stream_name: str, group_id: str) -> int:
        """The next stamp for a group. Callers hold the engine's write lock."""
        key = (stream_name, group_id)
        now = time.time_ns() // 1_000_000
        if now < self._floor:
            now = self._floor
        last = self._last.get(key, 0)
        stamp = now if now > last else last + 1
        self._last[key] = stamp
        if len(self._last) >= self._prune_at:
            self._prune(now)
        return stamp

    def _prune(self, now: int) -> None:
        """Forget groups whose last stamp is in the past: ``next`` would use ``now`` for them anyway."""
        self._last = {key: stamp for key, stamp in self._last.items() if stamp >= now}
        self._floor = now
        self._prune_at = max(PRUNE_AT, 2 * len(self._last))

    def __len__(self) -> int:
        return len(self._last)


def now_ms() -> int:
    """A wall-clock stamp for a message outside any group's order (a refused join)."""
    return time.time_ns() // 1_000_000
