"""Views opened by pages over real sockets: a stream-port client opens a view, follows its
derived group live, gets errors that name the wrong part, and its views close with it; a
dashboard viewer cannot open one."""

from __future__ import annotations

import json
from typing import Any

import iii_live
from iii_live.widgets import link as widget_link

from .conftest import Client, wait_for
from .test_dashboards import closed, socket_url

BY_REGION = {"group_by": ["region"], "agg": {"total": ["qty", "sum"], "orders": ["qty", "count"]}}


def fill(engine: iii_live.Engine) -> Any:
    orders = engine.stream("o")
    for i, (region, qty) in enumerate([("eu", 1), ("us", 2), ("eu", 3), ("asia", 4)]):
        orders.set("all", str(i), {"region": region, "qty": qty, "sku": f"s{i}"})
    return orders


def ask(client: Client, handle: str, spec: Any, req: int, group: str = "all") -> dict[str, Any]:
    """Send a view request; the answer to it (other frames are read past)."""
    client.send(
        {
            "type": "view",
            "data": {"viewId": handle, "req": req, "streamName": "o", "groupId": group, "spec": spec},
        }
    )
    while True:
        frame = client.recv(timeout=10)
        if frame.get("type") == "view" and frame.get("req") == req:
            return frame


def next_change(client: Client) -> dict[str, Any]:
    while True:
        frame = client.recv(timeout=10)
        if frame.get("type") == "stream":
            return frame


def test_a_client_opens_a_view_follows_its_rows_and_the_view_closes_with_the_socket(engine, client_factory):
    orders = fill(engine)
    client = client_factory(engine.stream_url + "/?sync=keyed")
    answer = ask(client, "t1", BY_REGION, req=1)
    assert (answer["streamName"], answer["columns"], answer["rows"]) == (
        "o~views",
        ["region", "total", "orders"],
        3,
    )
    client.join("rows", answer["streamName"], answer["groupId"])
    synced = next_change(client)["event"]["data"]
    assert synced["eu"] == {"region": "eu", "total": 4, "orders": 2}

    orders.set("all", "9", {"region": "us", "qty": 10, "sku": "s9"})
    change = next_change(client)
    assert (change["id"], change["event"]) == (
        "us",
        {"type": "update", "data": {"region": "us", "total": 12, "orders": 2}},
    )

    watcher = client_factory(engine.stream_url + "/")  # another page follows the same view
    watcher.join("w", answer["streamName"], answer["groupId"])
    assert len(next_change(watcher)["event"]["data"]) == 3
    client.close()
    wait_for(lambda: engine.core.views.views() == [])
    deleted = {next_change(watcher)["id"] for _ in range(3)}  # the derived group empties
    assert deleted == {"eu", "us", "asia"}


def test_errors_name_the_part_and_the_view_before_keeps_working(engine, client_factory):
    orders = fill(engine)
    client = client_factory(engine.stream_url + "/")
    first = ask(client, "t", {"where": [["qty", ">=", 2]]}, req=1)
    bad_expression = ask(client, "t", {"where": "qty >> "}, req=2)
    sum_of_text = ask(client, "t", {"group_by": "region", "agg": {"n": ["sku", "sum"]}}, req=3)
    unknown_agg = ask(client, "t", {"group_by": "region", "agg": {"n": ["qty", "p99"]}}, req=4)
    unknown_field = ask(client, "t", {"group_by": "colour", "agg": {"n": ["qty", "sum"]}}, req=5)
    assert [a["error"]["part"] for a in (bad_expression, sum_of_text, unknown_agg, unknown_field)] == [
        "where",
        "agg.n",
        "agg.n",
        "group_by[0]",
    ]
    assert "`sum` needs numbers" in sum_of_text["error"]["message"]
    client.join("rows", first["streamName"], first["groupId"])
    assert len(next_change(client)["event"]["data"]) == 3  # the filter view is still the one open
    orders.set("all", "7", {"region": "eu", "qty": 7, "sku": "s7"})
    assert next_change(client)["event"] == {"type": "create", "data": {"region": "eu", "qty": 7, "sku": "s7"}}
    closing = ask(client, "t", None, req=6)
    assert closing["closed"] is True
    wait_for(lambda: engine.core.views.views() == [])


def test_a_dashboard_viewer_cannot_open_a_view(engine, client_factory):
    fill(engine)
    table = engine.stream("o").table("all")
    try:
        url = engine.publish(iii_live.Dashboard("Orders", [[table]]), name="orders")
        viewer = client_factory(socket_url(url))
        frame = {"viewId": "t", "req": 1, "streamName": "o", "groupId": "all", "spec": BY_REGION}
        viewer.send(json.dumps({"type": "view", "data": frame}))
        code, reason = closed(viewer)
        assert code == 1008 and reason.startswith("a dashboard page sends joins and leaves only")
        assert engine.core.views.views() == []
    finally:
        table.close()


# -- a notebook table's page --------------------------------------------------------------


class Comm:
    """Records the custom messages a widget's comm sends."""

    def __init__(self, comm: Any) -> None:
        self.sent: list[dict[str, Any]] = []
        comm.send = self.send

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        if data.get("method") == "custom":
            self.sent.append(data["content"])

    def answer(self, kind: str, req: int) -> dict[str, Any]:
        wait_for(lambda: any(m.get("type") == kind and m.get("req") == req for m in self.sent), timeout=10)
        return next(m for m in self.sent if m.get("type") == kind and m.get("req") == req)


def shown_table(engine: iii_live.Engine, group: str = "all") -> tuple[Any, Comm]:
    table = engine.stream("o").table(group)
    comm = Comm(table.comm)
    table._received(table, {"type": "ready", "view": "v"}, [])
    return table, comm


def test_a_tables_page_opens_a_view_the_table_shows_and_keeps_for_a_reload(engine):
    orders = fill(engine)
    table, comm = shown_table(engine)
    try:
        choice = {"spec": BY_REGION, "sort": {"by": "total", "ascending": False}, "hidden": ["orders"]}
        table._received(table, {"type": "view", "req": 1, **choice, "fields": ["region", "qty", "sku"]}, [])
        answer = comm.answer("view", 1)
        view = table.page_view
        assert view is not None and answer["groupId"] == view.group_id
        assert table.controls == {
            **choice,
            "fields": ["region", "qty", "sku"],
            "view": {
                "streamName": "o~views",
                "groupId": view.group_id,
                "columns": ["region", "total", "orders"],
            },
        }
        wait_for(lambda: table.items.get("eu") == {"region": "eu", "total": 4, "orders": 2})
        assert set(table.items) == {"eu", "us", "asia"}
        orders.set("all", "8", {"region": "asia", "qty": 6, "sku": "s8"})
        wait_for(lambda: table.items["asia"] == {"region": "asia", "total": 10, "orders": 2})

        table._received(table, {"type": "view", "req": 2, "spec": {"where": "qty >"}}, [])
        assert comm.answer("view", 2)["error"]["part"] == "where"
        assert table.page_view is view and table.controls["spec"] == BY_REGION

        table._received(table, {"type": "export", "req": 3}, [])
        exported = comm.answer("export", 3)
        assert exported["last"] and sorted(row[0] for row in exported["rows"]) == ["asia", "eu", "us"]

        table._received(table, {"type": "view", "req": 4, "spec": None, "sort": None, "hidden": []}, [])
        assert comm.answer("view", 4)["closed"]
        wait_for(lambda: set(table.items) == {"0", "1", "2", "3", "8"})
        assert table.page_view is None and table.controls == {
            "spec": None,
            "sort": None,
            "hidden": [],
            "fields": [],
        }
        wait_for(lambda: engine.core.views.views() == [])

        table._received(table, {"type": "view", "req": 5, "spec": {"where": [["qty", ">", 3]]}}, [])
        comm.answer("view", 5)
        wait_for(lambda: set(table.items) == {"3", "8"})
    finally:
        table.close()
    wait_for(lambda: engine.core.views.views() == [])  # the table's view closes with it


def test_an_export_is_sent_in_parts_of_bounded_size(engine, monkeypatch):
    from iii_live.widgets import page_requests

    monkeypatch.setattr(page_requests, "EXPORT_ROWS", 2)
    fill(engine)
    table, comm = shown_table(engine)
    try:
        table._received(table, {"type": "export", "req": 1}, [])
        wait_for(lambda: any(m.get("type") == "export" and m.get("last") for m in comm.sent))
        parts = [m for m in comm.sent if m.get("type") == "export"]
        assert [len(m["rows"]) for m in parts] == [2, 2] and [m["last"] for m in parts] == [False, True]
        assert [row[0] for m in parts for row in m["rows"]] == ["0", "1", "2", "3"]
    finally:
        table.close()


def test_a_resync_begun_before_the_table_shows_a_view_brings_none_of_the_group_it_left(engine, monkeypatch):
    orders = engine.stream("o")
    for i in range(12_000):  # past the limit: the table follows it through windows
        orders.set("big", str(i), {"region": "eu" if i < 3 else "us", "qty": i})
    table, _comm = shown_table(engine, "big")
    try:
        wait_for(lambda: table.session.windows is not None)
        view = orders.view("big", where={"region": "eu"})
        link, following = table._link, widget_link.Following

        def racing(engine: Any, stream_name: str, group_id: str, deliver: Any) -> Any:
            if (stream_name, group_id) == ("o", "big"):  # the table moves on while the resync reads
                link.show(view.stream_name, view.group_id)
            return following(engine, stream_name, group_id, deliver)

        monkeypatch.setattr(widget_link, "Following", racing)
        link._resync()
        orders.set("big", "0", {"region": "eu", "qty": -1})  # a change of the view's rows
        wait_for(lambda: table.items.get("0", {}).get("qty") == -1)
        assert set(table.items) == {"0", "1", "2"} and table.session.windows is None
    finally:
        table.close()


def test_a_sort_chosen_in_the_page_of_a_large_table_is_kept_without_reading_the_group_again(engine):
    orders = engine.stream("o")
    for i in range(12_000):
        orders.set("big", str(i), {"qty": i})
    table, comm = shown_table(engine, "big")
    try:
        wait_for(lambda: table.session.windows is not None and not table.session.wants_sync)
        sort = {"by": "qty", "ascending": False}
        table._received(table, {"type": "view", "req": 1, "spec": None, "sort": sort, "hidden": ["x"]}, [])
        assert comm.answer("view", 1)["closed"]
        assert table.controls["sort"] == sort and table.controls["hidden"] == ["x"]
        assert not table.session.wants_sync  # the windows stay: the page sorts through them
    finally:
        table.close()
