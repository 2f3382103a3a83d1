"""Sustained fan-out: the highest write rate each server keeps up with at N subscribers.

    python benchmarks/sustained.py                      # 1,000 subscribers, every peer
    python benchmarks/sustained.py --repeat 3           # three passes, interleaved
    python benchmarks/sustained.py --subscribers 100 --seconds 2 --no-report   # a smoke run

Every server gets its N subscribers (the same raw-socket client harness, ``client.py``)
once; then the write rate climbs a ladder (×1.58 a step). A step is cut into four short
rounds and the servers take them in turn (ABCABC...), so a burst of other work on the
machine lands on all of them alike. A server holds a step when every subscriber
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
    wait_for_quiet,
)
from latency import merged_percentile
from sections import publish

PEERS = ["iii-live", "websockets broadcast()", "socket.io (node)", "python-socketio"]
NOISY = 0.5
"""A missed step during which some task waited for a core this share of the time is replayed."""
SLICES = 4
"""Short rounds a step is cut into, taken in turn by the contenders."""
COARSE = 10 ** (1 / 5)
FINE = 10 ** (1 / 20)
TITLE = "Sustained fan-out: the highest write rate held at 1,000 subscribers"


class Contender:
    """A server (or a group of them) with its subscribers connected, and how far up the
    ladder it got. ``server`` needs what ``play_round`` uses: ``start_sending``, ``sent``,
    ``cpu_seconds``, ``waited_seconds`` and ``stop``."""

    def __init__(self, name: str, server: Server, subscribers: Subscribers, kb_per_connection: float) -> None:
        self.name = name
        self.server = server
        self.subscribers = subscribers
        self.kb_per_connection = kb_per_connection
        self.held: dict | None = None
        self.missed: dict | None = None
        self.steps: list[dict] = []

    @classmethod
    def start(cls, name: str, n: int, processes: int) -> Contender:
        server = Server(name)
        rss_before = server.rss_kb()
        subscribers = Subscribers([server.url], server.protocol, n, processes)
        time.sleep(0.5)
        return cls(name, server, subscribers, (server.rss_kb() - rss_before) / n)

    def close(self) -> None:
        self.subscribers.close()
        self.server.stop()


def play_step(rates: dict[Contender, float], seconds: float) -> dict[Contender, dict]:
    """Every contender at its rate for ``seconds``, in ``SLICES`` short rounds taken in turn
    (ABCABC...), so a burst of other work lands on all of them; each one's figures are
    those of its rounds together (p50/p99 over all its deliveries)."""
    parts: dict[Contender, list[dict]] = {c: [] for c in rates}
    order = list(rates)
    for n in range(SLICES):
        for contender in order[n % len(order) :] + order[: n % len(order)]:
            if parts[contender] and parts[contender][-1]["received"] < parts[contender][-1]["expected"]:
                continue  # what is still on its way would spoil its next round
            rate = rates[contender]
            count = max(5, round(rate * seconds / SLICES))
            result = play_round(contender.server, contender.subscribers, count, rate, timeout=seconds + 10)
            parts[contender].append(result)
    return {c: combined(rounds, rates[c]) for c, rounds in parts.items()}


def combined(rounds: list[dict], rate: float) -> dict:
    received = sum(r["received"] for r in rounds)
    elapsed = sum(r["elapsed_s"] or 0 for r in rounds)
    histograms = [r["histogram"] for r in rounds]
    total = {k: sum(r[k] for r in rounds) for k in ("server_cpu_s", "client_cpu_s", "server_waited_s")}
    extra = {k: sum(r[k] for r in rounds) for k in rounds[0] if k.endswith("_cpu_s") and k not in total}
    return {
        "rate": rate,
        "messages": sum(r["messages"] for r in rounds),
        "received": received,
        "expected": sum(r["expected"] for r in rounds),
        "complete": all(r["received"] == r["expected"] for r in rounds) and len(rounds) == SLICES,
        "in_order": all(r["in_order"] for r in rounds),
        "p50_ms": merged_percentile(histograms, 0.50),
        "p99_ms": merged_percentile(histograms, 0.99),
        "max_ms": max(r["max_ms"] or 0 for r in rounds),
        "elapsed_s": elapsed,
        "deliveries_per_s": received / elapsed if elapsed else 0.0,
        "cpu_us_per_delivery": total["server_cpu_s"] / received * 1e6 if received else None,
        "cpu_pressure": sum(r["cpu_pressure"] * (r["elapsed_s"] or 0) for r in rounds) / elapsed
        if elapsed
        else 0,
        **total,
        **extra,
        "load": load(),
    }


def climb(
    contenders: list[Contender],
    start: float,
    limit: float,
    seconds: float,
    p99: float,
    patience: float = 30.0,
) -> None:
    """Up the ladder together, then each from its last held rate in finer steps; a step waits
    at most ``patience`` seconds for quiet cores."""
    rate = start
    climbing = list(contenders)
    while rate <= limit and climbing:
        print(f"step {rate:.1f} writes/s", flush=True)
        climbing = settle(dict.fromkeys(climbing, rate), seconds, p99, patience)
        rate *= COARSE
    refining: dict[Contender, float] = {}
    for contender in contenders:
        if contender.missed is not None:
            low = contender.held["rate"] if contender.held else contender.missed["rate"] / COARSE
            refining[contender] = low * FINE
    while refining:
        print("finer step " + ", ".join(f"{c.name} {r:.1f}/s" for c, r in refining.items()), flush=True)
        held = settle(refining, seconds, p99, patience)
        refining = {
            c: refining[c] * FINE
            for c in held
            if refining[c] * FINE < c.missed["rate"] * 0.99  # type: ignore[index]
        }


def settle(
    rates: dict[Contender, float], seconds: float, p99_limit: float, patience: float, attempts: int = 3
) -> list[Contender]:
    """Play a step until each contender holds it or has missed it ``attempts`` times; a miss
    while other work kept a task waiting for a core more than half the time does not count
    (up to ``attempts`` of those). Returns the contenders that held it."""
    counted = dict.fromkeys(rates, 0)
    noisy = dict.fromkeys(rates, 0)
    pending = dict(rates)
    held: list[Contender] = []
    while pending:
        quiet = wait_for_quiet(patience=patience)
        for contender, result in play_step(pending, seconds).items():
            ok = result["complete"] and result["in_order"] and (result["p99_ms"] or 0) <= p99_limit
            spoiled = not ok and result["complete"] and result["cpu_pressure"] > NOISY
            spoiled = spoiled and noisy[contender] < attempts
            result.update(server=contender.name, quiet_before=round(quiet, 3))
            result["outcome"] = "held" if ok else ("noisy" if spoiled else "missed")
            contender.steps.append(result)
            print(
                f"  {contender.name:24} {result['rate']:8.1f}/s  p50 {result['p50_ms'] or 0:8.2f} ms  "
                f"p99 {result['p99_ms'] or 0:8.2f} ms  {result['received']:>9,}/{result['expected']:,}  "
                f"{result['outcome']}  load {result['load']}, cpu pressure {result['cpu_pressure']:.0%}",
                flush=True,
            )
            if ok:
                contender.held = result
                held.append(contender)
                del pending[contender]
            elif spoiled:
                noisy[contender] += 1
            else:
                counted[contender] += 1
                if counted[contender] >= attempts or not result["complete"]:
                    contender.missed = result
                    del pending[contender]
    return held


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
    parser.add_argument("--patience", type=float, default=30.0, help="longest wait for quiet cores (s)")
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
            climb(contenders, args.start, args.limit, args.seconds, args.p99, args.patience)
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
    command = command_line()
    data = {
        "machine": machine(),
        "command": command,
        "subscribers": args.subscribers,
        "p99_limit_ms": args.p99,
        "passes": passes,
    }
    publish(data, args.out, TITLE, summary(data), report=not args.no_report)


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
        "latency counted from when each message was due. A step is four short rounds the servers take in",
        "turn (ABCABC...), so a burst of other work lands on all of them. Other",
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
        peer = "websockets broadcast()"
        if peer in peers:
            met = sum(held_rate(run[ours]) >= 2 * held_rate(run[peer]) > 0 for run in passes)
            lines += ["", f"Target, at least 2× `websockets`: met in {met} of {len(passes)} passes."]
    return lines


if __name__ == "__main__":
    main()
