"""Engine configuration: defaults, iii config files, and keyword overrides.

A config file is an iii engine config: the ``iii-stream`` worker block (spec §6) is read,
in its current form (``workers: - name: iii-stream``) or the older one
(``modules: - class: modules::stream::StreamModule``), with ``${VAR}`` and
``${VAR:default}`` interpolation. Blocks of other iii workers are skipped with a log line.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .limits import DEFAULT_LIMITS, LIMIT_KEYS, Limits
from .streams.retention import Retention, retention_config
from .views import ViewSpec, ViewSpecError

log = logging.getLogger("iii_live.config")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3112
DEFAULT_ENGINE_PORT = 49134
AUTO = -1
"""``engine_port`` default: 49134, or a free port when the stream port is 0."""
STREAM_WORKER_NAMES = frozenset({"iii-stream", "modules::stream::StreamModule"})
WORKER_MANAGER_NAMES = frozenset({"iii-worker-manager"})
ADAPTER_CLASSES = {
    "modules::stream::adapters::KvStore": "kv",
    "modules::stream::adapters::RedisAdapter": "redis",
}
_ENV = re.compile(r"\$\{([^}:]+)(?::([^}]*))?\}")


@dataclass(frozen=True)
class AdapterConfig:
    name: str = "kv"
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineConfig:
    """Everything an engine needs to start. File keys are the field names."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    auth_function: str | None = None
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    engine_port: int | None = AUTO
    """Port of the iii worker protocol (official SDKs); None turns it off."""
    allowed_origins: tuple[str, ...] = ()
    """Extra browser origins allowed to connect (``"*"`` allows every origin)."""
    allowed_hosts: tuple[str, ...] = ()
    """Extra names a loopback-bound engine answers to in ``Host`` (``"*"``: any), besides
    loopback names; e.g. a name a local proxy forwards under."""
    resume_window: int = 10_000
    """Events kept per group for clients that resume (``?resume=1``): at most this many..."""
    resume_ttl: float = 600.0
    """...and none older than this many seconds."""
    conflate_at: int = 1024 * 1024
    """Bytes waiting for one stream-port client past which its item changes are conflated
    (the latest value per item is sent when it catches up; ``stream::send`` events dropped)."""
    max_write_buffer: int = 64 * 1024 * 1024
    """Hard cap on bytes waiting for one client; past it the client is disconnected. A reader
    that keeps reading never gets there (its changes are conflated)."""
    ping_interval: float = 20.0
    """Seconds between server pings; a peer that does not answer is closed."""
    token: str | bool | None = None
    """Required on both ports (``?token=`` or ``Authorization: Bearer``): a string, ``True``
    to generate one, ``False`` for none. Unset: none on loopback, generated otherwise."""
    auth_required: bool = False
    """With ``auth_function``: refuse the upgrade when it fails or returns
    ``{"unauthorized": true}`` (iii itself always lets the connection in)."""
    retention: dict[str, Retention] = field(default_factory=dict)
    """Rolling windows per stream: ``{stream_name: {max_items: N, ttl: seconds or "15m"}}``
    (see ``StreamHandle.retain`` for one group)."""
    limits: Limits = DEFAULT_LIMITS
    """Bounds on what clients may send; their keys sit flat beside the others in files and
    keyword arguments (``max_payload_bytes: ...``)."""
    views: tuple[ViewSpec, ...] = ()
    """Views the engine opens when it starts (``views:`` in the iii-stream block: a list of
    view specs, each with ``stream_name`` and ``group_id``)."""
    source: str | None = field(default=None, compare=False)
    """The file this config came from, for error messages."""

    def with_overrides(self, **overrides: Any) -> EngineConfig:
        """Replace the keys given; None means "not given" except for ``engine_port``."""
        values = {k: v for k, v in overrides.items() if v is not None or k == "engine_port"}
        unknown = set(values) - FILE_KEYS
        if unknown:
            raise TypeError(f"unknown engine option(s): {', '.join(sorted(unknown))}")
        if "adapter" in values:
            values["adapter"] = adapter_config(values["adapter"], self.source)
        if "views" in values:
            values["views"] = view_specs(values["views"], self.source)
        return _validated(_with_values(self, values))


FILE_KEYS = (frozenset(f.name for f in fields(EngineConfig)) - {"source", "limits"}) | LIMIT_KEYS


def _with_values(config: EngineConfig, values: dict[str, Any]) -> EngineConfig:
    """``config`` with flat keys replaced, limit keys going into ``limits``."""
    limits = {key: values.pop(key) for key in LIMIT_KEYS & values.keys()}
    if limits:
        values["limits"] = replace(config.limits, **limits)
    return replace(config, **values)


def load_config(source: str | os.PathLike[str] | dict[str, Any] | EngineConfig | None) -> EngineConfig:
    """An EngineConfig from a file path, a parsed config dict, or nothing (defaults)."""
    if source is None:
        return EngineConfig()
    if isinstance(source, EngineConfig):
        return source
    if isinstance(source, dict):
        return _from_document(source, "<dict>")
    path = Path(source)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        document = yaml.safe_load(expand_env(text, str(path)))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    return _from_document(document or {}, str(path))


def expand_env(text: str, source: str = "<config>") -> str:
    """Replace ``${VAR}`` / ``${VAR:default}`` as the iii engine does, before parsing."""

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{source}: environment variable {name!r} is not set and has no default")

    return _ENV.sub(substitute, text)


def _from_document(document: dict[str, Any], source: str) -> EngineConfig:
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: a config file must be a mapping with `workers:` or `modules:`")
    block = None
    engine_port = None
    for section in ("workers", "modules"):
        entries = document.get(section) or []
        if not isinstance(entries, list):
            raise ConfigError(f"{source}: `{section}` must be a list")
        for entry in entries:
            if not isinstance(entry, dict):
                raise ConfigError(f"{source}: every entry of `{section}` must be a mapping")
            name = entry.get("name") or entry.get("class")
            if name in STREAM_WORKER_NAMES:
                block = entry.get("config") or {}
            elif name in WORKER_MANAGER_NAMES:
                engine_port = (entry.get("config") or {}).get("port")
            else:
                log.info("%s: skipping the %r block (iii-live serves only the stream worker)", source, name)
    if block is None:
        log.info("%s: no iii-stream block; using defaults", source)
        block = {}
    if engine_port is not None and isinstance(block, dict) and "engine_port" not in block:
        block = {**block, "engine_port": engine_port}
    return stream_block(block, source)


def stream_block(block: dict[str, Any], source: str) -> EngineConfig:
    """Validate one ``iii-stream`` config block."""
    if not isinstance(block, dict):
        raise ConfigError(f"{source}: the iii-stream `config` must be a mapping")
    unknown = set(block) - FILE_KEYS
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) in the iii-stream block: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(FILE_KEYS))})"
        )
    values: dict[str, Any] = dict(block)
    if "adapter" in values:
        values["adapter"] = adapter_config(values["adapter"], source)
    for key in ("allowed_origins", "allowed_hosts"):
        if key in values:
            values[key] = tuple(values[key] or ())
    if "views" in values:
        values["views"] = view_specs(values["views"], source)
    return _validated(_with_values(EngineConfig(source=source), values))


def adapter_config(value: Any, source: str | None) -> Any:
    """``{name, config}`` (or legacy ``{class, config}``) as an AdapterConfig.

    Anything that is not a mapping (an adapter object, an AdapterConfig) passes through.
    """
    if isinstance(value, str):
        return AdapterConfig(value)
    if not isinstance(value, dict):
        return value
    where = source or "<config>"
    unknown = set(value) - {"name", "class", "config"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) in `adapter`: {', '.join(sorted(unknown))}")
    name = value.get("name") or ADAPTER_CLASSES.get(value.get("class", ""), value.get("class"))
    if not isinstance(name, str):
        raise ConfigError(f"{where}: `adapter` needs a `name` (kv or redis)")
    config = value.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(f"{where}: `adapter.config` must be a mapping")
    return AdapterConfig(name, dict(config))


def view_specs(value: Any, source: str | None) -> tuple[ViewSpec, ...]:
    """``views``: a list of view specs (dicts, JSON texts or ``ViewSpec``), validated."""
    where = source or "<config>"
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where}: `views` must be a list of view specs")
    specs = []
    for i, raw in enumerate(value):
        try:
            specs.append(ViewSpec.parse(raw))
        except ViewSpecError as exc:
            raise ConfigError(f"{where}: {exc.within(f'views[{i}]')}") from None
    return tuple(specs)


def _validated(config: EngineConfig) -> EngineConfig:
    where = config.source or "<config>"
    port = _port(config.port, "port", where)
    engine_port = config.engine_port
    if engine_port is not None and engine_port != AUTO:
        engine_port = _port(engine_port, "engine_port", where)
    if not isinstance(config.host, str) or not config.host:
        raise ConfigError(f"{where}: `host` must be a non-empty string, not {config.host!r}")
    if config.auth_function is not None and not isinstance(config.auth_function, str):
        raise ConfigError(f"{where}: `auth_function` must be a function id string")
    for key in ("allowed_origins", "allowed_hosts"):
        if not all(isinstance(o, str) for o in getattr(config, key)):
            raise ConfigError(f"{where}: `{key}` must be a list of strings")
    for key in ("resume_window", "resume_ttl", "conflate_at", "max_write_buffer", "ping_interval"):
        value = getattr(config, key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}: `{key}` must be a non-negative number, not {value!r}")
    for key in LIMIT_KEYS:
        value = getattr(config.limits, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{where}: `{key}` must be a positive integer, not {value!r}")
    retention = retention_config(config.retention, where)
    if config.token is not None and not isinstance(config.token, (str, bool)):
        raise ConfigError(f"{where}: `token` must be a string, true or false, not {config.token!r}")
    if isinstance(config.token, str) and not config.token:
        raise ConfigError(f"{where}: `token` must not be empty (use false for no token)")
    if isinstance(config.token, str) and len(config.token) < 16:
        log.warning(
            "%s: a token of %d characters is easy to guess; prefer token: true", where, len(config.token)
        )
    return replace(config, port=port, engine_port=engine_port, retention=retention)


def _port(value: Any, key: str, where: str) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
        raise ConfigError(f"{where}: `{key}` must be an integer between 0 and 65535, not {value!r}")
    return value
