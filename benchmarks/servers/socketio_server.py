"""python-socketio (aiohttp), broadcasting one event to every client."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import socketio
from aiohttp import web
from common import report, schedule, wrapper

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
app = web.Application()
sio.attach(app)


async def main(port: int) -> None:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    loop = asyncio.get_running_loop()
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
            await sio.emit("tick", json.loads(wrapper(seq)))
        report(count, started)


asyncio.run(main(int(sys.argv[1])))
