"""Where the engine runs: on the caller's asyncio loop, on its own thread, in a script."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import textwrap
import threading

import pytest
import websockets

import iii_live
from iii_live import InvocationError, PortInUseError

from .conftest import Client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_attaches_to_the_running_loop_and_serves_on_it():
    async def main():
        engine = iii_live.start(port=0)
        try:
            assert engine.runtime.loop is asyncio.get_running_loop()
            assert not engine.runtime.owns_thread
            async with websockets.connect(f"{engine.stream_url}/stream/s/g") as ws:
                assert json.loads(await ws.recv())["event"]["type"] == "sync"
                engine.stream("s").set("g", "i", {"v": 1})  # synchronous call inside the loop
                assert json.loads(await ws.recv())["event"] == {"type": "create", "data": {"v": 1}}
                result = await engine.trigger_async(
                    {
                        "function_id": "stream::get",
                        "payload": {"stream_name": "s", "group_id": "g", "item_id": "i"},
                    }
                )
                assert result == {"v": 1}
        finally:
            engine.stop()

    asyncio.run(main())


def test_async_function_from_the_loop_thread_names_trigger_async():
    async def main():
        engine = iii_live.start(port=0)
        try:

            async def later(p):
                await asyncio.sleep(0)
                return "done"

            engine.register_function("later", later)
            with pytest.raises(RuntimeError, match="trigger_async"):
                engine.trigger({"function_id": "later", "payload": {}})
            assert await engine.trigger_async({"function_id": "later", "payload": {}}) == "done"
        finally:
            engine.stop()

    asyncio.run(main())


def test_background_engine_serves_while_the_caller_loop_is_busy():
    async def main():
        engine = iii_live.start(port=0, background=True)
        try:
            assert engine.runtime.owns_thread
            assert engine.runtime.loop is not asyncio.get_running_loop()

            async def on_engine_loop(p):
                return threading.current_thread().name

            engine.register_function("where", on_engine_loop)
            # a sync trigger from the caller's loop thread works: the engine loop is elsewhere
            assert engine.trigger({"function_id": "where", "payload": None}) == "iii-live-engine"
            assert await engine.trigger_async({"function_id": "where", "payload": None}) == "iii-live-engine"
            client = Client(f"{engine.stream_url}/stream/s/g")  # blocking client, loop stays blocked
            assert client.recv()["event"]["type"] == "sync"
            client.close()
        finally:
            engine.stop()

    asyncio.run(main())


def test_sync_trigger_times_out_instead_of_hanging(engine):
    async def never(p):
        await asyncio.sleep(60)

    engine.register_function("never", never)
    with pytest.raises(InvocationError) as info:
        engine.trigger({"function_id": "never", "payload": {}, "timeout_ms": 200})
    assert info.value.code == "TIMEOUT"


def test_port_taken_by_another_process_says_how_to_pick_another():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(PortInUseError, match="port=0"):
            iii_live.start(port=port, background=True)


def test_starting_again_reuses_or_restarts_cleanly():
    port = free_port()
    first = iii_live.start(port=port, background=True, engine_port=None)  # the default 49134 may be taken
    try:
        first.stream("s").set("g", "i", 1)
        again = iii_live.start(port=port, background=True, engine_port=None)
        assert again is first
        assert again.stream("s").get("g", "i") == 1
        changed = iii_live.start(port=port, background=True, engine_port=None, ping_interval=5)
        assert changed is not first
        assert not first.running
        assert changed.running and changed.port == port
        changed.stop()
    finally:
        first.stop()


def test_port_zero_engines_are_independent():
    a = iii_live.start(port=0, background=True)
    b = iii_live.start(port=0, background=True)
    try:
        assert a is not b and a.port != b.port
        a.stream("s").set("g", "i", 1)
        assert b.stream("s").get("g", "i") is None
    finally:
        a.stop()
        b.stop()


@pytest.mark.subprocess
def test_plain_script_runs_until_stopped(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import threading, iii_live
            engine = iii_live.start(port=0)
            print(engine.port, flush=True)
            engine.stream("s").set("g", "i", {"from": "script"})
            threading.Timer(0.5, engine.stop).start()
            engine.run_forever()
            print("stopped", flush=True)
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "stopped"


def test_subscribe_callback_sync_first_and_close(engine):
    engine.stream("s").set("g", "a", 1)
    seen = []
    handle = engine.subscribe("s", "g", seen.append)
    assert seen[0]["event"] == {"type": "sync", "data": [1]}
    engine.stream("s").set("g", "b", 2)
    assert seen[-1]["event"] == {"type": "create", "data": 2}
    handle.close()
    engine.stream("s").set("g", "c", 3)
    assert len(seen) == 2


def test_callback_that_writes_does_not_deadlock_and_keeps_order(engine):
    seen = []

    def echo(message):
        seen.append(message["id"])
        if message["id"] == "a":
            engine.stream("s").set("g", "b", 2)

    engine.subscribe("s", "g", echo)
    other = []
    engine.subscribe("s", "g", lambda m: other.append(m["id"]))
    engine.stream("s").set("g", "a", 1)
    assert seen == [None, "a", "b"]
    assert other == [None, "a", "b"]


def test_failing_callback_does_not_stop_others(engine):
    got = []
    engine.subscribe("s", "g", lambda m: 1 / 0)
    engine.subscribe("s", "g", got.append)
    engine.stream("s").set("g", "i", 1)
    assert [m["event"]["type"] for m in got] == ["sync", "create"]
