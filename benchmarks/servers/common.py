"""What every benchmark server shares: the message it broadcasts and the control loop.

A server reads commands on stdin: ``go COUNT RATE`` broadcasts COUNT messages (RATE per
second, 0 = as fast as it can) and answers ``{"sent": ..., "send_s": ...}``; ``quit``
stops it. Every message is the same iii wrapper frame, so every server puts the same
bytes on the wire.
"""

from __future__ import annotations

import json
import time

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
