"""Official iii SDKs as real clients of the engine port (spec §7, §8)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from iii import InitOptions, TriggerAction, register_worker
from iii import InvocationError as SdkInvocationError
from iii.helpers import create_stream
from iii.stream import IStream

import iii_live

from .conftest import Client, wait_for

pytestmark = pytest.mark.filterwarnings("ignore:register_trigger is deprecated:DeprecationWarning")

NODE_DIR = Path(__file__).parent / "interop" / "node"
QUIET = {"enabled": False}


@pytest.fixture
def worker_factory(engine):
    workers = []

    def make(name="py-worker", **options):
        options.setdefault("otel", QUIET)
        w = register_worker(engine.engine_url, InitOptions(worker_name=name, **options))
        workers.append(w)
        return w

    yield make
    for w in workers:
        w.shutdown()


def sdk_call(worker, function_id, **payload):
    return worker.trigger({"function_id": function_id, "payload": payload})


def test_engine_port_defaults(engine):
    assert engine.engine_url.startswith("ws://127.0.0.1:")
    assert engine.engine_port not in (None, engine.port)
    off = iii_live.start(port=0, background=True, engine_port=None)
    try:
        assert off.engine_url is None
    finally:
        off.stop()


def test_every_stream_call_from_the_python_sdk(engine, worker_factory):
    w = worker_factory()
    s = {"stream_name": "chat", "group_id": "room"}
    assert sdk_call(w, "stream::set", **s, item_id="m1", data={"t": "a"}) == {
        "old_value": None,
        "new_value": {"t": "a"},
    }
    assert sdk_call(w, "stream::set", **s, item_id="m1", data={"t": "b"}) == {
        "old_value": {"t": "a"},
        "new_value": {"t": "b"},
    }
    assert sdk_call(w, "stream::get", **s, item_id="m1") == {"t": "b"}
    assert sdk_call(w, "stream::get", **s, item_id="nope") is None
    assert sdk_call(w, "stream::list", **s) == [{"t": "b"}]
    assert sdk_call(w, "stream::list_groups", stream_name="chat") == ["room"]
    assert sdk_call(w, "stream::list_all") == {"stream": [{"id": "chat", "groups": ["room"]}], "count": 1}
    assert sdk_call(w, "stream::send", **s, type="typing", data={"u": 1}) is None
    result = sdk_call(
        w, "stream::update", **s, item_id="m1", ops=[{"type": "set", "path": "read", "value": True}]
    )
    assert result == {"old_value": {"t": "b"}, "new_value": {"t": "b", "read": True}}
    assert sdk_call(w, "stream::delete", **s, item_id="m1") == {"old_value": {"t": "b", "read": True}}
    assert sdk_call(w, "stream::delete", **s, item_id="m1") == {"old_value": None}
    assert (
        w.trigger(
            {
                "function_id": "stream::set",
                "payload": {**s, "item_id": "v", "data": 1},
                "action": TriggerAction.Void(),
            }
        )
        is None
    )
    wait_for(lambda: engine.stream("chat").get("room", "v") == 1)


@pytest.mark.parametrize(
    ("function_id", "payload", "code", "text"),
    [
        (
            "stream::set",
            {"stream_name": "s", "group_id": "g", "data": 1},
            "deserialization_error",
            "missing field `item_id`",
        ),
        (
            "stream::get",
            {"stream_name": "s", "group_id": 3, "item_id": "i"},
            "deserialization_error",
            "`group_id`",
        ),
        (
            "stream::update",
            {
                "stream_name": "s",
                "group_id": "g",
                "item_id": "i",
                "ops": [{"type": "increment", "path": "n", "by": 1.0}],
            },
            "deserialization_error",
            "`ops[0].by`",
        ),
        ("no::such::fn", {}, "function_not_found", "Function no::such::fn not found in namespace default."),
    ],
)
def test_errors_reach_the_sdk_with_iii_codes(worker_factory, function_id, payload, code, text):
    w = worker_factory()
    with pytest.raises(SdkInvocationError) as info:
        w.trigger({"function_id": function_id, "payload": payload})
    assert info.value.code == code
    assert text in info.value.message


def test_worker_functions_called_from_the_notebook_and_from_other_workers(engine, worker_factory):
    a = worker_factory("worker-a")
    b = worker_factory("worker-b")
    seen = []

    def double(data):
        seen.append(data)
        return {"doubled": data["x"] * 2}

    a.register_function("a::double", double)
    wait_for(lambda: "a::double" in engine.functions)
    assert engine.trigger({"function_id": "a::double", "payload": {"x": 21}}) == {"doubled": 42}
    assert b.trigger({"function_id": "a::double", "payload": {"x": 5}}) == {"doubled": 10}
    assert seen[1]["_caller_worker_id"] == next(
        w["worker_id"] for w in engine.workers if w["name"] == "worker-b"
    )
    engine.register_function("nb::upper", lambda p: p["s"].upper())
    assert b.trigger({"function_id": "nb::upper", "payload": {"s": "hi"}}) == "HI"
    [info] = [w for w in engine.workers if w["name"] == "worker-a"]
    assert info["functions"] == ["a::double"]
    assert info["runtime"] == "python"

    def broken(data):
        raise ValueError("worker says no")

    a.register_function("a::broken", broken)
    wait_for(lambda: "a::broken" in engine.functions)
    with pytest.raises(iii_live.InvocationError) as err:
        engine.trigger({"function_id": "a::broken", "payload": {}})
    assert err.value.code == "invocation_failed"
    assert "worker says no" in err.value.message


def test_worker_cannot_take_over_a_builtin(engine, worker_factory):
    w = worker_factory()
    w.register_function("stream::set", lambda d: "hijacked")
    w.register_function("w::after", lambda d: d)  # handled after the attempt, in order
    wait_for(lambda: "w::after" in engine.functions)
    assert engine.stream("s").set("g", "i", 1) == {"old_value": None, "new_value": 1}


def test_worker_triggers_of_all_three_types(engine, worker_factory, client_factory):
    w = worker_factory()
    changes, joins, leaves = [], [], []
    w.register_function("w::on_change", lambda e: changes.append(e))

    def on_join(e):
        joins.append(e)
        return {"unauthorized": e["group_id"] == "vip"}

    w.register_function("w::on_join", on_join)
    w.register_function("w::on_leave", lambda e: leaves.append(e))
    w.register_trigger(
        {"type": "stream", "function_id": "w::on_change", "config": {"stream_name": "feed", "group_id": "g"}}
    )
    w.register_trigger({"type": "stream:join", "function_id": "w::on_join", "config": {}})
    w.register_trigger({"type": "stream:leave", "function_id": "w::on_leave", "config": {}})
    wait_for(lambda: len(engine.triggers.all()) == 3)
    engine.stream("feed").set("g", "x", {"v": 1})
    engine.stream("feed").set("other", "x", {"v": 1})
    wait_for(lambda: len(changes) == 1)
    assert changes[0]["event"] == {"type": "create", "data": {"v": 1}}
    c = client_factory(engine.stream_url)
    c.join("s1", "feed", "vip")
    assert c.recv()["event"] == {"type": "unauthorized"}
    c.join("s2", "feed", "g")
    assert c.recv()["event"]["type"] == "sync"
    c.close()
    wait_for(lambda: len(leaves) == 1)
    assert [j["group_id"] for j in joins] == ["vip", "g"]
    assert leaves[0]["subscription_id"] == "s2"


def test_failed_trigger_registration_is_reported(engine, worker_factory):
    w = worker_factory()
    w.register_function("w::f", lambda e: None)
    w.register_trigger({"type": "stream", "function_id": "w::f", "config": {}})  # no stream_name
    w.register_trigger({"type": "cron", "function_id": "w::f", "config": {"expression": "* * * * *"}})
    w.register_trigger({"type": "stream", "function_id": "w::f", "config": {"stream_name": "after"}})
    wait_for(lambda: engine.triggers.all())  # the valid one, handled after the two refused
    assert [t.config for t in engine.triggers.all()] == [{"stream_name": "after"}]


class MemoryStream(IStream):
    def __init__(self):
        self.items = {}

    async def get(self, input):
        return self.items.get((input.group_id, input.item_id))

    async def set(self, input):
        from iii_helpers.stream import StreamSetResult

        old = self.items.get((input.group_id, input.item_id))
        self.items[(input.group_id, input.item_id)] = input.data
        return StreamSetResult(old_value=old, new_value=input.data)

    async def delete(self, input):
        from iii_helpers.stream import StreamDeleteResult

        return StreamDeleteResult(old_value=self.items.pop((input.group_id, input.item_id), None))

    async def list(self, input):
        return [v for (g, _), v in self.items.items() if g == input.group_id]

    async def list_groups(self, input):
        return sorted({g for g, _ in self.items})

    async def update(self, input):
        return None


def test_create_stream_from_a_worker(engine, worker_factory, client_factory):
    w = worker_factory()
    store = MemoryStream()
    with pytest.warns(FutureWarning):
        create_stream(w, "remote", store)
    wait_for(lambda: "stream::list_groups(remote)" in engine.functions)
    c = client_factory(f"{engine.stream_url}/stream/remote/g")
    assert c.recv()["event"] == {"type": "sync", "data": []}
    assert engine.stream("remote").set("g", "i", {"a": 1}) == {"old_value": None, "new_value": {"a": 1}}
    assert store.items == {("g", "i"): {"a": 1}}
    assert c.recv()["event"] == {"type": "create", "data": {"a": 1}}
    assert engine.stream("remote").list("g") == [{"a": 1}]
    assert engine.stream("remote").list_groups() == ["g"]
    assert engine.stream("remote").delete("g", "i") == {"old_value": {"a": 1}}
    assert c.recv()["event"] == {"type": "delete", "data": {"a": 1}}


def test_auth_function_hosted_by_a_worker(worker_factory):
    engine = iii_live.start(port=0, background=True, auth_function="w::auth")
    try:
        w = register_worker(engine.engine_url, InitOptions(otel=QUIET))
        w.register_function("w::auth", lambda req: {"context": {"token": req["query_params"]["token"][0]}})
        joins = []
        engine.register_function("on_join", joins.append)
        engine.register_trigger({"type": "stream:join", "function_id": "on_join", "config": {}})
        wait_for(lambda: "w::auth" in engine.functions)
        c = Client(f"{engine.stream_url}/stream/s/g?token=t0k")
        c.recv()
        assert joins[0]["context"] == {"token": "t0k"}
        c.close()
        w.shutdown()
    finally:
        engine.stop()


def test_disconnect_drops_registrations_and_fails_calls_in_flight(engine, worker_factory):
    w = worker_factory()
    release = threading.Event()
    w.register_function("w::slow", lambda d: release.wait(10) or "late")
    w.register_function("w::echo", lambda d: d)
    w.register_trigger({"type": "stream", "function_id": "w::echo", "config": {"stream_name": "s"}})
    wait_for(lambda: "w::slow" in engine.functions and engine.triggers.all())
    [info] = engine.workers
    worker = engine.core.workers.get(info["worker_id"])
    errors = []

    def call_slow():
        try:
            engine.trigger({"function_id": "w::slow", "payload": {}})
        except iii_live.InvocationError as exc:
            errors.append(exc.code)

    caller = threading.Thread(target=call_slow)
    caller.start()
    wait_for(lambda: engine.workers[0]["calls_in_flight"] == 1)
    engine.runtime.call(lambda: worker.close("dropped by the test"))  # mid-call
    caller.join(10)
    release.set()
    assert errors == ["invocation_stopped"]
    # the SDK reconnects and replays its registrations
    wait_for(lambda: "w::echo" in engine.functions and len(engine.workers) == 1, timeout=15)
    wait_for(lambda: engine.triggers.all(), timeout=5)
    assert engine.trigger({"function_id": "w::echo", "payload": {"k": 1}})["k"] == 1


def test_shutdown_removes_the_worker(engine):
    w = register_worker(engine.engine_url, InitOptions(otel=QUIET))
    w.register_function("w::f", lambda d: 1)
    wait_for(lambda: "w::f" in engine.functions)
    w.shutdown()
    wait_for(lambda: "w::f" not in engine.functions and not engine.workers)
    with pytest.raises(iii_live.InvocationError) as info:
        engine.trigger({"function_id": "w::f", "payload": {}})
    assert info.value.code == "function_not_found"


def test_sdk_with_default_telemetry_connects_through_otel(engine):
    env = {**os.environ, "III_URL": engine.engine_url}
    script = textwrap.dedent(
        """
        import sys
        from iii import register_worker
        w = register_worker(sys.argv[1])
        payload = {"stream_name": "o", "group_id": "g", "item_id": "i", "data": 1}
        print(w.trigger({"function_id": "stream::set", "payload": payload}))
        w.shutdown()
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, engine.engine_url], capture_output=True, text=True, timeout=60, env=env
    )
    assert out.returncode == 0, out.stderr
    assert "'new_value': 1" in out.stdout


def test_worker_function_from_a_cell_on_the_engine_loop_names_trigger_async():
    async def main():
        engine = iii_live.start(port=0)
        try:
            w = await asyncio.to_thread(register_worker, engine.engine_url, InitOptions(otel=QUIET))
            w.register_function("w::f", lambda d: "ok")
            for _ in range(100):
                if "w::f" in engine.functions:
                    break
                await asyncio.sleep(0.05)
            with pytest.raises(RuntimeError, match="trigger_async"):
                engine.trigger({"function_id": "w::f", "payload": {}})
            assert await engine.trigger_async({"function_id": "w::f", "payload": {}}) == "ok"
            await asyncio.to_thread(w.shutdown)
        finally:
            engine.stop()

    asyncio.run(main())


PRODUCER = textwrap.dedent(
    """
    import sys, time
    from iii import InitOptions, register_worker
    iii = register_worker(sys.argv[1], InitOptions(worker_name="producer", otel={"enabled": False}))
    for i in range(20):
        payload = {"stream_name": "prices", "group_id": "fx", "item_id": "eurusd", "data": {"tick": i}}
        iii.trigger({"function_id": "stream::set", "payload": payload})
        time.sleep(0.01)
    iii.shutdown()
    """
)


def test_external_python_producer_feeds_websocket_clients_and_subscribers(engine, client_factory):
    """A script that imports only the official SDK writes; an iii-live engine's clients see it live."""
    ws = client_factory(f"{engine.stream_url}/stream/prices/fx")
    assert ws.recv()["event"]["type"] == "sync"
    local = []
    engine.subscribe("prices", "fx", local.append)
    out = subprocess.run(
        [sys.executable, "-c", PRODUCER, engine.engine_url], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    ticks = [ws.recv()["event"]["data"]["tick"] for _ in range(20)]
    assert ticks == list(range(20))
    assert [m["event"]["data"]["tick"] for m in local[1:]] == list(range(20))


@pytest.fixture(scope="module")
def node_sdk():
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "iii-sdk").exists():
        pytest.fail(
            "the npm iii-sdk is not installed: run `npm ci --prefix tests/interop/node` (.ci/run does)"
        )
    return NODE_DIR / "client.mjs"


def test_node_sdk_worker(engine, node_sdk, client_factory, worker_factory):
    """The Node SDK's own view: ``undefined`` where iii sends no ``result``, ``null`` where it
    sends null, on built-ins and on every path the engine relays."""
    engine.register_function("nb::nothing", lambda payload: None)
    engine.register_function("nb::zero", lambda payload: 0)
    worker_factory("py-relay").register_function("py::nothing", lambda payload: None)
    wait_for(lambda: "py::nothing" in engine.functions)
    proc = subprocess.Popen(
        ["node", str(node_sdk), engine.engine_url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        steps = {}
        for line in proc.stdout:
            if line.startswith("{"):
                message = json.loads(line)
                steps[message["step"]] = message
                if message["step"] == "ready":
                    break
        assert steps["set1"]["result"] == {"old_value": None, "new_value": {"n": 1}}
        assert steps["set2"]["result"] == {"old_value": {"n": 1}, "new_value": {"n": 2}}
        assert steps["get"]["result"] == {"n": 2}
        assert steps["get_missing"]["kind"] == "undefined"
        assert steps["get_stored_null"]["kind"] == "null"  # an item stored as null: iii sends null
        assert steps["list"]["result"] == [{"n": 2}]
        assert steps["list_groups"]["result"] == ["g"]
        assert steps["list_all"]["result"] == {"stream": [{"id": "node", "groups": ["g"]}], "count": 1}
        assert steps["send"]["kind"] == "null"
        update = steps["update"]["result"]
        assert update["new_value"] == {"n": 7}
        assert [e["code"] for e in update["errors"]] == ["merge.value.not_an_object"]
        assert steps["delete"]["result"] == {"old_value": {"n": 7}}
        assert steps["delete_missing"]["result"] == {"old_value": None}
        assert steps["get_deleted"]["kind"] == "undefined"
        assert steps["bad_payload"]["error"]["code"] == "deserialization_error"
        assert steps["unknown"]["error"]["code"] == "function_not_found"
        assert steps["void"]["kind"] == "undefined"
        relayed = {name: steps[name]["kind"] for name in steps if name.startswith(("relay_", "custom_"))}
        assert relayed == {
            "relay_undefined": "undefined",
            "relay_null": "undefined",
            "relay_python_none": "undefined",
            "relay_notebook_none": "undefined",
            "relay_notebook_zero": "number",
            "custom_get_missing": "undefined",
        }
        assert steps["relay_notebook_zero"]["result"] == 0

        assert (
            engine.trigger({"function_id": "node::greet", "payload": {"name": "notebook"}})
            == "hello notebook"
        )
        assert engine.trigger({"function_id": "node::nothing", "payload": {}}) is None
        engine.stream("nodefeed").set("g", "i", {"from": "python"})
        fired = json.loads(proc.stdout.readline())
        assert fired["step"] == "trigger"
        assert fired["event"]["event"] == {"type": "create", "data": {"from": "python"}}

        ws = client_factory(f"{engine.stream_url}/stream/nodestore/g")
        assert ws.recv()["event"] == {"type": "sync", "data": []}
        assert engine.stream("nodestore").set("g", "i", {"x": 1}) == {
            "old_value": None,
            "new_value": {"x": 1},
        }
        assert ws.recv()["event"] == {"type": "create", "data": {"x": 1}}
        assert engine.stream("nodestore").list("g") == [{"x": 1}]
        assert engine.stream("nodestore").get("g", "missing") is None
        assert sorted(w["runtime"] for w in engine.workers) == ["node", "python"]
    finally:
        proc.stdin.close()
        proc.wait(10)


def test_raw_worker_protocol_ignores_what_it_does_not_know(engine):
    """The wire as a non-SDK client speaks it: unknown types, junk, JSON ping, binary telemetry."""
    from websockets.sync.client import connect

    with connect(engine.engine_url, open_timeout=5) as ws:
        hello = json.loads(ws.recv(timeout=5))
        assert hello["type"] == "workerregistered" and hello["worker_id"]
        ws.send("not json")
        ws.send(json.dumps({"type": "registertriggertype", "id": "x", "description": "d"}))
        ws.send(json.dumps({"type": "frobnicate", "extra": [1, 2]}))
        ws.send(b"OTLP{}")
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}
        ws.send(
            json.dumps(
                {
                    "type": "invokefunction",
                    "invocation_id": "inv-1",
                    "function_id": "stream::set",
                    "data": {"stream_name": "raw", "group_id": "g", "item_id": "i", "data": 7},
                    "traceparent": "00-abc-def-01",
                    "unknown_field": True,
                }
            )
        )
        reply = json.loads(ws.recv(timeout=5))
        assert reply == {
            "type": "invocationresult",
            "invocation_id": "inv-1",
            "function_id": "stream::set",
            "result": {"old_value": None, "new_value": 7},
        }
        ws.send(
            json.dumps({"type": "invokefunction", "invocation_id": "inv-2", "function_id": "stream::get"})
        )
        error = json.loads(ws.recv(timeout=5))["error"]
        assert error["code"] == "deserialization_error"
    with connect(engine.engine_url + "/otel", open_timeout=5) as otel:
        otel.send(b"MTRC{}")
        otel.send("ignored")
    assert engine.stream("raw").get("g", "i") == 7


def test_a_worker_cannot_serve_the_layouts_of_dashboards_as_its_own_stream(engine, worker_factory):
    """``create_stream`` under the reserved name would route every read and write of the
    layouts to the worker: viewers would see what it answers, not what was published."""
    from iii_live.dashboards import LAYOUT_STREAM

    from .test_dashboards import join, socket_url

    table = engine.stream("m").table("hosts")
    url = engine.publish(iii_live.Dashboard("Ops", [[table]]), name="ops")
    published = engine.stream(LAYOUT_STREAM).get("ops", "layout")
    w = worker_factory("takeover")
    with pytest.warns(FutureWarning):
        create_stream(w, LAYOUT_STREAM, MemoryStream())
    w.register_function("takeover::after", lambda data: None)  # registered after the stream's
    wait_for(lambda: "takeover::after" in engine.functions)
    forged = {"title": "Forged", "rows": [["# not this"]]}
    with pytest.raises(SdkInvocationError):
        sdk_call(w, "stream::set", stream_name=LAYOUT_STREAM, group_id="ops", item_id="layout", data=forged)
    viewer = Client(socket_url(url))
    try:
        join(viewer, "layout", LAYOUT_STREAM, "ops")
        assert viewer.recv()["event"] == {"type": "sync", "data": {"layout": published}}
    finally:
        viewer.close()
        table.close()
