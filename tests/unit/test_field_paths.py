"""Field paths in the browser (js/src/format.js, run in node): an item's fields are its own,
whatever their names, as JSON.parse and the delta decoder make them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "js" / "src"

RUN_IN_NODE = """
import { flatten, pick, formatCell } from "%s";
import { toCsv } from "%s";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const { items, columns } = JSON.parse(input);
const rows = items.map((item, k) => [String(k), item]);
const shown = (f) => { try { return f(); } catch (error) { return `threw ${error.constructor.name}`; } };
process.stdout.write(JSON.stringify({
  columns: items.map((item) => Object.keys(flatten(item))),
  cells: rows.map(([, item]) => columns.map((column) => shown(() => formatCell(pick(item, column))))),
  csv: toCsv(columns, rows, null),
}));
"""


def in_browser(items: list, columns: list[str]) -> dict:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    script = RUN_IN_NODE % ((SRC / "format.js").as_uri(), (SRC / "csv.js").as_uri())
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        input=json.dumps({"items": items, "columns": columns}),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_a_field_named_like_an_object_internal_is_a_column():
    """The delta decoder keeps a ``__proto__`` field; the table's columns must show it."""
    read = in_browser([{"__proto__": 1, "v": 0.5}], ["__proto__", "v"])
    assert read["columns"] == [["__proto__", "v"]]
    assert read["cells"] == [["1", "0.5"]]


def test_an_item_without_a_field_named_like_an_object_method_shows_an_empty_cell():
    """Rows need not share fields: a row without ``constructor`` (a racing team's, say) has an
    empty cell there, not Object's constructor (whose text is undefined: the table's row
    rendering reads its length), and its CSV field is empty."""
    read = in_browser([{"driver": "a", "constructor": "Ferrari"}, {"driver": "b"}], ["driver", "constructor"])
    assert read["cells"] == [["a", "Ferrari"], ["b", ""]]
    assert read["csv"] == "driver,constructor\r\na,Ferrari\r\nb,\r\n"
