"""python-socketio (aiohttp), broadcasting one event to every client."""

from __future__ import annotations

import asyncio
import json
import sys

import socketio
from aiohttp import web
from common import serve_commands, wrapper

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
app = web.Application()
sio.attach(app)


async def main(port: int) -> None:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(json.dumps({"listening": port}), flush=True)
    await serve_commands(lambda seq, t: sio.emit("tick", json.loads(wrapper(seq, t))))


asyncio.run(main(int(sys.argv[1])))
