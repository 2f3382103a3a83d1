"""Resuming through a flaky network: every reconnect gets exactly what it missed, or a sync
that says it could not; every client ends with the stored state."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from urllib.parse import quote

import pytest
import websockets

import iii_live

from .conftest import wait_for
from .proxy import CuttingProxy

WINDOW = 50


class ResumingClient:
    """Follows one group through reconnects, checking the seq of every frame it gets."""

    def __init__(self, urls: list[str], rng: random.Random) -> None:
        self.urls = urls
        """Where to reconnect, in turn (several engines on one Redis: any of them)."""
        self.connects = 0
        self.rng = rng
        self.state: dict = {}
        self.position: tuple[int, str] | None = None
        self.recovered = 0
        self.not_recovered = 0
        self.frames = 0

    def connect_url(self) -> str:
        url = self.urls[self.connects % len(self.urls)]
        self.connects += 1
        if self.position is None:
            return url
        seq, epoch = self.position
        return f"{url}&since_seq={seq}&since_epoch={quote(epoch)}"

    def apply(self, frame: dict, since: tuple[int, str] | None) -> None:
        self.frames += 1
        event = frame["event"]
        seq, epoch = frame["seq"], frame["epoch"]
        if "recovered" in frame:
            assert since is not None, "a recovered flag on a first connection"
            if frame["recovered"]:
                assert (seq, epoch) == since and event["event"]["type"] == "iii-live:resumed"
                self.recovered += 1
                return
            assert event["type"] == "sync"
            assert epoch != since[1] or seq - since[0] > WINDOW, "not recovered, though within the window"
            self.not_recovered += 1
        if event["type"] == "sync":
            self.state = dict(event["data"])
        else:
            assert self.position is not None
            assert (seq, epoch) == (self.position[0] + 1, self.position[1]), (
                f"after {self.position} came {seq}/{epoch}: an event missed or repeated"
            )
            if event["type"] == "delete":
                self.state.pop(frame["id"], None)
            elif event["type"] in ("create", "update"):
                self.state[frame["id"]] = event["data"]
        self.position = (seq, epoch)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            since = self.position
            try:
                async with websockets.connect(self.connect_url(), open_timeout=5) as ws:
                    async for raw in ws:
                        self.apply(json.loads(raw), since)
                        since = None
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError):  # cut, even mid-handshake
                pass
            if self.rng.random() < 0.1:  # now and then away long enough to fall out of the window
                await asyncio.sleep(0.3)


def write_randomly(engine: iii_live.Engine, stop: threading.Event, rng: random.Random) -> None:
    stream = engine.stream("c")
    while not stop.is_set():
        item = f"k{rng.randrange(20)}"
        op = rng.random()
        if op < 0.5:
            stream.set("g", item, {"v": rng.randrange(1000)})
        elif op < 0.7:
            stream.update("g", item, [{"type": "increment", "path": "n", "by": 1}])
        elif op < 0.85:
            stream.delete("g", item)
        else:
            stream.send("g", "tick", {"n": rng.randrange(10)})
        if rng.random() < 0.05:
            stop.wait(0.002)


def cut_again_and_again(engines: list[iii_live.Engine], cuts: int) -> list[ResumingClient]:
    """Three clients follow one group through proxies cut every few tens of milliseconds,
    reconnecting to the engines in turn, while a writer on the first engine sets, updates,
    deletes and sends; returns the clients once they hold the stored state."""
    proxies = [CuttingProxy(engine.port) for engine in engines]
    rng = random.Random(1)
    urls = [f"ws://127.0.0.1:{proxy.port}/stream/c/g?sync=keyed&resume=1" for proxy in proxies]
    clients = [
        ResumingClient(urls[n % len(urls) :] + urls[: n % len(urls)], random.Random(n)) for n in range(3)
    ]
    writing = threading.Event()
    writer = threading.Thread(target=write_randomly, args=(engines[0], writing, random.Random(2)))

    async def scenario() -> None:
        stop = asyncio.Event()
        readers = [asyncio.create_task(c.run(stop)) for c in clients]
        writer.start()
        for _ in range(cuts):
            await asyncio.sleep(rng.uniform(0.01, 0.05))
            for proxy in proxies:
                proxy.cut()
        writing.set()
        await asyncio.to_thread(writer.join)
        stored = engines[0].stream("c").items("g")
        for _ in range(500):
            if all(c.state == stored for c in clients):
                break
            await asyncio.sleep(0.02)
        stop.set()
        for proxy in proxies:
            proxy.cut()
        await asyncio.gather(*readers)

    try:
        asyncio.run(scenario())
    finally:
        for proxy in proxies:
            proxy.close()
    stored = engines[0].stream("c").items("g")
    for client in clients:
        assert client.state == stored
        assert client.recovered > 10 and client.not_recovered > 0, (client.recovered, client.not_recovered)
    return clients


@pytest.mark.slow
def test_clients_resume_through_a_connection_cut_again_and_again():
    engine = iii_live.start(port=0, background=True, resume_window=WINDOW)
    try:
        cut_again_and_again([engine], cuts=350)  # about 1,000 reconnects in all
    finally:
        engine.stop()


@pytest.mark.slow
def test_clients_resume_on_the_other_engine_of_a_shared_redis(redis_engines):
    """Every engine on the Redis numbers a group's events alike, so a client resumes on
    whichever engine it reaches next."""
    a, b = redis_engines(resume_window=WINDOW), redis_engines(resume_window=WINDOW)
    clients = cut_again_and_again([a, b], cuts=200)
    assert all(c.connects > 50 for c in clients), [c.connects for c in clients]  # half on each engine


def test_a_redis_history_written_around_by_an_iii_engine_is_not_recovered(redis_server, redis_engines):
    """An iii engine's write carries no number: a resume across it must not claim it saw it all."""
    engine = redis_engines()

    async def scenario() -> tuple[dict, dict]:
        url = f"{engine.stream_url}/stream/c/g?sync=keyed&resume=1"
        async with websockets.connect(url) as ws:
            sync = json.loads(await ws.recv())
            engine.stream("c").set("g", "a", 1)
            seen = json.loads(await ws.recv())
            frame = (
                '{"type":"stream","timestamp":1,"streamName":"c","groupId":"g","id":"b",'
                '"event":{"type":"create","data":2}}'
            )
            redis_server.cli("HSET", "stream:c:g", "b", "2")  # as an iii engine writes
            redis_server.cli("PUBLISH", "stream::events", frame)
            unnumbered = json.loads(await ws.recv())
        since = f"&since_seq={seen['seq']}&since_epoch={quote(seen['epoch'])}"
        async with websockets.connect(url + since) as ws:
            again = json.loads(await ws.recv())
        return {"sync": sync, "seen": seen, "unnumbered": unnumbered}, again

    frames, again = asyncio.run(scenario())
    assert frames["seen"]["seq"] == frames["sync"]["seq"] + 1
    assert "seq" not in frames["unnumbered"]
    assert again["recovered"] is False and again["event"] == {"type": "sync", "data": {"a": 1, "b": 2}}


def test_a_plain_client_through_the_same_cuts_gets_iii_frames_and_full_syncs(engine):
    proxy = CuttingProxy(engine.port)
    try:
        engine.stream("c").set("g", "a", 1)

        async def first_frames() -> list[dict]:
            seen = []
            for _ in range(2):
                async with websockets.connect(f"ws://127.0.0.1:{proxy.port}/stream/c/g") as ws:
                    seen.append(json.loads(await ws.recv()))
                    proxy.cut()
            return seen

        frames = asyncio.run(first_frames())
        assert [f["event"] for f in frames] == [{"type": "sync", "data": [1]}] * 2
        assert all(set(f) == {"type", "timestamp", "streamName", "groupId", "id", "event"} for f in frames)
        wait_for(lambda: engine.status()["connections"] == 0)
    finally:
        proxy.close()
