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

log = logging.getLogger("iii_live.config")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3112
STREAM_WORKER_NAMES = frozenset({"iii-stream", "modules::stream::StreamModule"})
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
    allowed_origins: tuple[str, ...] = ()
    """Extra browser origins allowed to connect (``"*"`` allows every origin)."""
    max_write_buffer: int = 4 * 1024 * 1024
    """Bytes queued for one client before it is disconnected as a slow consumer."""
    ping_interval: float = 20.0
    """Seconds between server pings; a peer that does not answer is closed."""
    source: str | None = field(default=None, compare=False)
    """The file this config came from, for error messages."""

    def with_overrides(self, **overrides: Any) -> EngineConfig:
        values = {k: v for k, v in overrides.items() if v is not None}
        if "adapter" in values:
            values["adapter"] = adapter_config(values["adapter"], self.source)
        return _validated(replace(self, **values))


FILE_KEYS = frozenset(f.name for f in fields(EngineConfig)) - {"source"}


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
            else:
                log.info("%s: skipping the %r block (iii-live serves only the stream worker)", source, name)
    if block is None:
        log.info("%s: no iii-stream block; using defaults", source)
        return EngineConfig(source=source)
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
    if "allowed_origins" in values:
        values["allowed_origins"] = tuple(values["allowed_origins"] or ())
    return _validated(EngineConfig(source=source, **values))


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


def _validated(config: EngineConfig) -> EngineConfig:
    where = config.source or "<config>"
    port = config.port
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ConfigError(f"{where}: `port` must be an integer between 0 and 65535, not {config.port!r}")
    if not isinstance(config.host, str) or not config.host:
        raise ConfigError(f"{where}: `host` must be a non-empty string, not {config.host!r}")
    if config.auth_function is not None and not isinstance(config.auth_function, str):
        raise ConfigError(f"{where}: `auth_function` must be a function id string")
    if not all(isinstance(o, str) for o in config.allowed_origins):
        raise ConfigError(f"{where}: `allowed_origins` must be a list of strings")
    for key in ("max_write_buffer", "ping_interval"):
        value = getattr(config, key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}: `{key}` must be a non-negative number, not {value!r}")
    return replace(config, port=port)
