"""Retention: keyed rolling windows over groups.

A policy bounds a group by count (``max_items``: the least recently written items go
first) and by age (``ttl`` in seconds: items not written for that long go). A policy is
set for every group of a stream or for one group, whose own policy wins. Evictions are
``delete`` events like any other, published atomically with the write that causes them,
or by the sweeper when items expire with no write coming.

Policies come from ``engine.stream(name).retain(...)``, the ``retention`` key of the
iii-stream config block, or ``start(retention=...)``; the adapter keeps them (the Redis
adapter keeps them in Redis, so every engine sharing it applies the same ones).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

log = logging.getLogger("iii_live.retention")

Stamp = Callable[[str, str], int]
"""The next event timestamp of ``(stream_name, group_id)`` (the engine's group clock)."""

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
SWEEP_INTERVAL = 1.0
"""Seconds between sweeps for expired items, at most (a tenth of the shortest ttl, if less)."""
MIN_SWEEP_INTERVAL = 0.01


@dataclass(frozen=True, slots=True)
class Retention:
    """How a group is bounded: ``max_items`` items and/or ``ttl`` seconds since the last write."""

    max_items: int | None = None
    ttl: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in (("max_items", self.max_items), ("ttl", self.ttl)) if value}


def retention(max_items: Any = None, ttl: Any = None, where: str = "retain()") -> Retention | None:
    """A validated policy (None when neither bound is given); errors name the key."""
    if max_items is not None and (
        not isinstance(max_items, int) or isinstance(max_items, bool) or max_items < 1
    ):
        raise ConfigError(f"{where}: `max_items` must be a positive integer, not {max_items!r}")
    seconds = None if ttl is None else duration(ttl, f"{where}: `ttl`")
    if max_items is None and seconds is None:
        return None
    return Retention(max_items, seconds)


def duration(value: Any, name: str) -> float:
    """Seconds from a positive number or a string such as ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``."""
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if match:
            seconds = float(match[1]) * _UNIT_SECONDS[match[2] or "s"]
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(
            f"{name} must be a positive number of seconds or a duration such as '90s', '15m', "
            f"'2h', '1d', not {value!r}"
        )
    return seconds


def retention_config(value: Any, where: str) -> dict[str, Retention]:
    """The ``retention`` config key: ``{stream_name: {max_items: N, ttl: seconds-or-duration}}``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: `retention` must map stream names to {{max_items, ttl}}")
    policies = {}
    for stream_name, spec in value.items():
        key = f"retention.{stream_name}"
        if not isinstance(stream_name, str) or not stream_name:
            raise ConfigError(f"{where}: `retention` keys must be stream names, not {stream_name!r}")
        if isinstance(spec, Retention):
            policies[stream_name] = spec
            continue
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}: `{key}` must be a mapping with max_items and/or ttl")
        unknown = set(spec) - {"max_items", "ttl"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) in `{key}`: {', '.join(sorted(map(str, unknown)))}")
        policy = retention(spec.get("max_items"), spec.get("ttl"), f"{where}: {key}")
        if policy is None:
            raise ConfigError(f"{where}: `{key}` needs max_items and/or ttl")
        policies[stream_name] = policy
    return policies


class Policies:
    """Policies by stream and by group, for adapters that keep them in memory."""

    def __init__(self) -> None:
        self._streams: dict[str, Retention] = {}
        self._groups: dict[tuple[str, str], Retention] = {}

    def __bool__(self) -> bool:
        return bool(self._streams or self._groups)

    def set(self, stream_name: str, group_id: str | None, policy: Retention | None) -> None:
        if group_id is None:
            table: dict[Any, Retention] = self._streams
            key: Any = stream_name
        else:
            table, key = self._groups, (stream_name, group_id)
        if policy is None:
            table.pop(key, None)
        else:
            table[key] = policy

    def get(self, stream_name: str, group_id: str) -> Retention | None:
        """The policy that applies to a group: its own, else its stream's."""
        return self._groups.get((stream_name, group_id)) or self._streams.get(stream_name)

    def all(self) -> dict[tuple[str, str | None], Retention]:
        policies: dict[tuple[str, str | None], Retention] = {(s, None): p for s, p in self._streams.items()}
        for (stream_name, group_id), policy in self._groups.items():
            policies[(stream_name, group_id)] = policy
        return policies


class RecencyIndex:
    """One group's items, least recently written first, with the time of their last write."""

    __slots__ = ("_written",)

    def __init__(self) -> None:
        self._written: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._written)

    def touch(self, item_id: str, now: float) -> None:
        written = self._written
        written[item_id] = now
        written.move_to_end(item_id)

    def remove(self, item_id: str) -> None:
        self._written.pop(item_id, None)

    def victims(self, policy: Retention, now: float) -> list[str]:
        """Remove and return the items ``policy`` evicts: expired first, then the oldest beyond
        ``max_items``; least recently written first."""
        written = self._written
        victims = []
        if policy.ttl is not None:
            cutoff = now - policy.ttl
            while written and next(iter(written.values())) <= cutoff:
                victims.append(written.popitem(last=False)[0])
        if policy.max_items is not None:
            while len(written) > policy.max_items:
                victims.append(written.popitem(last=False)[0])
        return victims


def sweep_interval(policies: Mapping[Any, Retention]) -> float:
    """How often to look for expired items: a tenth of the shortest ttl, at most a second."""
    ttls = [policy.ttl for policy in policies.values() if policy.ttl is not None]
    if not ttls:
        return SWEEP_INTERVAL
    return max(MIN_SWEEP_INTERVAL, min(SWEEP_INTERVAL, min(ttls) / 10))


class Sweeper:
    """A thread that evicts expired items when no write comes to do it."""

    def __init__(self, sweep: Callable[[], float]) -> None:
        self._sweep = sweep
        """Evicts what expired; returns the seconds until the next sweep."""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="iii-live-retention", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Sweep now (a policy changed, so the interval may have too)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        interval = SWEEP_INTERVAL
        failing = False
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            started = time.monotonic()
            try:
                interval = self._sweep()
            except Exception as exc:
                if not failing:  # once per outage, not once per second
                    log.warning("the retention sweep failed (%s); retrying every %g s", exc, SWEEP_INTERVAL)
                failing, interval = True, SWEEP_INTERVAL
                continue
            if failing:
                log.warning("the retention sweep works again")
                failing = False
            interval = max(MIN_SWEEP_INTERVAL, interval - (time.monotonic() - started))
