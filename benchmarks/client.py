"""The subscriber harness shared by every server in the benchmark: N raw WebSocket clients.

One process, plain asyncio protocols, no WebSocket library, so the client costs the same
whichever server it measures. Every frame carrying ``"seq":n,"t":ns`` is counted; a
connection must see seq 0, 1, 2, ... in order (the correctness check), and the delivery
latency is ``receive time - t`` (both CLOCK_MONOTONIC, comparable across processes).

    python client.py URLS PROTOCOL N COUNT TIMEOUT   # one round of COUNT messages, then exit
    python client.py URLS PROTOCOL N                 # rounds read from stdin: "COUNT TIMEOUT"

URLS is one URL or several separated by commas (connections go round-robin to them);
PROTOCOL is ``ws`` or ``socketio``. Prints ``{"ready": n}`` once connected, then one JSON
line per round. Every round starts again at seq 0; its latencies also come as a histogram
(``latency.py``) so the rounds of several client processes can be merged.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
import time
from urllib.parse import urlsplit

from latency import histogram, percentile

SEQ = re.compile(rb'"seq": ?(\d+), ?"t": ?(\d+)')


class Subscriber(asyncio.Protocol):
    def __init__(self, path: str, host: str, socketio: bool, stats: Stats) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.socketio = socketio
        self.stats = stats
        self.buffer = bytearray()
        self.upgraded = False
        self.ready = asyncio.get_running_loop().create_future()
        self.next_seq = 0
        self.errors = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before ready"))
        self.stats.closed += 1

    def send_text(self, text: bytes) -> None:
        # client frames must be masked; a zero mask key leaves the payload as it is
        assert len(text) < 126
        self.transport.write(bytes((0x81, 0x80 | len(text))) + b"\0\0\0\0" + text)

    def data_received(self, data: bytes) -> None:
        if self.buffer:  # the start of a frame came with the previous read
            self.buffer += data
            data = bytes(self.buffer)
            self.buffer.clear()
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buffer += data
                return
            if not data.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(data[:80].decode(errors="replace")))
                return
            data = data[end + 4 :]
            self.upgraded = True
            if not self.socketio:
                self.ready.set_result(None)
        offset = 0
        size = len(data)
        now = time.monotonic_ns()
        while size - offset >= 2:
            opcode = data[offset] & 0x0F
            length = data[offset + 1] & 0x7F
            head = 2
            if length == 126:
                if size - offset < 4:
                    break
                length = int.from_bytes(data[offset + 2 : offset + 4], "big")
                head = 4
            elif length == 127:
                if size - offset < 10:
                    break
                length = int.from_bytes(data[offset + 2 : offset + 10], "big")
                head = 10
            end = offset + head + length
            if end > size:
                break
            if opcode == 0x1:
                self.on_text(data, offset + head, end, now)
            elif opcode == 0x9:  # ping -> pong
                payload = data[offset + head : end]
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
            offset = end
        if offset < size:
            self.buffer += data[offset:]

    def on_text(self, data: bytes, start: int, end: int, now: int) -> None:
        """A text frame: ``data[start:end]`` (searched in place: no copy per frame)."""
        if self.socketio and data[start : start + 2] != b"42":
            payload = data[start:end]
            if payload[:1] == b"0":
                self.send_text(b"40")
            elif payload[:2] == b"40" and not self.ready.done():
                self.ready.set_result(None)
            elif payload == b"2":
                self.send_text(b"3")
            return
        match = SEQ.search(data, start, end)
        if match is None:
            return
        seq = int(match.group(1))
        if seq != self.next_seq:
            self.errors += 1
        self.next_seq = seq + 1
        stats = self.stats
        stats.received += 1
        stats.latencies.append(now - int(match.group(2)))
        if stats.first_ns == 0:
            stats.first_ns = now
        stats.last_ns = now


class Stats:
    """One round's counts, for all the connections of this process."""

    def __init__(self) -> None:
        self.received = 0
        self.closed = 0
        self.latencies: list[int] = []
        self.first_ns = 0
        self.last_ns = 0

    def next_round(self) -> None:
        self.received = 0
        self.latencies = []
        self.first_ns = 0
        self.last_ns = 0


async def connect_all(urls: list[str], protocol: str, n: int, stats: Stats) -> list[Subscriber]:
    loop = asyncio.get_running_loop()
    subscribers: list[Subscriber] = []
    semaphore = asyncio.Semaphore(100)

    async def connect(index: int) -> None:
        parts = urlsplit(urls[index % len(urls)])
        path = "/socket.io/?EIO=4&transport=websocket" if protocol == "socketio" else parts.path or "/"
        async with semaphore:
            _, sub = await loop.create_connection(
                lambda: Subscriber(path, parts.netloc, protocol == "socketio", stats),
                parts.hostname,
                parts.port,
            )
            subscribers.append(sub)
            await sub.ready

    await asyncio.gather(*(connect(i) for i in range(n)))
    return subscribers


async def one_round(subscribers: list[Subscriber], stats: Stats, count: int, timeout: float) -> dict:
    """Wait for ``count`` messages on every connection (or ``timeout``), then report."""
    expected = len(subscribers) * count
    deadline = time.monotonic() + timeout
    while stats.received < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    latencies = sorted(stats.latencies)
    result = {
        "received": stats.received,
        "expected": expected,
        "in_order": all(s.errors == 0 for s in subscribers) and stats.received == expected,
        "order_errors": sum(s.errors for s in subscribers),
        "first_ns": stats.first_ns,
        "last_ns": stats.last_ns,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": latencies[-1] / 1e6 if latencies else None,
        "histogram": histogram(latencies),
        "closed": stats.closed,
    }
    for s in subscribers:
        s.next_seq = 0
        s.errors = 0
    stats.next_round()
    return result


async def main(urls: list[str], protocol: str, n: int, rounds: tuple[int, float] | None) -> None:
    stats = Stats()
    subscribers = await connect_all(urls, protocol, n, stats)
    print(json.dumps({"ready": len(subscribers)}), flush=True)
    if rounds is not None:
        print(json.dumps(await one_round(subscribers, stats, *rounds)), flush=True)
    else:
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            count, timeout = line.split()
            print(json.dumps(await one_round(subscribers, stats, int(count), float(timeout))), flush=True)
    for s in subscribers:
        s.transport.close()


if __name__ == "__main__":
    urls, protocol, n = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3])
    rounds = (int(sys.argv[4]), float(sys.argv[5])) if len(sys.argv) > 5 else None
    try:  # the lighter the client, the more of the machine the server under test gets
        import uvloop
    except ImportError:
        asyncio.run(main(urls, protocol, n, rounds))
    else:
        uvloop.run(main(urls, protocol, n, rounds))
