"""Beyond one process: one, two and four engines on one Redis against one engine alone.

    python benchmarks/redis_fanout.py                       # 1,000 subscribers
    python benchmarks/redis_fanout.py --subscribers 4000 --repeat 2

Each deployment is its own processes: ``kv`` is one engine with in-memory storage (the
reference); ``redis xE`` is E engine processes on one redis-server that the benchmark
starts on a free port (no persistence). The subscribers are spread evenly over the engines
(two client processes, connections round-robin); every write goes through one engine
(``stream::set``: one Lua script, HSET and PUBLISH), and reaches every engine, that one
included, through Redis pub/sub. Every deployment is up at once and takes each step in
turn, so the machine's noise hits them alike. Per deployment: deliveries per second with
the writer at full speed, the highest write rate held with p99 write-to-receive within
``--p99`` ms (the ladder of ``sustained.py``), and the CPU it costs: engines per delivery,
Redis per write. Results go to benchmarks/redis_fanout.json and the "Beyond one process"
section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from harness import HERE, RedisServer, Server, Subscribers, command_line, load, machine, play_round
from sections import publish
from sustained import Contender, climb

TITLE = "Beyond one process: engines on one Redis"


class Deployment:
    """``engines`` iii-live processes, on a fresh Redis unless ``redis`` is False; writes go
    through the first. ``idle`` more engines on the same Redis serve no one: what they spend
    is the cost of an event to an engine that has no subscriber for it. Quacks like a
    ``Server`` for ``play_round``."""

    def __init__(self, engines: int, redis: bool, idle: int = 0) -> None:
        self.redis = RedisServer() if redis else None
        extra = (self.redis.url,) if self.redis else ()
        self.engines = [Server("iii-live", *extra) for _ in range(engines)]
        self.idle = [Server("iii-live", *extra) for _ in range(idle)]
        self.protocol = "ws"

    @property
    def urls(self) -> list[str]:
        return [engine.url for engine in self.engines]

    def start_sending(self, count: int, rate: float) -> None:
        self.engines[0].start_sending(count, rate)

    def sent(self, timeout: float) -> dict:
        return self.engines[0].sent(timeout)

    def cpu_seconds(self) -> float:
        return sum(engine.cpu_seconds() for engine in self.engines)

    def waited_seconds(self) -> float:
        return sum(engine.waited_seconds() for engine in self.engines)

    def rss_kb(self) -> int:
        return sum(engine.rss_kb() for engine in self.engines)

    def counters(self) -> dict[str, Callable[[], float]]:
        """CPU of the writing engine alone, and of Redis."""
        counters = {"writer_cpu_s": self.engines[0].cpu_seconds}
        if self.redis is not None:
            counters["redis_cpu_s"] = self.redis.cpu_seconds
        if self.idle:
            counters["idle_cpu_s"] = lambda: sum(engine.cpu_seconds() for engine in self.idle)
        return counters

    def stop(self) -> None:
        for engine in self.engines + self.idle:
            engine.stop()
        if self.redis is not None:
            self.redis.stop()


def start(name: str, engines: int, redis: bool, n: int, idle: int = 0) -> Contender:
    deployment = Deployment(engines, redis, idle)
    rss_before = deployment.rss_kb()
    subscribers = Subscribers(deployment.urls, "ws", n, processes=2)
    return Contender(name, deployment, subscribers, (deployment.rss_kb() - rss_before) / n)  # type: ignore[arg-type]


def full_speed(contender: Contender, messages: int) -> dict:
    burst = play_round(contender.server, contender.subscribers, messages, 0.0, timeout=120)
    burst.update(load=load())
    burst.pop("histogram", None)
    print(
        f"  {contender.name:18} full speed {burst['deliveries_per_s']:>10,.0f} deliveries/s, "
        f"engines {burst['cpu_us_per_delivery']:.2f} µs CPU per delivery, in order {burst['in_order']}",
        flush=True,
    )
    return burst


def idle_engine_cost(n: int, messages: int) -> dict:
    """What an event costs an engine with no subscriber for it: full speed, and 100 writes/s."""
    contender = start("redis x1 + 1 idle", 1, True, n, idle=1)
    try:
        burst = full_speed(contender, messages)
        steady = play_round(contender.server, contender.subscribers, 400, 100.0, timeout=60)
    finally:
        contender.close()
    return {
        "us_per_event_full_speed": burst["idle_cpu_s"] / messages * 1e6,
        "us_per_event_at_100_per_s": steady["idle_cpu_s"] / 400 * 1e6,
    }


def deployments(args: argparse.Namespace) -> dict:
    """Every deployment up at once: a full-speed round each, then the ladder, step by step in turn."""
    contenders = [start("kv x1", 1, False, args.subscribers)]
    contenders += [start(f"redis x{e}", e, True, args.subscribers) for e in args.engines]
    try:
        bursts = {c.name: full_speed(c, args.burst) for c in contenders}
        climb(contenders, args.start, 5000.0, args.seconds, args.p99, args.patience)
    finally:
        for contender in contenders:
            contender.close()
    return {
        c.name: {
            "engines": len(c.server.engines),  # type: ignore[attr-defined]
            "full_speed": bursts[c.name],
            "held": c.held,
            "missed": c.missed,
            "steps": c.steps,
        }
        for c in contenders
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--engines", type=int, nargs="*", default=[1, 2, 4], help="engines on Redis")
    parser.add_argument("--burst", type=int, default=300, help="messages of the full-speed round")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of a ladder step")
    parser.add_argument("--p99", type=float, default=50.0)
    parser.add_argument("--start", type=float, default=20.0, help="first rate of the ladder (writes/s)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--patience", type=float, default=30.0, help="longest wait for quiet cores (s)")
    parser.add_argument("--out", default=str(HERE / "redis_fanout.json"))
    parser.add_argument("--no-report", action="store_true", help="leave BENCHMARKS.md as it is")
    args = parser.parse_args()
    passes = []
    for number in range(args.repeat):
        print(f"pass {number + 1}, load {load()}", flush=True)
        passes.append({"idle_engine": idle_engine_cost(args.subscribers, args.burst), **deployments(args)})
    data = {
        "machine": machine(),
        "command": command_line(),
        "subscribers": args.subscribers,
        "burst": args.burst,
        "p99_limit_ms": args.p99,
        "passes": passes,
    }
    publish(data, args.out, TITLE, summary(data), report=not args.no_report)


def summary(data: dict) -> list[str]:
    m = data["machine"]
    names = [name for name in data["passes"][0] if name != "idle_engine"]
    lines = [
        f"`{data['command']}`: {data['subscribers']:,} subscribers spread evenly over the engines of a",
        "deployment; writes go through the first engine and reach every engine through Redis pub/sub.",
        "`kv x1` is one engine without Redis. Every deployment takes each step in turn.",
        f"{m['cpu']}, {m['cores']} cores, {m['date']}.",
        "",
        "| pass | deployment | load | deliveries/s, writer at full speed | engines' µs CPU per delivery "
        "| Redis µs CPU per write | highest rate held (p99 ≤ "
        f"{data['p99_limit_ms']:g} ms) | p50 / p99 there |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for number, run in enumerate(data["passes"], 1):
        for name in names:
            r = run[name]
            full, held = r["full_speed"], r["held"]
            redis = full.get("redis_cpu_s")
            lines.append(
                f"| {number} | {name} | {full['load']} | {full['deliveries_per_s']:,.0f} | "
                f"{full['cpu_us_per_delivery']:.2f} | "
                + ("–" if redis is None else f"{redis / full['messages'] * 1e6:.0f}")
                + " | "
                + ("–" if held is None else f"{held['rate']:,.0f} writes/s")
                + " | "
                + ("–" if held is None else f"{held['p50_ms']:.1f} / {held['p99_ms']:.1f}")
                + " |"
            )
    idle = [run["idle_engine"] for run in data["passes"]]
    lines += [
        "",
        "An engine on the same Redis with no subscriber for the group still receives and decodes every",
        "event: "
        + "; ".join(
            f"{i['us_per_event_full_speed']:.1f} µs CPU per event at full speed, "
            f"{i['us_per_event_at_100_per_s']:.1f} µs at 100 writes/s"
            for i in idle
        )
        + " (pass by pass).",
    ]
    return lines


if __name__ == "__main__":
    main()
