"""How long the engine's loop is held up while N connections sit idle (keepalive, GC).

    python benchmarks/loop_stalls.py [--subscribers 10000] [--ping-interval 20] [--seconds 45]

An engine serves N idle subscribers (``client.py``, two processes; they answer pings); a
probe on the engine's loop sleeps 2 ms again and again and records how late it wakes up.
A stall of the loop delays every delivery by as much. Garbage collections during the run
are counted per generation.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time

from harness import Subscribers, load, raise_open_files

import iii_live


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--ping-interval", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=45.0)
    args = parser.parse_args()
    raise_open_files()
    engine = iii_live.start(
        port=0,
        background=True,
        engine_port=None,
        ping_interval=args.ping_interval,
        max_connections_per_address=1_000_000,
    )
    collections = {0: 0, 1: 0, 2: 0}

    def count(phase: str, info: dict) -> None:
        if phase == "stop":
            collections[info["generation"]] += 1

    subscribers = Subscribers([f"ws://127.0.0.1:{engine.port}/stream/bench/g"], "ws", args.subscribers, 2)
    lateness: list[float] = []

    async def probe() -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + args.seconds
        while loop.time() < end:
            before = loop.time()
            await asyncio.sleep(0.002)
            lateness.append(loop.time() - before - 0.002)

    gc.callbacks.append(count)
    try:
        asyncio.run_coroutine_threadsafe(probe(), engine.runtime.loop).result()
    finally:
        gc.callbacks.remove(count)
        subscribers.close()
        engine.stop()
    lateness.sort()
    print(
        json.dumps(
            {
                "subscribers": subscribers.connected,
                "ping_interval": args.ping_interval,
                "seconds": args.seconds,
                "p99_ms": round(lateness[int(0.99 * len(lateness))] * 1e3, 1),
                "max_ms": round(lateness[-1] * 1e3, 1),
                "stalls_over_50_ms": sum(late > 0.05 for late in lateness),
                "collections": collections,
                "load": load(),
                "date": time.strftime("%Y-%m-%d %H:%M"),
            }
        )
    )


if __name__ == "__main__":
    main()
