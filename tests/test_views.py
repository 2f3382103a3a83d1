"""Live views on a running engine: results equal pandas', one item of work per write, and the
rows published as a group that sockets, widgets, triggers, SDK workers and other engines
(through Redis) follow like any other."""

from __future__ import annotations

import math
import random
import subprocess
import sys
import threading
from typing import Any

import pandas as pd
import pytest

import iii_live
from iii_live import ConfigError, ViewSpecError

from .conftest import wait_for

REGIONS = ["eu", "us", "asia"]
PRODUCTS = ["books", "toys"]
AGG = {
    "total": ("qty", "sum"),
    "avg_price": ("price", "mean"),
    "n": ("qty", "count"),
    "low": ("price", "min"),
    "high": ("price", "max"),
    "first_name": ("name", "first"),
    "last_name": ("name", "last"),
    "names": ("name", "count_distinct"),
}


def random_item(rng: random.Random) -> dict[str, Any]:
    return {
        "region": rng.choice(REGIONS),
        "product": rng.choice(PRODUCTS),
        "qty": rng.randrange(1, 50),
        "price": round(rng.uniform(1, 100), 2),
        "name": rng.choice("abcdefgh"),
    }


def churn(stream: iii_live.StreamHandle, group: str, rng: random.Random, writes: int, ids: int = 60) -> None:
    """Creates, updates and deletes at random."""
    for _ in range(writes):
        item_id = f"i{rng.randrange(ids)}"
        if rng.random() < 0.2:
            stream.delete(group, item_id)
        else:
            stream.set(group, item_id, random_item(rng))


def pandas_grouped(stream: iii_live.StreamHandle, group: str, by: list[str]) -> pd.DataFrame:
    frame = stream.to_frame(group)
    agg = {name: (field, "nunique" if fn == "count_distinct" else fn) for name, (field, fn) in AGG.items()}
    expected = frame.groupby(by).agg(**agg).reset_index()
    expected.index = ["|".join(map(str, key)) for key in expected[by].itertuples(index=False)]
    return expected


def assert_frames_match(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.index) == list(expected.index)  # in the order of the group keys, as pandas
    for row_id in expected.index:
        for column in expected.columns:
            want, have = expected.loc[row_id, column], got.loc[row_id, column]
            if isinstance(want, float):
                assert math.isclose(have, want, rel_tol=1e-9), (row_id, column, have, want)
            else:
                assert have == want, (row_id, column, have, want)


def test_grouped_view_equals_pandas_through_creates_updates_and_deletes(engine):
    stream = engine.stream("orders")
    rng = random.Random(7)
    churn(stream, "all", rng, 200)
    by_region = stream.view("all", group_by="region", agg=AGG)
    by_both = stream.view("all", group_by=["region", "product"], agg=AGG)
    for _ in range(5):
        assert_frames_match(by_region.to_frame(), pandas_grouped(stream, "all", ["region"]))
        assert_frames_match(by_both.to_frame(), pandas_grouped(stream, "all", ["region", "product"]))
        churn(stream, "all", rng, 100)
    rows = by_both.items()
    assert all("|" in row_id for row_id in rows)
    eu_books = rows.get("eu|books")
    assert eu_books is None or (eu_books["region"], eu_books["product"]) == ("eu", "books")
    assert list(by_region.to_frame().columns) == ["region", *AGG]


def test_filter_sort_limit_equals_pandas_top_n(engine):
    stream = engine.stream("orders")
    rng = random.Random(11)
    churn(stream, "all", rng, 300, ids=200)
    top = stream.view(
        "all",
        where=[("region", "in", ["eu", "us"]), ("qty", "between", [5, 45])],
        columns=["region", {"notional": "price * qty"}],
        sort_by=["notional"],
        descending=True,
        limit=7,
    )
    for _ in range(8):
        frame = stream.to_frame("all")
        frame = frame[frame.region.isin(["eu", "us"]) & frame.qty.between(5, 45)]
        frame = frame.assign(notional=frame.price * frame.qty)
        expected = frame.sort_values(["notional"], ascending=False, kind="stable").head(7)
        got = top.to_frame()
        assert list(got.index) == list(expected.index)
        assert list(got.columns) == ["region", "notional"]
        assert [round(v, 6) for v in got.notional] == [round(v, 6) for v in expected.notional]
        churn(stream, "all", rng, 60, ids=200)


def test_unsorted_filter_and_sort_without_limit(engine):
    stream = engine.stream("s")
    for i in range(10):
        stream.set("g", f"k{i}", {"v": i, "odd": i % 2 == 1})
    odd = stream.view("g", where={"odd": True})
    assert list(odd.items()) == ["k1", "k3", "k5", "k7", "k9"]
    assert odd.items()["k3"] == {"v": 3, "odd": True}
    ordered = stream.view("g", sort_by="v", descending=True)
    assert list(ordered.items()) == [f"k{i}" for i in range(9, -1, -1)]
    stream.set("g", "k0", {"v": 100, "odd": False})
    assert list(ordered.items())[0] == "k0"
    assert "k0" not in odd.items()
    newest = stream.view("g", limit=3, descending=True)
    stream.set("g", "late", {"v": -1})
    assert list(newest.items()) == ["late", "k9", "k8"]
    last_key = stream.view("g", group_by="odd", agg={"n": ("v", "count")}, limit=1, descending=True)
    assert last_key.items() == {"true": {"odd": True, "n": 5}}  # the last key, as groupby().tail(1)


def test_each_write_reads_one_item_not_the_group(engine):
    stream = engine.stream("big")
    for i in range(3000):
        stream.set("g", f"k{i}", {"group": f"g{i % 3}", "v": i})
    calls = 0

    def counted(item: dict[str, Any]) -> Any:
        nonlocal calls
        calls += 1
        return item.get("v")

    view = stream.view("g", columns=[{"value": counted}], group_by="group", agg={"top": ("value", "max")})
    assert calls == 3000 and view.stats["items_evaluated"] == 3000
    for i in range(50):
        stream.set("g", f"k{i}", {"group": "g0", "v": 10_000 + i})
    assert calls == 3050 and view.stats["items_evaluated"] == 3050
    assert view.items()["g0"]["top"] == 10_049


class Counted(float):
    """A number that counts its comparisons (made by a Python computed column)."""

    comparisons = 0

    def __lt__(self, other: Any) -> bool:
        Counted.comparisons += 1
        return float(self) < float(other)

    def __gt__(self, other: Any) -> bool:
        Counted.comparisons += 1
        return float(self) > float(other)

    def __eq__(self, other: Any) -> bool:
        Counted.comparisons += 1
        return float(self) == float(other)

    __hash__ = float.__hash__

    def __neg__(self) -> Counted:
        return Counted(-float(self))

    def item(self) -> float:
        """Stored as a plain number (as numpy scalars are)."""
        return float(self)


def test_removing_a_groups_maximum_is_not_a_rescan(engine):
    stream = engine.stream("big")
    n = 5000
    for i in range(n):
        stream.set("g", f"k{i}", {"v": i})
    view = stream.view("g", columns=[{"c": lambda item: Counted(item["v"])}], agg={"high": ("c", "max")})
    Counted.comparisons = 0
    for i in range(n - 1, n - 41, -1):
        stream.delete("g", f"k{i}")
    assert view.items()["all"]["high"] == n - 41
    assert Counted.comparisons / 40 < 4 * math.log2(n)  # a rescan compares about n times


def test_derived_group_is_a_group_for_websocket_clients(engine, client_factory):
    stream = engine.stream("orders")
    stream.set("all", "a", {"region": "eu", "qty": 2})
    stream.set("all", "b", {"region": "us", "qty": 3})
    view = stream.view("all", group_by="region", agg={"total": ("qty", "sum")}, name="totals")
    assert (view.stream_name, view.group_id) == ("orders~views", "all~totals")
    client = client_factory(engine.stream_url)
    client.join("s1", view.stream_name, view.group_id)
    sync = client.recv()
    assert sync["streamName"] == "orders~views" and sync["groupId"] == "all~totals"
    assert sync["event"]["type"] == "sync"
    assert sorted(sync["event"]["data"], key=lambda r: r["region"]) == [
        {"region": "eu", "total": 2},
        {"region": "us", "total": 3},
    ]
    stream.set("all", "c", {"region": "eu", "qty": 10})
    update = client.recv()
    assert (update["id"], update["event"]) == (
        "eu",
        {"type": "update", "data": {"region": "eu", "total": 12}},
    )
    stream.delete("all", "b")
    gone = client.recv()
    assert (gone["id"], gone["event"]["type"]) == ("us", "delete")
    stream.set("all", "d", {"region": "asia", "qty": 1})
    assert client.recv()["event"] == {"type": "create", "data": {"region": "asia", "total": 1}}
    raw = client_factory(engine.subscribe_url(view.stream_name, view.group_id))
    assert raw.recv()["event"]["type"] == "sync"


def test_a_deleted_base_group_empties_the_view_which_refills(engine, client_factory):
    stream = engine.stream("s")
    for i in range(4):
        stream.set("g", f"k{i}", {"kind": "x" if i % 2 else "y", "v": i})
    view = stream.view("g", group_by="kind", agg={"n": ("v", "count")})
    client = client_factory(engine.stream_url)
    client.join("s", view.stream_name, view.group_id)
    assert len(client.recv()["event"]["data"]) == 2
    for i in range(4):
        stream.delete("g", f"k{i}")
    assert "g" not in stream.list_groups()
    deleted = {client.recv()["id"] for _ in range(2)}
    assert deleted == {"x", "y"} and view.items() == {}
    assert view.to_frame().empty
    stream.set("g", "again", {"kind": "z", "v": 1})
    assert client.recv()["event"] == {"type": "create", "data": {"kind": "z", "n": 1}}
    assert view.items() == {"z": {"kind": "z", "n": 1}}


def test_missing_fields_and_wrong_types_count_as_null(engine):
    stream = engine.stream("messy")
    stream.set("g", "ok", {"k": "a", "v": 4})
    stream.set("g", "text", {"k": "a", "v": "four"})
    stream.set("g", "none", {"k": "a", "v": None})
    stream.set("g", "absent", {"k": "a"})
    stream.set("g", "bool", {"k": "a", "v": True})
    stream.set("g", "nested", {"k": "a", "v": {"x": 1}})
    stream.set("g", "scalar", 17)
    stream.set("g", "list", [1, 2])
    stream.set("g", "nokey", {"v": 100})
    view = stream.view(
        "g",
        group_by="k",
        agg={
            "sum": ("v", "sum"),
            "mean": ("v", "mean"),
            "count": ("v", "count"),
            "min": ("v", "min"),
            "distinct": ("v", "count_distinct"),
            "first": ("v", "first"),
        },
        sort_by="sum",
    )
    assert view.items() == {
        "a": {"k": "a", "sum": 4, "mean": 4.0, "count": 4, "min": 4, "distinct": 4, "first": 4}
    }
    stream.set("g", "ok", {"k": "a", "v": "changed"})
    assert view.items()["a"] == {
        "k": "a",
        "sum": 0,
        "mean": None,
        "count": 4,
        "min": None,
        "distinct": 4,
        "first": "changed",  # an update keeps the item its place: still the first
    }


@pytest.mark.parametrize(
    ("options", "part", "reason"),
    [
        ({"where": [("regoin", "==", "eu")]}, "where", "unknown field 'regoin'"),
        ({"group_by": "region", "agg": {"t": ("qyt", "sum")}}, "agg.t", "unknown field 'qyt'"),
        ({"group_by": "region", "agg": {"t": ("name", "sum")}}, "agg.t", "`sum` needs numbers"),
        ({"group_by": "region", "agg": {"t": ("name", "mean")}}, "agg.t", "holds text"),
        ({"columns": [{"x": "qty * prise"}]}, "columns.x", "unknown field 'prise'"),
        ({"sort_by": "nope"}, "sort_by[0]", "unknown field 'nope'"),
        ({"group_by": "regions"}, "group_by[0]", "unknown field 'regions'"),
    ],
)
def test_spec_errors_found_in_the_data_name_the_part(engine, options, part, reason):
    stream = engine.stream("orders")
    stream.set("all", "a", {"region": "eu", "qty": 1, "name": "n"})
    with pytest.raises(ViewSpecError) as caught:
        stream.view("all", **options)
    assert caught.value.part == part and reason in caught.value.reason
    assert "fields: name, qty, region" in caught.value.reason or "needs numbers" in caught.value.reason
    assert engine.core.views.views() == []
    assert "orders~views" not in [s["id"] for s in stream.engine.trigger("stream::list_all", {})["stream"]]
    assert stream.view("all", where={"region": "eu"}).items() == {
        "a": {"region": "eu", "qty": 1, "name": "n"}
    }


def test_a_view_of_an_empty_group_accepts_any_field_and_fills_later(engine):
    stream = engine.stream("later")
    view = stream.view("g", group_by="kind", agg={"n": ("v", "sum")})
    assert view.items() == {}
    stream.set("g", "a", {"kind": "k", "v": 2})
    assert view.items() == {"k": {"kind": "k", "n": 2}}


def test_nested_fields_computed_columns_and_expressions(engine):
    stream = engine.stream("quotes")
    stream.set("q", "a", {"sym": "AAA", "quote": {"bid": 10.0, "ask": 10.5}, "venue": {"country": "fr"}})
    stream.set("q", "b", {"sym": "BBB", "quote": {"bid": 20.0, "ask": 20.1}, "venue": {"country": "de"}})
    stream.set("q", "c", {"sym": "CCC", "quote": {"bid": 5.0}, "venue": {"country": "fr"}})
    view = stream.view(
        "q",
        where="venue.country == 'fr' or quote.bid > 15",
        columns=["sym", "quote.bid", {"spread": "quote.ask - quote.bid"}, {"wide": "spread > 0.2"}],
        sort_by="quote.bid",
    )
    assert view.items() == {
        "c": {"sym": "CCC", "quote": {"bid": 5.0}, "spread": None, "wide": None},
        "a": {"sym": "AAA", "quote": {"bid": 10.0}, "spread": 0.5, "wide": True},
        "b": {"sym": "BBB", "quote": {"bid": 20.0}, "spread": pytest.approx(0.1), "wide": False},
    }
    by_country = stream.view("q", group_by="venue.country", agg={"n": ("sym", "count")})
    assert by_country.items() == {
        "fr": {"venue": {"country": "fr"}, "n": 2},
        "de": {"venue": {"country": "de"}, "n": 1},
    }
    assert sorted(by_country.to_frame().columns) == ["n", "venue.country"]


def test_a_failing_python_column_gives_null(engine, caplog):
    stream = engine.stream("s")
    stream.set("g", "a", {"v": 1})
    stream.set("g", "b", {"v": 0})
    view = stream.view("g", columns=["v", {"inverse": lambda item: 1 / item["v"]}])
    assert view.items() == {"a": {"v": 1, "inverse": 1.0}, "b": {"v": 0, "inverse": None}}
    assert "computed column 'inverse' failed" in caplog.text


def test_equal_specs_share_one_view_which_closes_with_the_last_handle(engine, client_factory):
    stream = engine.stream("s")
    stream.set("g", "a", {"v": 1})
    one = stream.view("g", where=[("v", ">", 0)])
    two = stream.view("g", where=("v", ">", 0))
    assert (one.stream_name, one.group_id) == (two.stream_name, two.group_id)
    assert len(engine.core.views.views()) == 1
    with pytest.raises(ViewSpecError) as caught:
        stream.view("g", where=[("v", ">", 5)], name=one.name)
    assert caught.value.part == "name"
    client = client_factory(engine.stream_url)
    client.join("s", one.stream_name, one.group_id)
    assert client.recv()["event"]["data"] == [{"v": 1}]
    one.close()
    one.close()
    stream.set("g", "b", {"v": 2})
    assert client.recv()["event"] == {"type": "create", "data": {"v": 2}}
    two.close()
    assert client.recv()["event"]["type"] == "delete"
    assert client.recv()["event"]["type"] == "delete"
    assert engine.core.views.views() == []
    assert stream.items("g~" + one.name) == {}


def test_views_from_a_spec_dict_json_and_config(tmp_path):
    spec = {"stream_name": "m", "group_id": "g", "name": "hot", "where": [["t", ">", 30]], "sort_by": ["t"]}
    engine = iii_live.start(port=0, background=True, engine_port=None, views=[spec])
    try:
        engine.stream("m").set("g", "a", {"t": 35})
        engine.stream("m").set("g", "b", {"t": 20})
        wait_for(lambda: engine.stream("m~views").items("g~hot") == {"a": {"t": 35}})
        view = engine.view(spec)
        assert view.spec == spec
        assert engine.view(view.to_json()).group_id == "g~hot"
    finally:
        engine.stop()
    config = tmp_path / "config.yaml"
    config.write_text(
        "workers:\n  - name: iii-stream\n    config:\n      port: 0\n"
        "      views:\n        - {stream_name: m, group_id: g, agg: {x: [t, median]}}\n"
    )
    with pytest.raises(ConfigError, match=r"views\[0\]\.agg\.x.*unknown aggregate 'median'"):
        iii_live.start(str(config), background=True)


def test_a_config_view_refused_by_the_data_stops_the_start(tmp_path):
    store = tmp_path / "store.db"
    adapter = {"name": "kv", "config": {"store_method": "file_based", "file_path": str(store)}}
    engine = iii_live.start(port=0, background=True, engine_port=None, adapter=adapter)
    engine.stream("m").set("g", "a", {"t": 1})
    engine.stop()
    bad = [{"stream_name": "m", "group_id": "g", "sort_by": "temp"}]
    with pytest.raises(ConfigError, match=r"views\[0\]\.sort_by\[0\].*unknown field 'temp'"):
        iii_live.start(port=0, background=True, engine_port=None, adapter=adapter, views=bad)
    engine = iii_live.start(port=0, background=True, engine_port=None, adapter=adapter)
    assert engine.stream("m").get("g", "a") == {"t": 1}
    engine.stop()


STALE_RUN = """
import os, sys, time, iii_live
adapter = {"name": "kv", "config": {"store_method": "file_based", "file_path": sys.argv[1]}}
engine = iii_live.start(port=0, background=True, engine_port=None, adapter=adapter)
engine.stream("m").set("g", "old", {"t": 0})
view = engine.stream("m").view("g", name="v")
while "old" not in engine.stream("m~views").items("g~v"):
    time.sleep(0.01)
os._exit(0)  # killed with the view open: its rows stay in the file
"""


@pytest.mark.subprocess
def test_stale_rows_of_a_previous_run_are_replaced(tmp_path):
    path = str(tmp_path / "s.db")
    subprocess.run([sys.executable, "-c", STALE_RUN, path], check=True, timeout=60)
    adapter = {"name": "kv", "config": {"store_method": "file_based", "file_path": path}}
    engine = iii_live.start(port=0, background=True, engine_port=None, adapter=adapter)
    assert engine.stream("m~views").items("g~v") == {"old": {"t": 0}}
    engine.stream("m").delete("g", "old")
    engine.stream("m").set("g", "a", {"t": 1})
    view = engine.stream("m").view("g", name="v")
    assert engine.stream("m~views").items("g~v") == {"a": {"t": 1}}
    view.close()
    engine.stop()


def test_widgets_show_a_view(engine):
    stream = engine.stream("orders")
    stream.set("all", "a", {"region": "eu", "qty": 2})
    view = stream.view(
        "all", group_by="region", agg={"total": ("qty", "sum")}, sort_by="total", descending=True, limit=5
    )
    table = iii_live.LiveTable(engine, view)
    assert (table.stream_name, table.group_id) == (view.stream_name, view.group_id)
    assert table.columns == ["region", "total"]
    assert (table.sort_by, table.ascending, table.max_rows, table.show_id) == ("total", False, 5, False)
    assert table.view is view
    chart = iii_live.LiveChart(engine, view, y="total", kind="bar")
    stream.set("all", "b", {"region": "us", "qty": 7})
    wait_for(lambda: table.items == {"eu": {"region": "eu", "total": 2}, "us": {"region": "us", "total": 7}})
    wait_for(lambda: chart.items == table.items)
    narrowed = table[["total"]]
    assert narrowed.group_id == view.group_id and narrowed.columns == ["total"]
    assert (narrowed.ascending, narrowed.show_id) == (False, False)
    with pytest.raises(TypeError, match="the view alone"):
        iii_live.LiveTable(engine, view, "g")
    for widget in (table, chart, narrowed):
        widget.close()


def test_triggers_fire_on_derived_rows(engine):
    stream = engine.stream("orders")
    seen: list[dict[str, Any]] = []
    engine.register_function("on_total", lambda event: seen.append(event))
    view = stream.view("all", group_by="region", agg={"total": ("qty", "sum")}, name="t")
    engine.register_trigger(
        {"type": "stream", "function_id": "on_total", "config": {"stream_name": view.stream_name}}
    )
    stream.set("all", "a", {"region": "eu", "qty": 5})
    wait_for(lambda: seen)
    assert seen[0]["groupId"] == "all~t" and seen[0]["event"] == {
        "type": "create",
        "data": {"region": "eu", "total": 5},
    }


@pytest.mark.filterwarnings("ignore:register_trigger is deprecated:DeprecationWarning")
def test_an_sdk_worker_follows_and_reads_a_view(engine):
    from iii import InitOptions, register_worker

    stream = engine.stream("orders")
    stream.set("all", "a", {"region": "eu", "qty": 1})
    view = stream.view("all", group_by="region", agg={"total": ("qty", "sum")})
    worker = register_worker(engine.engine_url, InitOptions(worker_name="w", otel={"enabled": False}))
    try:
        changes: list[dict[str, Any]] = []
        worker.register_function("w::on_view", lambda event: changes.append(event))
        worker.register_trigger(
            {
                "type": "stream",
                "function_id": "w::on_view",
                "config": {"stream_name": view.stream_name, "group_id": view.group_id},
            }
        )
        wait_for(lambda: len(engine.triggers.all()) == 1)
        stream.set("all", "b", {"region": "eu", "qty": 4})
        wait_for(lambda: changes)
        assert changes[0]["event"] == {"type": "update", "data": {"region": "eu", "total": 5}}
        rows = worker.trigger(
            {
                "function_id": "stream::list",
                "payload": {"stream_name": view.stream_name, "group_id": view.group_id},
            }
        )
        assert rows == [{"region": "eu", "total": 5}]
    finally:
        worker.shutdown()


def test_concurrent_writers_leave_the_view_exact(engine):
    stream = engine.stream("busy")
    view = stream.view("g", group_by="k", agg={"total": ("v", "sum"), "n": ("v", "count")})
    truth: dict[str, int] = {}
    lock = threading.Lock()

    def write(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(2000):
            item_id = f"i{rng.randrange(300)}"
            value = {"k": f"k{rng.randrange(5)}", "v": rng.randrange(100)}
            with lock:  # the truth follows the order the engine stored the writes in
                stream.set("g", item_id, value)
                truth[item_id] = value

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected: dict[str, dict[str, Any]] = {}
    for value in truth.values():
        row = expected.setdefault(value["k"], {"k": value["k"], "total": 0, "n": 0})
        row["total"] += value["v"]
        row["n"] += 1
    wait_for(lambda: engine.stream("busy~views").items(view.group_id) == expected)
    assert view.items() == expected


def test_stopping_the_engine_closes_its_views():
    engine = iii_live.start(port=0, background=True, engine_port=None)
    view = engine.stream("s").view("g")
    engine.stop()
    assert engine.core.views.views() == []
    assert view.group_id == "g~" + view.name


def test_a_second_engine_follows_a_view_through_redis(redis_engines, client_factory):
    owner, other = redis_engines(), redis_engines()
    owner.stream("orders").set("all", "a", {"region": "eu", "qty": 2})
    view = owner.stream("orders").view("all", group_by="region", agg={"total": ("qty", "sum")}, name="totals")
    client = client_factory(other.stream_url)
    client.join("s", view.stream_name, view.group_id)
    assert client.recv()["event"]["data"] == [{"region": "eu", "total": 2}]
    other.stream("orders").set("all", "b", {"region": "eu", "qty": 3})  # written on the other engine
    assert client.recv()["event"] == {"type": "update", "data": {"region": "eu", "total": 5}}
    assert other.stream(view.stream_name).get(view.group_id, "eu") == {"region": "eu", "total": 5}
    other.stream("orders").delete("all", "a")
    other.stream("orders").delete("all", "b")
    assert client.recv()["event"]["type"] == "delete"
    other.stream("orders").set("all", "c", {"region": "us", "qty": 1})
    assert client.recv()["event"] == {"type": "create", "data": {"region": "us", "total": 1}}
    view.close()
    assert client.recv()["event"]["type"] == "delete"
    assert other.stream(view.stream_name).items(view.group_id) == {}


def test_views_can_follow_views(engine):
    stream = engine.stream("orders")
    for i in range(6):
        stream.set("all", f"o{i}", {"region": REGIONS[i % 3], "qty": i})
    totals = stream.view("all", group_by="region", agg={"total": ("qty", "sum")}, name="totals")
    big = engine.stream(totals.stream_name).view(totals.group_id, where=[("total", ">=", 5)], sort_by="total")
    assert big.stream_name == "orders~views~views"
    assert big.items() == {"asia": {"region": "asia", "total": 7}, "us": {"region": "us", "total": 5}}
    stream.set("all", "o0", {"region": "eu", "qty": 10})
    wait_for(lambda: "eu" in big.items())
    assert list(big.items()) == ["us", "asia", "eu"]


def test_odd_values_never_break_a_view(engine):
    stream = engine.stream("odd")
    view = stream.view("g", where="len(name) > 2", sort_by="name", limit=3)
    values = {
        "word": {"name": "abcd"},
        "number": {"name": 5},
        "null": {"name": None},
        "text": "text",
        "float": 3.5,
        "empty": [],
        "list": {"name": ["a", "b", "c"]},
        "deep": {"name": {"x": {"y": 1}}},
    }
    for item_id, value in values.items():
        stream.set("g", item_id, value)
    assert list(view.items()) == ["word", "list"]  # texts sort before arrays (nulls last)
    stream.set("g", "word", {"name": "zz"})
    assert list(view.items()) == ["list"]
    stream.set("g", "word", {"name": "zzz"})
    assert view.items()["word"] == {"name": "zzz"}


def test_one_spec_opened_from_several_threads_is_one_view(engine):
    stream = engine.stream("s")
    for i in range(2000):
        stream.set("g", f"k{i}", {"v": i})
    results: list[Any] = []

    def open_view(where: Any) -> None:
        try:
            results.append(stream.view("g", where=where))
        except ViewSpecError as exc:
            results.append(exc)

    for where in ([("v", ">=", 10)], [("w", ">=", 10)]):
        results.clear()
        threads = [threading.Thread(target=open_view, args=(where,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if where[0][0] == "v":
            assert len(engine.core.views.views()) == 1
            assert {view.group_id for view in results} == {results[0].group_id}
            assert all(len(view.items()) == 1990 for view in results)
        else:  # no item has `w`: every caller is told
            assert all(isinstance(r, ViewSpecError) and r.part == "where" for r in results)
            assert len(engine.core.views.views()) == 1


def test_a_stopped_engine_opens_no_views():
    engine = iii_live.start(port=0, background=True, engine_port=None)
    engine.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        engine.stream("s").view("g")


def test_a_sum_past_the_largest_float_is_null_in_events_as_in_storage(engine):
    stream = engine.stream("huge")
    stream.set("g", "a", {"k": "x", "v": 1e308})
    view = stream.view(
        "g", group_by="k", agg={"total": ("v", "sum"), "avg": ("v", "mean"), "n": ("v", "count")}
    )
    rows = []
    with engine.stream(view.stream_name).subscribe(
        view.group_id, lambda m: rows.append(m["event"]["data"]) if m["event"]["type"] == "update" else None
    ):
        stream.set("g", "b", {"k": "x", "v": 1e308})  # 2e308: no float holds it
        wait_for(lambda: rows and rows[-1]["n"] == 2)
    assert (rows[-1]["total"], rows[-1]["avg"]) == (None, None)  # not inf or nan: JSON has neither
    assert engine.stream(view.stream_name).items(view.group_id)["x"] == rows[-1]


def test_a_max_of_a_computed_column_past_the_largest_float_is_null_in_events_as_in_storage(engine):
    """``v * 10`` overflows to inf for a large ``v``: JSON has no infinity, so the computed
    value is null, and subscribers get what is stored."""
    stream = engine.stream("huge")
    stream.set("g", "a", {"v": 1e308})
    view = stream.view("g", columns={"big": "v * 10"}, agg={"high": ("big", "max"), "n": ("v", "count")})
    rows = []
    with engine.stream(view.stream_name).subscribe(
        view.group_id, lambda m: rows.append(m["event"]["data"]) if m["event"]["type"] == "update" else None
    ):
        stream.set("g", "b", {"v": 1.0})
        wait_for(lambda: rows and rows[-1]["n"] == 2)
    assert rows[-1]["high"] == 10.0  # the overflowing value is null, which max skips
    assert engine.stream(view.stream_name).items(view.group_id)["all"] == rows[-1]


def test_an_integer_sum_past_64_bits_still_updates_its_row(engine):
    """JSON holds integers of 64 bits: a sum beyond must become a float (as in expressions),
    not a row that cannot be stored, which leaves the group's last row standing."""
    stream = engine.stream("ints")
    stream.set("g", "a", {"k": "x", "v": 2**63})
    view = stream.view("g", group_by="k", agg={"total": ("v", "sum"), "n": ("v", "count")})
    assert view.items() == {"x": {"k": "x", "total": 2**63, "n": 1}}
    stream.set("g", "b", {"k": "x", "v": 2**63})
    stream.set("g", "c", {"k": "y", "v": 1})  # the sentinel: a row written after x's
    rows = view.items()
    assert rows["y"] == {"k": "y", "total": 1, "n": 1}
    assert rows["x"] == {"k": "x", "total": float(2**64), "n": 2}


def test_group_keys_that_are_not_finite_numbers_are_skipped_as_nulls(engine):
    """``float(s)`` of "nan" or "inf" gives keys JSON writes as null: two nan keys make two
    groups (nan != nan) under one row id ``null``, so the row shows one of them and deleting
    the other deletes the row. As nulls are, they must be skipped (pandas drops NaN keys)."""
    stream = engine.stream("keys")
    for item_id, text in [("a", "nan"), ("b", "nan"), ("c", "inf"), ("d", "-inf"), ("e", "1")]:
        stream.set("g", item_id, {"s": text})
    view = stream.view("g", columns={"x": "float(s)"}, group_by="x", agg={"n": ("s", "count")})
    assert view.items() == {"1.0": {"x": 1.0, "n": 1}}


def test_a_sort_key_that_is_nan_keeps_the_window_of_a_sorted_view(engine):
    """``float(t)`` of "nan" is a key that compares neither below nor above any number: the
    window's sorted list cannot find it again, and removing it fails with the other rows lost.
    It must sort as a null does (last), and leave with its item."""
    stream = engine.stream("nan")
    stream.set("g", "a", {"t": "1"})
    stream.set("g", "b", {"t": "nan"})
    stream.set("g", "c", {"t": "2"})
    view = stream.view("g", columns={"x": "float(t)"}, sort_by="x", limit=2)
    stream.delete("g", "b")
    assert [(row_id, row["x"]) for row_id, row in view.items().items()] == [("a", 1.0), ("c", 2.0)]


def test_group_keys_of_different_types_with_the_same_text_are_different_rows(engine):
    """1 and "1" are two groups (as in pandas): each keeps a row of its own, and leaves alone."""
    stream = engine.stream("mixed")
    stream.set("g", "a", {"k": 1})
    stream.set("g", "b", {"k": "1"})
    stream.set("g", "c", {"k": "1"})
    view = stream.view("g", group_by="k", agg={"n": ("k", "count")})
    rows = view.items()
    assert sorted(((row["k"], row["n"]) for row in rows.values()), key=repr) == [("1", 2), (1, 1)]
    assert rows["1"] == {"k": 1, "n": 1}  # the first key keeps the plain id
    stream.delete("g", "a")
    stream.set("g", "d", {"k": "2"})  # the sentinel: a change after the delete
    wait_for(lambda: "2" in view.items())
    assert sorted(((row["k"], row["n"]) for row in view.items().values()), key=repr) == [("1", 2), ("2", 1)]
