"""``where``: its forms, its operators, nulls and wrong types, and its errors."""

from __future__ import annotations

from typing import Any

import pytest

from iii_live.views.errors import ViewSpecError
from iii_live.views.fields import path_getter
from iii_live.views.filters import compile_where

ITEMS = {
    "a": {"region": "eu", "qty": 5, "name": "apple pie", "tags": ["x", "y"], "user": {"tier": 2}},
    "b": {"region": "us", "qty": 12, "name": "banana", "tags": [], "user": {"tier": 1}},
    "c": {"region": "eu", "qty": "many", "name": None},
    "d": {"qty": 20},
    "e": 42,
}


def kept(where: Any) -> list[str]:
    compiled = compile_where(where, path_getter)
    assert compiled is not None
    return sorted(item_id for item_id, item in ITEMS.items() if compiled.predicate(item, None))


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"region": "eu"}, ["a", "c"]),
        ({"region": "eu", "user.tier": 2}, ["a"]),
        ([("qty", ">", 10)], ["b", "d"]),
        (("qty", ">=", 12), ["b", "d"]),
        ([("qty", "<", 12), ("region", "==", "eu")], ["a"]),
        ([("qty", "<=", 5)], ["a"]),
        ([("region", "!=", "eu")], ["b", "d", "e"]),  # as pandas: nulls are "not equal"
        ([("region", "in", ["us", "asia"])], ["b"]),
        ([("name", "contains", "an")], ["b"]),
        ([("tags", "contains", "y")], ["a"]),
        ([("qty", "between", [5, 12])], ["a", "b"]),
        ([("name", "between", ["b", "z"])], ["b"]),
        ({"or": [("qty", ">", 15), {"region": "us"}]}, ["b", "d"]),
        ({"and": [("qty", ">", 1), {"not": {"region": "eu"}}]}, ["b", "d"]),
        ("qty * 2 > 20 and region == 'us'", ["b"]),
        ([{"region": "eu"}, "name != null"], ["a"]),
        ({"region": None}, ["d", "e"]),  # equality with null matches a missing field
    ],
)
def test_where_forms(where: Any, expected: list[str]) -> None:
    assert kept(where) == expected


def test_text_never_compares_with_numbers() -> None:
    assert kept([("qty", ">", "a")]) == ["c"]  # only the text "many"
    assert kept([("name", ">", 1)]) == []


def test_normalized_form_is_plain_json() -> None:
    compiled = compile_where({"or": [("qty", ">", 1), {"region": "eu"}]}, path_getter)
    assert compiled is not None
    assert compiled.conditions == [{"or": [["qty", ">", 1], {"and": [["region", "==", "eu"]]}]}]
    again = compile_where(compiled.conditions, path_getter)
    assert again is not None and again.conditions == compiled.conditions
    assert compiled.fields == {"qty", "region"}


def test_empty_where_is_none() -> None:
    assert compile_where(None, path_getter) is None
    assert compile_where([], path_getter) is None


@pytest.mark.parametrize(
    ("where", "part", "reason"),
    [
        ([("qty", "~", 1)], "where[0]", "unknown operator '~'"),
        ([("qty", ">", 1), ("qty", "like", 1)], "where[1]", "unknown operator 'like'"),
        ([("qty", "in", 3)], "where[0]", "`in` takes a list"),
        ([("qty", "between", [1])], "where[0]", "`between` takes [low, high]"),
        ([("qty", "between", [1, "z"])], "where[0]", "two numbers or two texts"),
        ([("qty", ">", [1])], "where[0]", "compares with a number or a text"),
        ([("", "==", 1)], "where[0]", "non-empty string"),
        ({"or": []}, "where.or", "non-empty list"),
        ({"or": [("a", "==", 1), ("b", "=", 2)]}, "where.or[1]", "unknown operator '='"),
        ([42], "where[0]", "expected (field, op, value)"),
        (["qty >"], "where[0]", "invalid expression"),
        ([("qty", "==", object())], "where[0]", "not JSON"),
    ],
)
def test_errors_name_the_condition(where: Any, part: str, reason: str) -> None:
    with pytest.raises(ViewSpecError) as caught:
        compile_where(where, path_getter)
    assert caught.value.part == part
    assert reason in caught.value.reason
