"""Bounds on what clients may send, each with its config key and a clear error when hit.

Defaults are generous for data work (a notebook may push a few megabytes in one item) and
tight where abuse is cheap (names, subscriptions per socket, connections per address).
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class Limits:
    max_message_size: int = 1024 * 1024
    """Largest frame a stream-port client may send, in bytes (close code 1009 beyond)."""
    max_payload_bytes: int = 8 * 1024 * 1024
    """Largest item or event value, as JSON bytes (``deserialization_error`` beyond)."""
    max_json_depth: int = 64
    """Deepest nesting of objects and arrays in a value (``deserialization_error`` beyond)."""
    max_name_length: int = 256
    """Longest stream, group or item name, in characters (control characters are refused)."""
    max_subscriptions_per_connection: int = 128
    """Joins beyond this on one socket are answered ``unauthorized`` with a reason."""
    max_page_views: int = 1000
    """Views that pages (table menus, the stream browser) hold open across the engine, equal
    specs counted once; a page asking for another is answered with an error naming ``view``."""
    max_connections_per_address: int = 10_000
    """Sockets one client address may hold open on the stream port (HTTP 429 beyond)."""
    worker_invocation_timeout_ms: int = 30_000
    """How long the engine waits for a worker to answer a call (trigger handler, join or
    auth function, custom stream, another worker's call) before failing it with ``TIMEOUT``."""
    max_invocations_per_worker: int = 10_000
    """Unanswered calls one worker may hold (a burst of writes to a stream it watches starts
    one per write); calls beyond fail at once with ``worker_busy``."""


DEFAULT_LIMITS = Limits()
LIMIT_KEYS = frozenset(f.name for f in fields(Limits))
