"""Views that pages open, without a socket: open, replace, close, caps, errors that name the
wrong part of the spec, and a stream-port session's ``view`` frames."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from iii_live.protocol.stream_session import StreamSession
from iii_live.protocol.view_requests import MAX_PAGE_VIEWS, ViewRequests, page_spec
from iii_live.views import ViewSpecError

from .conftest import ListTransport, frames, make_core, run

BY_REGION = {"group_by": ["region"], "agg": {"total": ["qty", "sum"]}}


def fill(core: Any) -> None:
    for i, (region, qty) in enumerate([("eu", 1), ("us", 2), ("eu", 3)]):
        item = {"region": region, "qty": qty, "name": f"n{i}"}
        core.call("stream::set", {"stream_name": "o", "group_id": "all", "item_id": str(i), "data": item})


def rows(core: Any, stream: str, group: str) -> list[Any]:
    return core.call("stream::list", {"stream_name": stream, "group_id": group})


def totals(core: Any, stream: str, group: str) -> dict[str, Any]:
    return {row["region"]: row["total"] for row in rows(core, stream, group)}


def requests_for(core: Any, **options: Any) -> ViewRequests:
    return ViewRequests(core.views.open, core.adapter.count, **options)


async def scenario_of(test: Any) -> Any:
    core = make_core()
    fill(core)
    try:
        return await test(core)
    finally:
        core.close()


def test_a_page_spec_is_the_group_plus_what_the_page_set() -> None:
    assert page_spec("o", "all", {"where": [["qty", ">", 1]], "group_by": [], "agg": None}) == {
        "stream_name": "o",
        "group_id": "all",
        "where": [["qty", ">", 1]],
    }
    assert page_spec("o", "all", None) is None
    assert page_spec("o", "all", {"where": [], "descending": False}) is None  # nothing set: no view
    assert page_spec("o", "all", {"limit": 0}) == {"stream_name": "o", "group_id": "all", "limit": 0}
    for key in ("name", "stream_name", "group_id", "wehre"):
        with pytest.raises(ViewSpecError) as caught:
            page_spec("o", "all", {key: "x"})
        assert caught.value.part == key
    with pytest.raises(ViewSpecError, match="spec"):
        page_spec("o", "all", ["where"])


def test_open_replace_and_close_a_view_by_its_handle() -> None:
    async def test(core: Any) -> None:
        views = requests_for(core)
        opened = views.request("t1", "o", "all", BY_REGION, req=1)
        assert opened["req"] == 1 and opened["viewId"] == "t1"
        assert opened["streamName"] == "o~views" and opened["groupId"].startswith("all~v")
        assert opened["columns"] == ["region", "total"] and opened["rows"] == 2
        assert opened["spec"]["group_by"] == ["region"]
        assert totals(core, opened["streamName"], opened["groupId"]) == {"eu": 4, "us": 2}

        same = views.request("t1", "o", "all", dict(BY_REGION), req=2)  # an equal spec: the same view
        assert same["groupId"] == opened["groupId"] and len(views) == 1
        assert [v.group_id for v in core.views.views()] == [opened["groupId"]]

        filtered = views.request("t1", "o", "all", {"where": [["qty", ">=", 2]]}, req=3)
        assert sorted(row["name"] for row in rows(core, "o~views", filtered["groupId"])) == ["n1", "n2"]
        assert [v.group_id for v in core.views.views()] == [filtered["groupId"]]  # the old one closed
        assert rows(core, "o~views", opened["groupId"]) == []

        assert views.request("t1", "o", "all", None, req=4) == {
            "type": "view",
            "viewId": "t1",
            "req": 4,
            "closed": True,
        }
        assert core.views.views() == [] and len(views) == 0

    run(scenario_of(test))


@pytest.mark.parametrize(
    ("spec", "part"),
    [
        ({"where": "qty >"}, "where"),  # an invalid expression
        ({"where": [["qty", ">", 1], "qty ** 2 > 1"]}, "where[1]"),
        ({"group_by": "region", "agg": {"total": ["name", "sum"]}}, "agg.total"),  # a sum of strings
        ({"group_by": "region", "agg": {"total": ["qty", "median"]}}, "agg.total"),  # unknown aggregate
        ({"where": [["colour", "==", "red"]]}, "where"),  # a field no item has
        ({"columns": [{"x": "lower("}]}, "columns.x"),
        ({"limit": -1}, "limit"),
        ({"name": "mine"}, "name"),
    ],
)
def test_a_wrong_spec_is_answered_with_the_part_and_the_view_before_stays(spec: Any, part: str) -> None:
    async def test(core: Any) -> None:
        views = requests_for(core)
        before = views.request("t", "o", "all", BY_REGION)
        answer = views.request("t", "o", "all", spec, req=7)
        assert answer["req"] == 7 and answer["error"]["part"] == part, answer
        assert answer["error"]["message"].startswith(f"view spec `{part}`")
        assert [v.group_id for v in core.views.views()] == [before["groupId"]]
        assert totals(core, before["streamName"], before["groupId"]) == {"eu": 4, "us": 2}

    run(scenario_of(test))


def test_views_per_owner_are_capped_and_all_close_with_it() -> None:
    async def test(core: Any) -> None:
        views = requests_for(core, max_views=2)
        for i in range(2):
            assert "groupId" in views.request(f"t{i}", "o", "all", {"where": [["qty", ">", i]]})
        refused = views.request("t9", "o", "all", {"where": [["qty", ">", 9]]})
        assert refused["error"]["part"] == "view" and "at most 2" in refused["error"]["message"]
        assert "groupId" in views.request("t0", "o", "all", {"limit": 1})  # a replacement is no new view
        views.close()
        assert core.views.views() == []
        late = views.request("t0", "o", "all", {"limit": 2})
        assert late["error"]["part"] == "view" and core.views.views() == []

    run(scenario_of(test))


def test_a_view_opened_while_its_owner_closes_is_closed_at_once() -> None:
    async def test(core: Any) -> None:
        def open_then_owner_goes(spec: dict[str, Any]) -> Any:
            view = core.views.open(spec)
            views.close()
            return view

        views = ViewRequests(open_then_owner_goes, core.adapter.count)
        answer = views.request("t", "o", "all", BY_REGION)
        assert answer["error"]["part"] == "view" and core.views.views() == []

    run(scenario_of(test))


def test_a_failure_to_open_is_answered_not_raised() -> None:
    async def test(core: Any) -> None:
        def broken(spec: dict[str, Any]) -> Any:
            raise RuntimeError("the engine is stopped")

        answer = ViewRequests(broken, core.adapter.count).request("t", "o", "all", BY_REGION, req=3)
        assert answer["error"] == {
            "part": "view",
            "message": "the view could not be opened: the engine is stopped",
        }

    run(scenario_of(test))


# -- over a stream-port session ---------------------------------------------------------------


def view_frame(handle: str, spec: Any, req: int = 1, group: str = "all", **extra: Any) -> str:
    data = {"viewId": handle, "req": req, "streamName": "o", "groupId": group, "spec": spec, **extra}
    return json.dumps({"type": "view", "data": data})


async def sent_after(session: StreamSession, sent: list[bytes], *raw: str) -> list[dict[str, Any]]:
    before = len(sent)
    for frame in raw:
        await session.receive(frame)
    await session.settled()
    return frames(sent[before:])


def test_a_session_opens_views_answers_in_order_and_closes_them_with_the_socket() -> None:
    async def test(core: Any) -> None:
        transport = ListTransport()
        session = StreamSession(core, transport)
        answers = await sent_after(
            session,
            transport.sent,
            view_frame("t", BY_REGION, req=1),
            view_frame("t", {"where": "qty >"}, req=2),
            view_frame("t", {"group_by": "region", "agg": {"n": ["qty", "count"]}}, req=3),
        )
        assert [a["req"] for a in answers] == [1, 2, 3]
        assert answers[1]["error"]["part"] == "where"
        assert answers[2]["columns"] == ["region", "n"]
        derived = answers[2]["groupId"]
        join = {"type": "join", "data": {"subscriptionId": "s", "streamName": "o~views", "groupId": derived}}
        synced = await sent_after(session, transport.sent, json.dumps(join))
        assert sorted((r["region"], r["n"]) for r in synced[0]["event"]["data"]) == [("eu", 2), ("us", 1)]
        session.close()
        for _ in range(3):  # the views close on a task
            await asyncio.sleep(0)
        assert core.views.views() == []

    run(scenario_of(test))


def test_a_session_refuses_views_a_join_trigger_vetoes_and_bad_names() -> None:
    async def test(core: Any) -> None:
        core.functions.register("on_join", lambda p: {"unauthorized": p["group_id"] == "secret"})
        core.triggers.register("stream:join", "on_join")
        transport = ListTransport()
        session = StreamSession(core, transport)
        answers = await sent_after(
            session,
            transport.sent,
            view_frame("t", BY_REGION, group="secret"),
            view_frame("t", BY_REGION, group=""),
            view_frame("t", BY_REGION, group=5),
            json.dumps({"type": "view", "data": {"spec": BY_REGION, "req": 8}}),  # no handle
            json.dumps({"type": "view", "data": "x"}),
            view_frame("t", BY_REGION, req=9),
        )
        parts = [(a["viewId"], a["error"]["part"]) for a in answers[:5]]
        assert parts == [("t", "view"), ("t", "groupId"), ("t", "groupId"), (None, "viewId"), (None, "data")]
        assert "stream:join" in answers[0]["error"]["message"] and answers[3]["req"] == 8
        assert answers[5]["req"] == 9 and "groupId" in answers[5] and len(answers) == 6

    run(scenario_of(test))


def test_a_session_whose_joins_are_narrowed_opens_no_views() -> None:
    async def test(core: Any) -> None:
        transport = ListTransport()
        session = StreamSession(core, transport, may_join=lambda stream, group: None)
        answers = await sent_after(session, transport.sent, view_frame("t", BY_REGION))
        assert answers[0]["error"] == {"part": "view", "message": "this connection opens no views"}
        assert core.views.views() == []

    run(scenario_of(test))


def test_more_views_than_the_cap_are_refused_on_a_session() -> None:
    async def test(core: Any) -> None:
        transport = ListTransport()
        session = StreamSession(core, transport)
        raw = [view_frame(f"t{i}", {"where": [["qty", ">", i]]}, req=i) for i in range(MAX_PAGE_VIEWS + 1)]
        answers = await sent_after(session, transport.sent, *raw)
        assert ["error" in a for a in answers] == [False] * MAX_PAGE_VIEWS + [True]
        assert len(core.views.views()) == MAX_PAGE_VIEWS

    run(scenario_of(test))
