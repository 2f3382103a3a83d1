"""Fan-out benchmark: one writer, N subscribers on one group, iii-live and its peers in one run.

    python benchmarks/run.py                 # everything (a few minutes)
    python benchmarks/run.py --sizes 1000    # one size
    python benchmarks/run.py --quick         # smaller counts, for a smoke run

Every server broadcasts the same iii wrapper frame; the same raw-socket client harness
(client.py) subscribes N connections and checks that each one receives every message in
order. Figures: deliveries per second at the highest rate (the writer sends as fast as it
can), write-to-receive latency p50/p99 at a fixed rate, server memory per idle connection,
and server CPU. Results go to benchmarks/results.json; BENCHMARKS.md and the plot are
written from them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from harness import HERE, SERVERS, Server, Subscribers, ensure_node_peer, load, machine, play_round

TARGET_DELIVERIES = 300_000


def run_one(name: str, n: int, count: int, rate: float, timeout: float) -> dict:
    server = Server(name)
    try:
        time.sleep(0.3)
        rss_before = server.rss_kb()
        subscribers = Subscribers([server.url], server.protocol, n)
        try:
            time.sleep(0.5)
            rss_idle = server.rss_kb()
            result = play_round(server, subscribers, count, rate, timeout)
        finally:
            subscribers.close()
    finally:
        server.stop()
    return {
        "server": name,
        "subscribers": n,
        "connected": subscribers.connected,
        "deliveries": result["received"],
        **{k: result[k] for k in ("messages", "rate", "expected", "in_order", "deliveries_per_s")},
        **{k: result[k] for k in ("p50_ms", "p99_ms", "server_cpu_s", "cpu_us_per_delivery", "send_s")},
        "kb_per_connection": (rss_idle - rss_before) / n if n >= 100 else None,
        "load": load(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[1, 100, 1000, 5000])
    parser.add_argument("--servers", nargs="*", default=list(SERVERS))
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    parser.add_argument("--no-report", action="store_true", help="leave BENCHMARKS.md as it is")
    args = parser.parse_args()
    ensure_node_peer()
    scale = 0.1 if args.quick else 1.0
    results = []
    for n in args.sizes:
        for name in args.servers:
            count = max(20, min(20_000, int(TARGET_DELIVERIES * scale) // n))
            fixed_rate = 100 if n <= 1000 else 20
            runs = [
                ("max", count, 0.0),
                (f"{fixed_rate}/s", max(20, int(3 * fixed_rate * max(scale, 0.34))), fixed_rate),
            ]
            for mode, messages, rate in runs:
                result = run_one(name, n, messages, rate, timeout=120)
                result["mode"] = mode
                results.append(result)
                print(
                    f"{name:24} N={n:<5} {mode:6} {result['deliveries_per_s']:>12,.0f} deliveries/s "
                    f"p50 {result['p50_ms'] or 0:7.2f} ms  p99 {result['p99_ms'] or 0:7.2f} ms  "
                    f"in order: {result['in_order']}",
                    flush=True,
                )
    Path(args.out).write_text(json.dumps({"machine": machine(), "results": results}, indent=1))
    if not args.no_report:
        from report import write_report

        write_report(Path(args.out))


if __name__ == "__main__":
    main()
