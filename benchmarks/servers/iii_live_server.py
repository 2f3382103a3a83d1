"""iii-live: writes go through ``stream::set`` (storage, event, fan-out) from the main thread;
the engine serves on its own loop thread (``background=True``), as in a notebook.

    python iii_live_server.py PORT [REDIS_URL]

With a Redis URL the engine uses the ``redis`` adapter: several of these processes on one
Redis serve the same group, and any of them may write.
"""

from __future__ import annotations

import json
import sys
import time

from common import GROUP, report, schedule, stamp

import iii_live

port = int(sys.argv[1])
redis_url = sys.argv[2] if len(sys.argv) > 2 else None
adapter = {"name": "redis", "config": {"redis_url": redis_url}} if redis_url else None
# every subscriber of the benchmark comes from 127.0.0.1; the per-address cap is not measured here
engine = iii_live.start(
    port=port, background=True, engine_port=None, adapter=adapter, max_connections_per_address=1_000_000
)
if redis_url:
    deadline = time.monotonic() + 30
    while not engine.status()["storage"].get("subscribed"):
        if time.monotonic() > deadline:
            sys.exit("the engine did not subscribe to Redis")
        time.sleep(0.01)
stream = engine.stream("bench")
print(json.dumps({"listening": port}), flush=True)
for line in sys.stdin:
    command = line.split()
    if command[0] == "quit":
        break
    count, rate = int(command[1]), float(command[2])
    started = time.monotonic()
    for seq, delay, due in schedule(count, rate):
        if delay:
            time.sleep(delay)
        stream.set(GROUP, f"x{seq % 10}", {"seq": seq, "t": stamp(due)})
    report(count, started)
engine.stop()
