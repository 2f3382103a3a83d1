"""The stream-port session without a socket: joins, leaves, limits, vetoes, triggers."""

from __future__ import annotations

import json

from iii_live.limits import Limits
from iii_live.protocol.stream_session import StreamSession

from .conftest import frames, make_core, run


def join(sub: str, stream: str, group: str, item: str | None = None) -> str:
    data = {"subscriptionId": sub, "streamName": stream, "groupId": group}
    if item is not None:
        data["id"] = item
    return json.dumps({"type": "join", "data": data})


def leave(sub: str, stream: str, group: str) -> str:
    return json.dumps(
        {"type": "leave", "data": {"subscriptionId": sub, "streamName": stream, "groupId": group}}
    )


def session_for(core, **options):
    sent: list[bytes] = []
    return StreamSession(core, sent.extend, **options), sent


def test_join_syncs_then_streams_then_leave_stops():
    async def scenario():
        core = make_core()
        core.call("stream::set", {"stream_name": "s", "group_id": "g", "item_id": "a", "data": 1})
        session, sent = session_for(core)
        await session.receive(join("j", "s", "g"))
        core.call("stream::set", {"stream_name": "s", "group_id": "g", "item_id": "b", "data": 2})
        await session.receive(leave("j", "s", "g"))
        core.call("stream::set", {"stream_name": "s", "group_id": "g", "item_id": "c", "data": 3})
        return frames(sent), core

    received, core = run(scenario())
    assert [(f["event"]["type"], f["id"], f["event"]["data"]) for f in received] == [
        ("sync", None, [1]),
        ("create", "b", 2),
    ]
    assert core.hub.counts() == {}


def test_keyed_session_syncs_item_ids():
    async def scenario():
        core = make_core()
        core.call("stream::set", {"stream_name": "s", "group_id": "g", "item_id": "a", "data": 1})
        session, sent = session_for(core, keyed=True)
        await session.receive(join("j", "s", "g"))
        return frames(sent)

    assert run(scenario())[0]["event"]["data"] == {"a": 1}


def test_names_out_of_bounds_are_answered_unauthorized_with_a_reason():
    async def scenario():
        core = make_core(Limits(max_name_length=8))
        session, sent = session_for(core)
        await session.receive(join("j", "s", "g" * 9))
        await session.receive(join("j", "s", "a\x85b"))
        return frames(sent), core

    received, core = run(scenario())
    assert [f["event"]["type"] for f in received] == ["unauthorized", "unauthorized"]
    assert "max_name_length" in received[0]["event"]["reason"]
    assert "control characters" in received[1]["event"]["reason"]
    assert core.hub.counts() == {} and len(core.streams.clock) == 0  # nothing kept for refused names


def test_subscriptions_per_connection_are_capped_but_rejoining_an_id_is_not():
    async def scenario():
        core = make_core(Limits(max_subscriptions_per_connection=2))
        session, sent = session_for(core)
        for sub, group in (("a", "g1"), ("b", "g2"), ("a", "g3"), ("c", "g4")):
            await session.receive(join(sub, "s", group))
        return frames(sent)

    received = run(scenario())
    assert [(f["groupId"], f["event"]["type"]) for f in received] == [
        ("g1", "sync"),
        ("g2", "sync"),
        ("g3", "sync"),
        ("g4", "unauthorized"),
    ]
    assert "max_subscriptions_per_connection=2" in received[-1]["event"]["reason"]


def test_join_trigger_veto_context_and_leave_triggers_on_close():
    async def scenario():
        core = make_core()
        joins, leaves = [], []
        core.functions.register(
            "on_join", lambda p: joins.append(p) or {"unauthorized": p["group_id"] == "x"}
        )
        core.functions.register("on_leave", leaves.append)
        core.triggers.register("stream:join", "on_join")
        core.triggers.register("stream:leave", "on_leave")
        session, sent = session_for(core, context={"user": "u1"})
        await session.receive(join("v", "s", "x"))
        await session.receive(join("ok", "s", "g", "i"))
        session.close()
        for _ in range(3):  # the leave triggers run as a task
            await __import__("asyncio").sleep(0)
        return frames(sent), joins, leaves

    received, joins, leaves = run(scenario())
    assert [f["event"]["type"] for f in received] == ["unauthorized", "sync"]
    assert "reason" not in received[0]["event"]
    assert joins[0] == {
        "subscription_id": "v",
        "stream_name": "s",
        "group_id": "x",
        "id": None,
        "context": {"user": "u1"},
    }
    assert leaves == [
        {"subscription_id": "ok", "stream_name": "s", "group_id": "g", "id": "i", "context": {"user": "u1"}}
    ]


def test_frames_that_are_not_joins_or_leaves_are_ignored():
    async def scenario():
        core = make_core()
        session, sent = session_for(core)
        for junk in (
            "",
            "x",
            "[]",
            '{"type":"ping"}',
            b"\xff",
            '{"type":"join","data":{"subscriptionId":1}}',
        ):
            await session.receive(junk)
        await session.receive(join("j", "s", "g"))
        return frames(sent)

    assert [f["event"]["type"] for f in run(scenario())] == ["sync"]


def test_a_closed_session_sends_nothing_more():
    async def scenario():
        core = make_core()
        session, sent = session_for(core)
        await session.receive(join("j", "s", "g"))
        session.close()
        core.call("stream::set", {"stream_name": "s", "group_id": "g", "item_id": "a", "data": 1})
        return frames(sent), core

    received, core = run(scenario())
    assert [f["event"]["type"] for f in received] == ["sync"] and core.hub.counts() == {}
