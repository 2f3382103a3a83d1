"""A fan-out's gathered writes: made in order, the rest of a full socket queued in Tornado."""

from __future__ import annotations

import socket

from iii_live.server.turn_writes import TurnWrites


class Rest:
    def __init__(self) -> None:
        self.rest: list[tuple[bytes, int]] = []

    def take_rest(self, data: bytes, sent: int) -> None:
        self.rest.append((data, sent))


def read_all(sock: socket.socket) -> bytes:
    sock.setblocking(False)
    received = bytearray()
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except BlockingIOError:
            return bytes(received)
        if not chunk:
            return bytes(received)
        received += chunk


def test_each_socket_gets_its_writes_in_order_and_nothing_left_over():
    pairs = [socket.socketpair() for _ in range(3)]
    writers = [Rest() for _ in pairs]
    writes = TurnWrites()
    assert writes.add(writers[0], pairs[0][0], b"a1")  # the first since send_all
    assert not writes.add(writers[1], pairs[1][0], b"b1")
    assert not writes.add(writers[0], pairs[0][0], b"a2")  # after what it gathered
    assert not writes.add(writers[2], pairs[2][0], b"c1")
    assert len(writes) == 3
    writes.send_all()
    assert len(writes) == 0
    assert [read_all(right) for _, right in pairs] == [b"a1a2", b"b1", b"c1"]
    assert all(not writer.rest for writer in writers)
    assert writes.add(writers[1], pairs[1][0], b"b2")  # a new turn
    writes.send_all()
    assert read_all(pairs[1][1]) == b"b2"
    for left, right in pairs:
        left.close()
        right.close()


def test_what_a_full_socket_does_not_take_and_a_failed_socket_go_back_to_their_writers():
    full_left, full_right = socket.socketpair()
    full_left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    full_left.setblocking(False)
    gone_left, gone_right = socket.socketpair()
    gone_right.close()
    full, gone = Rest(), Rest()
    big = b"x" * 1_000_000
    writes = TurnWrites()
    writes.add(full, full_left, big)
    writes.add(gone, gone_left, b"lost")
    writes.send_all()
    [(data, sent)] = full.rest
    assert data == big and 0 < sent < len(big)
    assert read_all(full_right) == big[:sent]
    assert gone.rest == [(b"lost", -1)]
    for sock in (full_left, full_right, gone_left):
        sock.close()
