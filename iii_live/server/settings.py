"""What the servers need to know of the engine's configuration, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from ..limits import Limits


@dataclass(frozen=True)
class ServerSettings:
    token: str | None
    """What clients must present (``?token=``, Bearer, X-III-Token), or None."""
    allowed_origins: tuple[str, ...]
    loopback_only: bool
    """Bound to loopback: requests must name a loopback host or one of ``allowed_hosts``."""
    allowed_hosts: tuple[str, ...]
    auth_function: str | None
    auth_required: bool
    limits: Limits
    max_write_buffer: int
    conflate_at: int
    ping_interval: float
