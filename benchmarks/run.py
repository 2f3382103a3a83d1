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
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVERS = {
    "iii-live": ([sys.executable, str(HERE / "servers" / "iii_live_server.py")], "/stream/bench/g", "ws"),
    "websockets broadcast()": ([sys.executable, str(HERE / "servers" / "websockets_server.py")], "/", "ws"),
    "tornado write_message": ([sys.executable, str(HERE / "servers" / "tornado_server.py")], "/", "ws"),
    "python-socketio": ([sys.executable, str(HERE / "servers" / "socketio_server.py")], "/", "socketio"),
    "socket.io (node)": (["node", str(HERE / "servers" / "socketio_server.mjs")], "/", "socketio"),
}
TARGET_DELIVERIES = 300_000
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def read_json(proc: subprocess.Popen, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"process exited: {proc.args}")
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise TimeoutError(proc.args)


def run_one(name: str, n: int, count: int, rate: float, timeout: float) -> dict:
    command, path, protocol = SERVERS[name]
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{HERE / 'servers'}{os.pathsep}{ROOT}"}
    server = subprocess.Popen(
        [*command, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=HERE
    )
    try:
        read_json(server, 30)
        time.sleep(0.3)
        rss_before = rss_kb(server.pid)
        client = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "client.py"),
                f"ws://127.0.0.1:{port}{path}",
                protocol,
                str(n),
                str(count),
                str(timeout),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = read_json(client, 120)
        time.sleep(0.5)
        rss_idle = rss_kb(server.pid)
        cpu_before = cpu_seconds(server.pid)
        go_ns = time.monotonic_ns()
        server.stdin.write(f"go {count} {rate}\n")
        server.stdin.flush()
        sent = read_json(server, timeout + 60)
        result = read_json(client, timeout + 60)
        cpu = cpu_seconds(server.pid) - cpu_before
        client.wait(30)
        elapsed = max((result["last_ns"] - go_ns) / 1e9, 1e-9) if result["last_ns"] else None
        return {
            "server": name,
            "subscribers": n,
            "connected": ready["ready"],
            "messages": count,
            "rate": rate,
            "deliveries": result["received"],
            "expected": result["expected"],
            "in_order": result["in_order"],
            "deliveries_per_s": result["received"] / elapsed if elapsed else 0.0,
            "p50_ms": result["p50_ms"],
            "p99_ms": result["p99_ms"],
            "server_cpu_s": round(cpu, 3),
            "cpu_us_per_delivery": cpu / result["received"] * 1e6 if result["received"] else None,
            "kb_per_connection": (rss_idle - rss_before) / n if n >= 100 else None,
            "send_s": sent["send_s"],
        }
    finally:
        try:
            server.stdin.write("quit\n")
            server.stdin.flush()
            server.wait(10)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[1, 100, 1000, 5000])
    parser.add_argument("--servers", nargs="*", default=list(SERVERS))
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    args = parser.parse_args()
    if shutil.which("node") is None or not (HERE / "node_modules" / "socket.io").exists():
        sys.exit("install the Node peer first: npm ci --prefix benchmarks")
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
    machine = {
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        ),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "date": time.strftime("%Y-%m-%d"),
    }
    Path(args.out).write_text(json.dumps({"machine": machine, "results": results}, indent=1))
    from report import write_report

    write_report(Path(args.out))


if __name__ == "__main__":
    main()
