"""Catching up after a disconnect: resume versus a full sync.

    python benchmarks/resume.py [--items 100000] [--rate 1000] [--gap 1.0]

A client follows a group of ``--items`` items while a writer updates random items at
``--rate`` writes per second; the client drops its connection for ``--gap`` seconds, then
reconnects either resuming (``since`` its last seq: it gets the missed events) or as a
plain iii client (a full sync). Figures: bytes received and time from the reconnect until
the client holds every change made before it reconnected.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import threading
import time

import websockets

import iii_live


async def follow_then_reconnect(engine: iii_live.Engine, resume: bool, gap: float) -> tuple[int, float, int]:
    """Returns (bytes, seconds, events) from the reconnect until caught up."""
    url = f"{engine.stream_url}/stream/bench/g?sync=keyed&resume=1"
    async with websockets.connect(url, max_size=None) as ws:
        seen = json.loads(await ws.recv())
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:  # follow the live feed a little
            seen = json.loads(await ws.recv())
    await asyncio.sleep(gap)
    caught_up_at = engine.core.subscriptions.history.seq("bench", "g")  # where the group stands now
    assert caught_up_at is not None
    since = f"&since_seq={seen['seq']}&since_epoch={seen['epoch']}" if resume else ""
    started = time.monotonic()
    received = events = 0
    async with websockets.connect(url + since, max_size=None) as ws:
        while True:
            raw = await ws.recv()
            received += len(raw)
            events += 1
            frame = json.loads(raw)
            if frame["seq"] >= caught_up_at and frame["event"]["type"] != "event":
                return received, time.monotonic() - started, events


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--gap", type=float, default=1.0)
    args = parser.parse_args()
    engine = iii_live.start(port=0, background=True, engine_port=None)
    stream = engine.stream("bench")
    for n in range(args.items):
        stream.set("g", f"k{n}", {"n": n, "price": 100.0 + n % 97, "name": f"item-{n}"})
    stop = threading.Event()

    def write() -> None:
        rng = random.Random(1)
        while not stop.wait(1 / args.rate):
            n = rng.randrange(args.items)
            stream.set("g", f"k{n}", {"n": n, "price": rng.uniform(50, 150), "name": f"item-{n}"})

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    rows = []
    try:
        for resume in (True, False):
            size, seconds, frames = asyncio.run(follow_then_reconnect(engine, resume, args.gap))
            rows.append(("resume (since)" if resume else "full sync", size, seconds, frames))
    finally:
        stop.set()
        engine.stop()
    print(f"{args.items:,} items, {args.rate:,.0f} writes/s, {args.gap:g} s disconnected")
    print(f"{'reconnect':16} {'bytes':>14} {'seconds':>9} {'frames':>8}")
    for name, size, seconds, frames in rows:
        print(f"{name:16} {size:>14,} {seconds:>9.3f} {frames:>8,}")
    (resume_bytes, resume_s), (sync_bytes, sync_s) = ((r[1], r[2]) for r in rows)
    print(f"resume: {sync_bytes / resume_bytes:,.0f}x fewer bytes, {sync_s / resume_s:,.1f}x faster")


if __name__ == "__main__":
    main()
