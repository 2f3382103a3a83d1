"""What every benchmark server shares: the message it broadcasts and the control loop.

A server reads commands on stdin: ``go COUNT RATE`` broadcasts COUNT messages (RATE per
second, 0 = as fast as it can) and answers ``{"sent": ..., "send_s": ...}``; ``quit``
stops it. Every message is the same iii wrapper frame, so every server puts the same
bytes on the wire.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import time
from collections.abc import Callable
from typing import Any

GROUP = "g"


def wrapper(seq: int) -> str:
    """The frame an iii engine would send for an update of item x{seq % 10}."""
    return (
        f'{{"type":"stream","timestamp":{time.time_ns() // 1_000_000},"streamName":"bench",'
        f'"groupId":"{GROUP}","id":"x{seq % 10}",'
        f'"event":{{"type":"update","data":{{"seq":{seq},"t":{time.monotonic_ns()}}}}}}}'
    )


def schedule(count: int, rate: float):
    """Yield seq numbers, sleeping to keep ``rate`` per second (0: no pacing)."""
    start = time.monotonic()
    for seq in range(count):
        if rate:
            delay = start + seq / rate - time.monotonic()
            if delay > 0:
                yield seq, delay
                continue
        yield seq, 0.0


def report(sent: int, started: float) -> None:
    print(json.dumps({"sent": sent, "send_s": time.monotonic() - started}), flush=True)


async def serve_commands(broadcast: Callable[[int], Any]) -> None:
    """The stdin control loop of the asyncio servers; ``broadcast(seq)`` sends one message.

    The loop yields to the event loop after every message, as a real producer would.
    """
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        command = line.split()
        if not command or command[0] == "quit":
            return
        count, rate = int(command[1]), float(command[2])
        started = time.monotonic()
        for seq, delay in schedule(count, rate):
            await asyncio.sleep(delay)
            sent = broadcast(seq)
            if inspect.isawaitable(sent):
                await sent
        report(count, started)
