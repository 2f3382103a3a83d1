"""The stream port's open sockets, counted per client address from the start of the upgrade."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Protocol

GOING_AWAY = 1001
"""The close code sockets get when the engine stops (RFC 6455 §7.4.1)."""


class Connection(Protocol):
    """What the keepalive and shutdown need of a socket."""

    last_seen: float
    """When the peer last showed it is alive and reading."""

    def notice_reading(self) -> None:
        """Update ``last_seen`` if the peer read part of its backlog since the last call."""

    def send_raw(self, data: bytes) -> None: ...

    def drop(self, reason: str) -> None:
        """Cut the TCP connection without a closing handshake."""

    def close_going_away(self) -> None:
        """Start the closing handshake with 1001 (the engine is stopping)."""


class Connections:
    def __init__(self) -> None:
        self._open: set[Connection] = set()
        self._per_address: Counter[str] = Counter()

    def reserve(self, address: str, limit: int) -> bool:
        """Count a connection from ``address`` before its upgrade completes; False past ``limit``."""
        if self._per_address[address] >= limit:
            return False
        self._per_address[address] += 1
        return True

    def release(self, address: str) -> None:
        self._per_address[address] -= 1
        if self._per_address[address] <= 0:
            del self._per_address[address]

    def add(self, connection: Connection) -> None:
        self._open.add(connection)

    def discard(self, connection: Connection) -> None:
        self._open.discard(connection)

    def __len__(self) -> int:
        return len(self._open)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._open))
