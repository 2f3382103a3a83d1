"""Every stream::update op and error code of spec §2.9, on the pure function."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iii_live import codec
from iii_live.streams.update_ops import DOC_URL, MISSING, UpdateOp, apply_update_ops


def apply(old, *ops):
    return apply_update_ops(
        copy.deepcopy(old) if old is not MISSING else MISSING, [UpdateOp(**op) for op in ops]
    )


def codes(errors):
    return [e["code"] for e in errors]


def test_set_field_and_root():
    assert apply({"a": 1}, {"type": "set", "path": "b", "value": 2}) == ({"a": 1, "b": 2}, [])
    assert apply({"a": 1}, {"type": "set", "path": "", "value": [1]}) == ([1], [])
    assert apply(MISSING, {"type": "set", "path": "status", "value": "done"}) == ({"status": "done"}, [])
    # dots are literal: "a.b" is one key
    assert apply({}, {"type": "set", "path": "a.b", "value": 1}) == ({"a.b": 1}, [])


def test_set_on_non_object_is_an_error_and_skipped():
    value, errors = apply(
        [1], {"type": "set", "path": "x", "value": 1}, {"type": "set", "path": "", "value": {"ok": True}}
    )
    assert value == {"ok": True}
    assert errors == [
        {
            "op_index": 0,
            "code": "set.target_not_object",
            "message": "Cannot set at path 'x': target is array, expected object.",
            "doc_url": DOC_URL,
        }
    ]


def test_merge_root_nested_and_replacing_non_objects():
    assert apply({"a": 1}, {"type": "merge", "value": {"b": 2}}) == ({"a": 1, "b": 2}, [])
    assert apply({"a": 1}, {"type": "merge", "path": [], "value": {"b": 2}}) == ({"a": 1, "b": 2}, [])
    assert apply({"s": 5}, {"type": "merge", "path": ["s", "abc"], "value": {"ts": 1}}) == (
        {"s": {"abc": {"ts": 1}}},
        [],
    )
    assert apply({}, {"type": "merge", "path": "k", "value": {"x": 1}}) == ({"k": {"x": 1}}, [])
    # root merge on a non-object silently does nothing
    assert apply([1], {"type": "merge", "value": {"b": 2}}) == ([1], [])


def test_merge_value_validation():
    assert codes(apply({}, {"type": "merge", "value": 3})[1]) == ["merge.value.not_an_object"]
    big = {f"k{i}": i for i in range(1025)}
    assert codes(apply({}, {"type": "merge", "value": big})[1]) == ["merge.value.too_many_keys"]
    assert codes(apply({}, {"type": "merge", "value": {"__proto__": 1}})[1]) == ["merge.value.proto_polluted"]
    deep = {}
    node = deep
    for _ in range(16):
        node["d"] = {}
        node = node["d"]
    assert codes(apply({}, {"type": "merge", "value": deep})[1]) == ["merge.value.too_deep"]


def test_path_validation_codes():
    assert codes(apply({}, {"type": "merge", "path": ["a", ""], "value": {}})[1]) == [
        "merge.path.empty_segment"
    ]
    assert codes(apply({}, {"type": "append", "path": ["x"] * 33, "value": 1})[1]) == ["append.path.too_deep"]
    assert codes(apply({}, {"type": "set", "path": "x" * 257, "value": 1})[1]) == [
        "set.path.segment_too_long"
    ]
    assert codes(apply({}, {"type": "set", "path": "constructor", "value": 1})[1]) == [
        "set.path.proto_polluted"
    ]
    assert codes(apply({}, {"type": "remove", "path": "prototype"})[1]) == ["remove.path.proto_polluted"]


def test_increment_and_decrement():
    assert apply({"count": 1}, {"type": "increment", "path": "count", "by": 2}) == ({"count": 3}, [])
    assert apply({}, {"type": "increment", "path": "count", "by": 2}) == ({"count": 2}, [])
    assert apply({}, {"type": "decrement", "path": "count", "by": 2}) == ({"count": -2}, [])
    assert apply({"f": 1.5}, {"type": "increment", "path": "f", "by": 1}) == ({"f": 2.5}, [])
    assert apply(MISSING, {"type": "increment", "path": "", "by": 5}) == (5, [])
    assert apply(MISSING, {"type": "decrement", "path": "", "by": 5}) == (-5, [])
    assert apply(10, {"type": "decrement", "path": "", "by": 3}) == (7, [])
    value, errors = apply({"c": "x"}, {"type": "increment", "path": "c", "by": 1})
    assert value == {"c": "x"}
    assert errors[0]["code"] == "increment.not_number"
    assert errors[0]["message"] == "Expected number at path 'c', got string."
    assert codes(apply({"c": True}, {"type": "decrement", "path": "c", "by": 1})[1]) == [
        "decrement.not_number"
    ]
    assert codes(apply("s", {"type": "increment", "path": "", "by": 1})[1]) == ["increment.not_number"]
    assert codes(apply([], {"type": "increment", "path": "c", "by": 1})[1]) == ["increment.target_not_object"]
    assert codes(apply({"c": 2**64}, {"type": "increment", "path": "c", "by": 1})[1]) == [
        "increment.not_number"
    ]


def test_append_rules():
    assert apply({"e": [1]}, {"type": "append", "path": "e", "value": 2}) == ({"e": [1, 2]}, [])
    assert apply({"e": "ab"}, {"type": "append", "path": "e", "value": "c"}) == ({"e": "abc"}, [])
    assert apply({"e": None}, {"type": "append", "path": "e", "value": 1}) == ({"e": [1]}, [])
    assert apply({}, {"type": "append", "path": "e", "value": "s"}) == ({"e": "s"}, [])
    assert apply({}, {"type": "append", "path": "e", "value": {"k": 1}}) == ({"e": [{"k": 1}]}, [])
    # nested missing leaf is always an array, parents are created
    assert apply({}, {"type": "append", "path": ["a", "b"], "value": "s"}) == ({"a": {"b": ["s"]}}, [])
    # root: missing item -> initial value; existing array -> push
    assert apply(MISSING, {"type": "append", "value": 1}) == ([1], [])
    assert apply(MISSING, {"type": "append", "value": "x"}) == ("x", [])
    assert apply([1], {"type": "append", "value": 2}) == ([1, 2], [])
    value, errors = apply({"e": 5}, {"type": "append", "path": "e", "value": 1})
    assert errors[0]["code"] == "append.type_mismatch"
    assert errors[0]["message"] == (
        "Cannot append at path 'e': target is number, expected array, string, null, or missing field."
    )
    assert codes(apply({"a": 1}, {"type": "append", "value": 1})[1]) == ["append.type_mismatch"]
    assert codes(apply({"e": "s"}, {"type": "append", "path": "e", "value": 1})[1]) == [
        "append.type_mismatch"
    ]
    assert codes(apply([1], {"type": "append", "path": "e", "value": 1})[1]) == ["append.target_not_object"]


def test_remove():
    assert apply({"a": 1, "b": 2}, {"type": "remove", "path": "a"}) == ({"b": 2}, [])
    assert apply({"b": 2}, {"type": "remove", "path": "zz"}) == ({"b": 2}, [])
    assert apply({"b": 2}, {"type": "remove", "path": ""}) == (None, [])
    assert codes(apply(3, {"type": "remove", "path": "a"})[1]) == ["remove.target_not_object"]


def test_failing_op_is_skipped_others_apply_with_indexes():
    value, errors = apply(
        {"n": 1},
        {"type": "increment", "path": "n", "by": 1},
        {"type": "merge", "value": 7},
        {"type": "set", "path": "ok", "value": True},
    )
    assert value == {"n": 2, "ok": True}
    assert [e["op_index"] for e in errors] == [1]


def test_missing_item_with_no_ops_becomes_empty_object():
    assert apply_update_ops(MISSING, []) == ({}, [])


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**62), 2**62)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=10,
)
paths = st.none() | st.text(max_size=4) | st.lists(st.text(max_size=3), max_size=3)
ops = st.builds(
    lambda t, p, v, b: {
        "type": t,
        "path": p if t in ("merge", "append") or isinstance(p, str) else "",
        "value": v,
        "by": b,
    },
    st.sampled_from(["set", "merge", "increment", "decrement", "append", "remove"]),
    paths,
    json_values,
    st.integers(-(2**31), 2**31),
)


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(old=st.one_of(st.just(MISSING), json_values), op_list=st.lists(ops, max_size=6))
def test_any_ops_on_any_value_never_raise_and_stay_json(old, op_list):
    value, errors = apply(old, *op_list)
    codec.dumps(value)
    for error in errors:
        assert set(error) == {"op_index", "code", "message", "doc_url"}
        assert 0 <= error["op_index"] < len(op_list)
