// The pages' adapter from iii stream wrapper messages to store keyframes and deltas.
import assert from "node:assert/strict";
import test from "node:test";
import { LiveStore } from "../src/store.js";
import { StreamFrames } from "../src/stream-frames.js";

/** @param {string | null} id @param {string} type @param {unknown} data */
const frame = (id, type, data) => ({ timestamp: 1, streamName: "s", groupId: "g", id, event: { type, data } });

test("a plain (list) sync is a keyframe, ids from the values' id field or their position", () => {
  const store = new LiveStore();
  const frames = new StreamFrames(store);
  assert.equal(frames.apply(frame(null, "sync", [{ id: "a", n: 1 }, { n: 2 }, 7])), true);
  assert.deepEqual([...store.items], [["a", { id: "a", n: 1 }], ["1", { n: 2 }], ["2", 7]]);
  assert.equal(store.stats.keyframes, 1);
});

test("a keyed sync keeps the item ids; create, update and delete are deltas", () => {
  const store = new LiveStore();
  const frames = new StreamFrames(store);
  frames.apply(frame(null, "sync", { a: { n: 1 }, b: 2 }));
  frames.apply(frame("c", "create", { n: 3 }));
  frames.apply(frame("a", "update", { n: 4 }));
  frames.apply(frame("b", "delete", 2));
  assert.deepEqual(Object.fromEntries(store.items), { a: { n: 4 }, c: { n: 3 } });
  assert.deepEqual(store.stats, { deltas: 3, keyframes: 1, gaps: 0, stale: 0 });
});

test("an item subscription: its sync sets or removes the one item", () => {
  const store = new LiveStore();
  const frames = new StreamFrames(store);
  frames.apply(frame(null, "sync", {}));
  frames.apply(frame("x", "sync", { n: 1 }));
  assert.deepEqual(Object.fromEntries(store.items), { x: { n: 1 } });
  frames.apply(frame("x", "sync", null));
  assert.equal(store.items.size, 0);
});

test("custom events, junk and item changes before the first sync change nothing", () => {
  const store = new LiveStore();
  const frames = new StreamFrames(store);
  assert.equal(frames.apply(frame("early", "create", 1)), false); // the sync will hold it
  frames.apply(frame(null, "sync", { a: 1 }));
  assert.equal(frames.apply({ id: null, event: { type: "event", event: { type: "typing", data: {} } } }), false);
  for (const junk of [null, 3, "text", {}, { event: null }, frame(null, "update", 1), frame(null, "mystery", 1)]) {
    assert.equal(frames.apply(junk), false);
  }
  assert.deepEqual(Object.fromEntries(store.items), { a: 1 });
  assert.equal(store.seq, 0);
});

test("a new sync (after a reconnect) replaces everything and deltas continue from it", () => {
  const store = new LiveStore();
  const frames = new StreamFrames(store);
  frames.apply(frame(null, "sync", { a: 1, b: 2 }));
  frames.apply(frame("c", "create", 3));
  frames.apply(frame(null, "sync", { b: 5 }));
  frames.apply(frame("d", "create", 6));
  assert.deepEqual(Object.fromEntries(store.items), { b: 5, d: 6 });
  assert.deepEqual(store.stats, { deltas: 2, keyframes: 2, gaps: 0, stale: 0 });
});

test("resumable frames keep the last place seen; a resume's first frame is counted", () => {
  const store = new LiveStore();
  const frames = new StreamFrames(store);
  assert.equal(frames.position, null);
  frames.apply({ ...frame(null, "sync", { a: 1 }), seq: 4, epoch: "e1" });
  frames.apply({ ...frame("a", "update", 2), seq: 5, epoch: "e1" });
  assert.deepEqual(frames.position, { seq: 5, epoch: "e1" });
  const resumed = { ...frame(null, "event", null), seq: 5, epoch: "e1", recovered: true };
  resumed.event = { type: "event", event: { type: "iii-live:resumed", data: { missed: 1 } } };
  assert.equal(frames.apply(resumed), false); // changes nothing: the missed events follow
  frames.apply({ ...frame("a", "update", 3), seq: 6, epoch: "e1" });
  assert.deepEqual(Object.fromEntries(store.items), { a: 3 });
  frames.apply({ ...frame(null, "sync", { b: 1 }), seq: 0, epoch: "e2", recovered: false });
  assert.deepEqual(Object.fromEntries(store.items), { b: 1 });
  assert.deepEqual(frames.position, { seq: 0, epoch: "e2" });
  assert.deepEqual(frames.stats, { recovered: 1, notRecovered: 1 });
});
