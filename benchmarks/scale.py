"""Storage at scale: memory per stored item, stream::set from Python, DataFrames in and out.

    python benchmarks/scale.py                      # 1,000,000 items and rows, best of 3
    python benchmarks/scale.py --rows 100000 --repeat 1

Each measurement runs in a process of its own, so memory figures are of one thing at a
time. Peers in the same run: perspective-python's indexed ``Table.update`` with the same
DataFrame (``--peer-path`` adds a directory to the peer's path, for example one holding
pyarrow, which perspective needs for DataFrames), and a plain ``df.to_dict("records")``.
Times are the best of ``--repeat`` runs (the median is in scale.json); the machine's load
average is printed with them, as other work on it slows everything down.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SET_SECONDS = 0.5
SET_RUNS = 10


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class PeakRss:
    """Samples this process's RSS every millisecond while in use."""

    def __enter__(self) -> PeakRss:
        self.peak = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())


# -- measurements, each run in a child process --------------------------------------------


def measure_memory(rows: int, store_method: str) -> dict:
    """RSS per item after ``rows`` writes (a file store: once its snapshots are written)."""
    import iii_live
    from iii_live import codec

    def value(n: int) -> dict:
        return {"x": n % 1000 / 1000, "y": n % 97, "name": "abc"}

    with tempfile.TemporaryDirectory() as tmp:
        adapter = {"name": "kv", "config": {"store_method": store_method, "file_path": tmp}}
        engine = iii_live.start(port=0, background=True, engine_port=None, adapter=adapter)
        s = engine.stream("mem")
        gc.collect()
        before = rss()
        started = time.perf_counter()
        for n in range(rows):
            s.set("g", str(n), value(n))
        seconds = time.perf_counter() - started
        engine.adapter.save()  # type: ignore[attr-defined]
        gc.collect()
        per_item = (rss() - before) / rows
        engine.stop()
    json_size = sum(len(codec.dumps(value(n))) for n in range(rows)) / rows
    return {
        "bytes_per_item": per_item,
        "json_bytes": json_size,
        "overhead": per_item - json_size,
        "seconds": seconds,
    }


def measure_set() -> dict:
    import orjson

    import iii_live

    def rate(write) -> tuple[float, float]:
        rates = []
        for _ in range(SET_RUNS):
            count, started = 0, time.perf_counter()
            while time.perf_counter() - started < SET_SECONDS:
                for _ in range(1000):
                    write(count)
                    count += 1
            rates.append(count / (time.perf_counter() - started))
        return max(rates), statistics.median(rates)

    engine = iii_live.start(port=0, background=True, engine_port=None)
    stream = engine.stream("bench")
    store: dict[str, bytes] = {}
    baseline = rate(lambda i: store.__setitem__(f"x{i % 100}", b"%b" % orjson.dumps({"seq": i})))
    best, median = rate(lambda i: stream.set("a", f"x{i % 100}", {"seq": i}))
    engine.stop()
    return {"best": best, "median": median, "baseline_best": baseline[0]}


def make_frame(rows: int, with_id: bool = False):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.random(rows),
            "y": rng.integers(0, 1000, rows),
            "name": [f"name-{n % 1000}" for n in range(rows)],
            "ts": pd.date_range("2026-01-01", periods=rows, freq="s"),
        },
        index=pd.Index([f"r{n}" for n in range(rows)]),
    )
    changed = frame.copy()
    picked = rng.choice(rows, max(1, rows // 100), replace=False)
    changed.iloc[picked, 0] = -1.0
    if with_id:
        frame, changed = (f.rename_axis("id").reset_index() for f in (frame, changed))
    return frame, changed, len(picked)


def measure_iii_live(rows: int) -> dict:
    import iii_live

    frame, changed, count = make_frame(rows)
    engine = iii_live.start(port=0, background=True, engine_port=None)
    s = engine.stream("frames")
    gc.collect()
    with PeakRss() as peak:
        started = time.perf_counter()
        s.write_frame("g", frame)
        write = time.perf_counter() - started
    gc.collect()
    final = rss()
    events = []
    engine.subscribe("frames", "g", events.append)
    started = time.perf_counter()
    counts = s.write_frame("g", changed)
    rewrite = time.perf_counter() - started
    assert counts["updated"] == count and len(events) == 1 + count, (counts, len(events))
    started = time.perf_counter()
    read = s.to_frame("g")
    to_frame = time.perf_counter() - started
    assert read.shape == frame.shape
    engine.stop()
    return {
        "write": write,
        "rewrite": rewrite,
        "to_frame": to_frame,
        "peak_rss": peak.peak,
        "final_rss": final,
        "events_on_rewrite": len(events) - 1,
    }


def measure_to_dict(rows: int) -> dict:
    frame, _, _ = make_frame(rows)
    started = time.perf_counter()
    frame.to_dict("records")
    return {"write": time.perf_counter() - started}


def measure_perspective(rows: int) -> dict:
    try:
        import perspective
    except ImportError as exc:
        return {"unavailable": str(exc)}
    frame, changed, _ = make_frame(rows, with_id=True)
    client = perspective.Server().new_local_client()
    try:
        table = client.table(frame.head(0), index="id")
    except ImportError as exc:  # perspective needs pyarrow for DataFrames
        return {"unavailable": str(exc)}
    started = time.perf_counter()
    table.update(frame)
    write = time.perf_counter() - started
    started = time.perf_counter()
    table.update(changed)
    rewrite = time.perf_counter() - started
    view = table.view()
    started = time.perf_counter()
    read = view.to_pandas()
    to_frame = time.perf_counter() - started
    assert len(read) == rows
    return {"write": write, "rewrite": rewrite, "to_frame": to_frame}


MEASUREMENTS = {
    "memory": measure_memory,
    "set": measure_set,
    "iii_live": measure_iii_live,
    "to_dict": measure_to_dict,
    "perspective": measure_perspective,
}


# -- the driver ------------------------------------------------------------------------------


def child(name: str, *args: object, peer_path: str | None = None) -> dict:
    env = dict(os.environ)
    if peer_path and name == "perspective":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [peer_path, env.get("PYTHONPATH")]))
    code = (
        f"import json, sys; sys.path.insert(0, {str(HERE)!r}); import scale; "
        f"print(json.dumps(scale.MEASUREMENTS[{name!r}](*{list(args)!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def best_of(runs: list[dict], key: str) -> float:
    return min(run[key] for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peer-path", help="a directory added to the perspective peer's path")
    args = parser.parse_args()
    rows, repeat = args.rows, args.repeat
    results: dict = {"rows": rows, "repeat": repeat, "load_before": load(), "python": sys.version.split()[0]}
    print(f"{rows:,} items/rows, best of {repeat}; load average {results['load_before']}")

    results["memory"] = {method: child("memory", rows, method) for method in ("in_memory", "file_based")}
    results["set"] = child("set")
    runs = {
        name: [child(name, rows, peer_path=args.peer_path) for _ in range(repeat)]
        for name in ("iii_live", "perspective", "to_dict")
    }
    results["runs"] = runs
    results["load_after"] = load()

    print("\nMemory per stored item (target: JSON size + 120 bytes)")
    print("| store | bytes per item (RSS) | JSON | overhead |")
    print("|---|---|---|---|")
    for method, m in results["memory"].items():
        print(f"| kv {method} | {m['bytes_per_item']:.0f} | {m['json_bytes']:.1f} | {m['overhead']:.0f} |")
    st = results["set"]
    print(
        f"\nstream::set, no subscriber (target 200,000/s): best {st['best']:,.0f}/s, "
        f"median {st['median']:,.0f}/s "
        f"({st['best'] / st['baseline_best']:.2f}x orjson.dumps + dict at {st['baseline_best']:,.0f}/s)"
    )
    print(f"\nDataFrame of {rows:,} rows x 4 columns, seconds (best of {repeat})")
    print("| | write | rewrite, 1% changed | read back |")
    print("|---|---|---|---|")
    ours = runs["iii_live"]
    print(
        f"| iii-live write_frame / to_frame | {best_of(ours, 'write'):.2f} | {best_of(ours, 'rewrite'):.2f} "
        f"| {best_of(ours, 'to_frame'):.2f} |"
    )
    peer = runs["perspective"]
    if "unavailable" in peer[0]:
        print(f"| perspective Table.update | unavailable: {peer[0]['unavailable']} | | |")
    else:
        print(
            f"| perspective indexed Table.update / view.to_pandas | {best_of(peer, 'write'):.2f} "
            f"| {best_of(peer, 'rewrite'):.2f} | {best_of(peer, 'to_frame'):.2f} |"
        )
    print(f"| df.to_dict('records') | {best_of(runs['to_dict'], 'write'):.2f} | | |")
    ratio = max(run["peak_rss"] / run["final_rss"] for run in ours)
    print(
        f"\nPeak RSS during write_frame / RSS after it (target at most 2): {ratio:.2f} "
        f"(final {ours[0]['final_rss'] / 1e6:.0f} MB, peak {max(r['peak_rss'] for r in ours) / 1e6:.0f} MB); "
        f"events on the rewrite: {ours[0]['events_on_rewrite']:,}"
    )
    print(f"load average after: {results['load_after']}")
    (HERE / "scale.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
