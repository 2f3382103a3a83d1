"""BENCHMARKS.md's fan-out blocks and the plot, written from benchmarks/results.json.

Only the marked blocks this report owns are replaced (``sections.replace_block``): the
summary at the top, the fan-out sections and the in-process writes; every other section
and any text written by hand outside the markers stays as it is."""

from __future__ import annotations

import json
from pathlib import Path

from sections import replace_block, replace_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OURS = "iii-live"


def write_report(results_path: Path) -> None:
    data = json.loads(results_path.read_text())
    results = data["results"]
    plot = _plot(results, ROOT / "BENCHMARKS.png")
    head, sections = _markdown(data, plot)
    replace_block("fan-out summary", "\n".join(head), None)
    for title, lines in sections:
        replace_section(title, lines)


def _find(results, server, n, mode):
    for r in results:
        if r["server"] == server and r["subscribers"] == n and r["mode"] == mode:
            return r
    return None


def _targets(results) -> str:
    ours = _find(results, OURS, 1000, "max")
    ws = _find(results, "websockets broadcast()", 1000, "max")
    sio = _find(results, "python-socketio", 1000, "max")
    fixed = _find(results, OURS, 1000, "100/s")
    if not (ours and ws and sio and fixed):
        return "(run all servers at 1,000 subscribers to check the targets)"
    checks = [
        (
            f"{ours['deliveries_per_s'] / ws['deliveries_per_s']:.2f}× websockets",
            ours["deliveries_per_s"] >= 1.5 * ws["deliveries_per_s"],
        ),
        (
            f"{ours['deliveries_per_s'] / sio['deliveries_per_s']:.1f}× python-socketio",
            ours["deliveries_per_s"] >= 3 * sio["deliveries_per_s"],
        ),
        (f"p99 {fixed['p99_ms']:.1f} ms at 100 writes/s", fixed["p99_ms"] <= 25),
        (f"{ours['kb_per_connection']:.1f} KB per idle connection", ours["kb_per_connection"] <= 16),
        (
            "every event in order" if ours["in_order"] and fixed["in_order"] else "ORDER ERRORS",
            ours["in_order"] and fixed["in_order"],
        ),
    ]
    return "Measured: " + "; ".join(f"{text} ({'met' if ok else 'NOT met'})" for text, ok in checks) + "."


def _fmt(value, spec):
    return "–" if value is None else format(value, spec)


def _markdown(data, plot: Path | None) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The summary's lines, and each section's ``(title, lines)``."""
    results = data["results"]
    machine = data["machine"]
    servers = list(dict.fromkeys(r["server"] for r in results))
    sizes = sorted({r["subscribers"] for r in results})
    lines = [
        "Targets (1,000 subscribers, 2 cores, loopback): deliveries per second at least 1.5× the",
        "`websockets` `broadcast()` peer and 3× python-socketio; p99 write-to-receive latency at most",
        "25 ms at 100 writes/s; at most 16 KB of memory per idle connection; every subscriber gets",
        "every event in order.",
        "",
        _targets(results),
        "",
        "Fan-out of one writer to N WebSocket subscribers of one group, on loopback, every",
        "server and the client harness on the same machine. Measured with",
        "",
        "```bash",
        "pip install -e '.[bench]' && npm ci --prefix benchmarks && python benchmarks/run.py",
        "python benchmarks/inprocess.py   # the in-process writes",
        "```",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}, "
        f"Linux {machine['kernel']}, {machine['date']}. The client harness shares the two cores with",
        "the server under test, so figures are relative costs: compare servers within a row.",
        "Full-speed figures vary by up to a third from one run to the next on this machine; compare",
        "ratios, not absolute numbers, and rerun before drawing fine conclusions.",
        "",
        "Every server sends the same iii wrapper frame (about 150 bytes) per message; iii-live",
        "goes through `stream::set` (storage, event, fan-out) for each one. The client checks",
        "that every subscriber receives every message in order.",
        "",
        "## Deliveries per second, writer as fast as it can",
        "",
        "| subscribers | " + " | ".join(servers) + " |",
        "|---|" + "---|" * len(servers),
    ]
    for n in sizes:
        cells = []
        for server in servers:
            r = _find(results, server, n, "max")
            cells.append(_fmt(r and r["deliveries_per_s"], ",.0f") + ("" if not r or r["in_order"] else " ⚠"))
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "iii-live as a ratio to each peer (higher is better):",
        "",
        "| subscribers | " + " | ".join(s for s in servers if s != OURS) + " |",
        "|---|" + "---|" * (len(servers) - 1),
    ]
    for n in sizes:
        ours = _find(results, OURS, n, "max")
        cells = []
        for server in servers:
            if server == OURS:
                continue
            r = _find(results, server, n, "max")
            ratio = (
                ours["deliveries_per_s"] / r["deliveries_per_s"]
                if ours and r and r["deliveries_per_s"]
                else None
            )
            cells.append(_fmt(ratio, ".2f") + "×" if ratio else "–")
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Latency at a fixed rate (write to receive, ms: p50 / p99)",
        "",
        "| subscribers | rate | " + " | ".join(servers) + " |",
        "|---|---|" + "---|" * len(servers),
    ]
    for n in sizes:
        rate_mode = next((r["mode"] for r in results if r["subscribers"] == n and r["mode"] != "max"), None)
        cells = []
        for server in servers:
            r = _find(results, server, n, rate_mode)
            cells.append(
                f"{_fmt(r and r['p50_ms'], '.1f')} / {_fmt(r and r['p99_ms'], '.1f')}"
                + ("" if not r or r["in_order"] else " ⚠")
            )
        lines.append(f"| {n:,} | {rate_mode} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Server cost",
        "",
        "| subscribers | "
        + " | ".join(
            f"{s}: µs CPU per delivery / KB per idle connection" if i == 0 else s
            for i, s in enumerate(servers)
        )
        + " |",
        "|---|" + "---|" * len(servers),
    ]
    for n in sizes:
        cells = []
        for server in servers:
            r = _find(results, server, n, "max")
            cells.append(
                f"{_fmt(r and r['cpu_us_per_delivery'], '.1f')} / {_fmt(r and r['kb_per_connection'], '.1f')}"
            )
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    if plot:
        lines += ["", f"![deliveries per second by subscribers]({plot.relative_to(ROOT).as_posix()})"]
    lines += _inprocess_section()
    return _by_section(lines)


def _by_section(lines: list[str]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Split at each ``## `` heading: the lines before the first, and ``(title, lines)``."""
    head: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("## "):
            sections.append((line[3:], []))
        elif sections:
            sections[-1][1].append(line)
        else:
            head.append(line)
    return head, [(title, body[1:] if body[:1] == [""] else body) for title, body in sections]


def _inprocess_section() -> list[str]:
    path = HERE / "inprocess.json"
    if not path.exists():
        return []
    results = json.loads(path.read_text())["results"]
    baseline = results["baseline: orjson.dumps + dict"]
    lines = [
        "",
        "## In-process writes",
        "",
        "`python benchmarks/inprocess.py`: writes per second from Python (median of three).",
        "",
        "| write | writes/s | vs. baseline |",
        "|---|---|---|",
    ]
    for name, rate in results.items():
        lines.append(f"| {name} | {rate:,.0f} | {rate / baseline:.2f}× |")
    return lines


def _plot(results, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    servers = list(dict.fromkeys(r["server"] for r in results))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for server in servers:
        runs = [r for r in results if r["server"] == server]
        width = 2.5 if server == OURS else 1.2
        for ax, at_full_speed, figure in ((left, True, "deliveries_per_s"), (right, False, "p99_ms")):
            rows = sorted(
                (r for r in runs if (r["mode"] == "max") == at_full_speed), key=lambda r: r["subscribers"]
            )
            ax.plot(
                [r["subscribers"] for r in rows],
                [r[figure] for r in rows],
                marker="o",
                label=server,
                linewidth=width,
            )
    left.set(
        xscale="log", xlabel="subscribers", ylabel="deliveries / s", title="Throughput (writer at full speed)"
    )
    right.set(
        xscale="log",
        yscale="log",
        xlabel="subscribers",
        ylabel="p99 latency (ms)",
        title="p99 latency at a fixed rate",
    )
    for ax in (left, right):
        ax.grid(alpha=0.3)
    left.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
