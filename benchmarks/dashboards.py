"""One live dashboard, many viewers: iii-live's published page, Voila and ``panel serve``.

    python benchmarks/dashboards.py                  # everything, one run (about 10 minutes)
    python benchmarks/dashboards.py --quick          # small counts, a smoke run
    python benchmarks/dashboards.py --only iii-live  # one system (iii-live, voila, panel)

The same dashboard everywhere: a markdown heading, a table of 200 hosts sorted by cpu and a
chart of the last 300 load points, while a writer makes ``--rate`` item changes per second
across the two groups (70 % host updates, 30 % load points). Every value carries ``sent``,
the writer's CLOCK_MONOTONIC stamp, so a viewer's latency is its receive time minus it.

- **iii-live**: ``iii-live serve --dashboard app.py`` (the app builds the dashboard, publishes
  it and writes, as a kernel would). Simulated viewers speak exactly what the page speaks
  (one socket on ``/d/ops/ws``, joins of the layout and each group with ``resume``) and
  check each group's ``seq`` has no gap; 5 real Chromium pages open the link and, once the
  writer stops, must hold the engine's exact state.
- **Voila**: the same dashboard as a notebook (``iii_live.Dashboard`` of ``LiveTable`` and
  ``LiveChart``), one kernel per viewer, state shared through a real redis-server where
  the writer (an iii-live engine on the Redis adapter) writes. A viewer loads the page
  (Voila runs the notebook in a new kernel) and opens the kernel's socket as the page does.
- **panel serve**: Panel's streaming Tabulator (``patch``) and a Bokeh line chart
  (``stream`` with ``rollover``), fed every 50 ms (the widgets' frame) from a feed thread
  in the server process. A viewer loads the page and speaks Bokeh's protocol (PULL-DOC).

Figures: server CPU (cores, the whole process tree) and memory per viewer (RSS growth
over the idle dashboard, divided by viewers), p99 from write to viewer socket, and for
Voila and Panel the most viewers held before p99 passes 1 s (doubling the count). Results
go to benchmarks/dashboards.json and the "Dashboards" section of BENCHMARKS.md.

Simulated viewers run in their own processes (``viewers`` mode below): raw sockets, no
WebSocket library, one regular expression per chunk, so they cost the servers' machine
as little as possible. A viewer answers the engine's pings with a pong when a chunk holds
a ping opcode byte (unsolicited pongs are allowed, so a false alarm is harmless). On a
shared machine the servers and the simulated viewers run at nice -5 (all three systems
alike) and the Chromium pages on one core at nice 10.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import base64
import json
import os
import platform
import random
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks.sections import replace_block  # noqa: E402

HOSTS = 200
LOAD_POINTS = 300
LOAD_IDS = 600
CLK_TCK = os.sysconf("SC_CLK_TCK")
STAMP = re.compile(rb'"@(\d+)"')
SEQ = re.compile(rb'"seq":(\d+),"epoch":"[^"]*","streamName":"ops","groupId":"(\w+)"')
PING = 0x89
PONG = b"\x8a\x80\0\0\0\0"
SERVER_NICENESS = -5
"""Every server under test (and Voila's writer and Redis) and the simulated viewers run at
this priority, all three systems alike, so other work on a shared machine does not starve
them."""
VIEW_ALIVE_SECONDS = 5.0
"""How often a simulated Voila page renews its widget views' leases (as the page does)."""
PAGES_NICENESS = 10
"""The Chromium pages (each repaints at up to 60 frames a second) share one core and yield
it to the server and the simulated viewers, as they would on viewers' own machines. Every
thread is reniced: Chromium runs its display threads at -8 itself."""
SEEN_LIMIT = 200_000
"""Stamps a Voila or Panel viewer remembers (those of the last minute once past this)."""
SAMPLE_EVERY = 10
"""iii-live viewers: every tenth one records latencies and checks seq (all count frames)."""

# -- the writer: the same changes for every system ---------------------------------------------


def seed(write: Any) -> None:
    """The groups as the dashboard first shows them."""
    now = time.monotonic_ns()
    for i in range(HOSTS):
        write("hosts", f"h{i:03d}", host_value(i, random.random() * 100, now))
    for t in range(LOAD_POINTS):
        write(
            "load", f"{t % LOAD_IDS:03d}", {"t": t, "load": round(random.random() * 10, 2), "sent": f"@{now}"}
        )


def host_value(i: int, cpu: float, now: int) -> dict[str, Any]:
    return {"host": f"h{i:03d}", "region": ("eu", "us", "ap")[i % 3], "cpu": round(cpu, 1), "sent": f"@{now}"}


def feed(write: Any, rate: float, stop: threading.Event) -> int:
    """Write ``rate`` changes per second until ``stop``; returns how many were written."""
    t = LOAD_POINTS
    written = 0
    started = time.monotonic()
    while not stop.is_set():
        due = int((time.monotonic() - started) * rate)
        if written >= due:
            time.sleep(0.001)
            continue
        for _ in range(due - written):
            now = time.monotonic_ns()
            if random.random() < 0.7:
                i = random.randrange(HOSTS)
                write("hosts", f"h{i:03d}", host_value(i, random.random() * 100, now))
            else:
                write(
                    "load",
                    f"{t % LOAD_IDS:03d}",
                    {"t": t, "load": round(random.random() * 10, 2), "sent": f"@{now}"},
                )
                t += 1
            written += 1
    return written


def stop_file_watch(path: str) -> threading.Event:
    """An event set once ``path`` exists (the orchestrator's way of stopping a writer)."""
    stop = threading.Event()

    def watch() -> None:
        while not os.path.exists(path):
            time.sleep(0.05)
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
    return stop


IIILIVE_APP = """
import os, threading
import iii_live
from benchmarks.dashboards import feed, seed, stop_file_watch

ops = engine.stream("ops")
seed(lambda group, item, value: ops.set(group, item, value))
hosts = ops.table("hosts", sort_by="cpu", ascending=False, height=300)
load = ops.chart("load", x="t", y="load", window=300, height=300)
dashboard = iii_live.Dashboard("Fleet", [["# Fleet\\nHosts and load, live.", hosts], [load]])
engine.publish(dashboard, name="ops")
stop = stop_file_watch(os.environ["DASH_STOP"])
threading.Thread(
    target=feed, args=(lambda g, i, v: ops.set(g, i, v), float(os.environ["DASH_RATE"]), stop), daemon=True
).start()
"""

VOILA_CELLS = [
    """
import os, iii_live
redis = {"name": "redis", "config": {"redis_url": os.environ["DASH_REDIS_URL"]}}
engine = iii_live.start(port=0, engine_port=None, adapter=redis)
ops = engine.stream("ops")
hosts = ops.table("hosts", sort_by="cpu", ascending=False, height=300)
load = ops.chart("load", x="t", y="load", window=300, height=300)
iii_live.Dashboard("Fleet", [["# Fleet\\nHosts and load, live.", hosts], [load]])
"""
]

PANEL_FEED = """
import os, threading
from benchmarks.dashboards import feed, seed, stop_file_watch

class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.state = {"hosts": {}, "load": {}}
        self.changes = []
    def write(self, group, item, value):
        with self.lock:
            self.state[group][item] = value
            self.changes.append((group, item, value))
    def since(self, cursor):
        with self.lock:
            return self.changes[cursor:], len(self.changes)

log = Log()
seed(log.write)
threading.Thread(
    target=feed, args=(log.write, float(os.environ["DASH_RATE"]), stop_file_watch(os.environ["DASH_STOP"])),
    daemon=True,
).start()
"""

PANEL_APP = """
import pandas as pd
import panel as pn
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure
import dash_feed

log = dash_feed.log
changes, cursor = log.since(0)
hosts = pd.DataFrame.from_dict(dict(log.state["hosts"]), orient="index").sort_index()
row_of = {item: i for i, item in enumerate(hosts.index)}
table = pn.widgets.Tabulator(hosts, sorters=[{"field": "cpu", "dir": "desc"}], height=300, disabled=True)
points = sorted(log.state["load"].values(), key=lambda p: p["t"])[-300:]
source = ColumnDataSource({k: [p[k] for p in points] for k in ("t", "load", "sent")})
chart = figure(height=300, sizing_mode="stretch_width")
chart.line("t", "load", source=source)

def update():
    global cursor
    changes, cursor = log.since(cursor)
    latest, new_points = {}, []
    for group, item, value in changes:
        if group == "hosts":
            latest[item] = value
        else:
            new_points.append(value)
    if latest:
        rows = [(row_of[item], value) for item, value in latest.items()]
        table.patch({k: [(row, value[k]) for row, value in rows] for k in ("cpu", "sent")}, as_index=False)
    if new_points:
        source.stream({k: [p[k] for p in new_points] for k in ("t", "load", "sent")}, rollover=300)

pn.state.add_periodic_callback(update, period=50)
pn.Column("# Fleet\\nHosts and load, live.", pn.Row(table, pn.pane.Bokeh(chart))).servable()
"""


def redis_writer(redis_url: str, rate: float, stop_path: str) -> None:
    """The Voila case's writer: an iii-live engine on the Redis adapter, writing at ``rate``."""
    import iii_live

    adapter = {"name": "redis", "config": {"redis_url": redis_url}}
    engine = iii_live.start(port=0, background=True, engine_port=None, adapter=adapter)
    ops = engine.stream("ops")
    seed(lambda g, i, v: ops.set(g, i, v))
    print("ready", flush=True)
    feed(lambda g, i, v: ops.set(g, i, v), rate, stop_file_watch(stop_path))
    engine.stop()


# -- simulated viewers ---------------------------------------------------------------------------


class Recorder:
    """What the viewers of one process saw while recording."""

    def __init__(self) -> None:
        self.recording = False
        self.latencies = array.array("q")
        self.frames = 0
        self.gaps = 0
        self.closed = 0

    def stamps(self, data: bytes, record: bool, seen: set[bytes] | None = None) -> None:
        """Count the values in ``data`` (and record their latencies). With ``seen``, the
        stamps a viewer already had, a value sent again (a whole table re-sent) is not a
        new delivery: only first arrivals count, whether recording or not."""
        if seen is not None:
            found = [stamp for stamp in STAMP.findall(data) if stamp not in seen]
            seen.update(found)
            if len(seen) > SEEN_LIMIT:
                cutoff = time.monotonic_ns() - 60 * 10**9
                kept = {stamp for stamp in seen if int(stamp) > cutoff}
                seen.clear()
                seen.update(kept)
        elif not self.recording:
            return
        elif not record:  # counted in C: most viewers only read
            self.frames += data.count(b'"@')
            return
        else:
            found = STAMP.findall(data)
        if self.recording:
            self.frames += len(found)
            now = time.monotonic_ns()
            self.latencies.extend(now - int(stamp) for stamp in found)


def upgrade_request(path: str, host: str, protocols: str | None = None) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
    ]
    if protocols:
        lines.append(f"Sec-WebSocket-Protocol: {protocols}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def text_frame(text: bytes, opcode: int = 0x81) -> bytes:
    """A masked client text frame, or another ``opcode`` (a zero mask key leaves the payload
    as it is)."""
    size = len(text)
    head = bytes((opcode, 0x80 | size)) if size < 126 else bytes((opcode, 0xFE)) + size.to_bytes(2, "big")
    return head + b"\0\0\0\0" + text


class Viewer(asyncio.Protocol):
    """A raw WebSocket viewer. Subclasses say what to send once upgraded and how to read."""

    def __init__(self, path: str, host: str, recorder: Recorder, record: bool, protocols: str | None = None):
        self.request = upgrade_request(path, host, protocols)
        self.recorder = recorder
        self.record = record
        self.upgraded = False
        self.buffer = b""
        self.ready = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.seen: set[bytes] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.recorder.closed += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before ready"))

    def send(self, text: bytes) -> None:
        assert self.transport is not None
        self.transport.write(text_frame(text))

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            self.buffer += data
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(self.buffer[:200].decode(errors="replace")))
                return
            self.upgraded = True
            data, self.buffer = self.buffer[end + 4 :], b""
            self.opened()
        if PING in data:
            self.transport.write(PONG)  # type: ignore[union-attr]
        data = self.buffer + data
        cut = data.rfind(b"}") + 1  # a stamp never straddles what is read now and what is kept
        self.buffer = data[cut:]
        self.read(data[:cut])

    def opened(self) -> None: ...

    def read(self, data: bytes) -> None:
        self.recorder.stamps(data, self.record)


class IiiViewer(Viewer):
    """What the dashboard page speaks: joins with ``resume`` on ``/d/<name>/ws``, the layout
    first, then every group it shows; it reads every frame and checks each group's seq."""

    def __init__(self, url: str, recorder: Recorder, record: bool) -> None:
        parts = urlsplit(url)
        path = parts.path + "/ws?sync=keyed" + (f"&{parts.query}" if parts.query else "")
        super().__init__(path, parts.netloc, recorder, record)
        self.name = parts.path.rsplit("/", 1)[1]
        self.next_seq: dict[bytes, int] = {}
        self.groups: list[str] = []
        self.joined = False
        self.syncs = 0

    def join(self, sub: str, stream: str, group: str) -> None:
        data = {"subscriptionId": sub, "streamName": stream, "groupId": group, "resume": True}
        self.send(json.dumps({"type": "join", "data": data}, separators=(",", ":")).encode())

    def opened(self) -> None:
        self.join("layout", "iii-live~dashboards", self.name)

    def read(self, data: bytes) -> None:
        if not self.joined:  # the layout's sync comes first: join the groups it shows, as the page does
            start = data.find(b"{")
            if start < 0:
                return
            frame, _ = json.JSONDecoder().raw_decode(data[start:].decode())
            for row in frame["event"]["data"]["layout"]["rows"]:
                for cell in row:
                    if cell["kind"] in ("table", "chart") and cell["group"] not in self.groups:
                        self.groups.append(cell["group"])
                        self.join(cell["group"], cell["stream"], cell["group"])
            self.joined = True
            return
        if not self.ready.done():
            self.syncs += data.count(b'"event":{"type":"sync"')
            if self.syncs == len(self.groups):
                self.ready.set_result(None)
        if self.record:
            for seq, group in SEQ.findall(data):
                expected = self.next_seq.get(group)
                if expected is not None and int(seq) != expected and self.recorder.recording:
                    self.recorder.gaps += 1
                self.next_seq[group] = int(seq) + 1
        self.recorder.stamps(data, self.record)


class VoilaViewer(Viewer):
    """A Voila page's kernel socket: asks for the widgets (comm_info_request), tells each it
    has a view (``ready``, as the widget's view does), then reads the deltas.

    It speaks the kernel protocol the page speaks, ``v1.kernel.websocket.jupyter.org``
    (binary frames of offsets, channel and message parts). On the legacy protocol, Voila
    0.5's server reads the header of every binary message as if it were v1, and a kernel
    message with buffers (a widget delta) sends it through a list of about 10^18 offsets."""

    PROTOCOL = "v1.kernel.websocket.jupyter.org"
    COMM = re.compile(rb'"([0-9a-f]{32})": ?\{"target_name"')

    def __init__(self, host: str, kernel_id: str, recorder: Recorder) -> None:
        path = f"/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"
        super().__init__(path, host, recorder, True, protocols=self.PROTOCOL)
        self.session = uuid.uuid4().hex
        self.comms: list[str] = []

    def message(self, msg_type: str, content: dict[str, Any]) -> bytes:
        """A shell message in the v1 layout: offsets, then the channel and each part."""
        header = {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "session": self.session,
            "username": "viewer",
            "version": "5.3",
            "date": "",
        }
        parts = [b"shell", *(json.dumps(part).encode() for part in (header, {}, {}, content))]
        offsets = [8 * (len(parts) + 2)]
        for part in parts:
            offsets.append(offsets[-1] + len(part))
        head = len(offsets).to_bytes(8, "little") + b"".join(o.to_bytes(8, "little") for o in offsets)
        return head + b"".join(parts)

    def send(self, text: bytes) -> None:
        assert self.transport is not None
        self.transport.write(text_frame(text, opcode=0x82))

    def opened(self) -> None:
        self.send(self.message("comm_info_request", {"target_name": "jupyter.widget"}))

    def tell(self, comm_id: str, content: dict[str, Any]) -> None:
        """A custom message from the widget's view, as the page sends it."""
        data = {"method": "custom", "content": content}
        self.send(self.message("comm_msg", {"comm_id": comm_id, "data": data}))

    def alive(self) -> None:
        """Renew the views' leases, as a page does while they are shown."""
        if self.transport is None or self.transport.is_closing():
            return
        for comm_id in self.comms:
            self.tell(comm_id, {"type": "alive", "views": [f"{comm_id}-view"]})
        asyncio.get_running_loop().call_later(VIEW_ALIVE_SECONDS, self.alive)

    def read(self, data: bytes) -> None:
        if b'"comm_info_reply"' in data and not self.ready.done():
            self.comms = [found.decode() for found in self.COMM.findall(data)]
            for comm_id in self.comms:
                self.tell(comm_id, {"type": "ready", "view": f"{comm_id}-view", "seq": -1})
            asyncio.get_running_loop().call_later(VIEW_ALIVE_SECONDS, self.alive)
            self.ready.set_result(None)
        self.recorder.stamps(data, True, self.seen)  # keyframes repeat old values: first arrivals only


class PanelViewer(Viewer):
    """A Bokeh document client, as BokehJS: after the server's ``ACK``, ``PULL-DOC-REQ``;
    then every ``PATCH-DOC`` the server sends."""

    def __init__(self, host: str, app_path: str, token: str, recorder: Recorder) -> None:
        super().__init__(f"{app_path}/ws", host, recorder, True, protocols=f"bokeh, {token}")
        self.pulled = False

    def read(self, data: bytes) -> None:
        if not self.pulled:
            if b'"ACK"' in data:
                self.pulled = True
                for part in (b'{"msgid":"1","msgtype":"PULL-DOC-REQ"}', b"{}", b"{}"):
                    self.send(part)
            return
        if b"PULL-DOC-REPLY" in data and not self.ready.done():
            self.ready.set_result(None)
        self.recorder.stamps(data, True, self.seen)  # patches may re-send whole columns: first arrivals only


async def open_viewer(kind: str, url: str, recorder: Recorder, index: int) -> Viewer:
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    if kind == "iii-live":
        make: Any = lambda: IiiViewer(url, recorder, index % SAMPLE_EVERY == 0)  # noqa: E731
    else:
        page = await loop.run_in_executor(None, lambda: urllib.request.urlopen(url, timeout=300).read())
        if kind == "voila":
            kernel_id = re.search(rb'"kernelId": ?"([0-9a-f-]+)"', page)
            assert kernel_id, page[:500]
            make = lambda: VoilaViewer(parts.netloc, kernel_id.group(1).decode(), recorder)  # noqa: E731
        else:
            token = re.search(rb'"token": ?"([^"]+)"', page)
            assert token, page[:500]
            make = lambda: PanelViewer(parts.netloc, parts.path, token.group(1).decode(), recorder)  # noqa: E731
    _, viewer = await loop.create_connection(make, host, port)
    await asyncio.wait_for(viewer.ready, 300)
    return viewer


async def add_viewers(kind: str, url: str, recorder: Recorder, first: int, count: int) -> list[Viewer]:
    """Connect ``count`` viewers, 50 at a time (one at a time for a page that starts a kernel)."""
    gate = asyncio.Semaphore(50 if kind == "iii-live" else 1)

    async def one(index: int) -> Viewer:
        async with gate:
            return await open_viewer(kind, url, recorder, index)

    return list(await asyncio.gather(*(one(first + i) for i in range(count))))


def percentile(ordered: list[int], p: float) -> float | None:
    """The ``p`` quantile of sorted nanoseconds, in ms."""
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] / 1e6 if ordered else None


async def viewers_main(kind: str, url: str) -> None:
    """Commands on stdin: ``add N`` (connect N more viewers), ``measure S`` (record S seconds),
    ``quit``. Answers are JSON lines on stdout."""
    loop = asyncio.get_running_loop()
    recorder = Recorder()
    viewers: list[Viewer] = []
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().split():
        if line[0] == "add":
            viewers += await add_viewers(kind, url, recorder, len(viewers), int(line[1]))
            print(json.dumps({"ready": len(viewers), "closed": recorder.closed}), flush=True)
        elif line[0] == "measure":
            recorder.latencies = array.array("q")
            recorder.frames = recorder.gaps = 0
            recorder.recording = True
            await asyncio.sleep(float(line[1]))
            recorder.recording = False
            latencies = sorted(recorder.latencies)
            answer = {
                "viewers": len(viewers),
                "frames": recorder.frames,
                "samples": len(latencies),
                "p50_ms": percentile(latencies, 0.5),
                "p99_ms": percentile(latencies, 0.99),
                "max_ms": percentile(latencies, 1.0),
                "seq_gaps": recorder.gaps,
                "closed": recorder.closed,
            }
            print(json.dumps(answer), flush=True)
        elif line[0] == "quit":
            break
    for viewer in viewers:
        if viewer.transport is not None:
            viewer.transport.close()


# -- the orchestrator -----------------------------------------------------------------------------


def favoured() -> None:
    """In a server's process, before it starts: the servers' priority."""
    os.nice(SERVER_NICENESS)


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [pid]
    try:
        for child in children.read_text().split():
            found += tree(int(child))
    except OSError:
        pass
    return found


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cores_over(pid: int, seconds: float) -> float:
    started, cpu = time.monotonic(), cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - cpu) / (time.monotonic() - started)


class Viewers:
    """A ``viewers`` subprocess."""

    def __init__(self, kind: str, url: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "viewers", kind, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            preexec_fn=favoured,  # a viewer that cannot keep up would measure itself
        )

    def command(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the viewers process exited ({self.proc.poll()})")
        return json.loads(line)

    def close(self) -> None:
        try:
            self.command("quit")
            self.proc.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def measure(groups: list[Viewers], seconds: float, server_pid: int) -> dict[str, Any]:
    """Record on every viewers process while measuring the server's CPU; merged results."""
    clients = sum(cpu_seconds(group.proc.pid) for group in groups)
    for group in groups:
        group.command(f"measure {seconds}")
    cores = cores_over(server_pid, seconds)
    answers = [group.answer() for group in groups]
    clients = sum(cpu_seconds(group.proc.pid) for group in groups) - clients
    total = sum(a["samples"] for a in answers) or 1
    return {
        "viewers": sum(a["viewers"] for a in answers),
        "frames": sum(a["frames"] for a in answers),
        "p50_ms": max((a["p50_ms"] or 0) for a in answers),
        "p99_ms": max((a["p99_ms"] or 0) for a in answers),
        "max_ms": max((a["max_ms"] or 0) for a in answers),
        "samples": total,
        "seq_gaps": sum(a["seq_gaps"] for a in answers),
        "closed": sum(a["closed"] for a in answers),
        "server_cores": round(cores, 3),
        "viewer_process_cores": round(clients / seconds, 3),
        "server_rss_mb": round(rss_mb(server_pid), 1),
    }


def wait_line(proc: subprocess.Popen[str], prefix: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"process exited before printing {prefix!r}")
        if line.startswith(prefix):
            return line.strip()
    raise RuntimeError(f"no {prefix!r} within {timeout}s")


def stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


class Pages:
    """Real Chromium pages on a dashboard's link, in a process of their own (``pages`` mode)
    that keeps Playwright's events flowing while the orchestrator measures."""

    def __init__(self, url: str, count: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "pages", url, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            preexec_fn=pages_priority,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the Chromium pages did not open")

    def hold(self, state: dict[str, dict[str, Any]]) -> bool:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(state) + "\n")
        self.proc.stdin.flush()
        return bool(json.loads(self.proc.stdout.readline())["exact"])

    def close(self) -> None:
        stop(self.proc)


def pages_priority() -> None:
    """In the pages' process: one core, low priority; Playwright's driver and Chromium inherit both."""
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    os.nice(PAGES_NICENESS)


def lower_priority() -> None:
    """Every thread of the pages' process tree at ``PAGES_NICENESS``, again and again: run as
    root, Chromium raises its display threads (nice -8) and starts new threads as it goes,
    which would put the checking pages ahead of the server they check."""
    for pid in tree(os.getpid())[1:]:
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for thread in threads:
            try:
                os.setpriority(os.PRIO_PROCESS, int(thread), PAGES_NICENESS)
            except OSError:
                continue


def pages_main(url: str, count: int) -> None:
    """Open ``count`` pages on ``url``, print ``ready``; then, given the engine's state as a
    JSON line on stdin, answer whether every page holds it exactly and shows it."""
    from playwright.sync_api import sync_playwright

    from tests.browser.servers import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pages = []
        for _ in range(count):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script("globalThis.__iiiLiveTestHooks = true;")
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(url)
            page.wait_for_function("() => (globalThis.__iiiLive || []).length === 2")
            pages.append(page)
        lower_priority()
        print("ready", flush=True)
        while not select.select([sys.stdin], [], [], 0)[0]:
            pages[0].wait_for_timeout(100)  # Playwright handles the pages' events meanwhile
            lower_priority()
        state = json.loads(sys.stdin.readline())
        top_id, top = max(state["hosts"].items(), key=lambda kv: kv[1]["cpu"])
        exact = True
        for page in pages:
            page.wait_for_function(HOLDS, arg=state)
            shown = page.evaluate(SHOWN_CPU, top_id)
            exact = exact and shown is not None and float(shown) == top["cpu"]
        print(json.dumps({"exact": exact}), flush=True)
        browser.close()


HOLDS = """(state) => (globalThis.__iiiLive || []).every((e) => {
    const want = state[e.group.split('/')[1]];
    if (e.store.items.size !== Object.keys(want).length) return false;
    for (const [id, value] of e.store.items) {
        if (JSON.stringify(value) !== JSON.stringify(want[id])) return false;
    }
    return true;
})"""
SHOWN_CPU = """(id) => document.querySelector(
    `.iii-dash-view .iii-row[data-id='${id}'] [data-column='cpu']`)?.textContent"""


def engine_state(url: str) -> dict[str, dict[str, Any]]:
    """The groups as the engine holds them, read through a viewer's socket."""
    from websockets.sync.client import connect

    parts = urlsplit(url)
    socket_url = f"ws://{parts.netloc}{parts.path}/ws?sync=keyed" + (f"&{parts.query}" if parts.query else "")
    state = {}
    with connect(socket_url, max_size=None) as ws:
        for group in ("hosts", "load"):
            data = {"subscriptionId": group, "streamName": "ops", "groupId": group}
            ws.send(json.dumps({"type": "join", "data": data}))
            state[group] = json.loads(ws.recv(timeout=30))["event"]["data"]
    return state


def run_iii_live(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    app = work / "app.py"
    app.write_text(IIILIVE_APP)
    stop_path = work / "stop-iii"
    server = subprocess.Popen(
        [
            shutil.which("iii-live") or "iii-live",
            "serve",
            "--port",
            "0",
            "--engine-port",
            "off",
            "--log-level",
            "WARNING",
            "--dashboard",
            str(app),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DASH_RATE": str(args.rate), "DASH_STOP": str(stop_path)},
        preexec_fn=favoured,
    )
    groups: list[Viewers] = []
    pages: Pages | None = None
    try:
        url = wait_line(server, "dashboard ops:").split(": ", 1)[1]
        time.sleep(args.warmup)
        idle_rss = rss_mb(server.pid)
        idle_cores = cores_over(server.pid, args.window / 2)
        if args.pages:  # first: opening pages costs the machine more than showing them
            pages = Pages(url, args.pages)
        groups = [Viewers("iii-live", url) for _ in range(args.viewer_procs)]
        first = max(1, args.viewers // 10 // args.viewer_procs)  # warms what viewers share (histories)
        rest = args.viewers // args.viewer_procs - first
        for count in (first, rest):
            for group in groups:
                group.command(f"add {count}")
            ready = sum(group.answer()["ready"] for group in groups)
            time.sleep(args.warmup)
            rss = rss_mb(server.pid)
            if count == first:
                first_rss, first_ready = rss, ready
        result = measure(groups, args.window, server.pid)
        result.update(
            ready=ready,
            idle_rss_mb=round(idle_rss, 1),
            idle_cores=round(idle_cores, 3),
            kb_per_viewer=round((rss - first_rss) * 1024 / (ready - first_ready), 1),
            kb_per_viewer_overall=round((rss - idle_rss) * 1024 / ready, 1),
        )
        stop_path.touch()
        time.sleep(1)
        result["pages_exact"] = pages.hold(engine_state(url)) if pages is not None else None
        result["pages"] = args.pages
        return result
    finally:
        if pages is not None:
            pages.close()
        for group in groups:
            group.close()
        stop(server)


def ramp(
    kind: str, url: str, server_pid: int, args: argparse.Namespace, idle_rss: float, limit: int
) -> dict[str, Any]:
    """Double the viewers until p99 passes 1 s (or ``limit``); each step measured."""
    viewers = Viewers(kind, url)
    steps = []
    count = 0
    try:
        target = 1
        while target <= limit:
            viewers.command(f"add {target - count}")
            viewers.answer()
            count = target
            time.sleep(args.warmup)
            step = measure([viewers], args.window, server_pid)
            step["kb_per_viewer"] = round((step["server_rss_mb"] - idle_rss) * 1024 / count, 1)
            steps.append(step)
            print(
                f"  {kind} {count} viewers: p99 {step['p99_ms']:.0f} ms, {step['server_cores']} cores, "
                f"{step['kb_per_viewer'] / 1024:.1f} MB/viewer",
                flush=True,
            )
            if step["p99_ms"] > 1000 or step["closed"]:
                break
            target *= 2
    finally:
        viewers.close()
    held = [s for s in steps if s["p99_ms"] <= 1000 and not s["closed"]]
    return {"steps": steps, "idle_rss_mb": round(idle_rss, 1), "held": held[-1]["viewers"] if held else 0}


def run_voila(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from tests.browser.servers import write_notebook
    from tests.redis_server import RedisServer, free_port

    redis = RedisServer(work)
    assert redis.proc is not None
    os.setpriority(os.PRIO_PROCESS, redis.proc.pid, SERVER_NICENESS)
    stop_path = work / "stop-voila"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DASH_REDIS_URL": redis.url}
    writer = subprocess.Popen(
        [sys.executable, __file__, "redis-writer", redis.url, str(args.rate), str(stop_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=favoured,
    )
    write_notebook(work / "fleet.ipynb", VOILA_CELLS)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            "fleet.ipynb",
            f"--port={port}",
            "--no-browser",
            "--Voila.ip=127.0.0.1",
        ],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=favoured,
    )
    try:
        wait_line(writer, "ready")
        url = f"http://127.0.0.1:{port}/"
        wait_http(f"http://127.0.0.1:{port}/voila/static/voila.js", server)
        time.sleep(args.warmup)
        result = ramp("voila", url, server.pid, args, rss_mb(server.pid), args.voila_limit)
        writer_cores = cores_over(writer.pid, 2)
        result["writer_cores"] = round(writer_cores, 3)
        return result
    finally:
        stop_path.touch()
        stop(server)
        stop(writer)
        redis.kill()


def run_panel(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from tests.redis_server import free_port

    (work / "dash_feed.py").write_text(PANEL_FEED)
    (work / "fleet_panel.py").write_text(PANEL_APP)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(work)]),
        "DASH_RATE": str(args.rate),
        "DASH_STOP": str(work / "stop-panel"),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "panel",
            "serve",
            "fleet_panel.py",
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
            f"--allow-websocket-origin=127.0.0.1:{port}",
        ],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=favoured,
    )
    try:
        url = f"http://127.0.0.1:{port}/fleet_panel"
        wait_http(url, server)  # the first session starts the feed
        time.sleep(args.warmup)
        return ramp("panel", url, server.pid, args, rss_mb(server.pid), args.panel_limit)
    finally:
        (work / "stop-panel").touch()
        stop(server)


def wait_http(url: str, server: subprocess.Popen[Any], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server for {url} exited")
        try:
            with urllib.request.urlopen(url, timeout=60):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


# -- the report ------------------------------------------------------------------------------------


DASHBOARDS_BLOCK = "Dashboards"


def report(results: dict[str, Any]) -> str:
    iii = results.get("iii-live")
    lines = [
        "## Dashboards: one published dashboard, many viewers",
        "",
        f"`{results['command']}`, {results['machine']}; {results['load']}. The same dashboard (markdown,",
        f"a table of {HOSTS} hosts sorted by cpu, a chart of the last {LOAD_POINTS} load points) with",
        f"{results['rate']:g} item changes per second across its two groups, each system measured for",
        f"{results['window']:g} s per step in the same run. Server CPU is the whole process tree (Voila:",
        "its kernels; Voila's writer and Redis not included); memory per viewer is RSS growth over",
        "the served dashboard with no viewer. Latency: a value's write to its first arrival at a",
        "viewer's socket. Simulated viewers speak each system's own protocol; servers and simulated",
        "viewers run at nice -5, the Chromium pages on one core at nice 10 (the module docstring",
        "says why).",
        "",
    ]
    if iii:
        per_second = iii["frames"] / results["window"]
        lines += [
            "**iii-live** (`iii-live serve --dashboard`, the writer in the engine's process as in a",
            f"kernel): {iii['viewers']:,} simulated viewers and {iii['pages']} Chromium pages on one engine.",
            f"p99 write to viewer socket **{iii['p99_ms']:.0f} ms** (p50 {iii['p50_ms']:.0f} ms, max",
            f"{iii['max_ms']:.0f} ms; {iii['samples']:,} samples from every tenth viewer); engine CPU",
            f"**{iii['server_cores']:.2f} cores** ({iii['idle_cores']:.2f} with no viewer); memory",
            f"**{iii['kb_per_viewer']:.0f} KB per viewer** added past the first {iii['viewers'] // 10}",
            f"({iii['kb_per_viewer_overall']:.0f} KB averaged over all, the groups' resume histories",
            f"included); {per_second:,.0f} frames per second delivered, seq gaps {iii['seq_gaps']},",
            f"sockets closed {iii['closed']}; the simulated viewers' processes used",
            f"{iii['viewer_process_cores']:.2f} cores; the Chromium pages then held the engine's exact",
            f"state: {'yes' if iii['pages_exact'] else 'NO'}.",
            "",
        ]
    lines += [
        "| system | viewers held (p99 ≤ 1 s) | memory per viewer | server CPU | p99 |",
        "|---|---|---|---|---|",
    ]
    if iii:
        held = (
            f"≥ {iii['viewers']:,} (not searched higher)" if iii["p99_ms"] <= 1000 else "fewer than measured"
        )
        lines.append(
            f"| iii-live published page | {held} | "
            f"{iii['kb_per_viewer']:.0f} KB | {iii['server_cores']:.2f} cores at {iii['viewers']:,} | "
            f"{iii['p99_ms']:.0f} ms |"
        )
    ratios = []
    for name, label in (
        ("voila", "Voila (a kernel per viewer, Redis)"),
        ("panel", "panel serve (Tabulator)"),
    ):
        run = results.get(name)
        if not run:
            continue
        step = held_step(run)
        lines.append(
            f"| {label} | {run['held']} | {step['kb_per_viewer'] / 1024:.0f} MB | "
            f"{step['server_cores']:.2f} cores at {step['viewers']} | {step['p99_ms']:.0f} ms |"
        )
        if iii and run["held"] and iii["p99_ms"] <= 1000:
            cpu = (step["server_cores"] / step["viewers"]) / (iii["server_cores"] / iii["viewers"])
            ratios.append(
                f"- {name} needs {step['kb_per_viewer'] / iii['kb_per_viewer']:,.0f}× iii-live's memory "
                f"per viewer and {cpu:,.0f}× its CPU per viewer at the same change rate, and holds at "
                f"least {iii['viewers'] / run['held']:,.0f}× fewer viewers (iii-live was not pushed past "
                f"{iii['viewers']:,})."
            )
    if ratios:
        lines += ["", "Ratios:", "", *ratios]
    lines += ["", "Each step (viewers: p99, server cores, memory per viewer):", ""]
    for name in ("voila", "panel"):
        run = results.get(name)
        if run:
            steps = "; ".join(
                f"{s['viewers']}: {s['p99_ms']:.0f} ms, {s['server_cores']:.2f}, "
                f"{s['kb_per_viewer'] / 1024:.0f} MB"
                for s in run["steps"]
            )
            lines.append(f"- {name}: {steps}")
    if results.get("panel"):
        lines += [
            "",
            "Panel re-sends the whole table on each patch of a sorted Tabulator (a",
            "`ColumnDataChanged`); viewers count only first arrivals of each value.",
        ]
    return "\n".join(lines) + "\n"


def held_step(run: dict[str, Any]) -> dict[str, Any]:
    """The step with the most viewers held (the first step if none was)."""
    held = [s for s in run["steps"] if s["viewers"] == run["held"]]
    return held[0] if held else run["steps"][0]


def write_report(section: str) -> None:
    """The run's block in the Dashboards section; text written around it stays."""
    title, body = section.split("\n", 1)
    replace_block(DASHBOARDS_BLOCK, body, title.removeprefix("## "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, a smoke run")
    parser.add_argument("--only", choices=("iii-live", "voila", "panel"))
    parser.add_argument("--rate", type=float, default=1000.0, help="item changes per second (default 1000)")
    parser.add_argument("--viewers", type=int, default=1000, help="iii-live simulated viewers (default 1000)")
    parser.add_argument("--viewer-procs", type=int, default=2)
    parser.add_argument("--pages", type=int, default=5, help="real Chromium pages on iii-live (default 5)")
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured per step (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--voila-limit", type=int, default=32)
    parser.add_argument("--panel-limit", type=int, default=256)
    args = parser.parse_args()
    if args.quick:
        args.viewers, args.pages, args.window, args.warmup = 100, 1, 5.0, 2.0
        args.voila_limit, args.panel_limit = 2, 4
    results: dict[str, Any] = {
        "command": "python benchmarks/dashboards.py" + (" --quick" if args.quick else ""),
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        "rate": args.rate,
        "window": args.window,
    }
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="iii-dash-bench-") as tmp:
        for name, run in (("iii-live", run_iii_live), ("voila", run_voila), ("panel", run_panel)):
            if args.only and args.only != name:
                continue
            print(f"{name}...", flush=True)
            work = Path(tmp) / name
            work.mkdir()
            results[name] = run(args, work)
            print(json.dumps({name: results[name]}, default=str), flush=True)
    after = os.getloadavg()
    results["load"] = (
        f"load average {load[0]:.1f} before, {after[0]:.1f} after: other work shared the machine"
    )
    (HERE / "dashboards.json").write_text(json.dumps(results, indent=2) + "\n")
    if not args.quick and not args.only:
        write_report(report(results))
    print(report(results))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "viewers":
        try:
            import uvloop
        except ImportError:
            asyncio.run(viewers_main(sys.argv[2], sys.argv[3]))
        else:
            uvloop.run(viewers_main(sys.argv[2], sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "pages":
        pages_main(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "redis-writer":
        redis_writer(sys.argv[2], float(sys.argv[3]), sys.argv[4])
    else:
        main()
