"""Live views over 1,000,000 items at 20,000 single-item writes per second, with
perspective-python in the same run.

    python benchmarks/views.py [--items 1000000] [--rate 20000] [--seconds 10]

What is measured (the engine in this process, in-memory kv, no engine port):

1. A group-by view into 1,000 groups with sum, mean, count, min and max of ``value``.
   - CPU per write spent on the view: the process's CPU time per write with the view open,
     minus the same run without it (same rate, same writes).
   - Freshness: a WebSocket client in another process follows the derived group; each write
     raises its item's ``value``, so its group's sum only grows, and a write is current
     when the client holds a row whose sum includes it. p50/p95/p99 of write -> current.
   - Throughput: writes per second as fast as one thread can, with the view open.
2. A filter + sort + limit 100 view (``value >= 500,000``, descending): freshness of every
   write that lands in the top 100 (the client sees the item with its new value), and the
   client's final top 100 compared with the true one.
3. Ten group-by views on the same group against one, CPU per write at a rate ten sustain.
4. perspective-python: the same 1,000,000 rows in an indexed ``Table``, a ``group_by`` view
   with the same five aggregates (one copy of ``value`` per aggregate, as Perspective
   aggregates each column one way), single-row ``update`` calls (each followed by a read of
   the view, so it is current) and 1,000-row batches.

Other processes share the machine (its load average is printed with the results).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import iii_live  # noqa: E402

GROUPS = 1_000
TOP = 100
THRESHOLD = 500_000
AGG = {
    "sum": ("value", "sum"),
    "mean": ("value", "mean"),
    "count": ("value", "count"),
    "min": ("value", "min"),
    "max": ("value", "max"),
}


# -- the follower (another process) ---------------------------------------------------


def follow(url: str, stream: str, group: str, field: str, out: str, ready: Any, stop: Any) -> None:
    """Join a group and record ``(time, row id, kind, row[field])`` per event.

    A minimal WebSocket client on a plain socket (frames cut by hand, the two values read
    with a regular expression), so the follower's own cost stays small next to the
    engine's: frames that arrive in one read get the time of that read.
    """
    import base64
    import re
    import socket

    import orjson

    host, port = url.removeprefix("ws://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /?sync=keyed HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    assert b" 101 " in head.split(b"\r\n", 1)[0], head
    join = json.dumps(
        {"type": "join", "data": {"subscriptionId": "b", "streamName": stream, "groupId": group}}
    )
    payload = join.encode()
    assert len(payload) < 126
    sock.sendall(bytes((0x81, 0x80 | len(payload))) + b"\0\0\0\0" + payload)  # a zero mask keeps it as is

    event = re.compile(rb'"id":"([^"]*)","event":\{"type":"(\w+)"')
    value = re.compile(rb'"' + field.encode() + rb'":(-?\d+)')
    records: list[tuple[float, str, str, Any]] = []
    state: dict[str, Any] | None = None
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            chunk = sock.recv(1 << 20)
        except TimeoutError:
            continue
        if not chunk:
            break
        now = time.monotonic()
        buffer += chunk
        while len(buffer) >= 2:
            length, start = buffer[1] & 0x7F, 2
            if length == 126:
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + length:
                break
            opcode, frame = buffer[0] & 0x0F, buffer[start : start + length]
            buffer = buffer[start + length :]
            if opcode == 9:  # ping: answer, or the engine closes the socket
                sock.sendall(bytes((0x8A, 0x80 | len(frame))) + b"\0\0\0\0" + frame)
                continue
            if state is None:  # the sync
                state = dict(orjson.loads(frame)["event"]["data"])
                ready.set()
                continue
            found = event.search(frame)
            if found is None:
                continue
            row_id, kind = found.group(1).decode(), found.group(2).decode()
            if kind == "delete":
                state.pop(row_id, None)
                records.append((now, row_id, kind, None))
            else:
                number = value.search(frame)
                current = int(number.group(1)) if number else None
                state[row_id] = {field: current}
                records.append((now, row_id, kind, current))
    sock.close()
    Path(out).write_bytes(orjson.dumps({"records": records, "state": state or {}}))


class Follower:
    def __init__(self, engine: iii_live.Engine, view: iii_live.View, field: str, tmp: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.out = tmp / f"follow-{view.group_id}.json"
        self.ready = context.Event()
        self.stop_event = context.Event()
        self.process = context.Process(
            target=follow,
            args=(
                engine.stream_url,
                view.stream_name,
                view.group_id,
                field,
                str(self.out),
                self.ready,
                self.stop_event,
            ),
        )
        self.process.start()
        if not self.ready.wait(120):
            raise RuntimeError("the follower did not join")

    def stop(self) -> dict[str, Any]:
        self.stop_event.set()
        self.process.join(60)
        return json.loads(self.out.read_text())


# -- writing at a rate --------------------------------------------------------------------


class Base:
    """The base group's items as the writer knows them: ``value`` per item, sum per group."""

    def __init__(self, engine: iii_live.Engine, items: int) -> None:
        self.core = engine.core
        self.items = items
        rng = random.Random(1)
        self.values = [rng.randrange(1_000_000) for _ in range(items)]
        self.sums = [0] * GROUPS
        started = time.perf_counter()
        call = self.core.call
        for i, value in enumerate(self.values):
            self.sums[i % GROUPS] += value
            call(
                "stream::set",
                {
                    "stream_name": "bench",
                    "group_id": "all",
                    "item_id": f"k{i}",
                    "data": {"g": f"g{i % GROUPS}", "value": value},
                },
            )
        self.load_seconds = time.perf_counter() - started
        self.rng = random.Random(2)

    def write(self) -> tuple[int, int, int]:
        """Raise one random item's value; returns ``(item, group, new value)``."""
        i = self.rng.randrange(self.items)
        step = self.rng.randrange(1, 1000)
        value = self.values[i] + step
        self.values[i] = value
        group = i % GROUPS
        self.sums[group] += step
        self.core.call(
            "stream::set",
            {
                "stream_name": "bench",
                "group_id": "all",
                "item_id": f"k{i}",
                "data": {"g": f"g{group}", "value": value},
            },
        )
        return i, group, value

    def run(self, rate: float, seconds: float, record: Any = None) -> dict[str, float]:
        """Write at ``rate`` per second (``0``: as fast as possible) for ``seconds``."""
        done = 0
        cpu = time.process_time()
        started = time.monotonic()
        end = started + seconds
        while True:
            now = time.monotonic()
            if now >= end:
                break
            due = int((now - started) * rate) - done if rate else 200
            if due <= 0:
                time.sleep(0.0005)
                continue
            for _ in range(min(due, 200)):
                stamp = time.monotonic()
                written = self.write()
                if record is not None:
                    record(stamp, *written)
                done += 1
        elapsed = time.monotonic() - started
        return {
            "writes": done,
            "writes_per_s": done / elapsed,
            "cpu_us_per_write": (time.process_time() - cpu) / done * 1e6,
        }


def rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def thread_cpu_seconds(name: str) -> float:
    """CPU time of this process's threads called ``name`` so far (from /proc, 10 ms ticks)."""
    total = 0
    for thread in threading.enumerate():
        if thread.name == name and thread.native_id is not None:
            fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    if not ordered:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan"), "samples": 0}

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "samples": len(ordered)}


def settle(view: iii_live.View, seconds: float = 1.0) -> None:
    """Let the last writes reach the follower."""
    view.flush()
    time.sleep(seconds)


# -- the measurements -----------------------------------------------------------------


def grouped_view(engine: iii_live.Engine, base: Base, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    stream = engine.stream("bench")
    result: dict[str, Any] = {}
    result["baseline"] = base.run(args.rate, args.seconds)
    memory = rss_mb()
    started = time.perf_counter()
    view = stream.view("all", group_by="g", agg=AGG, name="by_group")
    result["open_seconds"] = time.perf_counter() - started
    result["open_rss_mb"] = rss_mb() - memory
    publishing = thread_cpu_seconds("iii-live-views")
    result["with_view"] = base.run(args.rate, args.seconds)
    result["publishing_cpu_us_per_write"] = (
        (thread_cpu_seconds("iii-live-views") - publishing) / result["with_view"]["writes"] * 1e6
    )
    result["view_cpu_us_per_write"] = (
        result["with_view"]["cpu_us_per_write"] - result["baseline"]["cpu_us_per_write"]
    )
    result["rows_written_per_write"] = view.stats["rows_written"] / max(1, result["with_view"]["writes"])

    writes: list[list[tuple[float, int]]] = [[] for _ in range(GROUPS)]
    follower = Follower(engine, view, "sum", tmp)
    base.run(args.rate, args.seconds, record=lambda t, i, g, v: writes[g].append((t, base.sums[g])))
    settle(view)
    followed = follower.stop()
    arrivals: list[list[tuple[float, int]]] = [[] for _ in range(GROUPS)]
    for t, row_id, kind, total in followed["records"]:
        if kind != "delete":
            arrivals[int(row_id[1:])].append((t, total))
    latencies, missing = [], 0
    for group in range(GROUPS):
        seen = arrivals[group]
        j = 0
        for t_write, expected in writes[group]:
            while j < len(seen) and (seen[j][1] < expected or seen[j][0] < t_write):
                j += 1
            if j == len(seen):
                missing += 1
            else:
                latencies.append(seen[j][0] - t_write)
    result["freshness"] = {**percentiles(latencies), "never_current": missing}
    final = followed["state"]
    result["final_sums_exact"] = all(final.get(f"g{g}", {}).get("sum") == base.sums[g] for g in range(GROUPS))
    result["max_rate"] = base.run(0, min(args.seconds, 5))
    view.close()
    return result


def top_view(engine: iii_live.Engine, base: Base, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from sortedcontainers import SortedList

    stream = engine.stream("bench")
    memory = rss_mb()
    started = time.perf_counter()
    view = stream.view(
        "all", where=[("value", ">=", THRESHOLD)], sort_by="value", descending=True, limit=TOP, name="top"
    )
    result: dict[str, Any] = {"open_seconds": time.perf_counter() - started, "open_rss_mb": rss_mb() - memory}
    ranking = SortedList((-v, i) for i, v in enumerate(base.values) if v >= THRESHOLD)
    expected: list[tuple[float, int, int]] = []
    last_value = list(base.values)

    def track(t: float, i: int, group: int, value: int) -> None:
        before = last_value[i]
        if before >= THRESHOLD:
            ranking.remove((-before, i))
        last_value[i] = value
        if value >= THRESHOLD:
            ranking.add((-value, i))
            if ranking.bisect_left((-value, i)) < TOP:
                expected.append((t, i, value))

    follower = Follower(engine, view, "value", tmp)
    result["with_view"] = base.run(args.rate, args.seconds, record=track)
    settle(view)
    followed = follower.stop()
    seen: dict[str, list[tuple[float, int]]] = {}
    for t, row_id, kind, value in followed["records"]:
        if kind != "delete":
            seen.setdefault(row_id, []).append((t, value))
    latencies, missing = [], 0
    for t_write, i, value in expected:
        arrivals = seen.get(f"k{i}", [])
        hit = next((t for t, v in arrivals if v >= value and t >= t_write), None)
        if hit is None:
            missing += 1
        else:
            latencies.append(hit - t_write)
    result["freshness"] = {**percentiles(latencies), "never_current": missing}
    true_top = {f"k{i}": -negative for negative, i in ranking[:TOP]}
    final = {row_id: row["value"] for row_id, row in followed["state"].items()}
    result["final_top_exact"] = final == true_top
    view.close()
    return result


def ten_views(engine: iii_live.Engine, base: Base, args: argparse.Namespace) -> dict[str, Any]:
    stream = engine.stream("bench")
    rate = args.rate / 10
    baseline = base.run(rate, args.seconds)["cpu_us_per_write"]
    one = stream.view("all", group_by="g", agg=AGG, name="one")
    cost_one = base.run(rate, args.seconds)["cpu_us_per_write"] - baseline
    one.close()
    views = [stream.view("all", group_by="g", agg=AGG, name=f"copy{i}") for i in range(10)]
    cost_ten = base.run(rate, args.seconds)["cpu_us_per_write"] - baseline
    for view in views:
        view.close()
    return {"rate": rate, "one_view_us": cost_one, "ten_views_us": cost_ten, "ratio": cost_ten / cost_one}


def perspective_peer(items: int, seconds: float) -> dict[str, Any]:
    """The same rows in an indexed Table; single-row and 1,000-row updates with a view open,
    each followed by a read of the view. Measured with the five aggregates, and without
    ``mean`` (Perspective's ``avg`` recomputes far more than the others)."""
    import perspective

    client = perspective.Server().new_local_client()
    names = list(AGG)
    table = client.table({"id": "integer", "g": "string", **{name: "integer" for name in names}}, index="id")
    rng = random.Random(1)
    started = time.perf_counter()
    for start in range(0, items, 100_000):
        ids = range(start, min(items, start + 100_000))
        values = [rng.randrange(1_000_000) for _ in ids]
        table.update(
            {"id": list(ids), "g": [f"g{i % GROUPS}" for i in ids], **{name: values for name in names}}
        )
    result: dict[str, Any] = {
        "version": perspective.__version__,
        "load_seconds": time.perf_counter() - started,
    }

    def row(i: int) -> dict[str, Any]:
        value = rng.randrange(1_000_000)
        return {"id": i, "g": f"g{i % GROUPS}", **{name: value for name in names}}

    aggregates = {"sum": "sum", "mean": "avg", "count": "count", "min": "low", "max": "high"}
    for label, chosen in (("five", names), ("without_mean", [n for n in names if n != "mean"])):
        view = table.view(group_by=["g"], columns=chosen, aggregates={n: aggregates[n] for n in chosen})
        view.num_rows()
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            table.update([row(rng.randrange(items))])
            view.num_rows()
            done += 1
        single = done / (time.perf_counter() - started)
        rows = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            table.update([row(rng.randrange(items)) for _ in range(1000)])
            view.num_rows()
            rows += 1000
        result[label] = {
            "single_updates_per_s": single,
            "batch_rows_per_s": rows / (time.perf_counter() - started),
        }
        view.delete()
    table.delete()
    return result


def engine_parts(args: argparse.Namespace, parts: list[str], tmp: Path) -> dict[str, Any]:
    """The iii-live measurements, on one engine holding the base group."""
    results: dict[str, Any] = {}
    engine = iii_live.start(port=0, background=True, engine_port=None)
    try:
        base = Base(engine, args.items)
        results["load_seconds"] = base.load_seconds
        print(f"loaded {args.items:,} items in {base.load_seconds:.1f} s", flush=True)
        measures = {
            "grouped": lambda: grouped_view(engine, base, args, tmp),
            "top": lambda: top_view(engine, base, args, tmp),
            "ten": lambda: ten_views(engine, base, args),
        }
        for name in parts:
            results[name] = measures[name]()
            print(f"{name}:", json.dumps(results[name]), flush=True)
    finally:
        engine.stop()
    return results


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=20_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "views.json"))
    parser.add_argument("--parts", default="grouped,top,ten,perspective", help="which measurements to run")
    args = parser.parse_args()

    results: dict[str, Any] = {"items": args.items, "rate": args.rate, "seconds": args.seconds}
    results["load_average_before"] = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        parts = [name for name in ("grouped", "top", "ten") if name in args.parts]
        if parts:
            results.update(engine_parts(args, parts, Path(tmp)))
    if "perspective" in args.parts:
        results["perspective"] = perspective_peer(args.items, min(args.seconds, 5))
        print("perspective:", json.dumps(results["perspective"]), flush=True)
    if "grouped" in results and "perspective" in results:
        rate, peer = results["grouped"]["max_rate"]["writes_per_s"], results["perspective"]
        results["ratios"] = {
            label: {
                "vs_single_row_updates": rate / peer[label]["single_updates_per_s"],
                "vs_1000_row_batches": rate / peer[label]["batch_rows_per_s"],
            }
            for label in ("five", "without_mean")
        }
        print("ratios:", json.dumps(results["ratios"]), flush=True)
    results["load_average_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
