"""The core without I/O: stream functions over adapters, the adapter contract, joins under writes."""

from __future__ import annotations

import inspect
import threading
from typing import Any

import pytest

from iii_live.errors import InvocationError
from iii_live.streams.adapters.base import RemoteStreamAdapter, StreamAdapter
from iii_live.streams.adapters.kv import KvAdapter
from iii_live.streams.adapters.redis import RedisAdapter
from iii_live.streams.hub import CallbackSubscription, Subscription

from .conftest import make_core, run

PROTOCOL_METHODS = [
    name for name, member in vars(StreamAdapter).items() if callable(member) and not name.startswith("_")
]


@pytest.mark.parametrize("adapter", [KvAdapter, RedisAdapter])
@pytest.mark.parametrize("method", PROTOCOL_METHODS)
def test_adapters_implement_the_protocol_with_its_parameters(adapter, method):
    expected = list(inspect.signature(getattr(StreamAdapter, method)).parameters)
    assert list(inspect.signature(getattr(adapter, method)).parameters) == expected


def test_remote_adapters_read_with_a_fence():
    expected = list(inspect.signature(RemoteStreamAdapter.read_fenced).parameters)
    assert list(inspect.signature(RedisAdapter.read_fenced).parameters) == expected
    assert RedisAdapter.remote and not getattr(KvAdapter, "remote", False)


class RecordingAdapter(KvAdapter):
    """The in-memory kv adapter, recording how the stream functions call it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []

    def update(self, draft, ops, check=None):  # type: ignore[no-untyped-def]
        self.calls.append(("update", check is not None))
        return super().update(draft, ops, check)

    def emit(self, event):  # type: ignore[no-untyped-def]
        self.calls.append(("emit", event.kind))
        super().emit(event)


def test_stream_functions_drive_the_adapter_and_publish_each_change():
    async def scenario():
        adapter = RecordingAdapter()
        core = make_core(adapter=adapter)
        seen: list[dict] = []
        handle = CallbackSubscription(seen.append, core.unsubscribe)
        handle.subscription = Subscription(handle, "s", "g")
        core.subscribe(handle.subscription)
        payload = {"stream_name": "s", "group_id": "g", "item_id": "i"}
        assert core.call("stream::set", {**payload, "data": {"n": 1}}) == {
            "old_value": None,
            "new_value": {"n": 1},
        }
        result = core.call(
            "stream::update", {**payload, "ops": [{"type": "increment", "path": "n", "by": 2}]}
        )
        assert result == {"old_value": {"n": 1}, "new_value": {"n": 3}}
        assert (
            core.call("stream::send", {"stream_name": "s", "group_id": "g", "type": "t", "data": 0}) is None
        )
        assert core.call("stream::delete", payload) == {"old_value": {"n": 3}}
        assert core.call("stream::delete", payload) == {"old_value": None}  # nothing to delete: no event
        return adapter.calls, [(m["event"]["type"], m["id"]) for m in seen]

    calls, events = run(scenario())
    assert ("update", True) in calls  # the value check reaches the adapter
    assert events == [("sync", None), ("create", "i"), ("update", "i"), ("event", None), ("delete", "i")]


def test_adapter_failures_become_the_iii_error_of_the_function():
    class Broken(KvAdapter):
        def get(self, stream_name, group_id, item_id):  # type: ignore[no-untyped-def]
            raise OSError("disk on fire")

    async def scenario():
        core = make_core(adapter=Broken())
        with pytest.raises(InvocationError) as info:
            core.call("stream::get", {"stream_name": "s", "group_id": "g", "item_id": "i"})
        return info.value

    error = run(scenario())
    assert (error.code, error.message) == ("STREAM_GET_ERROR", "Failed to get value: disk on fire")


def test_joins_under_concurrent_writes_miss_nothing_and_see_nothing_twice():
    """Each value is a per-item counter: a subscriber's values for an item must strictly rise
    after its sync, and end equal to storage."""

    async def scenario():
        core = make_core()
        stop = threading.Event()
        counters = {f"k{n}": 0 for n in range(20)}

        def writer() -> None:
            n = 0
            while not stop.is_set():
                key = f"k{n % 20}"
                counters[key] += 1
                core.call(
                    "stream::set",
                    {"stream_name": "s", "group_id": "g", "item_id": key, "data": counters[key]},
                )
                n += 1

        thread = threading.Thread(target=writer)
        thread.start()
        subscribers = []
        for _ in range(50):
            seen: list[dict] = []
            handle = CallbackSubscription(seen.append, core.unsubscribe)
            handle.subscription = Subscription(handle, "s", "g", keyed=True)
            core.subscribe(handle.subscription)
            subscribers.append(seen)
        stop.set()
        thread.join()
        return subscribers, core.streams.items("s", "g")

    subscribers, stored = run(scenario())
    for seen in subscribers:
        assert seen[0]["event"]["type"] == "sync"
        state = dict(seen[0]["event"]["data"])
        for message in seen[1:]:
            item, value = message["id"], message["event"]["data"]
            assert value > state.get(item, 0), (item, value, state.get(item))  # never twice, never older
            state[item] = value
        assert state == stored
