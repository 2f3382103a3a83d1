// Field paths, numbers for sorting and plotting, and the text of table cells.
import assert from "node:assert/strict";
import test from "node:test";
import { flatten, formatCell, formatTimestamp, magnitude, pick, toNumber } from "../src/format.js";

const today = new Date(2026, 10, 28, 15, 0, 0); // local time
const pad = (n) => String(n).padStart(2, "0");
const localClock = (date) => `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;

test("nested objects flatten into dotted paths; pick reads them back", () => {
  assert.deepEqual(flatten({ a: 1, b: { c: 2, d: [1] } }), { a: 1, "b.c": 2, "b.d": [1] });
  assert.deepEqual(flatten(5), { value: 5 });
  assert.deepEqual(flatten({ a: { b: { c: { d: { e: 1 } } } } }), { "a.b.c.d": { e: 1 } });
  assert.equal(pick({ b: { c: 2 } }, "b.c"), 2);
  assert.equal(pick({ b: 3 }, "b.c"), undefined);
  assert.equal(pick(7, "value"), 7);
});

test("numbers for sorting and plotting", () => {
  assert.equal(toNumber("2026-01-01T00:00:00"), Date.UTC(2026, 0, 1) / 1000); // no zone: UTC
  assert.equal(toNumber("2026-01-01T01:00:00+01:00"), Date.UTC(2026, 0, 1) / 1000);
  assert.equal(toNumber("2026-01-01 00:00:00.500Z"), Date.UTC(2026, 0, 1) / 1000 + 0.5);
  assert.equal(toNumber("3.5"), 3.5);
  assert.equal(toNumber(true), 1);
  assert.equal(toNumber("abc"), null);
  assert.equal(toNumber(""), null);
  assert.equal(toNumber({}), null);
});

test("a timestamp of today shows its time of day; another day shows date and time", () => {
  assert.equal(formatCell("2026-11-28T09:05:07", today), "09:05:07");
  assert.equal(formatCell("2026-11-28T09:05:07.123456", today), "09:05:07");
  assert.equal(formatCell("2026-11-27T10:02:00", today), "2026-11-27 10:02:00");
  assert.equal(formatCell("2026-11-27 10:02", today), "2026-11-27 10:02");
});

test("a timestamp with a zone shows in the viewer's local time", () => {
  const now = new Date();
  const utc = now.toISOString(); // "...Z", today wherever the viewer is
  assert.equal(formatTimestamp(utc, now), localClock(now));
  const instant = Date.UTC(2024, 2, 5, 12, 30, 15);
  const local = new Date(instant);
  const date = `${local.getFullYear()}-${pad(local.getMonth() + 1)}-${pad(local.getDate())}`;
  assert.equal(formatCell("2024-03-05T13:30:15.250+01:00", today), `${date} ${localClock(local)}`);
});

test("other values", () => {
  assert.equal(formatCell(null), "");
  assert.equal(formatCell(undefined), "");
  assert.equal(formatCell(42), "42");
  assert.equal(formatCell(0.1 + 0.2), "0.3");
  assert.equal(formatCell(12345678.9), "1.235e+7");
  assert.equal(formatCell(false), "false");
  assert.equal(formatCell("2026-11-28 is a date"), "2026-11-28 is a date");
  assert.equal(formatCell({ a: [1] }), '{"a":[1]}');
  assert.equal(formatTimestamp("not a time", today), null);
});

test("magnitude reads numbers and numeric text, not timestamps", () => {
  assert.equal(magnitude(2.5), 2.5);
  assert.equal(magnitude("-4"), -4);
  assert.equal(magnitude("2026-11-28T09:05:07Z"), null);
  assert.equal(magnitude(Number.NaN), null);
  assert.equal(magnitude(true), null);
});
