// Sequence and resync logic of the browser store (node --test).
import assert from "node:assert/strict";
import test from "node:test";
import { LiveStore, flatten, pick, toNumber } from "../src/store.js";

test("deltas apply in order after a keyframe", () => {
  const store = new LiveStore();
  store.keyframe({ seq: 3, items: [["a", { v: 1 }]] });
  assert.equal(store.delta({ seq: 4, upserts: [["b", { v: 2 }]], deletes: [] }), true);
  assert.equal(store.delta({ seq: 5, upserts: [["a", { v: 3 }]], deletes: ["b"] }), true);
  assert.deepEqual(Object.fromEntries(store.items), { a: { v: 3 } });
  assert.equal(store.seq, 5);
});

test("a missed delta is a gap; a keyframe recovers", () => {
  const store = new LiveStore();
  store.keyframe({ seq: 1, items: [] });
  assert.equal(store.delta({ seq: 3, upserts: [["x", 1]], deletes: [] }), false);
  assert.equal(store.items.size, 0);
  assert.equal(store.stats.gaps, 1);
  store.keyframe({ seq: 3, items: [["x", 1]] });
  assert.equal(store.delta({ seq: 4, upserts: [["y", 2]], deletes: [] }), true);
  assert.deepEqual([...store.items.keys()], ["x", "y"]);
});

test("deltas before any keyframe are gaps; old ones are ignored", () => {
  const store = new LiveStore();
  assert.equal(store.delta({ seq: 1, upserts: [["x", 1]], deletes: [] }), false);
  store.keyframe({ seq: 5, items: [["x", 5]] });
  assert.equal(store.delta({ seq: 5, upserts: [["x", 0]], deletes: [] }), true);
  assert.equal(store.items.get("x"), 5);
  store.keyframe({ seq: 4, items: [] }); // an older keyframe never rolls back
  assert.equal(store.items.get("x"), 5);
});

test("iii stream frames over a direct WebSocket", () => {
  const store = new LiveStore();
  store.streamEvent({ id: null, event: { type: "sync", data: [{ id: "a", n: 1 }] } });
  store.streamEvent({ id: "b", event: { type: "create", data: { id: "b", n: 2 } } });
  store.streamEvent({ id: "a", event: { type: "delete", data: { id: "a", n: 1 } } });
  store.streamEvent({ id: null, event: { type: "event", event: { type: "ping", data: null } } });
  assert.deepEqual(Object.fromEntries(store.items), { b: { id: "b", n: 2 } });
});

test("observers run once per frame for many changes", async () => {
  const store = new LiveStore();
  store.keyframe({ seq: 0, items: [] });
  let calls = 0;
  store.observe(() => (calls += 1));
  for (let i = 1; i <= 100; i++) store.delta({ seq: i, upserts: [[String(i), i]], deletes: [] });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(calls, 1);
  assert.equal(store.items.size, 100);
});

test("field helpers", () => {
  assert.deepEqual(flatten({ a: 1, b: { c: 2, d: [1] } }), { a: 1, "b.c": 2, "b.d": [1] });
  assert.equal(pick({ b: { c: 2 } }, "b.c"), 2);
  assert.equal(pick(7, "value"), 7);
  assert.equal(toNumber("2026-01-01T00:00:00"), Date.UTC(2026, 0, 1) / 1000);
  assert.equal(toNumber("3.5"), 3.5);
  assert.equal(toNumber("abc"), null);
});

test("keyed sync from a ?sync=keyed subscription", () => {
  const store = new LiveStore();
  store.streamEvent({ id: null, event: { type: "sync", data: { a: { n: 1 }, b: 2 } } });
  store.streamEvent({ id: "a", event: { type: "update", data: { n: 3 } } });
  assert.deepEqual(Object.fromEntries(store.items), { a: { n: 3 }, b: 2 });
});
