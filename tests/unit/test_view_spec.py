"""View specs: validation naming the wrong part, normalization, round trips, names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from iii_live.views import ViewSpec, ViewSpecError, derived_group, derived_stream
from iii_live.views.grouped_rows import row_id_of


def build(**options: Any) -> ViewSpec:
    return ViewSpec.build("orders", "all", **options)


FULL = {
    "stream_name": "orders",
    "group_id": "all",
    "name": "by_region",
    "where": [["qty", ">", 0], {"or": [["region", "in", ["eu", "us"]], "price * qty > 100"]}],
    "columns": [{"notional": "price * qty"}],
    "group_by": ["region"],
    "agg": {"total": ["notional", "sum"], "n": ["qty", "count"], "top": ["price", "max"]},
    "sort_by": ["total"],
    "descending": True,
    "limit": 10,
}


def test_a_spec_round_trips_through_a_dict_and_json() -> None:
    spec = ViewSpec.parse(FULL)
    assert spec.to_dict() == FULL
    assert ViewSpec.parse(spec.to_dict()) == spec
    assert ViewSpec.parse(spec.to_json()) == spec
    assert json.loads(spec.to_json()) == FULL


def test_python_forms_normalize_to_the_json_form() -> None:
    spec = build(
        where={"region": "eu"},
        group_by="region",
        agg={"total": ("qty", "sum"), "d": ("user", "nunique")},
        sort_by="total",
    )
    assert spec.where == [["region", "==", "eu"]]
    assert spec.group_by == ["region"]
    assert spec.agg == {"total": ["qty", "sum"], "d": ["user", "count_distinct"]}
    assert spec.sort_by == ["total"]
    assert ViewSpec.parse(spec.to_dict()) == spec


def test_equal_specs_share_a_default_name_and_derived_names_follow_the_rule() -> None:
    one, two = build(where={"a": 1}), build(where=[("a", "==", 1)])
    assert one.name == two.name and one.name.startswith("v")
    assert build(where={"a": 2}).name != one.name
    assert one.derived_stream == derived_stream("orders") == "orders~views"
    assert one.derived_group == derived_group("all", one.name) == f"all~{one.name}"


def test_callables_get_their_own_name_and_no_json() -> None:
    spec = build(columns=["a", {"double": lambda item: item["a"] * 2}])
    assert spec.name != build(columns=["a", {"double": lambda item: item["a"] * 2}]).name
    with pytest.raises(ViewSpecError) as caught:
        spec.to_json()
    assert caught.value.part == "columns.double"


def test_aggregating_without_group_by_makes_one_row() -> None:
    spec = build(agg={"n": ("qty", "count")})
    assert spec.grouped and spec.group_by == []
    assert row_id_of(()) == "all"


def test_row_ids_join_group_keys_with_a_bar() -> None:
    assert row_id_of(("eu",)) == "eu"
    assert row_id_of(("eu", "books")) == "eu|books"
    assert row_id_of((1, 2.5, True)) == "1|2.5|true"
    assert row_id_of(("a|b", "c\\d")) == "a\\|b|c\\\\d"


@pytest.mark.parametrize(
    ("options", "part", "reason"),
    [
        ({"agg": {"total": ("qty", "median")}}, "agg.total", "unknown aggregate 'median'"),
        ({"agg": {"total": "qty"}}, "agg.total", 'expected ("field", "function")'),
        ({"agg": {"total": ("", "sum")}}, "agg.total", "non-empty string"),
        ({"agg": [("qty", "sum")]}, "agg", "expected"),
        ({"group_by": "region", "agg": {"region": ("qty", "sum")}}, "agg.region", "also a group-by field"),
        ({"group_by": ["region", 3]}, "group_by[1]", "non-empty string"),
        ({"group_by": ["a", "a"]}, "group_by", "named twice"),
        ({"group_by": "r", "agg": {"t": ("q", "sum")}, "sort_by": "x"}, "sort_by[0]", "neither a group-by"),
        ({"sort_by": "a", "descending": [True, False]}, "descending", "one true/false per sort_by"),
        ({"descending": "yes"}, "descending", "expected true/false"),
        ({"limit": 0}, "limit", "positive integer"),
        ({"limit": True}, "limit", "positive integer"),
        ({"name": "has space"}, "name", "A-Z a-z 0-9"),
        ({"name": "a~b"}, "name", "A-Z a-z 0-9"),
        ({"columns": [{"spread": "ask -"}]}, "columns.spread", "invalid expression"),
        ({"columns": [{"spread": 3}]}, "columns.spread", "an expression or a Python callable"),
        ({"columns": [5]}, "columns[0]", "a field name or"),
        ({"columns": ["a", {"a": "b"}]}, "columns.a", "named twice"),
        ({"group_by": "r", "columns": ["price"]}, "columns.price", "list only computed columns"),
        ({"where": [("q", "has", 1)]}, "where[0]", "unknown operator"),
    ],
)
def test_errors_name_the_wrong_part(options: dict[str, Any], part: str, reason: str) -> None:
    with pytest.raises(ViewSpecError) as caught:
        build(**options)
    assert caught.value.part == part
    assert reason in caught.value.reason
    assert f"`{part}`" in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "part"),
    [
        ("{not json", "spec"),
        ([1], "spec"),
        ({"stream_name": "s", "group_id": "g", "colums": []}, "colums"),
        ({"group_id": "g"}, "stream_name"),
        ({"stream_name": "s", "group_id": ""}, "group_id"),
    ],
)
def test_parse_refuses_what_is_not_a_spec(raw: Any, part: str) -> None:
    with pytest.raises(ViewSpecError) as caught:
        ViewSpec.parse(raw)
    assert caught.value.part == part
