"""What every benchmark server shares: the message it broadcasts and the control loop.

A server reads commands on stdin: ``go COUNT RATE`` broadcasts COUNT messages (RATE per
second, 0 = as fast as it can) and answers ``{"sent": ..., "send_s": ...}``; ``quit``
stops it. Every message is the same iii wrapper frame, so every server puts the same
bytes on the wire.

Each message carries ``t``, the CLOCK_MONOTONIC nanoseconds it counts its latency from:
at a fixed rate, the moment it was due, so a server that falls behind its schedule shows
it as latency instead of quietly sending fewer messages; at full speed, the moment it was
sent.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

GROUP = "g"


def wrapper(seq: int, t: int) -> str:
    """The frame an iii engine would send for an update of item x{seq % 10}."""
    return (
        f'{{"type":"stream","timestamp":{time.time_ns() // 1_000_000},"streamName":"bench",'
        f'"groupId":"{GROUP}","id":"x{seq % 10}",'
        f'"event":{{"type":"update","data":{{"seq":{seq},"t":{t}}}}}}}'
    )


def schedule(count: int, rate: float) -> Iterator[tuple[int, float, int]]:
    """Yield ``(seq, delay, due)``: sleep ``delay`` seconds, then send ``seq``; ``due`` is the
    ns it was due at (0 at full speed: stamp the send time instead, see ``stamp``)."""
    start = time.monotonic_ns()
    for seq in range(count):
        if not rate:
            yield seq, 0.0, 0
            continue
        due = start + int(seq * 1e9 / rate)
        yield seq, max(0.0, (due - time.monotonic_ns()) / 1e9), due


def stamp(due: int) -> int:
    """The ``t`` of a message: when it was due, or now at full speed."""
    return due or time.monotonic_ns()


def report(sent: int, started: float) -> None:
    print(json.dumps({"sent": sent, "send_s": time.monotonic() - started}), flush=True)


async def serve_commands(broadcast: Callable[[int, int], Any]) -> None:
    """The stdin control loop of the asyncio servers; ``broadcast(seq, t)`` sends one message.

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
        for seq, delay, due in schedule(count, rate):
            await asyncio.sleep(delay)
            sent = broadcast(seq, stamp(due))
            if inspect.isawaitable(sent):
                await sent
        report(count, started)
