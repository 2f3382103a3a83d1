"""The view expression language: what it computes, how nulls flow, what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from iii_live.views.errors import ViewSpecError
from iii_live.views.expressions import compile_expression
from iii_live.views.fields import path_getter


def evaluate(text: str, item: Any) -> Any:
    return compile_expression(text, "columns.x", path_getter).evaluate(item, None)


@pytest.mark.parametrize(
    ("text", "item", "expected"),
    [
        ("ask - bid", {"ask": 10.5, "bid": 10.0}, 0.5),
        ("price * qty", {"price": 2, "qty": 3}, 6),
        ("qty / 4", {"qty": 2}, 0.5),
        ("qty // 4 + qty % 4", {"qty": 9}, 3),
        ("-qty", {"qty": 2}, -2),
        ("quote.bid + 1", {"quote": {"bid": 1}}, 2),
        ('field("odd name") * 2', {"odd name": 4}, 8),
        ("region == 'eu' and qty >= 10", {"region": "eu", "qty": 10}, True),
        ("region == 'eu' and qty >= 10", {"region": "us", "qty": 10}, False),
        ("not active", {"active": False}, True),
        ("region in ['eu', 'us']", {"region": "us"}, True),
        ("'ab' in name", {"name": "cabin"}, True),
        ("tag not in tags", {"tag": "x", "tags": ["y"]}, True),
        ("1 < qty < 5", {"qty": 3}, True),
        ("1 < qty < 5", {"qty": 7}, False),
        ("upper(name) if active else null", {"name": "a", "active": True}, "A"),
        ("upper(name) if active else null", {"name": "a", "active": False}, None),
        ("round(x, 1)", {"x": 1.26}, 1.3),
        ("abs(x) + len(name)", {"x": -2, "name": "abc"}, 5),
        ("min(a, b) + max(a, b)", {"a": 1, "b": 5}, 6),
        ("coalesce(nick, name)", {"name": "ann"}, "ann"),
        ("lower(name) + '!'", {"name": "HI"}, "hi!"),
        ("startswith(sym, 'AA') or endswith(sym, 'Z')", {"sym": "BBZ"}, True),
        ("int('12') + float('0.5')", {}, 12.5),
        ("str(qty) + str(true)", {"qty": 3}, "3true"),
    ],
)
def test_expressions_compute(text: str, item: Any, expected: Any) -> None:
    assert evaluate(text, item) == expected


@pytest.mark.parametrize(
    ("text", "item"),
    [
        ("ask - bid", {"ask": 1}),  # missing field
        ("ask - bid", {"ask": 1, "bid": None}),  # null
        ("ask - bid", {"ask": "1", "bid": 2}),  # text minus number
        ("qty / 0", {"qty": 1}),  # division by zero
        ("name * 3", {"name": "ab"}),  # no string repetition
        ("quote.bid", {"quote": 3}),  # not an object
        ("len(x)", {"x": 4}),
        ("int(x)", {"x": "4.5"}),
        ("qty > 'a'", {"qty": 1}),
        ("-name", {"name": "a"}),
        ("upper(3)", {}),
    ],
)
def test_nulls_propagate_instead_of_raising(text: str, item: Any) -> None:
    assert evaluate(text, item) is None


def test_an_item_that_is_not_an_object_reads_as_nulls() -> None:
    assert evaluate("price * 2", 7) is None
    assert evaluate("price * 2", [1, 2]) is None


def test_fields_read_are_listed() -> None:
    expression = compile_expression("a.b + c if d else field('e f')", "columns.x", path_getter)
    assert expression.fields == {"a.b", "c", "d", "e f"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("__import__('os').system('true')", "only the listed functions"),
        ("(1).__class__", "only field names may be dotted"),
        ("x[0]", "Subscript is not allowed"),
        ("lambda: 1", "Lambda is not allowed"),
        ("[x for x in y]", "ListComp is not allowed"),
        ("2 ** 1000", "Pow is not allowed"),
        ("a is None", "Is is not allowed"),
        ("open('f')", "unknown function open()"),
        ("a +", "invalid expression"),
        ("round(x, digits=2)", "no keyword arguments"),
        ("abs(1, 2)", "abs() takes 1 argument"),
        ("field(name)", "field() takes one string"),
        ("x := 1", "invalid expression"),
        ("b'bytes'", "the literal b'bytes' is not allowed"),
        ("", "non-empty string"),
        ("+".join(["a"] * 300), "too long"),
        ("x" * 2000, "at most 1000 characters"),
        ("(" * 250 + "1" + ")" * 250, "invalid expression"),
    ],
)
def test_invalid_expressions_are_refused_naming_the_part(text: str, reason: str) -> None:
    with pytest.raises(ViewSpecError) as caught:
        compile_expression(text, "columns.spread", path_getter)
    assert caught.value.part == "columns.spread"
    assert reason in str(caught.value)
    assert "columns.spread" in str(caught.value)
