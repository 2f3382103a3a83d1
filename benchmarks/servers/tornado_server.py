"""The baseline: a bare Tornado ``write_message`` loop over every connection."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import tornado.web
import tornado.websocket
from common import report, schedule, wrapper

connections: set = set()


class Handler(tornado.websocket.WebSocketHandler):
    def open(self) -> None:
        connections.add(self)

    def on_close(self) -> None:
        connections.discard(self)


async def main(port: int) -> None:
    app = tornado.web.Application([(r"/.*", Handler)])
    app.listen(port, address="127.0.0.1")
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
            message = wrapper(seq)
            for connection in list(connections):
                connection.write_message(message)
        report(count, started)


asyncio.run(main(int(sys.argv[1])))
