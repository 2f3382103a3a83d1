"""Stream adapters by name: ``kv`` (embedded default) and ``redis`` (shared, multi-process)."""

from __future__ import annotations

from typing import Any

from ...config import AdapterConfig
from ...errors import ConfigError
from .base import MISSING, StreamAdapter
from .kv import KvAdapter

__all__ = ["MISSING", "KvAdapter", "StreamAdapter", "create_adapter"]


def create_adapter(spec: AdapterConfig | StreamAdapter | Any) -> StreamAdapter:
    """Build the adapter an AdapterConfig names; an adapter object is used as it is."""
    if not isinstance(spec, AdapterConfig):
        for method in (
            "open",
            "close",
            "set",
            "get",
            "delete",
            "list",
            "list_groups",
            "list_all",
            "update",
            "emit",
        ):
            if not callable(getattr(spec, method, None)):
                raise ConfigError(f"adapter object {spec!r} has no {method}() method")
        return spec
    if spec.name == "kv":
        return KvAdapter.from_config(spec.config)
    if spec.name == "redis":
        from .redis import RedisAdapter

        return RedisAdapter.from_config(spec.config)
    raise ConfigError(f"unknown adapter {spec.name!r}; iii-live provides 'kv' and 'redis'")
