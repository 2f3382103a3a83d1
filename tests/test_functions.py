"""stream::* result shapes, errors and events (spec §2), through engine.trigger."""

from __future__ import annotations

import asyncio

import pytest

import iii_live
from iii_live import InvocationError

from .conftest import call, wait_for


def test_set_create_then_update_result_shapes(engine):
    first = call(engine, "stream::set", stream_name="s", group_id="g", item_id="a", data={"v": 1})
    assert first == {"old_value": None, "new_value": {"v": 1}}
    second = call(engine, "stream::set", stream_name="s", group_id="g", item_id="a", data={"v": 2})
    assert second == {"old_value": {"v": 1}, "new_value": {"v": 2}}


def test_get_returns_bare_value_or_none(engine):
    assert call(engine, "stream::get", stream_name="s", group_id="g", item_id="a") is None
    call(engine, "stream::set", stream_name="s", group_id="g", item_id="a", data=[1, 2])
    assert call(engine, "stream::get", stream_name="s", group_id="g", item_id="a") == [1, 2]


def test_stored_null_is_present(engine):
    events = []
    engine.subscribe("s", "g", events.append)
    call(engine, "stream::set", stream_name="s", group_id="g", item_id="n", data=None)
    call(engine, "stream::set", stream_name="s", group_id="g", item_id="n", data=None)
    assert [e["event"]["type"] for e in events] == ["sync", "create", "update"]


def test_delete_only_when_present(engine):
    events = []
    engine.subscribe("s", "g", events.append)
    assert call(engine, "stream::delete", stream_name="s", group_id="g", item_id="x") == {"old_value": None}
    call(engine, "stream::set", stream_name="s", group_id="g", item_id="x", data={"k": 1})
    assert call(engine, "stream::delete", stream_name="s", group_id="g", item_id="x") == {
        "old_value": {"k": 1}
    }
    assert [e["event"]["type"] for e in events] == ["sync", "create", "delete"]
    assert events[-1]["event"]["data"] == {"k": 1}


def test_list_keeps_first_write_order(engine):
    for item in ["c", "a", "b"]:
        call(engine, "stream::set", stream_name="s", group_id="g", item_id=item, data=item)
    call(engine, "stream::set", stream_name="s", group_id="g", item_id="c", data="c2")
    call(engine, "stream::delete", stream_name="s", group_id="g", item_id="a")
    assert call(engine, "stream::list", stream_name="s", group_id="g") == ["c2", "b"]
    assert call(engine, "stream::list", stream_name="s", group_id="empty") == []


def test_list_groups_and_list_all(engine):
    for stream, group in [("b", "g2"), ("a", "g1"), ("b", "g1")]:
        call(engine, "stream::set", stream_name=stream, group_id=group, item_id="i", data=1)
    assert sorted(call(engine, "stream::list_groups", stream_name="b")) == ["g1", "g2"]
    assert call(engine, "stream::list_groups", stream_name="none") == []
    assert call(engine, "stream::list_all") == {
        "stream": [{"id": "a", "groups": ["g1"]}, {"id": "b", "groups": ["g1", "g2"]}],
        "count": 2,
    }
    # a group whose last item is deleted is no longer listed
    call(engine, "stream::delete", stream_name="a", group_id="g1", item_id="i")
    assert call(engine, "stream::list_all", **{})["count"] == 1


def test_names_with_colons_are_not_mangled(engine):
    call(engine, "stream::set", stream_name="a:b", group_id="c:d", item_id="i", data=1)
    assert call(engine, "stream::list_groups", stream_name="a") == []
    assert call(engine, "stream::list_all") == {"stream": [{"id": "a:b", "groups": ["c:d"]}], "count": 1}


def test_send_returns_none_and_emits_event(engine):
    group_events, item_events = [], []
    engine.subscribe("chat", "room", group_events.append)
    engine.subscribe("chat", "room", item_events.append, item_id="u1")
    assert (
        call(engine, "stream::send", stream_name="chat", group_id="room", type="typing", data={"u": 1})
        is None
    )
    assert (
        call(engine, "stream::send", stream_name="chat", group_id="room", type="poke", data=None, id="u1")
        is None
    )
    assert [e["event"] for e in group_events[1:]] == [
        {"type": "event", "event": {"type": "typing", "data": {"u": 1}}},
        {"type": "event", "event": {"type": "poke", "data": None}},
    ]
    assert [e["id"] for e in group_events[1:]] == [None, "u1"]
    # item subscriptions only see events for their id, never id-less sends
    assert [e["event"]["type"] for e in item_events] == ["sync", "event"]
    assert call(engine, "stream::list", stream_name="chat", group_id="room") == []


def test_update_result_and_errors_key(engine):
    result = call(
        engine,
        "stream::update",
        stream_name="s",
        group_id="g",
        item_id="c",
        ops=[{"type": "increment", "path": "n", "by": 2}],
    )
    assert result == {"old_value": None, "new_value": {"n": 2}}
    result = call(
        engine,
        "stream::update",
        stream_name="s",
        group_id="g",
        item_id="c",
        ops=[{"type": "increment", "path": "n", "by": 3}, {"type": "merge", "value": 1}],
    )
    assert result["old_value"] == {"n": 2}
    assert result["new_value"] == {"n": 5}
    assert [e["code"] for e in result["errors"]] == ["merge.value.not_an_object"]
    assert call(engine, "stream::get", stream_name="s", group_id="g", item_id="c") == {"n": 5}


def test_update_with_no_ops_creates_empty_object(engine):
    events = []
    engine.subscribe("s", "g", events.append)
    assert call(engine, "stream::update", stream_name="s", group_id="g", item_id="z", ops=[]) == {
        "old_value": None,
        "new_value": {},
    }
    assert events[-1]["event"] == {"type": "create", "data": {}}


@pytest.mark.parametrize(
    ("function_id", "payload", "message"),
    [
        ("stream::set", {"stream_name": "s", "group_id": "g", "data": 1}, "missing field `item_id`"),
        ("stream::set", {"stream_name": "s", "group_id": "g", "item_id": "i"}, "missing field `data`"),
        ("stream::set", {"stream_name": 5, "group_id": "g", "item_id": "i", "data": 1}, "`stream_name`"),
        ("stream::get", None, "expected an object"),
        ("stream::list", {"stream_name": "s"}, "missing field `group_id`"),
        ("stream::list_groups", {}, "missing field `stream_name`"),
        ("stream::send", {"stream_name": "s", "group_id": "g", "data": 1}, "missing field `type`"),
        ("stream::send", {"stream_name": "s", "group_id": "g", "type": 3, "data": 1}, "`type`"),
        ("stream::update", {"stream_name": "s", "group_id": "g", "item_id": "i"}, "missing field `ops`"),
        (
            "stream::update",
            {
                "stream_name": "s",
                "group_id": "g",
                "item_id": "i",
                "ops": [{"type": "increment", "path": "n", "by": 1.5}],
            },
            "`ops[0].by`",
        ),
        (
            "stream::update",
            {"stream_name": "s", "group_id": "g", "item_id": "i", "ops": [{"type": "frobnicate"}]},
            "unknown variant `frobnicate`",
        ),
        (
            "stream::update",
            {"stream_name": "s", "group_id": "g", "item_id": "i", "ops": [{"type": "set", "value": 1}]},
            "missing field `ops[0].path`",
        ),
        (
            "stream::set",
            {"stream_name": "", "group_id": "g", "item_id": "i", "data": 1},
            "`stream_name` must not be empty",
        ),
        (
            "stream::get",
            {"stream_name": "s", "group_id": "g" * 300, "item_id": "i"},
            "`group_id` is 300 characters",
        ),
        ("stream::get", {"stream_name": "s", "group_id": "g", "item_id": "a\nb"}, "control characters"),
    ],
)
def test_bad_payloads_name_the_field(engine, function_id, payload, message):
    with pytest.raises(InvocationError) as info:
        engine.trigger({"function_id": function_id, "payload": payload})
    assert info.value.code == "deserialization_error"
    assert info.value.message.startswith(f"Failed to deserialize input for {function_id}: ")
    assert message in info.value.message
    assert call(engine, "stream::list_all") == {"stream": [], "count": 0}


def test_unserializable_data_is_refused_and_nothing_stored(engine):
    with pytest.raises(InvocationError) as info:
        call(engine, "stream::set", stream_name="s", group_id="g", item_id="i", data={"x": object()})
    assert info.value.code == "deserialization_error"
    assert "`data`" in info.value.message
    assert call(engine, "stream::get", stream_name="s", group_id="g", item_id="i") is None


def test_stored_value_is_a_private_copy(engine):
    data = {"v": [1]}
    call(engine, "stream::set", stream_name="s", group_id="g", item_id="i", data=data)
    data["v"].append(2)
    got = call(engine, "stream::get", stream_name="s", group_id="g", item_id="i")
    assert got == {"v": [1]}
    got["v"].append(3)
    assert call(engine, "stream::get", stream_name="s", group_id="g", item_id="i") == {"v": [1]}


def test_unknown_function(engine):
    with pytest.raises(InvocationError) as info:
        engine.trigger({"function_id": "stream::frob", "payload": {}})
    assert info.value.code == "function_not_found"
    assert info.value.message == "Function stream::frob not found in namespace default."


def test_void_action_returns_none_and_runs(engine):
    assert (
        engine.trigger(
            {
                "function_id": "stream::set",
                "payload": {"stream_name": "s", "group_id": "g", "item_id": "v", "data": 1},
                "action": {"type": "void"},
            }
        )
        is None
    )
    wait_for(lambda: call(engine, "stream::get", stream_name="s", group_id="g", item_id="v") == 1)


def test_registered_sync_and_async_functions(engine):
    engine.register_function("math::double", lambda p: p["x"] * 2)

    async def slow_add(p):
        await asyncio.sleep(0.01)
        return p["a"] + p["b"]

    engine.register_function("math::add", slow_add)
    assert engine.trigger({"function_id": "math::double", "payload": {"x": 21}}) == 42
    assert engine.trigger({"function_id": "math::add", "payload": {"a": 1, "b": 2}}) == 3
    assert asyncio.run(engine.trigger_async({"function_id": "math::add", "payload": {"a": 2, "b": 2}})) == 4

    def broken(p):
        raise ValueError("nope")

    engine.register_function("broken", broken)
    with pytest.raises(InvocationError) as info:
        engine.trigger({"function_id": "broken", "payload": {}})
    assert info.value.code == "invocation_failed"
    assert info.value.message == "nope"


def test_stream_triggers_match_and_receive_the_wrapper(engine):
    seen = {"all": [], "group": [], "item": [], "other": []}
    for name in seen:
        engine.register_function(f"on_{name}", lambda p, name=name: seen[name].append(p))
    engine.register_trigger({"type": "stream", "function_id": "on_all", "config": {"stream_name": "chat"}})
    engine.register_trigger(
        {"type": "stream", "function_id": "on_group", "config": {"stream_name": "chat", "group_id": "r1"}}
    )
    engine.register_trigger(
        {
            "type": "stream",
            "function_id": "on_item",
            "config": {"stream_name": "chat", "group_id": "r1", "item_id": "m1"},
        }
    )
    engine.register_trigger({"type": "stream", "function_id": "on_other", "config": {"stream_name": "other"}})
    call(engine, "stream::set", stream_name="chat", group_id="r1", item_id="m1", data={"t": 1})
    call(engine, "stream::set", stream_name="chat", group_id="r2", item_id="m1", data={"t": 2})
    call(engine, "stream::send", stream_name="chat", group_id="r1", type="typing", data=None)
    call(engine, "stream::delete", stream_name="chat", group_id="r1", item_id="nothing")
    wait_for(lambda: len(seen["all"]) == 3)
    wait_for(lambda: len(seen["group"]) == 2 and len(seen["item"]) == 1)
    assert seen["other"] == []
    first = seen["item"][0]
    assert set(first) == {"type", "timestamp", "streamName", "groupId", "id", "event"}
    assert first["event"] == {"type": "create", "data": {"t": 1}}
    assert [p["event"]["type"] for p in seen["all"]] == ["create", "create", "event"]


def test_condition_function_skips_handler(engine):
    calls = []
    engine.register_function("only_big", lambda p: p["event"]["data"]["n"] > 10)
    engine.register_function("handler", calls.append)
    trigger = engine.register_trigger(
        {
            "type": "stream",
            "function_id": "handler",
            "config": {"stream_name": "s", "condition_function_id": "only_big"},
        }
    )
    for n in (1, 50, 5, 99):
        call(engine, "stream::set", stream_name="s", group_id="g", item_id=str(n), data={"n": n})
    wait_for(lambda: len(calls) == 2)
    assert [c["event"]["data"]["n"] for c in calls] == [50, 99]
    trigger.unregister()
    call(engine, "stream::set", stream_name="s", group_id="g", item_id="x", data={"n": 1000})
    call(engine, "stream::set", stream_name="s", group_id="g", item_id="y", data={"n": 1000})
    assert len(calls) == 2


def test_trigger_registration_errors(engine):
    with pytest.raises(ValueError, match="stream_name"):
        engine.register_trigger({"type": "stream", "function_id": "f", "config": {}})
    with pytest.raises(ValueError, match="unknown trigger type"):
        engine.register_trigger({"type": "cron", "function_id": "f", "config": {}})


class DictStream:
    """A custom stream in iii's IStream shape: one input object per method."""

    def __init__(self):
        self.items = {}

    def get(self, input):
        return self.items.get((input.group_id, input.item_id))

    def set(self, input):
        old = self.items.get((input.group_id, input.item_id))
        self.items[(input.group_id, input.item_id)] = input.data
        return {"old_value": old, "new_value": input.data}

    def delete(self, input):
        return {"old_value": self.items.pop((input.group_id, input.item_id), None)}

    def list(self, input):
        return [v for (g, _), v in self.items.items() if g == input.group_id]

    def list_groups(self, input):
        return sorted({g for g, _ in self.items})


class AsyncKeywordStream:
    """A custom stream with async methods taking keyword arguments."""

    def __init__(self):
        self.items = {}

    async def get(self, group_id, item_id):
        return self.items.get(item_id)

    async def set(self, group_id, item_id, data):
        old = self.items.get(item_id)
        self.items[item_id] = data
        return {"old_value": old, "new_value": data}

    async def delete(self, group_id, item_id):
        return {"old_value": self.items.pop(item_id, None)}

    async def list(self, group_id):
        return list(self.items.values())

    async def list_groups(self):
        return ["only"]


def test_custom_stream_serves_its_name_and_events_flow(engine):
    store = DictStream()
    engine.create_stream("custom", store)
    events, fired = [], []
    engine.register_function("on_custom", fired.append)
    engine.register_trigger(
        {"type": "stream", "function_id": "on_custom", "config": {"stream_name": "custom"}}
    )
    engine.subscribe("custom", "g", events.append)
    assert call(engine, "stream::set", stream_name="custom", group_id="g", item_id="a", data=1) == {
        "old_value": None,
        "new_value": 1,
    }
    assert store.items == {("g", "a"): 1}
    assert call(engine, "stream::get", stream_name="custom", group_id="g", item_id="a") == 1
    assert call(engine, "stream::list", stream_name="custom", group_id="g") == [1]
    assert call(engine, "stream::list_groups", stream_name="custom") == ["g"]
    assert call(engine, "stream::delete", stream_name="custom", group_id="g", item_id="a") == {"old_value": 1}
    assert [e["event"]["type"] for e in events] == ["sync", "create", "delete"]
    wait_for(lambda: len(fired) == 2)
    # the default adapter never saw the custom stream
    assert engine.adapter.list_groups("custom") == []


def test_async_custom_stream(engine):
    engine.create_stream("acustom", AsyncKeywordStream())
    assert (
        call(engine, "stream::set", stream_name="acustom", group_id="g", item_id="a", data=5)["new_value"]
        == 5
    )
    assert call(engine, "stream::get", stream_name="acustom", group_id="g", item_id="a") == 5
    assert call(engine, "stream::list_groups", stream_name="acustom") == ["only"]


def test_custom_stream_bad_results(engine):
    class Bad(DictStream):
        def set(self, input):
            return None

    engine.create_stream("bad", Bad())
    with pytest.raises(InvocationError) as info:
        call(engine, "stream::set", stream_name="bad", group_id="g", item_id="a", data=1)
    assert info.value.code == "STREAM_SET_ERROR"
    assert info.value.message == "Failed to set value: Function returned no result"

    class Wrong(DictStream):
        def set(self, input):
            return {"old": 1}

    engine.create_stream("wrong", Wrong())
    with pytest.raises(InvocationError) as info:
        call(engine, "stream::set", stream_name="wrong", group_id="g", item_id="a", data=1)
    assert info.value.code == "JSON_ERROR"

    class Raising(DictStream):
        def set(self, input):
            raise RuntimeError("disk on fire")

    engine.create_stream("raising", Raising())
    with pytest.raises(InvocationError) as info:
        call(engine, "stream::set", stream_name="raising", group_id="g", item_id="a", data=1)
    assert info.value.code == "STREAM_SET_ERROR"
    assert "disk on fire" in info.value.message


def test_create_stream_rejects_incomplete_adapter(engine):
    with pytest.raises(TypeError, match="list_groups"):
        engine.create_stream("x", object())


def test_stream_handle_sugar(engine):
    s = engine.stream("metrics")
    s.set("cpu", "host1", {"load": 0.5})
    assert s.get("cpu", "host1") == {"load": 0.5}
    assert s.list("cpu") == [{"load": 0.5}]
    assert s.update("cpu", "host1", [{"type": "set", "path": "load", "value": 0.7}])["new_value"] == {
        "load": 0.7
    }
    assert s.list_groups() == ["cpu"]
    assert s.send("cpu", "alert", {"level": 1}) is None
    assert s.delete("cpu", "host1") == {"old_value": {"load": 0.7}}


def outcome(write, *args):
    """What ``write(*args)`` returned, or the code and message it failed with."""
    try:
        return write(*args)
    except InvocationError as exc:
        return (exc.code, exc.message)


def test_stream_handle_set_is_stream_set_in_results_errors_and_events(engine):
    deep: list = []
    for _ in range(200):
        deep = [deep]
    cases = [
        ("g", "a", {"v": 1}),
        ("g", "a", {"v": 2}),  # an update: the old value comes back
        ("", "a", 1),
        ("g", "", 1),
        ("g", 7, 1),
        ("g", "x" * 1000, 1),
        ("g", "tab\there", 1),
        ("g", "zero\u200bwidth", 1),  # not printable, but a valid name
        ("g", "a", {1, 2}),  # a set is stored as a list
        ("g", "a", deep),
        ("g", "a", object()),
        ("g", "big", "x" * (engine.core.limits.max_payload_bytes + 1)),
    ]
    events: list = []
    engine.subscribe("handle", "g", events.append)
    engine.subscribe("trigger", "g", events.append)
    for group_id, item_id, data in cases:
        by_handle = outcome(engine.stream("handle").set, group_id, item_id, data)
        payload = {"stream_name": "trigger", "group_id": group_id, "item_id": item_id, "data": data}
        by_trigger = outcome(engine.trigger, "stream::set", payload)
        assert by_handle == by_trigger, (group_id, item_id)
    handled = [(m["id"], m["event"]) for m in events if m["streamName"] == "handle"]
    assert handled == [(m["id"], m["event"]) for m in events if m["streamName"] == "trigger"]
    assert [item_id for item_id, _ in handled] == [None, "a", "a", "zero\u200bwidth", "a"]  # sync first


def test_stream_handle_set_follows_what_serves_stream_set(engine):
    s = engine.stream("later")
    assert s.set("g", "a", 1) == {"old_value": None, "new_value": 1}
    engine.create_stream("later", PositionalStream())  # a custom stream from now on
    assert s.set("g", "a", 2) == {"old_value": None, "new_value": 2}
    assert engine.stream("later").get("g", "a") == 2
    engine.register_function("stream::set", lambda payload: {"replaced": payload["item_id"]})
    assert engine.stream("other").set("g", "b", 3) == {"replaced": "b"}


def test_invocation_error_is_exported():
    assert iii_live.InvocationError is InvocationError


class PositionalStream:
    """A custom stream with its own parameter names, positional."""

    def __init__(self):
        self.items = {}

    def get(self, group, item):
        return self.items.get((group, item))

    def set(self, group, item, value):
        old = self.items.get((group, item))
        self.items[(group, item)] = value
        return {"old_value": old, "new_value": value}

    def delete(self, group, item):
        return {"old_value": self.items.pop((group, item), None)}

    def list(self, group):
        return [v for (g, _), v in self.items.items() if g == group]

    def list_groups(self, stream):
        assert stream == "pos"
        return sorted({g for g, _ in self.items})


def test_custom_stream_with_positional_parameters(engine):
    engine.create_stream("pos", PositionalStream())
    s = engine.stream("pos")
    assert s.set("g", "a", 1) == {"old_value": None, "new_value": 1}
    assert s.get("g", "a") == 1
    assert s.list("g") == [1]
    assert s.list_groups() == ["g"]
    assert s.delete("g", "a") == {"old_value": 1}
