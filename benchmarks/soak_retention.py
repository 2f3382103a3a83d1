"""Soak: a feed that never stops, into a group bounded by retention; memory must stay flat.

    python benchmarks/soak_retention.py                    # an hour at 5,000 writes/s, kv
    python benchmarks/soak_retention.py --minutes 15 --redis redis://127.0.0.1:6379  # + Redis memory

Every write is a new item (a tick), into one group with ``max_items=100000``, so once the
window is full each write evicts the oldest tick: a create and a delete event per write,
received by one subscriber. RSS is sampled every ``--every`` seconds; after the warm-up
(``--warmup`` minutes) it must stay within 10% of its first sample. The curve goes to
soak_retention_kv.json (or _redis.json).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import redis

import iii_live

WINDOW = 100_000


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--rate", type=int, default=5000, help="writes per second")
    parser.add_argument("--warmup", type=float, default=3, help="minutes before RSS must be flat")
    parser.add_argument("--every", type=float, default=10, help="seconds between samples")
    parser.add_argument("--redis", help="a Redis URL (default: the in-memory kv adapter)")
    args = parser.parse_args()

    adapter = {"name": "redis", "config": {"redis_url": args.redis}} if args.redis else None
    redis_info = redis.Redis.from_url(args.redis).info if args.redis else None
    engine = iii_live.start(port=0, background=True, engine_port=None, adapter=adapter)
    stream = engine.stream("soak")
    stream.retain("ticks", max_items=WINDOW)
    received = {"create": 0, "delete": 0}

    def count(message: dict) -> None:
        kind = message["event"]["type"]
        if kind in received:
            received[kind] += 1

    engine.subscribe("soak", "ticks", count)
    started = time.monotonic()
    end = started + args.minutes * 60
    next_sample = started
    written = 0
    samples = []
    batch = max(1, args.rate // 100)  # paced in slices of 10 ms
    print("minutes  written      items  creates/deletes received   RSS MB  (Redis MB)")
    while True:
        now = time.monotonic()
        if now >= next_sample:
            sample = {
                "minutes": round((now - started) / 60, 2),
                "written": written,
                "items": engine.adapter.count("soak", "ticks"),
                "rss_mb": round(rss_mb(), 1),
                **received,
            }
            if redis_info is not None:
                sample["redis_mb"] = round(redis_info("memory")["used_memory"] / 1e6, 1)
            samples.append(sample)
            print(
                f"{sample['minutes']:7.2f} {written:9,} {sample['items']:9,}"
                f"  {received['create']:,}/{received['delete']:,}  {sample['rss_mb']:9.1f}"
                f"  {sample.get('redis_mb', '')}",
                flush=True,
            )
            next_sample += args.every
        if now >= end:
            break
        due = int((now - started) * args.rate)
        while written < due:
            for _ in range(min(batch, due - written)):
                stream.set("ticks", f"t{written}", {"t": time.time(), "v": written % 1000 / 10})
                written += 1
        time.sleep(0.01)

    items = engine.adapter.count("soak", "ticks")
    engine.stop()
    steady = [s["rss_mb"] for s in samples if s["minutes"] >= args.warmup]
    first = steady[0] if steady else float("nan")
    spread = (max(steady) - first) / first if steady else float("nan")
    elapsed = time.monotonic() - started
    rate = written / elapsed
    verdict = "flat" if steady and max(steady) <= first * 1.10 and min(steady) >= first * 0.90 else "NOT flat"
    print(
        f"\n{written:,} writes in {elapsed / 60:.1f} min ({rate:,.0f}/s); {items:,} items at the end; "
        f"RSS after warm-up {min(steady):.1f}..{max(steady):.1f} MB, "
        f"{spread:+.1%} from {first:.1f}: {verdict}"
    )
    out = {
        "adapter": "redis" if args.redis else "kv",
        "rate": args.rate,
        "minutes": args.minutes,
        "warmup": args.warmup,
        "window": WINDOW,
        "written": written,
        "items_at_end": items,
        "samples": samples,
        "verdict": verdict,
    }
    Path(__file__).with_name(f"soak_retention_{out['adapter']}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
