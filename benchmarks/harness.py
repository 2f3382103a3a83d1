"""Processes of a benchmark run: servers under test, client harness processes, redis-server.

A ``Server`` is one server process driven through stdin (``servers/common.py``); a
``Subscribers`` holds N connections spread over one or more ``client.py`` processes, which
play rounds: each round every connection must receive COUNT messages, seq 0 first.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from latency import merged_histogram, merged_percentile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVERS = {
    "iii-live": ([sys.executable, str(HERE / "servers" / "iii_live_server.py")], "/stream/bench/g", "ws"),
    "websockets broadcast()": ([sys.executable, str(HERE / "servers" / "websockets_server.py")], "/", "ws"),
    "tornado write_message": ([sys.executable, str(HERE / "servers" / "tornado_server.py")], "/", "ws"),
    "python-socketio": ([sys.executable, str(HERE / "servers" / "socketio_server.py")], "/", "socketio"),
    "socket.io (node)": (["node", str(HERE / "servers" / "socketio_server.mjs")], "/", "socketio"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_open_files() -> int:
    """Lift this process's open-files limit to the hard limit (children inherit it)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _schedstat(pid: int, field: int) -> float:
    """A ``schedstat`` field (ns), summed over the process's threads, in seconds."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[field])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1e9


def cpu_seconds(pid: int) -> float:
    """CPU time of the process's threads (nanosecond resolution, unlike ``/proc/PID/stat``)."""
    return _schedstat(pid, 0)


def run_queue_seconds(pid: int) -> float:
    """Time the process's threads spent runnable but waiting for a core."""
    return _schedstat(pid, 1)


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


def cpu_stall_seconds() -> float:
    """Time some runnable task on this machine waited for a core (``/proc/pressure/cpu``)."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return 0.0
    return int(some.rsplit("total=", 1)[1]) / 1e6


def wait_for_quiet(threshold: float = 0.25, window: float = 1.0, patience: float = 300.0) -> float:
    """Wait (at most ``patience`` seconds) until other work leaves the cores alone: the share
    of the last ``window`` seconds in which some task waited for a core is below
    ``threshold``. Call it while the benchmark's own processes are idle. Returns that share."""
    deadline = time.monotonic() + patience
    while True:
        before = cpu_stall_seconds()
        time.sleep(window)
        share = (cpu_stall_seconds() - before) / window
        if share < threshold or time.monotonic() > deadline:
            return share


def command_line() -> str:
    """How this benchmark was run, as a reader would type it (without where its output went)."""
    args = sys.argv[1:]
    kept = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif arg != "--no-report" and not arg.startswith("--out="):
            kept.append(shlex.quote(arg))
    return " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *kept])


def load() -> str:
    """The load average, noted beside figures measured on a shared machine."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> dict:
    """What the figures were measured on."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "date": time.strftime("%Y-%m-%d"),
    }


def ensure_node_peer() -> None:
    if shutil.which("node") is None or not (HERE / "node_modules" / "socket.io").exists():
        sys.exit("install the Node peer first: npm ci --prefix benchmarks")


class Server:
    """One server under test, listening on a free port; ``extra`` arguments follow the port."""

    def __init__(self, name: str, *extra: str) -> None:
        command, self.path, self.protocol = SERVERS[name]
        self.name = name
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": f"{HERE / 'servers'}{os.pathsep}{ROOT}"}
        self.proc = subprocess.Popen(
            [*command, str(self.port), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=HERE,
        )
        read_json(self.proc, 60)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.path}"

    def rss_kb(self) -> int:
        return rss_kb(self.proc.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def waited_seconds(self) -> float:
        return run_queue_seconds(self.proc.pid)

    def start_sending(self, count: int, rate: float) -> None:
        self.proc.stdin.write(f"go {count} {rate}\n")
        self.proc.stdin.flush()

    def sent(self, timeout: float) -> dict:
        """``{"sent", "send_s"}`` once the server has sent what ``start_sending`` asked for."""
        return read_json(self.proc, timeout)

    def stop(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(10)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


class Subscribers:
    """``n`` connections to ``urls`` (round-robin), held by ``processes`` client processes."""

    def __init__(self, urls: list[str], protocol: str, n: int, processes: int = 1) -> None:
        self.n = n
        self.procs: list[subprocess.Popen] = []
        shares = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
        start = 0
        for share in shares:
            rotated = urls[start % len(urls) :] + urls[: start % len(urls)]
            start += share
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, str(HERE / "client.py"), ",".join(rotated), protocol, str(share)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    cwd=HERE,
                )
            )
        self.connected = sum(read_json(p, 300)["ready"] for p in self.procs)

    def start_round(self, count: int, timeout: float) -> None:
        for p in self.procs:
            p.stdin.write(f"{count} {timeout}\n")
            p.stdin.flush()

    def finish_round(self, timeout: float) -> dict:
        """Every process's results of the round, merged."""
        parts = [read_json(p, timeout) for p in self.procs]
        histograms = [part["histogram"] for part in parts]
        exact = len(parts) == 1
        firsts = [part["first_ns"] for part in parts if part["first_ns"]]
        return {
            "received": sum(part["received"] for part in parts),
            "expected": sum(part["expected"] for part in parts),
            "in_order": all(part["in_order"] for part in parts),
            "order_errors": sum(part["order_errors"] for part in parts),
            "first_ns": min(firsts) if firsts else 0,
            "last_ns": max(part["last_ns"] for part in parts),
            "p50_ms": parts[0]["p50_ms"] if exact else merged_percentile(histograms, 0.50),
            "p99_ms": parts[0]["p99_ms"] if exact else merged_percentile(histograms, 0.99),
            "max_ms": max((part["max_ms"] or 0) for part in parts) or None,
            "histogram": merged_histogram(histograms),
            "closed": sum(part["closed"] for part in parts),
        }

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs)

    def close(self) -> None:
        for p in self.procs:
            try:
                p.stdin.close()
                p.wait(30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                p.kill()
                p.wait()


def play_round(server: Server, subscribers: Subscribers, count: int, rate: float, timeout: float) -> dict:
    """``count`` messages at ``rate`` (0: full speed) to every subscriber: deliveries, latency, CPU.

    A server with ``counters()`` (``{name: read}``) also gets each counter's growth over the
    round in the result."""
    subscribers.start_round(count, timeout)
    counters = server.counters() if hasattr(server, "counters") else {}
    counted_before = {name: read() for name, read in counters.items()}
    cpu_before = server.cpu_seconds()
    waited_before = server.waited_seconds()
    client_cpu_before = subscribers.cpu_seconds()
    stall_before = cpu_stall_seconds()
    go_ns = time.monotonic_ns()
    server.start_sending(count, rate)
    sent = server.sent(timeout + 60)
    result = subscribers.finish_round(timeout + 60)
    cpu = server.cpu_seconds() - cpu_before
    waited = server.waited_seconds() - waited_before
    wall = (time.monotonic_ns() - go_ns) / 1e9
    stalled = cpu_stall_seconds() - stall_before
    client_cpu = subscribers.cpu_seconds() - client_cpu_before
    elapsed = (result["last_ns"] - go_ns) / 1e9 if result["last_ns"] else None
    result.update({name: round(read() - counted_before[name], 3) for name, read in counters.items()})
    result.update(
        messages=count,
        rate=rate,
        send_s=sent["send_s"],
        deliveries_per_s=result["received"] / elapsed if elapsed else 0.0,
        server_cpu_s=round(cpu, 3),
        client_cpu_s=round(client_cpu, 3),
        server_waited_s=round(waited, 3),
        cpu_pressure=round(stalled / wall, 3),
        elapsed_s=elapsed,
        cpu_us_per_delivery=cpu / result["received"] * 1e6 if result["received"] else None,
    )
    return result


class RedisServer:
    """A throwaway redis-server on a free port (no persistence)."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            sys.exit("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/tmp",
        )
        deadline = time.monotonic() + 10
        while self.cli("PING") != "PONG":
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def cli(self, *args: str) -> str:
        out = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True)
        return out.stdout.strip()

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
