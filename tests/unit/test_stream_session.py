"""The stream-port session without a socket: joins, leaves, limits, vetoes, triggers."""

from __future__ import annotations

import asyncio
import json

from iii_live.limits import Limits
from iii_live.protocol.stream_session import StreamSession

from .conftest import ListTransport, frames, make_core, run


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
    transport = ListTransport()
    return StreamSession(core, transport, **options), transport.sent


async def feed(session, *raw):
    """Feed frames, then wait until their joins and leaves are done."""
    for frame in raw:
        await session.receive(frame)
    await session.settled()


def test_join_syncs_then_streams_then_leave_stops():
    async def scenario():
        core = make_core()
        core.call("stream::set", {"stream_name": "s", "group_id": "g", "item_id": "a", "data": 1})
        session, sent = session_for(core)
        await feed(session, join("j", "s", "g"))
        core.call("stream::set", {"stream_name": "s", "group_id": "g", "item_id": "b", "data": 2})
        await feed(session, leave("j", "s", "g"))
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
        await feed(session, join("j", "s", "g"))
        return frames(sent)

    assert run(scenario())[0]["event"]["data"] == {"a": 1}


def test_names_out_of_bounds_are_answered_unauthorized_with_a_reason():
    async def scenario():
        core = make_core(Limits(max_name_length=8))
        session, sent = session_for(core)
        await feed(session, join("j", "s", "g" * 9))
        await feed(session, join("j", "s", "a\x85b"))
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
            await feed(session, join(sub, "s", group))
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
        await feed(session, join("v", "s", "x"))
        await feed(session, join("ok", "s", "g", "i"))
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
            await feed(session, junk)
        await feed(session, join("j", "s", "g"))
        return frames(sent)

    assert [f["event"]["type"] for f in run(scenario())] == ["sync"]


def test_a_closed_session_sends_nothing_more():
    async def scenario():
        core = make_core()
        session, sent = session_for(core)
        await feed(session, join("j", "s", "g"))
        session.close()
        core.call("stream::set", {"stream_name": "s", "group_id": "g", "item_id": "a", "data": 1})
        return frames(sent), core

    received, core = run(scenario())
    assert [f["event"]["type"] for f in received] == ["sync"] and core.hub.counts() == {}


def set_item(core, item, value, group="g"):
    core.call("stream::set", {"stream_name": "s", "group_id": group, "item_id": item, "data": value})


def test_a_reader_behind_gets_the_latest_value_per_item_then_goes_live():
    async def scenario():
        core = make_core()
        transport = ListTransport()
        session = StreamSession(core, transport, conflate_at=100)
        await session.receive(join("j", "s", "g"))
        await session.settled()
        transport.backlog = 1000  # the peer stopped reading for a while
        for n in range(50):
            set_item(core, f"k{n % 5}", n)
        core.call("stream::send", {"stream_name": "s", "group_id": "g", "type": "ping", "data": 1})
        core.call("stream::delete", {"stream_name": "s", "group_id": "g", "item_id": "k0"})
        first = len(transport.sent)
        transport.drain()  # in chunks of about conflate_at bytes, each after the previous drained
        while transport._drained:
            transport.drain()
        set_item(core, "k1", 100)
        return frames(transport.sent), first, session

    sent, first, session = run(scenario())
    assert first == 1  # the sync; then the backlog showed and every change was held
    caught_up = [(f["id"], f["event"]["type"], f["event"].get("data")) for f in sent[1:-1]]
    assert caught_up == [
        ("k1", "update", 46),
        ("k2", "update", 47),
        ("k3", "update", 48),
        ("k4", "update", 49),
        ("k0", "delete", 45),
    ]
    assert sent[-1]["id"] == "k1" and sent[-1]["event"]["data"] == 100  # live again: every frame
    assert session.dropped == 1 and session.conflated == 46  # 45 sets folded, and k0's set into its delete


def test_a_reader_behind_gets_syncs_at_once_and_later_changes_after_them():
    async def scenario():
        core = make_core()
        transport = ListTransport()
        session = StreamSession(core, transport, conflate_at=10)
        await session.receive(join("a", "s", "g"))
        await session.settled()
        transport.backlog = 1000
        set_item(core, "x", 1)  # before the second sync: the sync holds it
        await session.receive(join("b", "s", "g"))
        await session.settled()
        set_item(core, "x", 2)  # after it: must follow it
        set_item(core, "y", 3)
        set_item(core, "y", 4, group="other")  # not subscribed
        while transport._drained or transport.backlog:
            transport.drain()
        return frames(transport.sent)

    sent = run(scenario())
    after_first_sync = [(f["event"]["type"], f["id"], f["event"]["data"]) for f in sent[1:]]
    assert after_first_sync == [("sync", None, [1]), ("update", "x", 2), ("create", "y", 3)]


def test_a_change_held_from_before_a_sync_repeats_what_the_sync_holds():
    async def scenario():
        core = make_core()
        transport = ListTransport()
        session = StreamSession(core, transport, conflate_at=10)
        await feed(session, join("a", "s", "g"))
        transport.backlog = 1000
        set_item(core, "x", 1)
        await feed(session, join("b", "s", "g"))
        transport.drain()
        return frames(transport.sent)

    sent = run(scenario())
    assert [(f["event"]["type"], f["event"]["data"]) for f in sent[1:]] == [("sync", [1]), ("create", 1)]


def test_a_slow_join_trigger_holds_up_no_other_subscription():
    async def scenario():
        core = make_core()
        release = asyncio.Event()

        async def on_join(payload):
            if payload["group_id"] == "slow":
                await release.wait()
            return None

        core.functions.register("on_join", on_join)
        core.triggers.register("stream:join", "on_join")
        transport = ListTransport()
        session = StreamSession(core, transport)
        await session.receive(join("a", "s", "slow"))
        await session.receive(leave("a", "s", "slow"))  # same id: waits for its join
        await session.receive(join("b", "s", "fast"))
        while not transport.sent:
            await asyncio.sleep(0)
        fast_first = frames(transport.sent)
        release.set()
        await session.settled()
        return fast_first, frames(transport.sent), session

    fast_first, everything, session = run(scenario())
    assert [f["groupId"] for f in fast_first] == ["fast"]
    assert [f["groupId"] for f in everything] == ["fast", "slow"]
    assert list(session.subscriptions) == ["b"]  # the leave of "a" came after its join


def test_joins_still_waiting_count_against_the_cap():
    async def scenario():
        core = make_core(Limits(max_subscriptions_per_connection=2))
        release = asyncio.Event()

        async def on_join(payload):
            await release.wait()

        core.functions.register("on_join", on_join)
        core.triggers.register("stream:join", "on_join")
        transport = ListTransport()
        session = StreamSession(core, transport)
        for sub in ("a", "b", "c"):
            await session.receive(join(sub, "s", sub))
        while not transport.sent:
            await asyncio.sleep(0)
        release.set()
        await session.settled()
        return frames(transport.sent)

    sent = run(scenario())
    assert [(f["groupId"], f["event"]["type"]) for f in sent] == [
        ("c", "unauthorized"),
        ("a", "sync"),
        ("b", "sync"),
    ]


def resume_join(sub: str, stream: str, group: str, since: dict | None = None, item: str | None = None) -> str:
    data: dict = {"subscriptionId": sub, "streamName": stream, "groupId": group, "resume": True}
    if since is not None:
        data["since"] = since
    if item is not None:
        data["id"] = item
    return json.dumps({"type": "join", "data": data})


def test_resumable_frames_carry_their_place_and_plain_ones_stay_iii_frames():
    async def scenario():
        core = make_core()
        set_item(core, "a", 1)
        plain, plain_sent = session_for(core)
        resumable, resumable_sent = session_for(core)
        await feed(plain, join("p", "s", "g"))
        await feed(resumable, resume_join("r", "s", "g"))
        set_item(core, "b", 2)
        return plain_sent, resumable_sent

    plain_sent, resumable_sent = run(scenario())
    assert b'"seq"' not in b"".join(plain_sent)
    sync, change = (json.loads(frame) for frame in resumable_sent)
    assert (sync["seq"], change["seq"]) == (0, 1) and sync["epoch"] == change["epoch"]
    assert list(change)[:4] == ["type", "timestamp", "seq", "epoch"]  # beside the timestamp
    assert json.loads(plain_sent[1]) == {k: v for k, v in change.items() if k not in ("seq", "epoch")}


def test_a_resume_within_the_window_replays_exactly_what_was_missed():
    async def scenario():
        core = make_core()
        first, first_sent = session_for(core)
        await feed(first, resume_join("r", "s", "g"))
        set_item(core, "a", 1)
        last_seen = json.loads(first_sent[-1])
        first.close()  # the connection drops...
        for n in range(3):  # ...while writes go on
            set_item(core, "a", 10 + n)
        core.call("stream::send", {"stream_name": "s", "group_id": "g", "type": "t", "data": 0})
        again, again_sent = session_for(core)
        since = {"seq": last_seen["seq"], "epoch": last_seen["epoch"]}
        await feed(again, resume_join("r", "s", "g", since))
        set_item(core, "a", 99)
        return frames(again_sent), last_seen

    sent, last_seen = run(scenario())
    marker = sent[0]
    assert marker["recovered"] is True and marker["event"]["event"] == {
        "type": "iii-live:resumed",
        "data": {"missed": 4},
    }
    assert [f["seq"] for f in sent[1:]] == [2, 3, 4, 5, 6]  # no gap, nothing twice, then live
    assert [f["event"]["type"] for f in sent[1:]] == ["update", "update", "update", "event", "update"]
    assert all("recovered" not in f for f in sent[1:]) and last_seen["seq"] == 1


def test_a_resume_the_history_cannot_serve_gets_a_sync_marked_not_recovered():
    async def scenario():
        core = make_core()
        set_item(core, "a", 1)
        session, sent = session_for(core)
        await feed(session, resume_join("x", "s", "g", {"seq": 5, "epoch": "gone"}))
        await feed(session, resume_join("y", "s", "g", {"seq": "5", "epoch": 3}))  # malformed: same answer
        return frames(sent)

    for frame in run(scenario()):
        assert frame["recovered"] is False and frame["event"] == {"type": "sync", "data": [1]}


def test_a_resumed_item_subscription_gets_only_its_item():
    async def scenario():
        core = make_core()
        session, sent = session_for(core)
        await feed(session, resume_join("r", "s", "g", item="a"))
        seen = json.loads(sent[-1])
        session.close()
        set_item(core, "b", 1)
        set_item(core, "a", 2)
        again, again_sent = session_for(core)
        await feed(again, resume_join("r", "s", "g", {"seq": seen["seq"], "epoch": seen["epoch"]}, item="a"))
        return frames(again_sent)

    marker, change = run(scenario())
    assert marker["event"]["event"]["data"] == {"missed": 1} and (change["id"], change["seq"]) == ("a", 2)


def test_a_dashboard_viewer_waits_for_its_frame_even_for_an_event_alone_in_its_turn():
    from iii_live.server.dashboard_pages import ViewerFlushes, ViewerSession

    async def until(condition) -> None:
        while not condition():
            await asyncio.sleep(0.005)

    async def scenario():
        core = make_core()
        transport = ListTransport()
        session = ViewerSession(core, transport, ViewerFlushes(interval=0.02))
        await feed(session, join("j", "s", "g"))
        await asyncio.wait_for(until(lambda: len(transport.sent) == 1), 5)  # the sync, in a frame
        set_item(core, "a", 1)  # fanned out at once (this core's fan-out is synchronous)...
        held = len(transport.sent)
        await asyncio.wait_for(until(lambda: len(transport.sent) == 2), 5)  # ...sent with the frame
        return held, frames(transport.sent)

    held, sent = run(scenario())
    assert held == 1
    assert [f["event"]["type"] for f in sent] == ["sync", "create"]
