"""The engine port against hostile and broken workers, over real sockets.

A worker cannot take another's place or its triggers; one that stops reading holds up only
itself; one that never answers costs a bounded number of calls for a bounded time; the
official SDKs' own reconnect keeps working through all of it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from iii import InitOptions, register_worker
from iii import InvocationError as SdkInvocationError
from websockets.sync.client import connect

import iii_live
from iii_live.config import ConfigError

from .conftest import wait_for

NODE_DIR = Path(__file__).parent / "interop" / "node"
QUIET = {"enabled": False}


class RawWorker:
    """A worker that speaks the protocol by hand over a real WebSocket."""

    def __init__(self, url: str) -> None:
        self.ws = connect(url, open_timeout=5, max_size=None, legacy=True)
        hello = self.recv()
        assert hello["type"] == "workerregistered"
        self.worker_id: str = hello["worker_id"]
        self.reattach_token: str | None = hello.get("reattach_token")

    def send(self, **message: Any) -> None:
        self.ws.send(json.dumps(message))

    def recv(self, timeout: float = 5) -> dict[str, Any]:
        return json.loads(self.ws.recv(timeout=timeout))

    def until_pong(self) -> list[dict[str, Any]]:
        """Ping; every frame the engine sent before its pong (it answers frames in order)."""
        self.send(type="ping")
        frames = []
        while (frame := self.recv())["type"] != "pong":
            frames.append(frame)
        return frames

    def host(self, function_id: str) -> None:
        self.send(type="registerfunction", id=function_id)

    def answer(self, invoke: dict[str, Any], **outcome: Any) -> None:
        self.send(
            type="invocationresult",
            invocation_id=invoke["invocation_id"],
            function_id=invoke["function_id"],
            **outcome,
        )

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def raw_workers() -> Iterator[Any]:
    workers: list[RawWorker] = []

    def make(engine: iii_live.Engine) -> RawWorker:
        worker = RawWorker(engine.engine_url)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.close()


@pytest.fixture
def sdk_workers() -> Iterator[Any]:
    workers = []

    def make(url: str, name: str) -> Any:
        worker = register_worker(url, InitOptions(worker_name=name, otel=QUIET))
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.shutdown()


def start(**config: Any) -> iii_live.Engine:
    return iii_live.start(port=0, background=True, **config)


@pytest.fixture
def quick_engine() -> Iterator[iii_live.Engine]:
    """Workers get 300 ms to answer a call."""
    engine = start(worker_invocation_timeout_ms=300)
    yield engine
    engine.stop()


def owner(engine: iii_live.Engine, function_id: str) -> str | None:
    function = engine.functions.get(function_id)
    return function.owner if function is not None else None


# -- impersonation ---------------------------------------------------------------------------


def test_a_stolen_worker_id_does_not_take_over_the_worker(engine, raw_workers, sdk_workers):
    victim = sdk_workers(engine.engine_url, "victim")
    received = []
    victim.register_function("victim::fn", lambda data: received.append(data) or "victim got it")
    attacker = raw_workers(engine)
    attacker.host("attacker::bait")
    wait_for(lambda: "victim::fn" in engine.functions and "attacker::bait" in engine.functions)
    victim_id = owner(engine, "victim::fn")

    with ThreadPoolExecutor(1) as pool:  # the victim calls the attacker, which learns its id
        pending = pool.submit(victim.trigger, {"function_id": "attacker::bait", "payload": {}})
        bait = attacker.recv()
        assert bait["data"]["_caller_worker_id"] == victim_id
        attacker.answer(bait, result="thanks")
        assert pending.result(10) == "thanks"

    for token in (None, "guessed", attacker.reattach_token):
        reattach = {"previous_worker_id": victim_id}
        if token is not None:
            reattach["reattach_token"] = token
        attacker.send(type="reattach", **reattach)
    assert attacker.until_pong() == []
    attacker.host("victim::fn")
    [rejected] = attacker.until_pong()
    assert rejected["type"] == "registrationrejected" and rejected["function_id"] == "victim::fn"

    assert owner(engine, "victim::fn") == victim_id
    assert victim_id in [w["worker_id"] for w in engine.workers]
    secret = {"secret": "s3cret"}
    assert engine.trigger({"function_id": "victim::fn", "payload": secret}) == "victim got it"
    assert received[-1] == secret


def test_reattach_with_the_token_retires_the_old_connection(engine, raw_workers):
    old = raw_workers(engine)
    old.host("w::fn")
    wait_for(lambda: "w::fn" in engine.functions)
    new = raw_workers(engine)
    new.send(type="reattach", previous_worker_id=old.worker_id, reattach_token=old.reattach_token)
    new.host("w::fn")
    assert new.until_pong() == []
    assert owner(engine, "w::fn") == new.worker_id
    assert [w["worker_id"] for w in engine.workers] == [new.worker_id]


class CuttableProxy:
    """A TCP relay to the engine port whose ``cut()`` drops only the client's side: the
    engine keeps seeing the old connection open, as after a network failure it has not
    noticed, so the SDK's reconnect must retire it with its reattach token."""

    def __init__(self, port: int) -> None:
        self._target = ("127.0.0.1", port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self._listener.getsockname()[1]}"
        self._clients: list[socket.socket] = []
        self._upstreams: list[socket.socket] = []
        self._cut: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            self._clients.append(client)
            self._upstreams.append(upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        """Copy bytes, and an orderly close, from one side to the other; a cut side passes
        nothing on."""
        try:
            while data := source.recv(65536):
                target.sendall(data)
            if source not in self._cut:
                target.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def cut(self) -> None:
        clients, self._clients = self._clients, []
        self._cut.update(clients)
        for client in clients:
            with contextlib.suppress(OSError):  # already closed by its peer
                client.shutdown(socket.SHUT_RDWR)
            client.close()

    def close(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.cut()
        for upstream in self._upstreams:
            upstream.close()


@pytest.fixture
def node_sdk() -> Path:
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "iii-sdk").exists():
        pytest.fail("the npm iii-sdk is not installed: run `npm ci --prefix tests/interop/node`")
    return NODE_DIR


@pytest.mark.parametrize("sdk", ["python", "node"])
def test_official_sdks_reattach_after_their_connection_is_cut(engine, sdk, request, caplog):
    caplog.set_level(logging.INFO, logger="iii_live.workers")
    proxy = CuttableProxy(engine.engine_port)
    request.addfinalizer(proxy.close)
    if sdk == "python":
        worker = register_worker(proxy.url, InitOptions(worker_name="cut", otel=QUIET))
        request.addfinalizer(worker.shutdown)
        worker.register_function("py::echo", lambda data: {"echoed": data["n"]})
        function_id = "py::echo"
    else:
        script = request.getfixturevalue("node_sdk") / "reconnect.mjs"
        proc = subprocess.Popen(
            ["node", str(script), proxy.url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        request.addfinalizer(lambda: (proc.stdin.close(), proc.wait(10)))
        assert next(line for line in proc.stdout if line.startswith("{")) == '{"step":"ready"}\n'
        function_id = "node::echo"
    wait_for(lambda: function_id in engine.functions, timeout=20)  # node starts slowly under load
    [before] = [w["worker_id"] for w in engine.workers]
    assert owner(engine, function_id) == before

    proxy.cut()
    wait_for(
        lambda: len(engine.workers) == 1 and owner(engine, function_id) not in (None, before),
        timeout=20,
    )
    after = owner(engine, function_id)
    assert [w["worker_id"] for w in engine.workers] == [after]
    assert f"worker {before} reconnected as {after}" in caplog.text  # retired by its token
    assert engine.trigger({"function_id": function_id, "payload": {"n": 7}}) == {"echoed": 7}


# -- triggers --------------------------------------------------------------------------------


def test_a_worker_cannot_replace_another_workers_trigger(engine, raw_workers):
    first, second = raw_workers(engine), raw_workers(engine)
    for worker, function_id in ((first, "first::on"), (second, "second::on")):
        worker.host(function_id)
        worker.send(
            type="registertrigger",
            id="same-id",
            trigger_type="stream",
            function_id=function_id,
            config={"stream_name": "s"},
        )
        assert worker.until_pong() == []
    engine.stream("s").set("g", "i", {"v": 1})
    for worker, function_id in ((first, "first::on"), (second, "second::on")):
        invoke = worker.recv()
        assert invoke["type"] == "invokefunction" and invoke["function_id"] == function_id
        assert invoke["data"]["event"] == {"type": "create", "data": {"v": 1}}
        worker.answer(invoke)
    second.send(type="unregistertrigger", id="same-id", trigger_type="stream")
    assert second.until_pong() == []
    assert [t.function_id for t in engine.triggers.all()] == ["first::on"]


@pytest.mark.parametrize("trigger_id", [["t1"], {"id": "t1"}, 7, ""])
def test_registertrigger_with_a_malformed_id_is_answered_with_an_error(engine, raw_workers, trigger_id):
    worker = raw_workers(engine)
    worker.send(
        type="registertrigger",
        id=trigger_id,
        trigger_type="stream",
        function_id="w::on",
        config={"stream_name": "s"},
    )
    [result] = worker.until_pong()
    assert result["type"] == "triggerregistrationresult"
    assert result["error"]["code"] == "trigger_registration_failed"
    assert "a trigger id must be a non-empty string" in result["error"]["message"]
    assert engine.triggers.all() == []


# -- a worker that stops reading ------------------------------------------------------------


def _masked_text_frame(payload: bytes) -> bytes:
    """A client's text frame (clients must mask, RFC 6455 §5.3)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = bytes((0x81, 0x80 | length))
    elif length < 65536:
        header = bytes((0x81, 0x80 | 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x81, 0x80 | 127)) + length.to_bytes(8, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _stalled_worker(port: int) -> socket.socket:
    """A worker connection that never reads what the engine sends."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    return sock


@pytest.mark.slow
def test_a_worker_that_asks_and_never_reads_holds_up_only_itself(raw_workers):
    """Forty requests for a 1 MiB item, then a call with a visible effect, never reading: the
    engine stops reading that worker once max_write_buffer waits unread (so it never builds
    forty replies, and never reaches the call), serves the others, and closes it when its
    pings go unanswered."""
    engine = start(ping_interval=0.3, max_write_buffer=4 * 1024 * 1024)
    stalled = _stalled_worker(engine.engine_port)
    try:
        marks: list[Any] = []
        engine.register_function("nb::mark", marks.append)
        engine.stream("big").set("g", "i", {"pad": "x" * (1024 * 1024)})
        reader = raw_workers(engine)
        wait_for(lambda: len(engine.workers) == 2)
        get = {"stream_name": "big", "group_id": "g", "item_id": "i"}
        calls = [("stream::get", get)] * 40 + [("nb::mark", {"reached": True})]
        stalled.sendall(
            b"".join(
                _masked_text_frame(
                    json.dumps(
                        {"type": "invokefunction", "invocation_id": str(n), "function_id": f, "data": d}
                    ).encode()
                )
                for n, (f, d) in enumerate(calls)
            )
        )
        reader.send(type="invokefunction", invocation_id="r", function_id="stream::get", data=get)
        assert reader.recv()["result"]["pad"][:3] == "xxx"
        wait_for(lambda: [w["worker_id"] for w in engine.workers] == [reader.worker_id], timeout=15)
        assert marks == []
    finally:
        stalled.close()
        engine.stop()


@pytest.mark.slow
def test_a_reply_larger_than_max_write_buffer_reaches_a_worker_that_reads(sdk_workers):
    engine = start(max_write_buffer=64 * 1024)
    try:
        value = {"pad": "x" * 1_000_000}
        engine.stream("big").set("g", "i", value)
        worker = sdk_workers(engine.engine_url, "reader")
        get = {"stream_name": "big", "group_id": "g", "item_id": "i"}
        for _ in range(5):
            assert worker.trigger({"function_id": "stream::get", "payload": get}) == value
        assert len(engine.workers) == 1
    finally:
        engine.stop()


# -- a worker that never answers ------------------------------------------------------------


def test_calls_to_a_worker_that_never_answers_time_out(quick_engine, raw_workers, sdk_workers):
    silent = raw_workers(quick_engine)
    silent.host("silent::fn")
    wait_for(lambda: "silent::fn" in quick_engine.functions)
    with pytest.raises(iii_live.InvocationError) as info:
        quick_engine.trigger({"function_id": "silent::fn", "payload": {}, "timeout_ms": 20_000})
    assert info.value.code == "TIMEOUT"
    assert "did not answer silent::fn within 300 ms (worker_invocation_timeout_ms)" in info.value.message

    caller = sdk_workers(quick_engine.engine_url, "caller")
    with pytest.raises(SdkInvocationError) as relayed:
        caller.trigger({"function_id": "silent::fn", "payload": {}})
    assert relayed.value.code == "TIMEOUT"
    assert "worker_invocation_timeout_ms" in relayed.value.message


def test_trigger_calls_to_a_silent_worker_let_go_of_their_payloads(quick_engine, raw_workers):
    silent = raw_workers(quick_engine)
    silent.host("silent::on")
    silent.send(
        type="registertrigger",
        id="t",
        trigger_type="stream",
        function_id="silent::on",
        config={"stream_name": "s"},
    )
    assert silent.until_pong() == []
    for n in range(20):
        quick_engine.stream("s").set("g", str(n), {"pad": "x" * 100_000})
    invokes = [silent.recv() for _ in range(20)]
    assert {i["function_id"] for i in invokes} == {"silent::on"}
    wait_for(lambda: quick_engine.workers[0]["calls_in_flight"] == 0, timeout=10)


def test_a_join_trigger_on_a_silent_worker_gives_way_after_the_timeout(
    quick_engine, raw_workers, client_factory
):
    silent = raw_workers(quick_engine)
    silent.host("silent::join")
    silent.send(
        type="registertrigger", id="j", trigger_type="stream:join", function_id="silent::join", config={}
    )
    assert silent.until_pong() == []
    quick_engine.stream("room").set("g", "i", {"hello": 1})
    client = client_factory(quick_engine.stream_url)
    client.join("s1", "room", "g")
    invoke = silent.recv()
    assert invoke["function_id"] == "silent::join" and invoke["data"]["subscription_id"] == "s1"
    sync = client.recv(timeout=10)
    assert sync["event"] == {"type": "sync", "data": [{"hello": 1}]}


def test_calls_beyond_max_invocations_per_worker_fail_at_once(raw_workers):
    engine = start(max_invocations_per_worker=2)
    try:
        silent = raw_workers(engine)
        silent.host("silent::fn")
        wait_for(lambda: "silent::fn" in engine.functions)
        for n in range(2):
            engine.trigger({"function_id": "silent::fn", "payload": {"n": n}, "action": {"type": "void"}})
        held = [silent.recv(), silent.recv()]
        assert [i["data"]["n"] for i in held] == [0, 1]
        with pytest.raises(iii_live.InvocationError) as info:
            engine.trigger({"function_id": "silent::fn", "payload": {"n": 2}, "timeout_ms": 5_000})
        assert info.value.code == "worker_busy"
        assert "max_invocations_per_worker" in info.value.message
        silent.answer(held[0])
        wait_for(lambda: engine.workers[0]["calls_in_flight"] == 1)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(engine.trigger, {"function_id": "silent::fn", "payload": {"n": 3}})
            invoke = silent.recv()
            assert invoke["data"]["n"] == 3
            silent.answer(invoke, result="room again")
            assert pending.result(10) == "room again"
    finally:
        engine.stop()


@pytest.mark.parametrize("key", ["worker_invocation_timeout_ms", "max_invocations_per_worker"])
def test_the_worker_bounds_are_config_keys(key, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"workers:\n  - name: iii-stream\n    config:\n      {key}: 1234\n")
    engine = iii_live.start(config=str(config), port=0, background=True)
    try:
        assert getattr(engine.config.limits, key) == 1234
    finally:
        engine.stop()
    with pytest.raises(ConfigError, match=key):
        start(**{key: 0})
