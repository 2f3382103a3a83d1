"""iii-live: writes go through ``stream::set`` (storage, event, fan-out) from the main thread;
the engine serves on its own loop thread (``background=True``), as in a notebook."""

from __future__ import annotations

import json
import sys
import time

from common import GROUP, report, schedule

import iii_live

port = int(sys.argv[1])
engine = iii_live.start(port=port, background=True, engine_port=None)
stream = engine.stream("bench")
print(json.dumps({"listening": port}), flush=True)
for line in sys.stdin:
    command = line.split()
    if command[0] == "quit":
        break
    count, rate = int(command[1]), float(command[2])
    started = time.monotonic()
    for seq, delay in schedule(count, rate):
        if delay:
            time.sleep(delay)
        stream.set(GROUP, f"x{seq % 10}", {"seq": seq, "t": time.monotonic_ns()})
    report(count, started)
engine.stop()
