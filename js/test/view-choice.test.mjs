// What a table's header menu and toolbar set: column filters, an expression, a group-by,
// read back from a kernel's trait or a page's address; and the CSV text of rows.
import assert from "node:assert/strict";
import test from "node:test";
import { csvField, csvFileName, toCsv } from "../src/csv.js";
import {
  aggName,
  columnFilter,
  describe,
  expressionOf,
  groupedColumns,
  noChoice,
  readChoice,
  withColumnFilter,
  withExpression,
  withGroupBy,
} from "../src/view-choice.js";

test("a column's filter becomes where entries and reads back; clearing it takes them away", () => {
  const choice = withColumnFilter(noChoice(), "qty", { contains: "", min: 10, max: 19, values: null });
  assert.deepEqual(choice.spec, { where: [["qty", "between", [10, 19]]] });
  const both = withColumnFilter(choice, "sku", { contains: "s1", min: null, max: 5, values: ["a", 1] });
  assert.deepEqual(both.spec?.where, [["qty", "between", [10, 19]], ["sku", "contains", "s1"], ["sku", "<=", 5], ["sku", "in", ["a", 1]]]);
  assert.deepEqual(columnFilter(both, "sku"), { contains: "s1", min: null, max: 5, values: ["a", 1] });
  assert.deepEqual(columnFilter(both, "qty"), { contains: "", min: 10, max: 19, values: null });
  const cleared = withColumnFilter(withColumnFilter(both, "sku", { contains: "", min: null, max: null, values: null }), "qty", { contains: "", min: null, max: null, values: null });
  assert.equal(cleared.spec, null);
});

test("the expression is the where entries that are text, kept beside the column filters", () => {
  const choice = withExpression(withColumnFilter(noChoice(), "a", { contains: "x", min: null, max: null, values: null }), "  qty * price > 100 ");
  assert.deepEqual(choice.spec?.where, [["a", "contains", "x"], "qty * price > 100"]);
  assert.equal(expressionOf(choice), "qty * price > 100");
  assert.deepEqual(withExpression(choice, "").spec?.where, [["a", "contains", "x"]]);
});

test("a group-by keeps the group's columns and drops a sort or hidden column the rows no longer have", () => {
  const sorted = { ...noChoice(), sort: { by: "qty", ascending: true }, hidden: ["sku", "qty_sum"] };
  const grouped = withGroupBy(sorted, ["region"], { qty_sum: ["qty", "sum"] }, ["region", "qty", "sku"]);
  assert.deepEqual(grouped.spec, { group_by: ["region"], agg: { qty_sum: ["qty", "sum"] } });
  assert.deepEqual(groupedColumns(grouped), ["region", "qty_sum"]);
  assert.deepEqual(grouped.fields, ["region", "qty", "sku"]);
  assert.equal(grouped.sort, null);
  assert.deepEqual(grouped.hidden, ["qty_sum"]);
  const ungrouped = withGroupBy(grouped, [], {}, ["region", "qty", "sku"]);
  assert.equal(ungrouped.spec, null);
  assert.equal(groupedColumns(ungrouped), null);
  assert.equal(aggName("qty", "count"), "count");
  assert.equal(aggName("qty", "mean"), "qty_mean");
});

test("the toolbar describes filters, the expression and the grouping", () => {
  let choice = withColumnFilter(noChoice(), "region", { contains: "", min: null, max: null, values: ["eu"] });
  choice = withExpression(choice, "qty > 1");
  choice = withGroupBy(choice, ["region"], { n: ["qty", "count"], qty_sum: ["qty", "sum"] }, ["region", "qty"]);
  assert.deepEqual(
    describe(choice).map((part) => part.text),
    ["qty > 1", 'region in "eu"', "by region: n = count(qty), qty_sum"]
  );
});

test("a choice read from a trait or an address keeps what is of its form only", () => {
  const raw = {
    spec: { where: [["a", "==", 1], "b > 2", [3, "==", 1], 7], group_by: ["a", 5], agg: { s: ["b", "sum"], bad: ["b"] }, name: "x" },
    sort: { by: "a", ascending: "yes" },
    hidden: ["c", null],
    fields: ["a", "b"],
    view: { streamName: "o~views" },
  };
  assert.deepEqual(readChoice(raw), {
    spec: { where: [["a", "==", 1], "b > 2"], group_by: ["a"], agg: { s: ["b", "sum"] } },
    sort: null,
    hidden: ["c"],
    fields: ["a", "b"],
  });
  assert.deepEqual(readChoice("nonsense"), noChoice());
  assert.deepEqual(readChoice(JSON.parse(JSON.stringify(readChoice(raw)))), readChoice(raw)); // round-trips
});

test("CSV: quoted when needed, objects as JSON, missing values empty, the id column from the entry", () => {
  assert.equal(csvField('say "hi", then\nleave'), '"say ""hi"", then\nleave"');
  assert.equal(csvField({ a: [1] }), '"{""a"":[1]}"');
  assert.equal(csvField(null), "");
  assert.equal(csvField(0), "0");
  const text = toCsv(["id", "quote.bid", "note"], [["a", { quote: { bid: 1.5 }, note: "x,y" }], ["b", {}]], "id");
  assert.equal(text, 'id,quote.bid,note\r\na,1.5,"x,y"\r\nb,,\r\n');
  assert.equal(csvFileName("o~views/all~v12"), "o_views_all_v12.csv");
  assert.equal(csvFileName("///"), "rows.csv");
});
