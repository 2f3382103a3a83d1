"""Attacks at the HTTP and WebSocket layer: DNS rebinding, upgrade floods behind a slow auth,
frames RFC 6455 forbids, paths no file can have."""

from __future__ import annotations

import asyncio
import os
import socket
import struct

import pytest

import iii_live

from .conftest import upgrade_request, wait_for


def http(port: int, path: str, host: str, *, upgrade: bool = False, origin: str | None = None) -> bytes:
    """One raw request; returns the status line and headers."""
    plain = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(upgrade_request(path, host, origin=origin) if upgrade else plain)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    return head.split(b"\r\n\r\n")[0]


def status(head: bytes) -> int:
    return int(head.split(b" ", 2)[1])


@pytest.fixture
def loopback_engine():
    engine = iii_live.start(port=0, background=True, allowed_hosts=["dev.test"])
    yield engine
    engine.stop()


def test_a_loopback_engine_answers_loopback_host_names_only(loopback_engine):
    """DNS rebinding: a foreign page whose name now points at 127.0.0.1 still sends its own name."""
    port, engine_port = loopback_engine.port, loopback_engine.engine_port
    evil = f"rebind.evil.example:{port}"
    assert status(http(port, "/stream/s/g", evil, upgrade=True, origin=f"http://{evil}")) == 403
    assert status(http(port, "/_iii/streams", evil)) == 403
    assert status(http(port, "/", evil)) == 403
    assert status(http(port, "/_iii/static/page.js", evil)) == 403
    assert status(http(engine_port, "/", f"rebind.evil.example:{engine_port}", upgrade=True)) == 403
    for host in (
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        f"[::1]:{port}",
        f"app.localhost:{port}",
        "dev.test",
    ):
        assert status(http(port, "/stream/s/g", host, upgrade=True)) == 101, host
        assert status(http(port, "/_iii/streams", host)) == 200, host


def test_an_engine_bound_beyond_loopback_does_not_check_host_names():
    engine = iii_live.start(host="0.0.0.0", port=0, background=True, token="a-token-for-these-tests")
    try:
        head = http(engine.port, "/_iii/streams?token=a-token-for-these-tests", "anything.example")
        assert status(head) == 200
    finally:
        engine.stop()


def test_the_per_address_limit_counts_upgrades_waiting_on_auth():
    engine = iii_live.start(port=0, background=True, auth_function="slow_auth", max_connections_per_address=5)

    async def slow_auth(_request):
        await asyncio.sleep(0.3)
        return {"context": None}

    engine.register_function("slow_auth", slow_auth)
    try:

        async def attempt() -> int:
            reader, writer = await asyncio.open_connection("127.0.0.1", engine.port)
            writer.write(upgrade_request("/stream/s/g"))
            line = await reader.readline()
            code = int(line.split()[1])
            if code != 101:
                writer.close()
            else:
                held.append(writer)
            return code

        async def flood() -> list[int]:
            return await asyncio.gather(*(attempt() for _ in range(30)))

        held: list[asyncio.StreamWriter] = []

        async def run() -> list[int]:
            codes = await flood()
            for writer in held:
                writer.close()
            return codes

        codes = asyncio.run(run())
        assert codes.count(101) == 5 and codes.count(429) == 25
        wait_for(lambda: engine.status()["connections"] == 0)
        assert status(http(engine.port, "/stream/s/g", "127.0.0.1", upgrade=True)) == 101  # slots freed
    finally:
        engine.stop()


def masked(opcode: int, payload: bytes, *, mask: bool = True) -> bytes:
    """A final client frame (masked, as RFC 6455 requires, unless ``mask`` is False)."""
    header = bytes((0x80 | opcode, (0x80 if mask else 0) | len(payload)))
    if not mask:
        return header + payload
    key = os.urandom(4)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_code_after(engine: iii_live.Engine, frame: bytes) -> int | None:
    """Send ``frame`` on a fresh socket; the close code the server answers with."""
    with socket.create_connection(("127.0.0.1", engine.port), timeout=5) as sock:
        sock.sendall(upgrade_request())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(4096)
        data = data.split(b"\r\n\r\n", 1)[1]
        sock.sendall(frame)
        while True:
            while len(data) >= 2 and len(data) >= 2 + (data[1] & 0x7F):
                opcode, length = data[0] & 0x0F, data[1] & 0x7F
                payload, data = data[2 : 2 + length], data[2 + length :]
                if opcode == 0x8:
                    return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
            chunk = sock.recv(4096)
            if not chunk:
                return None
            data += chunk


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (masked(0x1, b'{"type":"join"}', mask=False), 1002),  # unmasked data frame
        (masked(0x9, b"", mask=False), 1002),  # unmasked ping
        (masked(0x8, struct.pack(">H", 999)), 1002),
        (masked(0x8, struct.pack(">H", 1005)), 1002),
        (masked(0x8, struct.pack(">H", 1006)), 1002),
        (masked(0x8, struct.pack(">H", 2000)), 1002),
        (masked(0x8, b"\x03"), 1002),  # a one-byte close payload
        (masked(0x8, struct.pack(">H", 1000) + b"\xff\xfe"), 1002),  # a reason that is not UTF-8
        (masked(0x8, struct.pack(">H", 1000) + b"bye"), 1000),  # valid: echoed
        (masked(0x8, struct.pack(">H", 4001)), 4001),
    ],
    ids=[
        "unmasked-text",
        "unmasked-ping",
        "999",
        "1005",
        "1006",
        "2000",
        "one-byte",
        "bad-utf8",
        "1000",
        "4001",
    ],
)
def test_frames_rfc_6455_forbids_fail_the_connection_with_1002(engine, frame, code):
    assert close_code_after(engine, frame) == code


def test_a_nul_byte_in_a_static_path_is_not_found(engine):
    assert status(http(engine.port, "/_iii/static/page.js%00.html", "127.0.0.1")) == 404
    assert status(http(engine.port, "/_iii/static/page.js", "127.0.0.1")) == 200
