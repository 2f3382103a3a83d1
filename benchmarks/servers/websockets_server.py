"""The ``websockets`` library's ``broadcast()`` (compression off, as its docs advise)."""

from __future__ import annotations

import asyncio
import json
import sys

from common import serve_commands, wrapper
from websockets.asyncio.server import broadcast, serve

connections: set = set()


async def handler(ws) -> None:
    connections.add(ws)
    try:
        await ws.wait_closed()
    finally:
        connections.discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
        print(json.dumps({"listening": port}), flush=True)
        await serve_commands(lambda seq, t: broadcast(connections, wrapper(seq, t)))


asyncio.run(main(int(sys.argv[1])))
