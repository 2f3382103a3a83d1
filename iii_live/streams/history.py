"""Where each event stands in its group's history, and the recent events, for clients that resume.

A client that opts in to resuming gets frames numbered per group (``seq``, within an
``epoch`` that names the history), and after a reconnect asks for what followed the last
one it saw. Histories are kept only for groups such clients follow, and for ``ttl`` seconds
after the last of them leaves (long enough to come back); a history that was let go is
started again under a new epoch, so a client can never be told it recovered what was lost.
Each keeps the last ``window`` events not older than ``ttl``.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..protocol.stream_wire import Event

DEFAULT_WINDOW = 10_000
DEFAULT_TTL = 600.0

GroupKey = tuple[str, str]


@dataclass(eq=False, slots=True)
class Log:
    """One group's history: its epoch, its last number, its recent events."""

    key: GroupKey
    epoch: str
    seq: int = 0
    events: deque[tuple[float, Event]] = field(default_factory=deque)
    followers: int = 0
    idle_since: float | None = None
    established: bool = False
    """A store that numbers events itself has been told to follow the group (the fence of a
    follower's read has passed): from here on, its events should come numbered."""


class GroupHistory:
    """Callers hold the engine's write lock."""

    def __init__(
        self,
        window: int = DEFAULT_WINDOW,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.ttl = ttl
        self._clock = clock
        self.logs: dict[GroupKey, Log] = {}
        """The histories of the groups resuming clients follow (empty: no event is numbered)."""

    def __len__(self) -> int:
        return len(self.logs)

    def stamp(self, event: Event) -> None:
        """Number a group's event and keep it, if resuming clients follow the group."""
        if not self.logs:
            return
        log = self.logs.get((event.stream_name, event.group_id))
        if log is None:
            return
        now = self._clock()
        if log.idle_since is not None and now - log.idle_since > self.ttl:
            del self.logs[(event.stream_name, event.group_id)]
            return
        log.seq += 1
        event.seq = log.seq
        event.epoch = log.epoch
        events = log.events
        events.append((now, event))
        if len(events) > self.window:
            events.popleft()
        while events and now - events[0][0] > self.ttl:
            events.popleft()

    def follow(self, stream_name: str, group_id: str) -> Log:
        """A resuming client follows the group from now on; returns its history."""
        key = (stream_name, group_id)
        log = self.logs.get(key)
        now = self._clock()
        if log is not None and log.idle_since is not None and now - log.idle_since > self.ttl:
            log = None
        if log is None:
            self._sweep(now)
            log = self.logs[key] = Log(key, secrets.token_hex(6))
        log.followers += 1
        log.idle_since = None
        return log

    def unfollow(self, log: Log) -> None:
        if not self.current(log) or log.followers == 0:
            return
        log.followers -= 1
        if log.followers == 0:
            log.idle_since = self._clock()

    def followed(self) -> list[GroupKey]:
        """The groups resuming clients follow now."""
        return [key for key, log in list(self.logs.items()) if log.followers]

    def follows(self, stream_name: str, group_id: str) -> bool:
        """Whether the group's events should come numbered by the store (see ``established``)."""
        log = self.logs.get((stream_name, group_id))
        return log is not None and log.followers > 0 and log.established

    def seq(self, stream_name: str, group_id: str) -> int | None:
        """The number of the group's last event, when its history is kept."""
        log = self.logs.get((stream_name, group_id))
        return None if log is None else log.seq

    def forget(self) -> None:
        """Events may have been missed (a store outage): no history is whole any more."""
        self.logs.clear()

    def current(self, log: Log | None) -> bool:
        """Whether ``log`` is still the history of its group (not forgotten or let go)."""
        return log is not None and self.logs.get(log.key) is log

    def since(self, log: Log, seq: int, epoch: str) -> list[Event] | None:
        """The events after ``seq``, in order, or None when they are not all kept
        (another epoch, past the window, or too old)."""
        if epoch != log.epoch or seq > log.seq or seq < 0:
            return None
        if seq == log.seq:
            return []
        events = log.events
        now = self._clock()
        while events and now - events[0][0] > self.ttl:
            events.popleft()
        if not events or events[0][1].seq > seq + 1:  # type: ignore[operator]
            return None
        first = seq + 1 - events[0][1].seq  # type: ignore[operator]
        return [event for _, event in itertools.islice(events, first, None)]

    def _sweep(self, now: float) -> None:
        """Let go of histories nobody has followed for ``ttl``."""
        expired = [
            key
            for key, log in self.logs.items()
            if log.idle_since is not None and now - log.idle_since > self.ttl
        ]
        for key in expired:
            del self.logs[key]
