"""Joins against a real Redis: the snapshot/subscribe race closed by a fence, reads off the loop,
and the frames Redis scripts publish equal to the Python wire format."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
import websockets

from iii_live.protocol.stream_wire import EventDraft


@pytest.mark.slow
def test_clients_joining_during_remote_writes_miss_nothing_and_see_nothing_twice(redis_engines):
    """100 clients join while another engine writes 10,000 per-item counters: after its sync,
    each client's value for an item must rise strictly (a repeat or an older value fails; a
    resync after a pub/sub gap may repeat but never go back), and every client ends equal to
    storage."""
    reader, writer = redis_engines(), redis_engines()
    items = [f"k{n}" for n in range(50)]
    done = threading.Event()

    def write() -> None:
        stream = writer.stream("race")
        for n in range(10_000):
            stream.set("g", items[n % len(items)], n // len(items) + 1)
        done.set()

    async def client(url: str) -> dict[str, int]:
        async with websockets.connect(url, max_size=None) as ws:
            sync = json.loads(await ws.recv())
            assert sync["event"]["type"] == "sync"
            state = dict(sync["event"]["data"])
            final = {item: 10_000 // len(items) for item in items}
            while state != final:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if frame["event"]["type"] == "sync":  # a resync after a gap in Redis pub/sub
                    resync = dict(frame["event"]["data"])
                    assert all(resync[item] >= value for item, value in state.items()), "a resync went back"
                    state = resync
                    continue
                item, value = frame["id"], frame["event"]["data"]
                assert value > state.get(item, 0), f"{item}: {value} after {state.get(item)}"
                state[item] = value
            return state

    async def clients() -> list[dict[str, int]]:
        url = f"{reader.stream_url}/stream/race/g?sync=keyed"
        tasks = []
        for _ in range(100):
            tasks.append(asyncio.create_task(client(url)))
            await asyncio.sleep(0.002)  # spread the joins over the writes
        return await asyncio.gather(*tasks)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        states = asyncio.run(clients())
    finally:
        thread.join()
    assert done.is_set()
    stored = reader.stream("race").items("g")
    assert all(state == stored for state in states)


def test_a_join_waiting_on_a_paused_redis_does_not_stall_other_sockets(redis_server, redis_engines):
    engine = redis_engines()
    engine.stream("s").set("waiting", "a", 1)

    async def scenario() -> None:
        async with websockets.connect(f"{engine.stream_url}/stream/s/live") as live:
            await live.recv()
            redis_server.client().execute_command("CLIENT", "PAUSE", "1500", "ALL")
            async with websockets.connect(f"{engine.stream_url}/stream/s/waiting") as joining:
                sync = asyncio.ensure_future(joining.recv())
                for _ in range(3):  # the loop keeps answering while the join's read waits
                    await asyncio.wait_for(await live.ping(), 1.0)
                assert not sync.done()
                frame = json.loads(await asyncio.wait_for(sync, 10))
                assert frame["event"] == {"type": "sync", "data": [1]}

    asyncio.run(scenario())


def test_frames_published_by_the_redis_scripts_equal_the_python_wire_format(redis_server, redis_engines):
    engine = redis_engines()
    pubsub = redis_server.client().pubsub()
    pubsub.subscribe("stream::events")
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    stream = engine.stream("s:1")
    value = {"é": [1, 2.5, None], "q": 'say "hi"'}
    stream.set("g", "ü", value)
    stream.set("g", "ü", {"v": 2})
    stream.delete("g", "ü")
    received = []
    while len(received) < 3:
        message = pubsub.get_message(timeout=5)
        if message and message["type"] == "message":
            received.append(message["data"])
    expected = []
    for raw, kind, data in zip(
        received, ("create", "update", "delete"), (value, {"v": 2}, {"v": 2}), strict=True
    ):
        timestamp = json.loads(raw)["timestamp"]
        data_json = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        expected.append(EventDraft("s:1", "g", "ü", timestamp).event(kind, data, data_json).frame)
    assert received == expected
    pubsub.close()
