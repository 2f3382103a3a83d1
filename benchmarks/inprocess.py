"""In-process write throughput: ``stream::set`` from Python, with and without subscribers.

    python benchmarks/inprocess.py

The baseline is the least any store of JSON items must do per write: encode the value
and put it in a dict. Figures are writes per second (median of three runs) and the ratio
to that baseline.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import orjson

import iii_live

DURATION = 1.5


def measure(write) -> float:
    rates = []
    for _ in range(3):
        count = 0
        started = time.perf_counter()
        deadline = started + DURATION
        while time.perf_counter() < deadline:
            for _ in range(1000):
                write(count)
                count += 1
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates)


def main() -> dict:
    engine = iii_live.start(port=0, background=True, engine_port=None)
    stream = engine.stream("bench")
    store: dict[str, bytes] = {}
    results = {}

    results["baseline: orjson.dumps + dict"] = measure(
        lambda i: store.__setitem__(f"x{i % 100}", orjson.dumps({"seq": i}))
    )
    results["stream::set, no subscriber"] = measure(lambda i: stream.set("a", f"x{i % 100}", {"seq": i}))
    received = []
    engine.subscribe("bench", "b", received.append)
    results["stream::set, one callback subscriber"] = measure(
        lambda i: stream.set("b", f"x{i % 100}", {"seq": i})
    )
    table = stream.table("c")
    results["stream::set, one LiveTable widget"] = measure(
        lambda i: stream.set("c", f"x{i % 100}", {"seq": i})
    )
    results["stream::update (increment), no subscriber"] = measure(
        lambda i: stream.update("d", f"x{i % 100}", [{"type": "increment", "path": "n", "by": 1}])
    )
    trigger = engine.trigger
    payload = {"stream_name": "bench", "group_id": "e", "item_id": "x", "data": None}

    def via_trigger(i: int) -> None:
        payload["data"] = {"seq": i}
        trigger({"function_id": "stream::set", "payload": payload})

    results["engine.trigger(stream::set), no subscriber"] = measure(via_trigger)
    time.sleep(0.3)
    assert table.items[f"x{99}"]["seq"] > 0
    table.close()
    engine.stop()
    return results


if __name__ == "__main__":
    results = main()
    baseline = results["baseline: orjson.dumps + dict"]
    for name, rate in results.items():
        print(f"{name:45} {rate:>12,.0f} writes/s   {rate / baseline:5.2f}x baseline")
    out = Path(__file__).with_name("inprocess.json")
    out.write_text(json.dumps({"python": sys.version.split()[0], "results": results}, indent=1))
