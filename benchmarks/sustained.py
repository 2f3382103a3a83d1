"""Sustained fan-out: the highest write rate each server keeps up with at N subscribers.

    python benchmarks/sustained.py                      # 1,000 subscribers, every peer
    python benchmarks/sustained.py --repeat 3           # three passes, interleaved
    python benchmarks/sustained.py --subscribers 100 --seconds 2 --no-report   # a smoke run

Every server gets its N subscribers (the same raw-socket client harness, ``client.py``)
once; then the write rate climbs a ladder (×1.58 a step), every server taking each step in
turn so the machine's noise hits them alike. A server holds a step when every subscriber
receives every message in order and the p99 of write-to-receive latency is at most
``--p99`` ms, counted from when each message was due (a server that falls behind its
schedule shows it as latency). On a shared machine other work spoils some steps: each
step waits until the cores are quiet (``harness.wait_for_quiet``), a step missed while
other work kept a task waiting for a core more than half the time is played again without
counting, and a step missed three times ends the climb; the rates between the last held
step and that one are then tried in finer steps (×1.12). The figure is the highest rate
held. Results go to
benchmarks/sustained.json and the "Sustained fan-out" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from harness import HERE, Server, Subscribers, ensure_node_peer, load, machine, play_round, wait_for_quiet
from sections import replace_section

PEERS = ["iii-live", "websockets broadcast()", "socket.io (node)", "python-socketio"]
NOISY = 0.5
"""A missed step during which some task waited for a core this share of the time is replayed."""
COARSE = 10 ** (1 / 5)
FINE = 10 ** (1 / 20)
TITLE = "Sustained fan-out: the highest write rate held at 1,000 subscribers"


class Contender:
    """A server (or a group of them) with its subscribers connected, and how far up the
    ladder it got. ``server`` needs what ``play_round`` uses: ``start_sending``, ``sent``,
    ``cpu_seconds``, ``waited_seconds``, ``rss_kb`` and ``stop``."""

    def __init__(self, name: str, server: Server, subscribers: Subscribers, kb_per_connection: float) -> None:
        self.name = name
        self.server = server
        self.subscribers = subscribers
        self.kb_per_connection = kb_per_connection
        self.held: dict | None = None
        self.missed: dict | None = None
        self.steps: list[dict] = []
        self.done = False

    @classmethod
    def start(cls, name: str, n: int, processes: int) -> Contender:
        server = Server(name)
        rss_before = server.rss_kb()
        subscribers = Subscribers([server.url], server.protocol, n, processes)
        time.sleep(0.5)
        return cls(name, server, subscribers, (server.rss_kb() - rss_before) / n)

    def play(self, rate: float, seconds: float, p99_limit: float, attempts: int = 3) -> bool:
        """One step, played again (up to ``attempts`` in all) while missed; True when held.

        Each attempt waits for the machine to be quiet first; a missed attempt during which
        other work kept a task waiting for a core more than half the time is played again
        without counting (at most ``attempts`` times more)."""
        counted = noisy = 0
        while counted < attempts:
            quiet = wait_for_quiet()
            count = max(10, round(rate * seconds))
            result = play_round(self.server, self.subscribers, count, rate, timeout=3 * seconds + 10)
            result.update(server=self.name, load=load(), quiet_before=round(quiet, 3))
            result.pop("histogram", None)
            complete = result["received"] == result["expected"]
            held = complete and result["in_order"] and result["p99_ms"] <= p99_limit
            spoiled = not held and complete and result["cpu_pressure"] > NOISY and noisy < attempts
            result["outcome"] = "held" if held else ("noisy" if spoiled else "missed")
            self.steps.append(result)
            print(
                f"  {self.name:24} {rate:8.1f}/s  p50 {result['p50_ms'] or 0:8.2f} ms  "
                f"p99 {result['p99_ms'] or 0:8.2f} ms  {result['received']:>9,}/{result['expected']:,}  "
                f"{result['outcome']}  load {result['load']}, cpu pressure {result['cpu_pressure']:.0%}",
                flush=True,
            )
            if held:
                self.held = result
                return True
            if not complete:  # what is still on its way would pollute the next round
                break
            if spoiled:
                noisy += 1
            else:
                counted += 1
        self.missed = result
        return False

    def close(self) -> None:
        self.subscribers.close()
        self.server.stop()


def climb(contenders: list[Contender], start: float, limit: float, seconds: float, p99: float) -> None:
    rate = start
    turn = 0
    while rate <= limit and any(not c.done for c in contenders):
        print(f"step {rate:.1f} writes/s", flush=True)
        order = [c for c in contenders if not c.done]
        turn += 1
        order = order[turn % len(order) :] + order[: turn % len(order)]
        for contender in order:
            if not contender.play(rate, seconds, p99):
                contender.done = True
        rate *= COARSE
    for contender in contenders:  # finer steps between the last held rate and the first missed
        if contender.missed is None:
            continue
        low = contender.held["rate"] if contender.held else contender.missed["rate"] / COARSE
        rate = low * FINE
        while rate < contender.missed["rate"] * 0.99:
            print(f"finer step {rate:.1f} writes/s", flush=True)
            if not contender.play(rate, seconds, p99):
                break
            rate *= FINE


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--servers", nargs="*", default=PEERS)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of a step")
    parser.add_argument("--p99", type=float, default=50.0, help="latency a held step stays within (ms)")
    parser.add_argument("--start", type=float, default=5.0, help="first rate (writes/s)")
    parser.add_argument("--limit", type=float, default=5000.0, help="highest rate tried")
    parser.add_argument("--repeat", type=int, default=1, help="passes up the ladder")
    parser.add_argument("--processes", type=int, default=1, help="client processes per server")
    parser.add_argument("--out", default=str(HERE / "sustained.json"))
    parser.add_argument("--no-report", action="store_true", help="leave BENCHMARKS.md as it is")
    args = parser.parse_args()
    if "socket.io (node)" in args.servers:
        ensure_node_peer()
    passes = []
    for number in range(args.repeat):
        print(f"pass {number + 1}, load {load()}", flush=True)
        contenders = [Contender.start(name, args.subscribers, args.processes) for name in args.servers]
        try:
            climb(contenders, args.start, args.limit, args.seconds, args.p99)
        finally:
            for contender in contenders:
                contender.close()
        passes.append(
            {
                c.name: {
                    "held": c.held,
                    "missed": c.missed,
                    "kb_per_connection": c.kb_per_connection,
                    "steps": c.steps,
                }
                for c in contenders
            }
        )
    command = "python benchmarks/sustained.py" + (f" --repeat {args.repeat}" if args.repeat > 1 else "")
    data = {
        "machine": machine(),
        "command": command,
        "subscribers": args.subscribers,
        "p99_limit_ms": args.p99,
        "passes": passes,
    }
    Path(args.out).write_text(json.dumps(data, indent=1))
    for line in summary(data):
        print(line)
    if not args.no_report:
        replace_section(TITLE, summary(data))


def held_rate(run: dict) -> float:
    return run["held"]["rate"] if run["held"] else 0.0


def summary(data: dict) -> list[str]:
    passes = data["passes"]
    servers = list(passes[0])
    m = data["machine"]
    lines = [
        f"`{data['command']}`: {data['subscribers']:,} subscribers on one group; the write rate climbs",
        "(×1.58 a step, then ×1.12 near the top) until a server misses a step three times: a step is held",
        f"when every subscriber gets every message in order with p99 write-to-receive at most "
        f"{data['p99_limit_ms']:g} ms,",
        "latency counted from when each message was due. Every server takes each step in turn. Other",
        "work shares this machine: each step waits for quiet cores, and a step missed while other work",
        "kept a task waiting for a core more than half the time is replayed without counting.",
        f"{m['cpu']}, {m['cores']} cores, {m['date']}.",
        "",
        "| pass | load at start | " + " | ".join(servers) + " |",
        "|---|---|" + "---|" * len(servers),
    ]
    for number, run in enumerate(passes, 1):
        first_steps = [r["steps"][0]["load"] for r in run.values() if r["steps"]]
        cells = [f"{held_rate(run[s]):,.0f} writes/s" for s in servers]
        lines.append(f"| {number} | {first_steps[0] if first_steps else '–'} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "At the highest rate held (p50 / p99 ms; server CPU µs per delivery; deliveries per second):",
        "",
        "| pass | " + " | ".join(servers) + " |",
        "|---|" + "---|" * len(servers),
    ]
    for number, run in enumerate(passes, 1):
        cells = []
        for s in servers:
            held = run[s]["held"]
            cells.append(
                "–"
                if held is None
                else f"{held['p50_ms']:.1f} / {held['p99_ms']:.1f}; {held['cpu_us_per_delivery']:.1f} µs; "
                f"{held['deliveries_per_s']:,.0f}/s"
            )
        lines.append(f"| {number} | " + " | ".join(cells) + " |")
    ours = "iii-live"
    if ours in servers:
        peers = [s for s in servers if s != ours]
        lines += [
            "",
            "iii-live's highest rate as a ratio to each peer's, pass by pass:",
            "",
            "| pass | " + " | ".join(peers) + " |",
            "|---|" + "---|" * len(peers),
        ]
        for number, run in enumerate(passes, 1):
            ratios = [held_rate(run[ours]) / held_rate(run[p]) if held_rate(run[p]) else None for p in peers]
            cells = ["–" if r is None else f"{r:.2f}×" for r in ratios]
            lines.append(f"| {number} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
