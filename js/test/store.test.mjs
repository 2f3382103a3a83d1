// The store's one input protocol: numbered keyframes and deltas (node --test).
import assert from "node:assert/strict";
import test from "node:test";
import { LiveStore } from "../src/store.js";

test("deltas apply in order after a keyframe", () => {
  const store = new LiveStore();
  store.keyframe({ seq: 3, items: [["a", { v: 1 }]] });
  assert.equal(store.delta({ seq: 4, upserts: [["b", { v: 2 }]], deletes: [] }), true);
  assert.equal(store.delta({ seq: 5, upserts: [["a", { v: 3 }]], deletes: ["b"] }), true);
  assert.deepEqual(Object.fromEntries(store.items), { a: { v: 3 } });
  assert.equal(store.seq, 5);
  assert.deepEqual(store.stats, { deltas: 2, keyframes: 1, gaps: 0, stale: 0 });
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
  assert.equal(store.stats.stale, 1);
  store.keyframe({ seq: 4, items: [] }); // an older keyframe never rolls back
  assert.equal(store.items.get("x"), 5);
  store.keyframe(null); // nothing synced yet on the kernel side
  assert.equal(store.seq, 5);
});

test("items keep their first-write order; a delete then an upsert moves one to the end", () => {
  const store = new LiveStore();
  store.keyframe({ seq: 0, items: [["a", 1], ["b", 2]] });
  store.delta({ seq: 1, upserts: [["a", 3]], deletes: [] });
  assert.deepEqual([...store.items.keys()], ["a", "b"]);
  store.delta({ seq: 2, upserts: [], deletes: ["a"] });
  store.delta({ seq: 3, upserts: [["a", 4]], deletes: [] });
  assert.deepEqual([...store.items.keys()], ["b", "a"]);
});

test("observers run once per frame for many changes, and not after unsubscribing", async () => {
  const store = new LiveStore();
  store.keyframe({ seq: 0, items: [] });
  let calls = 0;
  let lateCalls = 0;
  store.observe(() => (calls += 1));
  const stop = store.observe(() => (lateCalls += 1));
  stop();
  for (let i = 1; i <= 100; i++) store.delta({ seq: i, upserts: [[String(i), i]], deletes: [] });
  await new Promise((resolve) => store.observe(resolve));
  assert.equal(calls, 1);
  assert.equal(lateCalls, 0);
  assert.equal(store.items.size, 100);
});

test("a status change is a change: observers run, and saying the same again is not", async () => {
  const store = new LiveStore();
  let calls = 0;
  store.observe(() => (calls += 1));
  store.setStatus("engine stopped");
  await new Promise((resolve) => store.observe(resolve));
  assert.equal(store.status, "engine stopped");
  assert.equal(calls, 1);
  store.setStatus("engine stopped");
  store.setStatus("");
  await new Promise((resolve) => store.observe(resolve));
  assert.equal(store.status, "");
  assert.equal(calls, 2);
});

test("a window keyframe makes the store windowed: rows by view, no items, deltas ignored", () => {
  const store = new LiveStore();
  store.keyframe({ seq: 1, items: [["a", 1]] });
  const initial = { view: "", req: 0, total: 2e6, offset: 0, start: 0, rows: [["x", 1]], sort: { by: null, ascending: true } };
  store.keyframe({ seq: 2, window: initial });
  assert.equal(store.windowed, true);
  assert.equal(store.items.size, 0);
  assert.equal(store.windows.get(""), initial);
  assert.equal(store.delta({ seq: 3, upserts: [["b", 2]], deletes: [] }), true);
  assert.equal(store.items.size, 0);
  const own = { ...initial, view: "v1", req: 3, offset: 50000, start: 49960 };
  store.windowFrame(own);
  assert.equal(store.windows.get("v1"), own);
  store.forget("v1");
  store.forget("");
  assert.deepEqual([...store.windows.keys()], [""]);
  store.keyframe({ seq: 4, items: [["a", 5]] }); // the group became small: sent whole again
  assert.equal(store.windowed, false);
  assert.equal(store.windows.size, 0);
  store.windowFrame(own);
  assert.equal(store.windows.size, 0);
  assert.deepEqual(Object.fromEntries(store.items), { a: 5 });
});
