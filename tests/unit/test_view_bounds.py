"""What bounds a view's cost per item, whatever its spec: values stay JSON-sized through
chains of computed columns, ``round`` never builds a huge power of ten, and a spec's size
and nesting are capped with an error naming the part where it overflowed."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from iii_live import codec
from iii_live.views.budget import MAX_DEPTH, MAX_TERMS
from iii_live.views.errors import ViewSpecError
from iii_live.views.expressions import MAX_TEXT, compile_expression
from iii_live.views.fields import path_getter
from iii_live.views.spec import ViewSpec, base_groups


def row(columns: list[dict[str, str]], item: dict[str, Any]) -> dict[str, Any]:
    """The row of ``item`` in an ungrouped view with these computed columns."""
    plan = ViewSpec.build("s", "g", columns=columns).plan
    return plan.row(item, plan.compute(item))


def chain(first: str, step: str, length: int) -> list[dict[str, str]]:
    """Computed columns each made of the one before: ``c0 = first``, ``cN = step(cN-1)``."""
    return [{"c0": first}] + [{f"c{i}": step.format(f"c{i - 1}")} for i in range(1, length)]


def test_integers_squared_column_after_column_stay_json_numbers() -> None:
    values = row(chain("qty * qty", "{0} * {0}", 12), {"qty": 3})
    codec.dumps(values)  # every value has a JSON form (64-bit integers, floats)
    assert values["c2"] == 3**8 and isinstance(values["c6"], float)
    assert values["c11"] is None  # past the largest float: null, as JSON stores it


def test_texts_doubled_column_after_column_stop_at_the_text_bound() -> None:
    values = row(chain("name + name", "{0} + {0}", 16), {"name": "ab"})
    assert len(values["c14"]) == MAX_TEXT and values["c15"] is None


def test_lists_cannot_nest_column_after_column() -> None:
    values = row(chain("[qty, qty]", "[{0}, {0}]", 16), {"qty": 1})
    assert values["c0"] == [1, 1] and values["c1"] is None
    assert row([{"tags": "['a', qty, null, true]"}], {"qty": 2})["tags"] == ["a", 2, None, True]


@pytest.mark.parametrize(
    ("text", "item", "expected"),
    [
        ("round(qty, -3000000)", {"qty": 12345}, 0),
        ("round(price, -3000000)", {"price": 1.5}, 0.0),
        ("round(qty, 3000000)", {"qty": 12345}, 12345),
        ("round(price, 3000000)", {"price": 1.5}, 1.5),
        ("round(qty, -2)", {"qty": 12351}, 12400),
    ],
)
def test_round_builds_no_huge_power_of_ten(text: str, item: Any, expected: Any) -> None:
    evaluate = compile_expression(text, "columns.r", path_getter).evaluate
    tracemalloc.start()
    try:
        assert evaluate(item, None) == expected
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024  # 10 ** 3000000 alone is 1.2 MB


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9" * 30 + " * 1", float("9" * 30)),
        ("int('" + "9" * 30 + "')", float("9" * 30)),
        ("int('" + "9" * 400 + "')", None),
        ("abs(-9223372036854775807 - 2)", 9223372036854775809.0),
        ("-18446744073709551615 - 18446744073709551615", -3.6893488147419103e19),
    ],
)
def test_integers_past_64_bits_become_floats(text: str, expected: Any) -> None:
    value = compile_expression(text, "columns.x", path_getter).evaluate({}, None)
    assert value == expected and type(value) is type(expected)


def test_an_integer_literal_past_a_floats_range_is_refused() -> None:
    with pytest.raises(ViewSpecError, match="beyond a float's range") as caught:
        compile_expression("qty * " + "9" * 400, "columns.x", path_getter)
    assert caught.value.part == "columns.x"


@pytest.mark.parametrize(
    ("options", "part"),
    [
        ({"where": [["qty", "!=", i] for i in range(60_000)]}, f"where[{MAX_TERMS}]"),
        ({"where": {"or": [["qty", "==", i] for i in range(MAX_TERMS)]}}, f"where.or[{MAX_TERMS - 1}]"),
        ({"columns": [{f"c{i}": "qty * price + qty"} for i in range(5_000)]}, "columns.c181"),  # 11 terms
        ({"columns": [f"f{i}" for i in range(5_000)]}, f"columns.f{MAX_TERMS}"),
        ({"group_by": [f"f{i}" for i in range(5_000)]}, f"group_by[{MAX_TERMS}]"),
        ({"agg": {f"a{i}": ("qty", "sum") for i in range(5_000)}}, f"agg.a{MAX_TERMS}"),
        (
            {
                "where": [["qty", "!=", i] for i in range(MAX_TERMS - 1)],
                "group_by": "g",
                "agg": {"n": ("qty", "count")},
            },
            "agg.n",
        ),
    ],
)
def test_a_spec_too_large_is_refused_where_it_overflows(options: dict[str, Any], part: str) -> None:
    with pytest.raises(ViewSpecError, match="the spec is too large") as caught:
        ViewSpec.build("s", "g", **options)
    assert caught.value.part == part


def test_a_spec_within_the_budget_opens() -> None:
    where = [["qty", "!=", i] for i in range(MAX_TERMS - 2)]
    spec = ViewSpec.build("s", "g", where=where, group_by="g", agg={"n": ("qty", "count")})
    assert len(spec.where or ()) == MAX_TERMS - 2


def nested(kind: str, depth: int) -> Any:
    where: Any = ["qty", "==", 1]
    for _ in range(depth):
        where = {kind: where} if kind == "not" else {kind: [where]}
    return where


@pytest.mark.parametrize("kind", ["not", "and", "or"])
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 400, 5_000])
def test_conditions_nested_too_deeply_are_refused(kind: str, depth: int) -> None:
    with pytest.raises(ViewSpecError, match=f"at most {MAX_DEPTH} deep") as caught:
        ViewSpec.build("s", "g", where=nested(kind, depth))
    assert caught.value.part.startswith(f"where.{kind}")


def test_conditions_nested_to_the_bound_work() -> None:
    spec = ViewSpec.build("s", "g", where=nested("not", MAX_DEPTH))
    assert spec.plan.predicate({"qty": 1}, None) is True  # an even number of nots
    assert ViewSpec.parse(spec.to_json()) == spec


@pytest.mark.parametrize(
    ("options", "part"),
    [
        ({"group_by": "\ud800"}, "group_by"),
        ({"sort_by": "\ud800"}, "sort_by"),
        ({"columns": [{"x": "'\ud800'"}]}, "columns.x"),
        ({"where": "name == '\udfff'"}, "where"),
        ({"limit": 2**70}, "limit"),
        ({"limit": 2**53}, "limit"),
    ],
)
def test_parts_without_a_json_form_are_named(options: dict[str, Any], part: str) -> None:
    with pytest.raises(ViewSpecError) as caught:
        ViewSpec.build("s", "g", **options)
    assert caught.value.part == part


@pytest.mark.parametrize(
    ("stream", "group", "bases"),
    [
        ("o~views", "all~v1a2b", [("o", "all")]),
        ("o~views~views", "a~b~v1~by_region", [("o~views", "a~b~v1"), ("o", "a~b")]),
        ("o", "all~v1", []),
        ("o~views", "all", []),
        ("~views", "all~v1", []),
        ("o~views", "~v1", []),
        ("o~views", "all~not a name", []),
    ],
)
def test_the_groups_a_derived_group_shows_are_its_bases(stream: str, group: str, bases: Any) -> None:
    assert base_groups(stream, group) == bases
