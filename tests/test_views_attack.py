"""Live views against hostile and unlucky clients, over real sockets: malformed requests
are answered naming the wrong part, specs built to be slow or huge are refused or bounded,
and no view outlives the sockets that opened it."""

from __future__ import annotations

import json
import random
import threading
from typing import Any

import pandas as pd
import pytest

import iii_live
from iii_live.views import ViewSpecError

from .conftest import Client, wait_for
from .test_view_requests import BY_REGION, ask, fill, next_change, shown_table


def view_frame(data: Any) -> dict[str, Any]:
    return {"type": "view", "data": data}


def request(req: Any, spec: Any, **names: Any) -> dict[str, Any]:
    return {"viewId": "t", "req": req, "streamName": "o", "groupId": "all", "spec": spec, **names}


def view_answers_until(client: Client, req: int) -> list[dict[str, Any]]:
    """Every view answer, in order, up to and with the one to ``req``."""
    answers = []
    while True:
        frame = client.recv(timeout=10)
        if frame.get("type") == "view":
            answers.append(frame)
            if frame.get("req") == req:
                return answers


def test_malformed_view_requests_are_answered_naming_the_part(engine, client_factory):
    fill(engine)
    client = client_factory(engine.stream_url + "/")
    sent: list[tuple[Any, str]] = [
        (None, "data"),
        ([1], "data"),
        ({"req": 1}, "viewId"),
        ({"viewId": 5, "req": 2}, "viewId"),
        ({"viewId": "x" * 300, "req": 3}, "viewId"),
        ({"viewId": "a\u0000", "req": 4}, "viewId"),
        (request([[[[[[[[1]]]]]]]] * 100, BY_REGION), "req"),
        (request(json.loads("[" * 300 + "]" * 300), BY_REGION), "req"),
        (request(5, BY_REGION, streamName=7), "streamName"),
        (request(6, BY_REGION, groupId="g" * 300), "groupId"),
        (request(7, BY_REGION, groupId=""), "groupId"),
        (request(8, [1]), "spec"),
        (request(9, {"where": {"or": "x"}}), "where.or"),
        (request(10, {"group_by": "region", "agg": {"n": ["qty"]}}), "agg.n"),
        (request(11, {"limit": "10"}), "limit"),
        (request(12, {"__proto__": 1}), "__proto__"),
        (request(13, {"columns": [{"x": "().__class__"}]}), "columns.x"),
        (request(14, {"where": "__import__('os').system('true')"}), "where"),
        (request(15, {"where": "9 ** 9 ** 9 > qty"}), "where"),
        (request(16, {"columns": [{"x": "sku[0]"}]}), "columns.x"),
        (request(17, {"columns": [{"x": "[c for c in sku]"}]}), "columns.x"),
        (request(18, {"columns": [{"x": "qty * " + "9" * 400}]}), "columns.x"),
        (request(19, {"where": [["qty", "~=", 1]]}), "where[0]"),
        (request(20, {"where": [["qty", "between", [1, "z"]]]}), "where[0]"),
    ]
    for data, _part in sent:
        client.send(view_frame(data))
    client.send(view_frame(request(99, BY_REGION)))  # the sentinel: a request that opens
    answers = view_answers_until(client, 99)
    assert [a["error"]["part"] for a in answers[:-1]] == [part for _data, part in sent]
    assert [a["viewId"] for a in answers[:8]] == [None] * 8 and answers[9]["viewId"] == "t"
    assert answers[2]["req"] == 1 and "max_name_length" in answers[4]["error"]["message"]
    assert answers[-1]["groupId"] and answers[-1]["rows"] == 3
    assert len(engine.core.views.views()) == 1
    client.close()
    wait_for(lambda: engine.core.views.views() == [])


def test_a_megabyte_of_conditions_or_deep_nesting_is_refused_and_the_socket_works_on(engine, client_factory):
    orders = fill(engine)
    client = client_factory(engine.stream_url + "/")
    many = [["qty", "!=", 10_000 + i] for i in range(40_000)]  # 800 kB: within a frame's bound
    deep: Any = ["qty", ">", 0]
    for _ in range(200):
        deep = {"not": deep}
    huge = ask(client, "t", {"where": many}, req=1)
    nested = ask(client, "t", {"where": deep}, req=2)
    assert huge["error"]["part"] == "where[2000]" and "too large" in huge["error"]["message"]
    assert nested["error"]["part"].startswith("where.not.not") and "deep" in nested["error"]["message"]
    opened = ask(client, "t", {"where": many[:1000]}, req=3)  # large, within the bound
    client.join("rows", opened["streamName"], opened["groupId"])
    assert len(next_change(client)["event"]["data"]) == 4
    orders.set("all", "9", {"region": "eu", "qty": 9, "sku": "s9"})
    assert next_change(client)["id"] == "9"


def chain(first: str, step: str, length: int, prefix: str) -> list[dict[str, str]]:
    names = [f"{prefix}{i}" for i in range(length)]
    return [{names[0]: first}] + [{names[i]: step.format(names[i - 1])} for i in range(1, length)]


def test_columns_that_double_a_value_per_column_give_rows_that_are_stored(engine, client_factory):
    fill(engine)
    client = client_factory(engine.stream_url + "/?sync=keyed")
    columns = [
        *chain("qty * qty + 2", "{0} * {0}", 12, "n"),
        *chain("sku + sku", "{0} + {0}", 17, "t"),
        *chain("[qty, qty]", "[{0}, {0}]", 12, "l"),
        {"r": "round(qty, -99999999999)"},
    ]
    answer = ask(client, "t", {"columns": columns}, req=1)
    client.join("rows", answer["streamName"], answer["groupId"])
    rows = next_change(client)["event"]["data"]
    assert sorted(rows) == ["0", "1", "2", "3"]
    row = rows["0"]  # qty 1, sku "s0"
    assert (row["n0"], row["n2"], row["n11"]) == (3, 81, None)  # 3 ** 2048 is past a float
    assert len(row["t14"]) == 2**16 and row["t15"] is None
    assert (row["l0"], row["l1"], row["r"]) == ([1, 1], None, 0)


def test_no_view_outlives_the_sockets_that_opened_it(engine, client_factory):
    fill(engine)
    specs = [BY_REGION, {"where": [["qty", ">", 1]]}, {"sort_by": "qty", "limit": 2}]
    readers = [client_factory(engine.stream_url + url) for url in ("/", "/stream/o/all", "/?sync=keyed")]
    for n, client in enumerate(readers):  # equal specs on every socket, and one of each socket's own
        for i, spec in enumerate([*specs, {"where": [["qty", "!=", n]]}]):
            assert "groupId" in ask(client, f"h{i}", spec, req=i)
    assert len(engine.core.views.views()) == len(specs) + len(readers)
    flood = client_factory(engine.stream_url + "/")
    for i in range(41):  # replaced, closed and opened again faster than answered
        spec = None if i % 5 == 4 else {"where": [["qty", ">=", i]], "limit": 1 + i % 3}
        flood.send(view_frame(request(i, spec, viewId=f"f{i % 3}")))
    assert "groupId" in view_answers_until(flood, 40)[-1]
    leaving = [client_factory(engine.stream_url + "/") for _ in range(4)]
    for client in leaving:  # gone before any answer is read
        for i in range(8):
            client.send(view_frame(request(i, {"where": [["qty", "<", 100 + i]]}, viewId=f"v{i}")))
        client.close()
    for client in [*readers, flood]:
        client.close()
    wait_for(lambda: engine.core.views.views() == [], timeout=10)
    wait_for(lambda: engine.stream("o~views").list_groups() == [], timeout=10)


def test_a_socket_holds_at_most_eight_views_and_frees_a_place_by_closing_one(engine, client_factory):
    fill(engine)
    client = client_factory(engine.stream_url + "/")
    for i in range(8):
        assert "groupId" in ask(client, f"h{i}", {"where": [["qty", "!=", i]]}, req=i)
    refused = ask(client, "h8", BY_REGION, req=8)
    assert refused["error"]["part"] == "view" and "at most 8" in refused["error"]["message"]
    assert "groupId" in ask(client, "h0", BY_REGION, req=9)  # a replacement takes no new place
    assert ask(client, "h1", None, req=10)["closed"] is True
    assert "groupId" in ask(client, "h8", {"limit": 1}, req=11)
    assert len(engine.core.views.views()) == 8


@pytest.mark.parametrize(
    ("names", "part"),
    [
        ({"stream_name": "o\u0000"}, "stream_name"),
        ({"group_id": "all\u0085"}, "group_id"),
        ({"group_id": "\ud800"}, "group_id"),
        ({"stream_name": "s" * 251}, "stream_name"),  # its views' stream, s…s~views, is too long
        ({"group_id": "g" * 250}, "name"),  # the derived group, g…g~v<hash>, is too long
    ],
)
def test_names_a_view_cannot_have_raise_a_spec_error(engine, names: dict[str, str], part: str):
    with pytest.raises(ViewSpecError) as caught:
        engine.view({"stream_name": "o", "group_id": "all", "where": {"region": "eu"}, **names})
    assert caught.value.part == part
    assert engine.core.views.views() == []


def test_a_view_over_views_survives_its_base_closing_and_opening_again(engine):
    orders = fill(engine)
    regions = orders.view("all", group_by="region", agg={"total": ("qty", "sum")})
    big = engine.stream(regions.stream_name).view(regions.group_id, where=[("total", ">", 2)])
    assert set(big.items()) == {"eu", "asia"}
    regions.close()
    regions.close()  # a second close does nothing
    wait_for(lambda: big.items() == {})
    again = orders.view("all", group_by="region", agg={"total": ("qty", "sum")})
    wait_for(lambda: set(big.items()) == {"eu", "asia"})
    orders.set("all", "9", {"region": "us", "qty": 10, "sku": "s9"})
    wait_for(lambda: set(big.items()) == {"eu", "us", "asia"})
    big.close()
    again.close()
    wait_for(lambda: engine.core.views.views() == [])


def test_views_stay_exact_while_their_base_group_is_emptied_and_refilled_under_writes(engine):
    orders = engine.stream("o")
    by_region = orders.view(
        "all", group_by="region", agg={"n": ("qty", "count"), "low": ("qty", "min"), "top": ("qty", "max")}
    )
    top = orders.view("all", where=[("qty", ">=", 10)], sort_by="qty", descending=True, limit=5)
    lock = threading.Lock()  # the truth is what the group holds once every writer is done

    def write(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(1500):
            item_id = f"i{rng.randrange(60)}"
            if rng.random() < 0.3:
                orders.delete("all", item_id)
            else:
                orders.set("all", item_id, {"region": rng.choice("abc"), "qty": rng.randrange(100)})

    def empty() -> None:
        for _ in range(30):
            for item_id in orders.items("all"):
                orders.delete("all", item_id)

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(2)]
    threads.append(threading.Thread(target=empty))
    with lock:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    items = orders.items("all")
    assert items  # the writers outlast the emptying: the group holds items at the end
    ranked = sorted((-item["qty"], item_id) for item_id, item in items.items() if item["qty"] >= 10)
    wait_for(lambda: list(top.items()) == [item_id for _qty, item_id in ranked[:5]])
    regions: dict[str, list[int]] = {}
    for item in items.values():
        regions.setdefault(item["region"], []).append(item["qty"])
    expected = {r: {"region": r, "n": len(q), "low": min(q), "top": max(q)} for r, q in regions.items()}
    wait_for(lambda: by_region.items() == expected)


# -- a notebook table's page ----------------------------------------------------------------


def test_a_page_changing_its_filter_faster_than_views_open_opens_only_the_last(engine, monkeypatch):
    from iii_live.widgets import page_requests

    fill(engine)
    opened: list[dict[str, Any]] = []
    open_view = engine.core.views.open_for_page

    def counting(spec: Any) -> Any:
        opened.append(spec)
        return open_view(spec)

    monkeypatch.setattr(engine.core.views, "open_for_page", counting)
    table, comm = shown_table(engine)
    gate = threading.Event()
    try:
        page_requests.worker.submit(gate.wait)  # the requests queue up behind a slow one
        for req in range(50):
            spec = {"where": [["qty", ">=", req % 4]]}  # each a view of its own
            table._received(table, {"type": "view", "req": req, "spec": spec}, [])
        gate.set()
        last = comm.answer("view", 49)
        answers = [m for m in comm.sent if m.get("type") == "view"]
        assert [m["req"] for m in answers] == list(range(50))
        assert all(m.get("superseded") for m in answers[:49])
        assert len(opened) == 1 and last["groupId"] == table.page_view.group_id
        assert table.controls["spec"] == {"where": [["qty", ">=", 49 % 4]]}
        wait_for(lambda: set(table.items) == {"0", "1", "2", "3"})  # qty 1 to 4
    finally:
        gate.set()
        table.close()
    wait_for(lambda: engine.core.views.views() == [])


def test_a_page_sending_nonsense_gets_answers_and_the_table_keeps_its_view(engine):
    fill(engine)
    table, comm = shown_table(engine)
    try:
        table._received(table, {"type": "view", "req": 1, "spec": BY_REGION, "hidden": ["orders"]}, [])
        assert "groupId" in comm.answer("view", 1)
        view = table.page_view
        assert view is not None
        nonsense: list[tuple[Any, str]] = [
            ("x", "spec"),
            ({"name": "mine"}, "name"),
            ({"where": [["qty", "!=", i] for i in range(5_000)]}, "where[2000]"),
            ({"columns": [{"x": "round(qty, -99999999999) + 9 ** 9"}]}, "columns.x"),
            ({"group_by": "region", "agg": {"n": ["sku", "sum"]}}, "agg.n"),
        ]
        for req, (spec, part) in enumerate(nonsense, start=2):
            message = {"type": "view", "req": req, "spec": spec, "sort": 5, "hidden": {"a": 1}, "fields": "x"}
            table._received(table, message, [])
            assert comm.answer("view", req)["error"]["part"] == part
        for content in (None, [], "view", {"type": None}, {"type": "export", "req": {"a": [1]}}):
            table._received(table, content, [])
        exported = comm.answer("export", {"a": [1]})
        assert sorted(row[0] for row in exported["rows"]) == ["asia", "eu", "us"]
        assert table.page_view is view and table.controls["spec"] == BY_REGION
        assert table.controls["hidden"] == ["orders"]
        huge = "x" * 1_000_000  # names that are no column's are not kept (nor saved with the notebook)
        sort = {"by": huge, "ascending": True}
        names = {"hidden": [huge, "total"] * 2000, "fields": [huge, "region"]}
        table._received(table, {"type": "view", "req": 20, "spec": BY_REGION, "sort": sort, **names}, [])
        assert "groupId" in comm.answer("view", 20)
        assert table.controls["sort"] is None and table.controls["hidden"] == ["total"] * 1000
        assert table.controls["fields"] == ["region"]
    finally:
        table.close()
    wait_for(lambda: engine.core.views.views() == [])


def test_a_view_whose_opening_fails_is_not_handed_to_a_caller_waiting_for_it(engine, monkeypatch):
    stream = engine.stream("s")
    stream.set("g", "k", {"v": 1})
    subscribe = engine.core.subscribe

    def failing(subscription: Any, *args: Any) -> Any:
        if subscription.stream_name != "s":
            return subscribe(subscription, *args)
        wait_for(lambda: [live.users for live in engine.core.views.views()] == [2])  # the second waits
        raise RuntimeError("the store is down")

    monkeypatch.setattr(engine.core, "subscribe", failing)
    outcomes: list[Any] = []

    def open_view() -> None:
        try:
            outcomes.append(stream.view("g", where=[("v", ">=", 0)]))
        except RuntimeError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=open_view) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [type(outcome) for outcome in outcomes] == [RuntimeError, RuntimeError]
    assert engine.core.views.views() == []
    monkeypatch.setattr(engine.core, "subscribe", subscribe)
    with stream.view("g", where=[("v", ">=", 0)]) as view:  # the store is back: it opens
        assert view.items() == {"k": {"v": 1}}


def test_a_group_a_client_may_not_join_stays_closed_through_its_views(client_factory):
    engine = iii_live.start(port=0, background=True, engine_port=None, token="s3cret", auth_function="auth")
    try:
        engine.register_function("auth", lambda request: {"context": request["query_params"]["user"][0]})
        engine.register_function(
            "on_join", lambda p: {"unauthorized": p["group_id"] == "secret" and p["context"] != "admin"}
        )
        engine.register_trigger({"type": "stream:join", "function_id": "on_join", "config": {}})
        fill(engine)
        for i in range(3):
            engine.stream("o").set("secret", str(i), {"region": "eu", "qty": 100 + i, "sku": "k"})
        admin = client_factory(engine.stream_url + "/?token=s3cret&user=admin&sync=keyed")
        ann = client_factory(engine.stream_url + "/?token=s3cret&user=ann&sync=keyed")
        opened = ask(admin, "t", BY_REGION, req=1, group="secret")
        assert ask(ann, "t", BY_REGION, req=1, group="secret")["error"]["part"] == "view"
        derived = {"streamName": opened["streamName"], "groupId": opened["groupId"]}
        ann.send(view_frame({"viewId": "u", "req": 2, **derived, "spec": {"limit": 1}}))
        assert view_answers_until(ann, 2)[-1]["error"]["part"] == "view"  # a view over the view
        ann.join("derived", opened["streamName"], opened["groupId"])
        ann.join("mine", "o", "all")  # the sentinel: a group ann may join
        refused = ann.recv(timeout=10)
        assert (refused["event"]["type"], refused["groupId"]) == ("unauthorized", opened["groupId"])
        assert next_change(ann)["groupId"] == "all"
        admin.join("derived", opened["streamName"], opened["groupId"])
        assert next_change(admin)["event"]["data"] == {"eu": {"region": "eu", "total": 303, "orders": 3}}
    finally:
        engine.stop()


def test_group_by_keys_that_are_no_valid_item_ids_give_rows_that_can_be_read(engine, client_factory):
    """Keys come from data: a newline, an empty text or 1,000 characters would be row ids
    the storage cannot hold; those rows get ``~`` and a digest, and keep their key as a field."""
    keys = ["line\nbreak", "", "k" * 1000, "eu"]
    s = engine.stream("o")
    for i, key in enumerate(keys):
        s.set("odd", str(i), {"region": key, "qty": i + 1})
    client = client_factory(engine.stream_url + "/?sync=keyed")
    spec = {"group_by": "region", "agg": {"total": ["qty", "sum"]}}
    answer = ask(client, "t", spec, req=1, group="odd")
    client.join("rows", answer["streamName"], answer["groupId"])
    rows = next_change(client)["event"]["data"]
    totals = {row["region"]: row["total"] for row in rows.values()}
    assert totals == {key: i + 1 for i, key in enumerate(keys)}
    assert rows["eu"]["total"] == 4
    odd_ids = sorted(row_id for row_id in rows if row_id != "eu")
    assert len(odd_ids) == 3 and all(row_id.startswith("~") and len(row_id) == 25 for row_id in odd_ids)
    derived = {"stream_name": answer["streamName"], "group_id": answer["groupId"]}
    listed = engine.trigger({"function_id": "stream::list", "payload": derived})
    assert sorted(row["region"] for row in listed) == sorted(keys)


def test_pages_hold_at_most_max_page_views_views_across_the_engine(client_factory):
    """Each page view costs work on every write: many sockets, each within its own eight,
    cannot add them without bound. Equal specs share a view and count once; views opened in
    Python do not count; a closed view frees a place."""
    engine = iii_live.start(port=0, engine_port=None, background=True, max_page_views=2)
    try:
        fill(engine)
        python_view = engine.stream("o").view("all", group_by="sku", agg={"n": ("qty", "count")})
        first, second = (client_factory(engine.stream_url + "/") for _ in range(2))
        specs = [{"where": [["qty", ">", k]]} for k in range(3)]
        assert "error" not in ask(first, "a", specs[0], req=1)
        assert "error" not in ask(second, "b", specs[0], req=1)  # shared: still one
        assert "error" not in ask(second, "c", specs[1], req=2)
        refused = ask(first, "d", specs[2], req=3)
        assert refused["error"]["part"] == "view" and "max_page_views" in refused["error"]["message"]
        assert ask(second, "c", None, req=4)["closed"]  # the only holder of that view
        assert "error" not in ask(first, "d", specs[2], req=5)
        python_view.close()
    finally:
        engine.stop()


def test_writes_to_a_views_stream_are_refused_naming_it_and_the_rows_stay_the_views(engine):
    orders = fill(engine)
    view = orders.view("all", group_by="region", agg={"total": ("qty", "sum")})
    rows = view.items()
    assert rows["eu"]["total"] == 4
    ref = {"stream_name": view.stream_name, "group_id": view.group_id, "item_id": "eu"}
    attempts = {
        "stream::set": {**ref, "data": {"region": "eu", "total": -1}},
        "stream::update": {**ref, "ops": [{"type": "set", "path": "total", "value": -1}]},
        "stream::delete": ref,
    }
    for function_id, payload in attempts.items():
        with pytest.raises(iii_live.InvocationError) as info:
            engine.trigger({"function_id": function_id, "payload": payload})
        assert info.value.code == "deserialization_error"
        assert f"{view.stream_name!r} holds the rows of views" in info.value.message
    derived = engine.stream(view.stream_name)
    with pytest.raises(iii_live.InvocationError, match="only views write to it"):
        derived.set(view.group_id, "eu", {"total": -1})
    with pytest.raises(iii_live.InvocationError, match="only views write to it"):
        derived.write_frame(view.group_id, pd.DataFrame({"total": [-1]}, index=["eu"]))
    assert view.items() == rows
    orders.set("all", "9", {"region": "eu", "qty": 10, "sku": "s9"})  # the view still writes
    wait_for(lambda: view.items()["eu"]["total"] == 14)
    engine.stream(view.stream_name).send(view.group_id, "note", {"n": 1})  # events are not rows
