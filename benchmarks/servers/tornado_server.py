"""The baseline: a bare Tornado ``write_message`` loop over every connection."""

from __future__ import annotations

import asyncio
import json
import sys

import tornado.web
import tornado.websocket
from common import serve_commands, wrapper

connections: set = set()


class Handler(tornado.websocket.WebSocketHandler):
    def open(self) -> None:
        connections.add(self)

    def on_close(self) -> None:
        connections.discard(self)


def broadcast(seq: int, t: int) -> None:
    message = wrapper(seq, t)
    for connection in list(connections):
        connection.write_message(message)


async def main(port: int) -> None:
    app = tornado.web.Application([(r"/.*", Handler)])
    app.listen(port, address="127.0.0.1")
    print(json.dumps({"listening": port}), flush=True)
    await serve_commands(broadcast)


asyncio.run(main(int(sys.argv[1])))
