"""The ``websockets`` library's ``broadcast()`` (compression off, as its docs advise)."""

from __future__ import annotations

import asyncio
import json
import sys
import time

from common import report, schedule, wrapper
from websockets.asyncio.server import broadcast, serve

connections: set = set()


async def handler(ws) -> None:
    connections.add(ws)
    try:
        await ws.wait_closed()
    finally:
        connections.discard(ws)


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
        print(json.dumps({"listening": port}), flush=True)
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            command = line.split()
            if not command or command[0] == "quit":
                return
            count, rate = int(command[1]), float(command[2])
            started = time.monotonic()
            for seq, delay in schedule(count, rate):
                await asyncio.sleep(delay)
                broadcast(connections, wrapper(seq))
            report(count, started)


asyncio.run(main(int(sys.argv[1])))
