"""What an open stream socket keeps: the frame loop, not Tornado's upgrade."""

from __future__ import annotations

import asyncio

import iii_live


def running_coroutines(engine: iii_live.Engine) -> list[str]:
    async def names() -> list[str]:
        return sorted(task.get_coro().__qualname__ for task in asyncio.all_tasks())  # type: ignore[union-attr]

    assert engine.runtime is not None
    return asyncio.run_coroutine_threadsafe(names(), engine.runtime.loop).result(5)


def test_an_open_socket_reads_in_a_task_of_its_own_and_the_upgrade_ends(engine, client_factory):
    """Tornado's upgrade awaits the frame loop; it returns at once, so the request's and the
    handler's coroutines end while the socket keeps reading and receiving."""
    before = running_coroutines(engine)
    client = client_factory(f"{engine.stream_url}/stream/s/g")
    assert client.recv()["event"] == {"type": "sync", "data": []}
    running = running_coroutines(engine)
    assert (
        running.count("StrictWebSocketProtocol._read_frames")
        == before.count("StrictWebSocketProtocol._read_frames") + 1
    )
    assert "RequestHandler._execute" not in running
    assert "HTTP1ServerConnection._server_request_loop" not in running
    client.join("second", "s", "h")  # the socket still reads its frames
    assert client.recv()["event"] == {"type": "sync", "data": []}
    engine.stream("s").set("g", "a", {"v": 1})
    assert client.recv()["event"] == {"type": "create", "data": {"v": 1}}
