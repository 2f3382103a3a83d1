"""The installed ``iii-live`` command, run as a user runs it: a real process on real ports."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import pytest
from iii import InitOptions, register_worker

import iii_live

from .conftest import Client

pytestmark = pytest.mark.subprocess

COMMAND = Path(sys.executable).with_name("iii-live")


def iii_live_command(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(COMMAND), *args], capture_output=True, text=True, timeout=timeout)


@contextmanager
def running(*args: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """Start ``iii-live ARGS``; yield the process and the first line it prints; stop it with SIGTERM."""
    proc = subprocess.Popen(
        [str(COMMAND), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    try:
        yield proc, [proc.stdout.readline()]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, proc.stderr.read()


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def test_the_command_is_installed():
    assert COMMAND.exists(), f"{COMMAND} is missing: install the package with `pip install -e .`"


def test_version_is_the_package_version():
    out = iii_live_command("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"iii-live {iii_live.__version__}"
    assert iii_live.__version__ == version("iii-live")


def test_help_is_plain_text_with_examples():
    out = iii_live_command("--help")
    assert out.returncode == 0
    assert "``" not in out.stdout and ":func:" not in out.stdout
    for text in ("serve", "demo", "--version", "iii-live demo --port 0", "--engine-port"):
        assert text in out.stdout


@pytest.mark.parametrize("flag", ["--port", "--engine-port"])
def test_a_taken_port_is_reported_with_the_flag_to_use(flag, taken_port):
    other = ["--engine-port", "0"] if flag == "--port" else ["--port", "0"]
    out = iii_live_command("serve", flag, str(taken_port), *other)
    assert out.returncode == 2
    assert f"{taken_port} on 127.0.0.1 is already in use" in out.stderr
    assert f"pass {flag} 0 to pick a free port" in out.stderr
    assert "port=" not in out.stderr and "Traceback" not in out.stderr


def test_engine_port_must_be_a_number_or_off():
    out = iii_live_command("serve", "--engine-port", "fifty")
    assert out.returncode == 2
    assert "expected a port number or 'off', got 'fifty'" in out.stderr


def test_serve_on_a_chosen_engine_port_takes_sdk_workers():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        engine_port = probe.getsockname()[1]
    with running("serve", "--port", "0", "--engine-port", str(engine_port)) as (proc, lines):
        assert lines[0].startswith("iii-live serving streams on ws://127.0.0.1:")
        stream_url = lines[0].split()[-1]
        assert proc.stdout.readline().strip() == f"iii SDK workers connect to ws://127.0.0.1:{engine_port}"
        watcher = Client(f"{stream_url}/stream/prices/fx")
        assert watcher.recv()["event"] == {"type": "sync", "data": []}
        worker = register_worker(f"ws://127.0.0.1:{engine_port}", InitOptions(otel={"enabled": False}))
        try:
            payload = {"stream_name": "prices", "group_id": "fx", "item_id": "eurusd", "data": {"bid": 1.08}}
            worker.trigger({"function_id": "stream::set", "payload": payload})
        finally:
            worker.shutdown()
        event = watcher.recv()
        assert (event["id"], event["event"]) == ("eurusd", {"type": "create", "data": {"bid": 1.08}})
        watcher.close()


def test_serve_with_the_engine_port_off():
    with running("serve", "--port", "0", "--engine-port", "off") as (proc, lines):
        assert lines[0].startswith("iii-live serving streams on ws://127.0.0.1:")
    assert proc.stdout.read() == "", "no engine port line when the engine port is off"


def test_demo_serves_its_page_and_a_live_feed():
    with running("demo", "--port", "0") as (_proc, lines):
        assert lines[0].startswith("iii-live demo: open http://127.0.0.1:")
        page = lines[0].split()[3]
        assert page.endswith("/demo")
        with urllib.request.urlopen(page, timeout=10) as response:
            assert response.status == 200
            assert "live market feed" in response.read().decode()
        ws = Client(page.replace("http://", "ws://").removesuffix("/demo") + "/stream/market/index")
        assert ws.recv()["event"]["type"] == "sync"
        points = [ws.recv() for _ in range(3)]
        ws.close()
        assert [p["event"]["type"] for p in points] == ["create"] * 3, json.dumps(points)
        assert all({"t", "index", "average"} <= p["event"]["data"].keys() for p in points)
