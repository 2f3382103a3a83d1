"""``WorkerSession`` without sockets: each worker connection is a list of what the engine
sent it and a list of the reasons it was closed with."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from iii_live.core import StreamCore
from iii_live.errors import InvocationError
from iii_live.functions import resolve
from iii_live.limits import Limits
from iii_live.protocol.worker_session import WorkerSession
from iii_live.streams.adapters.kv import KvAdapter


def _spawn(coro: Awaitable[Any]) -> None:
    asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]


async def _offload(fn: Callable[[], Any]) -> Any:
    return fn()


def new_core(**limits: Any) -> StreamCore:
    core = StreamCore(KvAdapter(), Limits(**limits), spawn=_spawn, offload=_offload)
    core.open(lambda deliver: deliver())
    return core


class Peer:
    """One worker connection, as the session sees it."""

    def __init__(self, core: StreamCore) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: list[str] = []
        self.session = WorkerSession(core, self.sent.append, self.closed.append, "127.0.0.1")
        self.session.open()

    @property
    def worker_id(self) -> str:
        return self.session.worker.worker_id

    @property
    def token(self) -> str:
        return self.sent[0]["reattach_token"]

    def send(self, **message: Any) -> None:
        self.session.receive(json.dumps(message))

    def last(self, message_type: str) -> dict[str, Any]:
        return [m for m in self.sent if m["type"] == message_type][-1]

    def call(self, invocation_id: str, function_id: str, data: Any) -> None:
        self.send(type="invokefunction", invocation_id=invocation_id, function_id=function_id, data=data)

    def invokes(self) -> list[dict[str, Any]]:
        """The calls the engine made to this worker."""
        return [m for m in self.sent if m["type"] == "invokefunction"]

    def answer(self, invoke: dict[str, Any], **outcome: Any) -> None:
        self.send(
            type="invocationresult",
            invocation_id=invoke["invocation_id"],
            function_id=invoke["function_id"],
            **outcome,
        )

    def reply(self, invocation_id: str) -> dict[str, Any]:
        [reply] = [
            m for m in self.sent if m["type"] == "invocationresult" and m["invocation_id"] == invocation_id
        ]
        return reply


async def until(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Let the loop run until ``predicate()`` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := predicate()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout:.0f}s")
        await asyncio.sleep(0)
    return value


@pytest.fixture
def core():
    core = new_core()
    yield core
    core.close()


def ref(item_id: str | None = None, **extra: Any) -> dict[str, Any]:
    payload = {"stream_name": "s", "group_id": "g", **extra}
    if item_id is not None:
        payload["item_id"] = item_id
    return payload


# -- reattach ----------------------------------------------------------------------------


def test_each_connection_is_greeted_with_its_own_reattach_token(core):
    a, b = Peer(core), Peer(core)
    assert a.sent[0] == {"type": "workerregistered", "worker_id": a.worker_id, "reattach_token": a.token}
    assert len(a.token) >= 32
    assert a.token != b.token and a.worker_id != b.worker_id


def test_reattach_with_the_token_retires_the_previous_connection(core):
    old = Peer(core)
    old.send(type="registerfunction", id="w::f")
    new = Peer(core)
    new.send(type="reattach", previous_worker_id=old.worker_id, reattach_token=old.token)
    assert old.closed == ["replaced by its reconnection"]
    assert core.workers.get(old.worker_id) is None
    assert "w::f" not in core.functions
    new.send(type="registerfunction", id="w::f")
    assert core.functions.get("w::f").owner == new.worker_id


@pytest.mark.parametrize(
    "token",
    [None, "", "wrong-token", ["a list"], 42, "OWN_TOKEN"],
    ids=["missing", "empty", "wrong", "list", "number", "attacker's own token"],
)
def test_reattach_that_fails_the_proof_leaves_the_victim_alone(core, token):
    victim = Peer(core)
    victim.send(type="registerfunction", id="victim::fn")
    attacker = Peer(core)
    message: dict[str, Any] = {"type": "reattach", "previous_worker_id": victim.worker_id}
    if token is not None:
        message["reattach_token"] = attacker.token if token == "OWN_TOKEN" else token
    attacker.send(**message)
    assert victim.closed == []
    assert core.workers.get(victim.worker_id) is victim.session.worker
    assert core.functions.get("victim::fn").owner == victim.worker_id
    attacker.send(type="registerfunction", id="victim::fn")
    assert attacker.last("registrationrejected")["function_id"] == "victim::fn"
    assert core.functions.get("victim::fn").owner == victim.worker_id


def test_reattach_to_itself_or_to_nobody_changes_nothing(core):
    peer = Peer(core)
    peer.send(type="reattach", previous_worker_id=peer.worker_id, reattach_token=peer.token)
    peer.send(type="reattach", previous_worker_id="no-such-worker", reattach_token=peer.token)
    assert peer.closed == [] and core.workers.get(peer.worker_id) is peer.session.worker


# -- triggers ------------------------------------------------------------------------------


def test_trigger_ids_are_scoped_to_the_worker_that_registered_them(core):
    a, b = Peer(core), Peer(core)
    for peer, function_id in ((a, "a::on"), (b, "b::on")):
        peer.send(type="registerfunction", id=function_id)
        peer.send(
            type="registertrigger",
            id="t1",
            trigger_type="stream",
            function_id=function_id,
            config={"stream_name": "s"},
        )
    matching = core.triggers.matching("stream", "s", "g", "i")
    assert sorted((t.owner, t.function_id) for t in matching) == sorted(
        [(a.worker_id, "a::on"), (b.worker_id, "b::on")]
    )
    b.send(type="unregistertrigger", id="t1", trigger_type="stream")
    assert [(t.owner, t.function_id) for t in core.triggers.all()] == [(a.worker_id, "a::on")]
    b.send(type="unregistertrigger", id="t1", trigger_type="stream")
    assert [t.owner for t in core.triggers.all()] == [a.worker_id]


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("id", ["t1"], "a trigger id must be a non-empty string"),
        ("id", {"a": 1}, "a trigger id must be a non-empty string"),
        ("id", "", "a trigger id must be a non-empty string"),
        ("trigger_type", ["stream"], "unknown trigger type"),
        ("function_id", ["f"], "function_id must be a non-empty string"),
        ("config", ["s"], "config must be an object"),
    ],
)
def test_malformed_registertrigger_gets_an_error_reply(core, field, value, text):
    peer = Peer(core)
    message = {"id": "t1", "trigger_type": "stream", "function_id": "w::f", "config": {"stream_name": "s"}}
    message[field] = value
    peer.send(type="registertrigger", **message)
    result = peer.last("triggerregistrationresult")
    assert result["id"] == message["id"]
    assert result["error"]["code"] == "trigger_registration_failed"
    assert text in result["error"]["message"]
    assert core.triggers.all() == []


# -- invocationresult: no result, null, or a value, as iii sends them ----------------------


def test_builtins_omit_result_when_there_is_nothing_and_send_null_for_unit(core):
    peer = Peer(core)
    peer.call("get-missing", "stream::get", ref("x"))
    peer.call("set", "stream::set", ref("x", data={"n": 1}))
    peer.call("get", "stream::get", ref("x"))
    peer.call("send", "stream::send", ref(type="typing", data=None))
    peer.call("delete", "stream::delete", ref("x"))
    peer.call("get-deleted", "stream::get", ref("x"))
    peer.call("list", "stream::list", ref())
    assert "result" not in peer.reply("get-missing")
    assert "result" not in peer.reply("get-deleted")
    assert peer.reply("send")["result"] is None
    assert peer.reply("set")["result"] == {"old_value": None, "new_value": {"n": 1}}
    assert peer.reply("get")["result"] == {"n": 1}
    assert peer.reply("delete")["result"] == {"old_value": {"n": 1}}
    assert peer.reply("list")["result"] == []


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({}, {}),
        ({"result": None}, {}),
        ({"result": 0}, {"result": 0}),
        ({"result": False}, {"result": False}),
        ({"result": ""}, {"result": ""}),
        ({"result": {"k": [1]}}, {"result": {"k": [1]}}),
    ],
    ids=["no result", "null", "zero", "false", "empty string", "object"],
)
def test_a_worker_result_is_relayed_to_the_calling_worker_as_iii_relays_it(core, answer, expected):
    async def scenario() -> dict[str, Any]:
        caller, host = Peer(core), Peer(core)
        host.send(type="registerfunction", id="host::f")
        caller.call("c1", "host::f", {"q": 1})
        [invoke] = await until(host.invokes)
        assert invoke["data"] == {"q": 1, "_caller_worker_id": caller.worker_id}
        host.answer(invoke, **answer)
        return await until(lambda: [m for m in caller.sent if m["type"] == "invocationresult"])

    [reply] = asyncio.run(scenario())
    assert reply == {"type": "invocationresult", "invocation_id": "c1", "function_id": "host::f", **expected}


def test_a_worker_result_without_result_reaches_python_as_none(core):
    async def scenario() -> Any:
        host = Peer(core)
        host.send(type="registerfunction", id="host::f")
        pending = asyncio.ensure_future(resolve(core.call("host::f", {})))
        [invoke] = await until(host.invokes)
        host.answer(invoke)
        return await pending

    assert asyncio.run(scenario()) is None


@pytest.mark.parametrize(
    ("returned", "expected"),
    [(None, {}), (0, {"result": 0}), ([], {"result": []})],
    ids=["None", "zero", "empty list"],
)
def test_notebook_function_results_reach_a_worker_as_iii_would_relay_them(core, returned, expected):
    core.functions.register("nb::f", lambda payload: returned)

    async def nb_async(payload: Any) -> Any:
        return returned

    core.functions.register("nb::async", nb_async)
    peer = Peer(core)
    peer.call("sync", "nb::f", {})
    assert peer.reply("sync") == {
        "type": "invocationresult",
        "invocation_id": "sync",
        "function_id": "nb::f",
        **expected,
    }

    async def scenario() -> dict[str, Any]:
        peer.call("async", "nb::async", {})
        await until(lambda: any(m.get("invocation_id") == "async" for m in peer.sent))
        return peer.reply("async")

    assert asyncio.run(scenario()) == {
        "type": "invocationresult",
        "invocation_id": "async",
        "function_id": "nb::async",
        **expected,
    }


# -- calls to a worker are bounded ----------------------------------------------------------


def test_a_call_to_a_silent_worker_fails_with_timeout_and_forgets_its_payload():
    core = new_core(worker_invocation_timeout_ms=20)

    async def scenario() -> InvocationError:
        silent = Peer(core)
        silent.send(type="registerfunction", id="silent::f")
        with pytest.raises(InvocationError) as info:
            await resolve(core.call("silent::f", {"big": "x" * 1000}))
        assert silent.session.worker.calls_in_flight == 0
        return info.value

    error = asyncio.run(scenario())
    core.close()
    assert error.code == "TIMEOUT"
    assert "did not answer silent::f within 20 ms (worker_invocation_timeout_ms)" in error.message


def test_a_relayed_call_to_a_silent_worker_answers_the_caller_with_timeout():
    core = new_core(worker_invocation_timeout_ms=20)

    async def scenario() -> dict[str, Any]:
        caller, silent = Peer(core), Peer(core)
        silent.send(type="registerfunction", id="silent::f")
        caller.call("c1", "silent::f", {})
        await until(lambda: any(m["type"] == "invocationresult" for m in caller.sent))
        return caller.reply("c1")

    reply = asyncio.run(scenario())
    core.close()
    assert reply["error"]["code"] == "TIMEOUT" and "result" not in reply


def test_calls_beyond_max_invocations_per_worker_fail_at_once():
    core = new_core(max_invocations_per_worker=2)

    async def scenario() -> None:
        host = Peer(core)
        host.send(type="registerfunction", id="host::f")
        calls = [asyncio.ensure_future(resolve(core.call("host::f", n))) for n in (1, 2)]
        [one, two] = await until(lambda: len(host.invokes()) == 2 and host.invokes())
        with pytest.raises(InvocationError) as info:
            await resolve(core.call("host::f", 3))
        assert info.value.code == "worker_busy"
        assert "has 2 calls unanswered" in info.value.message
        assert "max_invocations_per_worker" in info.value.message
        assert [one["data"], two["data"]] == [1, 2] and len(host.invokes()) == 2
        host.answer(one, result="a")
        assert await calls[0] == "a"
        calls.append(asyncio.ensure_future(resolve(core.call("host::f", 3))))
        three = (await until(lambda: len(host.invokes()) == 3 and host.invokes()))[2]
        assert three["data"] == 3
        host.answer(two, result="b")
        host.answer(three, result="c")
        assert [await calls[1], await calls[2]] == ["b", "c"]

    asyncio.run(scenario())
    core.close()


def test_a_disconnect_stops_the_calls_in_flight(core):
    async def scenario() -> InvocationError:
        host = Peer(core)
        host.send(type="registerfunction", id="host::f")
        pending = asyncio.ensure_future(resolve(core.call("host::f", {})))
        await until(host.invokes)
        host.session.close()
        with pytest.raises(InvocationError) as info:
            await pending
        return info.value

    assert asyncio.run(scenario()).code == "invocation_stopped"
