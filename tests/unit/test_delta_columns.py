"""Deltas as columns: encoded by the kernel, read by the browser's own decoder (run in node),
every item back with its value, in order; numbers go in binary buffers, the rest as lists."""

from __future__ import annotations

import base64
import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest

from iii_live.protocol.delta_columns import encode_delta

DECODER = Path(__file__).resolve().parents[2] / "js" / "src" / "delta-columns.js"

READ_IN_NODE = """
import { decodeDelta } from "%s";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const { content, buffers } = JSON.parse(input);
const bytes = buffers.map((b) => Buffer.from(b, "base64"));
const { seq, upserts, deletes } = decodeDelta(content, bytes);
const tag = (value) =>
  typeof value === "number" && !Number.isFinite(value) ? { nonfinite: String(value) } : value;
const record = (v) => v && typeof v === "object" && !Array.isArray(v);
const shown = upserts.map(([id, v]) =>
  [id, record(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, tag(x)])) : v]);
const keys = upserts.map(([, v]) => (record(v) ? Object.keys(v) : null));
process.stdout.write(JSON.stringify({ seq, upserts: shown, deletes, keys }));
"""


def read_in_browser_decoder(content: dict, buffers: list[bytes]) -> dict:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    payload = json.dumps({"content": content, "buffers": [base64.b64encode(b).decode() for b in buffers]})
    done = subprocess.run(
        ["node", "--input-type=module", "-e", READ_IN_NODE % DECODER.as_uri()],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def untag(value):
    if isinstance(value, dict) and set(value) == {"nonfinite"}:
        return float(value["nonfinite"].replace("Infinity", "inf"))
    return value


UPSERTS = {
    "a": {"i": 1, "v": 0.5, "name": "x"},
    "b": {"i": -(2**31), "v": -1e300, "name": None},
    "c": {"i": 2**31 - 1, "v": 3, "name": {"nested": [1, "two"]}},
    "d": 42,
    "e": "plain text",
    "f": {"big": 2**40, "huge": 2**60, "flag": True, "nan": math.nan, "inf": -math.inf},
    "g": {"big": -(2**40), "huge": 1, "flag": False, "nan": 1.5, "inf": 0.0},
    "h": {"v": 1, "i": 2},  # the same fields in another order: a run of its own
    "i": {},
    "j": [1, 2],
    "k": None,
}


def test_every_item_round_trips_in_order_with_its_fields_in_order():
    content, buffers = encode_delta(9, UPSERTS, ["gone", "also gone"])
    read = read_in_browser_decoder(content, buffers)
    assert read["seq"] == 9 and read["deletes"] == ["gone", "also gone"]
    assert [item_id for item_id, _ in read["upserts"]] == list(UPSERTS)
    for (item_id, sent), (_, got), keys in zip(UPSERTS.items(), read["upserts"], read["keys"], strict=True):
        if isinstance(sent, dict):
            assert keys == list(sent), item_id
            got = {k: untag(v) for k, v in got.items()}
            for field, value in sent.items():
                if isinstance(value, float) and math.isnan(value):
                    assert math.isnan(got[field])
                elif isinstance(value, int) and abs(value) > 2**53:  # as the browser reads it from JSON
                    assert float(got[field]) == float(value)
                else:
                    assert got[field] == value and isinstance(got[field], bool) == isinstance(value, bool)
        else:
            assert got == sent, item_id


def test_numbers_travel_as_binary_columns_and_the_rest_as_json():
    content, buffers = encode_delta(1, UPSERTS, [])
    kinds = [[(c[0], c[1]) for c in run["columns"]] if "columns" in run else None for run in content["runs"]]
    assert kinds == [
        [("i", "i32"), ("v", "f64"), ("name", "json")],
        None,
        [
            ("big", "f64"),
            ("huge", "json"),  # past 2**53: exact only as text
            ("flag", "json"),  # booleans are not numbers
            ("nan", "f64"),
            ("inf", "f64"),
        ],
        [("v", "i32"), ("i", "i32")],
        [],
        None,
    ]
    assert len(buffers) == sum(
        1 for run in content["runs"] if "columns" in run for c in run["columns"] if c[1] != "json"
    )
    json.dumps(content)  # the rest of the message is plain JSON


def test_a_large_uniform_delta_is_one_run_of_typed_columns():
    upserts = {str(i): {"i": i, "v": i * 0.5} for i in range(10_000)}
    content, buffers = encode_delta(2, upserts, [])
    assert len(content["runs"]) == 1 and [len(b) for b in buffers] == [40_000, 80_000]
    read = read_in_browser_decoder(content, buffers)
    assert read["upserts"][-1] == ["9999", {"i": 9999, "v": 4999.5}]
    assert read["upserts"] == [[item_id, value] for item_id, value in upserts.items()]


def test_an_empty_delta_has_no_runs():
    assert encode_delta(3, {}, ["x"]) == ({"type": "delta", "seq": 3, "runs": [], "deletes": ["x"]}, [])


def test_objects_of_different_fields_make_a_run_each_in_order():
    upserts = {"a": {"i": 1}, "b": {"i": 2}, "c": {"j": 3}, "d": {"i": 4}}
    content, buffers = encode_delta(4, upserts, [])
    assert [run["ids"] for run in content["runs"]] == [["a", "b"], ["c"], ["d"]]
    read = read_in_browser_decoder(content, buffers)
    assert read["upserts"] == [[item_id, value] for item_id, value in upserts.items()]


def test_objects_with_the_same_fields_in_another_order_share_the_run_with_every_value():
    upserts = {"a": {"i": 1, "v": 0.5}, "b": {"v": 1.5, "i": 2}, "c": {"i": 3, "v": 2.5}}
    content, buffers = encode_delta(5, upserts, [])
    assert [run["ids"] for run in content["runs"]] == [["a", "b", "c"]]
    read = read_in_browser_decoder(content, buffers)
    assert read["upserts"] == [
        ["a", {"i": 1, "v": 0.5}],
        ["b", {"i": 2, "v": 1.5}],
        ["c", {"i": 3, "v": 2.5}],
    ]


@pytest.mark.parametrize(
    ("numbers", "kind"), [([2**31, 1], "f64"), ([-(2**31) - 1, 1], "f64"), ([2**60, 1], "json")]
)
def test_integers_beyond_int32_go_as_doubles_or_as_json_past_two_to_the_53(numbers, kind):
    upserts = {str(k): {"n": n} for k, n in enumerate(numbers)}
    content, buffers = encode_delta(6, upserts, [])
    assert content["runs"][0]["columns"][0][1] == kind
    read = read_in_browser_decoder(content, buffers)
    assert [float(v["n"]) for _, v in read["upserts"]] == [float(n) for n in numbers]


def test_a_field_named_like_an_object_internal_comes_back_as_a_field():
    """JSON.parse keeps ``__proto__`` as a field of its own; a run's item must too."""
    upserts = {"a": {"__proto__": 1, "v": 0.5}, "b": {"__proto__": {"x": 1}, "v": 1.5}}
    content, buffers = encode_delta(7, upserts, [])
    read = read_in_browser_decoder(content, buffers)
    assert read["keys"] == [["__proto__", "v"], ["__proto__", "v"]]
    assert read["upserts"] == [["a", {"__proto__": 1, "v": 0.5}], ["b", {"__proto__": {"x": 1}, "v": 1.5}]]
