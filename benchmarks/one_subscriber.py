"""One subscriber, the writer at full speed: what a single write costs, iii-live against ``websockets``.

    python benchmarks/one_subscriber.py                 # 12 rounds of 20,000 messages each
    python benchmarks/one_subscriber.py --rounds 4 --messages 5000 --no-report   # a smoke run

Both servers keep one subscriber (``client.py``) for the whole run and take rounds in turn
(ABAB...), so a burst of other work on the machine lands on both. A round is ``--messages``
writes as fast as the server can (iii-live: ``stream::set`` from the main thread, storage,
event and fan-out; ``websockets``: ``broadcast()`` of the same frame). Figures per server,
median over its rounds: deliveries per second, and server CPU µs per write (all threads),
which other work on the machine disturbs less than wall-clock rates. Results go to
benchmarks/one_subscriber.json and the "One subscriber at full speed" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics

from harness import HERE, Server, Subscribers, command_line, load, machine, play_round
from sections import publish

PEERS = ["iii-live", "websockets broadcast()"]
TITLE = "One subscriber at full speed"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=12, help="rounds per server")
    parser.add_argument("--messages", type=int, default=20_000, help="writes per round")
    parser.add_argument("--out", default=str(HERE / "one_subscriber.json"))
    parser.add_argument("--no-report", action="store_true", help="leave BENCHMARKS.md as it is")
    args = parser.parse_args()
    servers = {name: Server(name) for name in PEERS}
    subscribers = {name: Subscribers([s.url], s.protocol, 1) for name, s in servers.items()}
    rounds: dict[str, list[dict]] = {name: [] for name in PEERS}
    try:
        for number in range(args.rounds):
            order = PEERS if number % 2 == 0 else PEERS[::-1]
            for name in order:
                result = play_round(servers[name], subscribers[name], args.messages, 0.0, timeout=120)
                result.pop("histogram")
                result["load"] = load()
                rounds[name].append(result)
                print(
                    f"{name:24} {result['deliveries_per_s']:>10,.0f}/s  "
                    f"{result['server_cpu_s'] / args.messages * 1e6:6.1f} µs CPU per write  "
                    f"in order {result['in_order']}  cpu pressure {result['cpu_pressure']:.0%}",
                    flush=True,
                )
    finally:
        for name in PEERS:
            subscribers[name].close()
            servers[name].stop()
    data = {
        "machine": machine(),
        "command": command_line(),
        "messages": args.messages,
        "servers": {name: figures(rounds[name], args.messages) for name in PEERS},
        "rounds": rounds,
    }
    publish(data, args.out, TITLE, summary(data), report=not args.no_report)


def figures(rounds: list[dict], messages: int) -> dict:
    return {
        "deliveries_per_s": statistics.median(r["deliveries_per_s"] for r in rounds),
        "cpu_us_per_write": statistics.median(r["server_cpu_s"] / messages * 1e6 for r in rounds),
        "in_order": all(r["in_order"] and r["received"] == r["expected"] for r in rounds),
        "cpu_pressure": statistics.median(r["cpu_pressure"] for r in rounds),
        "rounds": len(rounds),
    }


def summary(data: dict) -> list[str]:
    ours, peer = (data["servers"][name] for name in PEERS)
    m = data["machine"]
    lines = [
        f"`{data['command']}`: one subscriber per server, {data['messages']:,} writes a round as fast as",
        "the server can; the two servers take rounds in turn. Medians over the rounds; the CPU",
        "time is the server process's (every thread), per write. Other work shared the machine:",
        f"some task waited for a core {ours['cpu_pressure']:.0%} (iii-live rounds) and "
        f"{peer['cpu_pressure']:.0%} (websockets rounds) of the time, the median round.",
        f"{m['cpu']}, {m['cores']} cores, {m['date']}.",
        "",
        "| server | deliveries/s | server CPU µs per write | every event in order |",
        "|---|---|---|---|",
    ]
    for name in PEERS:
        f = data["servers"][name]
        lines.append(
            f"| {name} | {f['deliveries_per_s']:,.0f} | {f['cpu_us_per_write']:.1f} | "
            f"{'yes' if f['in_order'] else 'NO'} |"
        )
    lines += [
        "",
        f"iii-live against `websockets`: {ours['deliveries_per_s'] / peer['deliveries_per_s']:.2f}× the "
        f"deliveries per second, {peer['cpu_us_per_write'] / ours['cpu_us_per_write']:.2f}× the writes per "
        "CPU second.",
    ]
    return lines


if __name__ == "__main__":
    main()
