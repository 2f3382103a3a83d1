"""iii config files: both block forms, ${VAR:default}, errors naming key and file; the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import iii_live
from iii_live import ConfigError
from iii_live.config import AdapterConfig, load_config

from .conftest import Client

CURRENT = """
workers:
  - name: iii-http
    config:
      port: 3111
  - name: iii-stream
    config:
      port: ${III_LIVE_TEST_PORT:4123}
      host: 127.0.0.1
      auth_function: onAuth
      adapter:
        name: kv
        config:
          store_method: file_based
          file_path: ${III_LIVE_TEST_DIR:./data/stream_store}
          save_interval_ms: 5000
"""

LEGACY = """
modules:
  - class: modules::api::RestApiModule
    config:
      port: 3111
  - class: modules::stream::StreamModule
    config:
      port: 3112
      host: 0.0.0.0
      adapter:
        class: modules::stream::adapters::RedisAdapter
        config:
          redis_url: ${REDIS_URL:redis://localhost:6379}
"""


def write(tmp_path, text, name="iii-config.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_current_form_with_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("III_LIVE_TEST_PORT", raising=False)
    monkeypatch.delenv("III_LIVE_TEST_DIR", raising=False)
    config = load_config(write(tmp_path, CURRENT))
    assert config.port == 4123
    assert config.host == "127.0.0.1"
    assert config.auth_function == "onAuth"
    assert config.adapter == AdapterConfig(
        "kv", {"store_method": "file_based", "file_path": "./data/stream_store", "save_interval_ms": 5000}
    )


def test_environment_wins_over_default(tmp_path, monkeypatch):
    monkeypatch.setenv("III_LIVE_TEST_PORT", "5000")
    monkeypatch.setenv("III_LIVE_TEST_DIR", "")
    config = load_config(write(tmp_path, CURRENT))
    assert config.port == 5000
    assert config.adapter.config["file_path"] is None  # set but empty, as in iii


def test_legacy_form(tmp_path, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://h:6380")
    config = load_config(write(tmp_path, LEGACY))
    assert (config.host, config.port) == ("0.0.0.0", 3112)
    assert config.adapter == AdapterConfig("redis", {"redis_url": "redis://h:6380"})


def test_unset_variable_without_default(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    path = write(tmp_path, "workers:\n  - name: iii-stream\n    config:\n      port: ${NOPE_NOT_SET}\n")
    with pytest.raises(ConfigError, match="NOPE_NOT_SET") as info:
        load_config(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("block", "key"),
    [
        ("prot: 3112", "prot"),
        ("port: seventy", "port"),
        ("port: 70000", "port"),
        ("host: 5", "host"),
        ("adapter: {name: kv, confg: {}}", "confg"),
        ("adapter: {config: {}}", "name"),
        ("ping_interval: -1", "ping_interval"),
    ],
)
def test_bad_keys_and_values_name_the_key_and_file(tmp_path, block, key):
    path = write(tmp_path, f"workers:\n  - name: iii-stream\n    config:\n      {block}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert key in str(info.value)
    assert str(path) in str(info.value)


def test_invalid_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(write(tmp_path, "workers: [\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


def test_unknown_adapter_name():
    with pytest.raises(ConfigError, match="bridge"):
        iii_live.start(port=0, background=True, adapter={"name": "bridge"})


def test_start_with_config_file_and_keyword_override(tmp_path):
    path = write(
        tmp_path, "workers:\n  - name: iii-stream\n    config:\n      port: 1\n      host: 127.0.0.1\n"
    )
    engine = iii_live.start(str(path), port=0, background=True)
    try:
        assert engine.port != 1
        c = Client(f"{engine.stream_url}/stream/s/g")
        assert c.recv()["event"]["type"] == "sync"
        c.close()
    finally:
        engine.stop()


@pytest.mark.subprocess
def test_cli_serve_with_config(tmp_path):
    path = write(tmp_path, "workers:\n  - name: iii-stream\n    config:\n      port: 0\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "iii_live.cli", "serve", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("iii-live serving streams on ws://127.0.0.1:")
        url = line.split()[-1]
        c = Client(url)
        c.join("s", "chat", "room")
        assert json.loads(json.dumps(c.recv()))["event"] == {"type": "sync", "data": []}
        c.close()
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    assert "stream port" in proc.stderr.read()


@pytest.mark.subprocess
def test_cli_reports_bad_config(tmp_path):
    path = write(tmp_path, "workers:\n  - name: iii-stream\n    config:\n      colour: blue\n")
    out = subprocess.run(
        [sys.executable, "-m", "iii_live.cli", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert "colour" in out.stderr and str(path) in out.stderr


def test_engine_port_from_the_worker_manager_block_or_the_stream_block(tmp_path):
    both = write(
        tmp_path,
        "workers:\n  - name: iii-worker-manager\n    config:\n      port: 49999\n"
        "  - name: iii-stream\n    config:\n      port: 3112\n",
    )
    assert load_config(both).engine_port == 49999
    own = write(tmp_path, "workers:\n  - name: iii-stream\n    config:\n      engine_port: 0\n", "own.yaml")
    assert load_config(own).engine_port == 0
    off = write(
        tmp_path, "workers:\n  - name: iii-stream\n    config:\n      engine_port: null\n", "off.yaml"
    )
    assert load_config(off).engine_port is None
