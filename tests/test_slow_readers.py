"""Readers that fall behind: they converge instead of being cut off; only a reader that stops
reading (or piles past the hard cap) is disconnected, and never at the others' expense."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import tracemalloc

import pytest
import websockets

import iii_live

from .conftest import Client, stalled_socket, wait_for


def read_until(url: str, expected: dict, *, sync_keyed: bool = True) -> tuple[dict, int]:
    """Read as fast as possible until the state equals ``expected``; returns (state, frames)."""

    async def reader() -> tuple[dict, int]:
        async with websockets.connect(url, max_size=None) as ws:
            state: dict = {}
            count = 0
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                count += 1
                event = frame["event"]
                if event["type"] == "sync":
                    state = dict(event["data"])
                elif event["type"] == "delete":
                    state.pop(frame["id"], None)
                elif event["type"] in ("create", "update"):
                    state[frame["id"]] = event["data"]
                if state == expected:
                    return state, count

    return asyncio.run(reader())


@pytest.mark.parametrize(("items", "size"), [(3_000, 20_000), (30_000, 2_000)], ids=["20KB", "2KB"])
def test_a_burst_reader_converges_to_the_exact_state_and_stays_connected(engine, items, size):
    stream = engine.stream("big")
    expected = {f"k{n}": {"n": n, "pad": "x" * size} for n in range(items)}
    url = f"{engine.stream_url}/stream/big/g?sync=keyed"
    result: dict = {}
    reading = threading.Thread(
        target=lambda: result.update(zip(("state", "frames"), read_until(url, expected), strict=True))
    )
    reading.start()
    wait_for(lambda: engine.status()["subscriptions"] == 1)
    for key, value in expected.items():
        stream.set("g", key, value)
    reading.join(120)
    assert result["state"] == expected  # a cut reader would have raised ConnectionClosed instead


def test_readers_of_a_group_larger_than_the_write_buffer_are_not_cut_off():
    engine = iii_live.start(port=0, background=True, max_write_buffer=4 * 1024 * 1024)
    try:
        expected = {f"k{n}": "v" * 10_000 for n in range(1_000)}  # 10 MB
        for key, value in expected.items():
            engine.stream("s").set("g", key, value)
        states = []
        threads = [
            threading.Thread(
                target=lambda: states.append(
                    read_until(f"{engine.stream_url}/stream/s/g?sync=keyed", expected)[0]
                )
            )
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert states == [expected] * 3
    finally:
        engine.stop()


def test_a_reader_that_stops_is_dropped_after_two_ping_intervals_and_the_others_get_everything():
    engine = iii_live.start(port=0, background=True, ping_interval=0.5)
    try:
        stalled = stalled_socket(engine.port, "/stream/big/g")
        wait_for(lambda: engine.status()["connections"] == 1)
        reader = Client(f"{engine.stream_url}/stream/big/g")
        reader.recv()
        payload = "x" * 50_000
        received = []

        def read_all() -> None:
            for _ in range(400):
                received.append(reader.recv(timeout=10)["event"]["data"]["n"])

        thread = threading.Thread(target=read_all)
        thread.start()
        for n in range(400):
            engine.stream("big").set("g", str(n % 10), {"n": n, "pad": payload})
            wait_for(lambda n=n: len(received) > n - 10)  # a healthy reader keeps up
        thread.join(30)
        assert received == list(range(400))  # every frame, in order
        wait_for(lambda: engine.status()["connections"] == 1, timeout=10)  # the stalled one was dropped
        reader.close()
        stalled.close()
    finally:
        engine.stop()


def test_a_backlog_past_the_hard_cap_is_disconnected():
    engine = iii_live.start(port=0, background=True, ping_interval=0, max_write_buffer=1024 * 1024)
    try:
        for n in range(800):  # an 8 MB sync, more than the kernel's socket buffers take: one frame, allowed
            engine.stream("s").set("g", f"k{n}", "v" * 10_000)
        stalled = stalled_socket(engine.port, "/")
        wait_for(lambda: engine.status()["connections"] == 1)
        join = b'{"type":"join","data":{"subscriptionId":"%d","streamName":"s","groupId":"g"}}'
        for n in range(2):
            payload = join % n
            stalled.sendall(bytes((0x81, 0x80 | len(payload))) + b"\0\0\0\0" + payload)  # zero mask
            if n == 0:
                stalled.recv(1)  # the first sync is on its way: the second lands on its unread backlog
        wait_for(lambda: engine.status()["connections"] == 0)
        stalled.close()
    finally:
        engine.stop()


def test_refused_names_and_deletes_of_missing_items_leave_no_memory_behind(engine, client_factory):
    c = client_factory(engine.stream_url)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for n in range(200):  # 100 KB names: refused (max_name_length), and not remembered
            c.join(str(n), "s", f"{n}" + "g" * 100_000)
            assert c.recv()["event"]["type"] == "unauthorized"
        for n in range(20_000):
            engine.stream("s").delete(f"group-{n}", "missing")
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 2_000_000, grown  # 200 names alone are 20 MB; the old clock kept 20,000 groups


@pytest.mark.slow
def test_followers_converge_to_storage_after_the_loop_backlog_overflows():
    """A writer outruns a blocked loop many times over the backlog bound: the dropped backlog
    is replaced by fresh syncs, and no follower is left stale once the writes stop."""
    engine = iii_live.start(port=0, background=True)
    try:
        engine.core.hub.max_loop_backlog = 5_000
        stream = engine.stream("s")
        final = {f"k{n}": n for n in range(50_000)}  # each item written once: nothing repairs a miss

        async def follow(url: str) -> dict:
            async with websockets.connect(url, max_size=None) as ws:
                state: dict = {}
                while state != final:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    event = frame["event"]
                    if event["type"] == "sync":
                        state = dict(event["data"])
                    else:
                        state[frame["id"]] = event["data"]
                return state

        async def followers() -> list[dict]:
            url = f"{engine.stream_url}/stream/s/g?sync=keyed"
            return await asyncio.gather(*(follow(url) for _ in range(15)))

        result: list = []
        thread = threading.Thread(target=lambda: result.extend(asyncio.run(followers())))
        thread.start()
        wait_for(lambda: engine.status()["subscriptions"] == 15)
        engine.runtime.call_soon(time.sleep, 3)  # a slow function holds the loop
        for n in range(50_000):  # about 5 s of writes: the resyncs run while they go on
            stream.set("g", f"k{n}", n)
            if n % 100 == 99:
                time.sleep(0.01)
        thread.join(90)
        assert result == [final] * 15
    finally:
        engine.stop()
