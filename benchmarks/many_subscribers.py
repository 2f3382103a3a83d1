"""10,000 subscribers on one server: latency at a steady rate, memory per idle connection, order.

    python benchmarks/many_subscribers.py                  # 10,000 subscribers, every peer
    python benchmarks/many_subscribers.py --repeat 2       # each server twice, interleaved
    python benchmarks/many_subscribers.py --subscribers 2000 --seconds 5 --no-report   # smoke run

Each server in turn gets N subscribers (``client.py``, spread over ``--processes`` client
processes, one per 5,000 sockets: more would crowd the server off the two cores), then:
memory per idle connection (the server's RSS before and after they connect, divided by N), a round at
``--rate`` writes per second for ``--seconds`` (latency from when each message was due;
every subscriber must get every message in order), and a round as fast as it can for
deliveries per second. The open-files limit of this process and its children is raised
to the hard limit. Results go to benchmarks/many_subscribers.json and the "10,000
subscribers" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import time

from harness import (
    HERE,
    Server,
    Subscribers,
    command_line,
    ensure_node_peer,
    load,
    machine,
    play_round,
    raise_open_files,
)
from sections import publish

PEERS = ["iii-live", "websockets broadcast()", "socket.io (node)", "python-socketio"]
TITLE = "10,000 subscribers on one engine"


def measure(name: str, n: int, processes: int, rate: float, seconds: float, burst: int) -> dict:
    server = Server(name)
    try:
        time.sleep(0.5)
        rss_before = server.rss_kb()
        started = time.monotonic()
        subscribers = Subscribers([server.url], server.protocol, n, processes)
        connect_s = time.monotonic() - started
        try:
            time.sleep(2.0)
            rss_idle = server.rss_kb()
            result = {
                "server": name,
                "subscribers": n,
                "connected": subscribers.connected,
                "connect_s": round(connect_s, 1),
                "kb_per_connection": (rss_idle - rss_before) / n,
                "load": load(),
            }
            steady = play_round(server, subscribers, int(rate * seconds), rate, timeout=3 * seconds + 30)
            steady.pop("histogram", None)
            result["steady"] = steady
            if steady["received"] == steady["expected"]:  # else what is on its way spoils the next round
                full = play_round(server, subscribers, burst, 0.0, timeout=120)
                result["full_speed"] = full
        finally:
            subscribers.close()
    finally:
        server.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--servers", nargs="*", default=PEERS)
    parser.add_argument("--rate", type=float, default=10.0, help="writes per second of the steady round")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the steady round")
    parser.add_argument("--burst", type=int, default=30, help="messages of the full-speed round")
    parser.add_argument("--processes", type=int, default=0, help="client processes (0: one per 5,000)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", default=str(HERE / "many_subscribers.json"))
    parser.add_argument("--no-report", action="store_true", help="leave BENCHMARKS.md as it is")
    args = parser.parse_args()
    if "socket.io (node)" in args.servers:
        ensure_node_peer()
    open_files = raise_open_files()
    processes = args.processes or max(1, -(-args.subscribers // 5000))
    results = []
    for _ in range(args.repeat):
        for name in args.servers:
            result = measure(name, args.subscribers, processes, args.rate, args.seconds, args.burst)
            results.append(result)
            steady, full = result["steady"], result.get("full_speed")
            print(
                f"{name:24} {result['connected']:,} connected in {result['connect_s']} s, "
                f"{result['kb_per_connection']:.1f} KB each; {args.rate:g}/s: "
                f"p50 {steady['p50_ms'] or 0:.1f} p99 {steady['p99_ms'] or 0:.1f} ms, "
                f"{steady['received']:,}/{steady['expected']:,} "
                f"in order {steady['in_order']}; full speed "
                f"{full['deliveries_per_s'] if full else 0:,.0f}/s; load {result['load']}",
                flush=True,
            )
    data = {
        "machine": machine(),
        "command": command_line(),
        "subscribers": args.subscribers,
        "rate": args.rate,
        "seconds": args.seconds,
        "processes": processes,
        "open_files": open_files,
        "results": results,
    }
    publish(data, args.out, TITLE, summary(data), report=not args.no_report)


def summary(data: dict) -> list[str]:
    m = data["machine"]
    rate = data["rate"]
    lines = [
        f"`{data['command']}`: {data['subscribers']:,} subscribers of one group on one server process,",
        f"held by {data['processes']} client processes (the open-files limit raised to "
        f"{data['open_files']:,} in the benchmark). A steady round of {rate:g} writes/s for "
        f"{data['seconds']:g} s (latency from when each",
        "message was due), then a round as fast as it can. Memory is the server's RSS growth while",
        f"the subscribers connect, divided by their number. {m['cpu']}, {m['cores']} cores, {m['date']}.",
        "",
        f"| server | load | KB per idle connection | p50 / p99 ms at {rate:g}/s | every event in order "
        "| µs CPU per delivery | deliveries/s at full speed |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in data["results"]:
        steady, full = r["steady"], r.get("full_speed")
        complete = steady["received"] == steady["expected"]
        order = (
            "yes"
            if steady["in_order"]
            else ("no: fell behind, " if not complete else "NO, ")
            + f"{steady['received']:,} of {steady['expected']:,} received"
        )
        lines.append(
            f"| {r['server']} | {r['load']} | {r['kb_per_connection']:.1f} | "
            f"{steady['p50_ms'] or 0:.1f} / {steady['p99_ms'] or 0:.1f} | {order} | "
            f"{steady['cpu_us_per_delivery'] or 0:.1f} | "
            f"{full['deliveries_per_s'] if full else 0:,.0f} |"
        )
    return lines + targets(data["results"], rate)


def targets(results: list[dict], rate: float) -> list[str]:
    """iii-live against the targets, and against each peer of the same run."""
    ours = [r for r in results if r["server"] == "iii-live"]
    if not ours:
        return []
    worst_p99 = max(r["steady"]["p99_ms"] or 0 for r in ours)
    worst_kb = max(r["kb_per_connection"] for r in ours)
    in_order = all(r["steady"]["in_order"] for r in ours)
    lines = [
        "",
        f"iii-live against the targets (the worst of its runs): p99 {worst_p99:.1f} ms at {rate:g} writes/s "
        f"(target ≤ 100 ms: {'met' if worst_p99 <= 100 else 'NOT met'}); {worst_kb:.1f} KB per idle "
        f"connection (target ≤ 16 KB: {'met' if worst_kb <= 16 else 'NOT met'}); every event in order: "
        f"{'yes' if in_order else 'NO'}.",
    ]
    peers = [r for r in results if r["server"] != "iii-live"]
    if peers:
        lines += [
            "",
            "Each peer's figure over iii-live's (the first run of each; above 1: iii-live is better):",
            "",
        ]
        lines += [
            "| peer | p99 at the steady rate | KB per idle connection | µs CPU per delivery |",
            "|---|---|---|---|",
        ]
        first = ours[0]
        seen: set[str] = set()
        for r in peers:
            if r["server"] in seen:
                continue
            seen.add(r["server"])
            ratios = [
                ratio(r["steady"]["p99_ms"], first["steady"]["p99_ms"]),
                ratio(r["kb_per_connection"], first["kb_per_connection"]),
                ratio(r["steady"]["cpu_us_per_delivery"], first["steady"]["cpu_us_per_delivery"]),
            ]
            lines.append(f"| {r['server']} | " + " | ".join(ratios) + " |")
    return lines


def ratio(theirs: float | None, ours: float | None) -> str:
    return f"{theirs / ours:.2f}×" if theirs and ours else "–"


if __name__ == "__main__":
    main()
