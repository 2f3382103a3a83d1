// Deltas sent as columns: numbers read from binary buffers (aligned or not), other fields
// and non-object items from lists, in the order the items changed (node --test).
import assert from "node:assert/strict";
import test from "node:test";
import { decodeDelta, decodePoints, numbers } from "../src/delta-columns.js";
import { LiveStore } from "../src/store.js";

/**
 * A buffer as the comm may hand it over: a view at an odd offset of a larger ArrayBuffer.
 * @param {ArrayBufferView} array
 * @param {number} offset
 */
function at(array, offset) {
  const whole = new Uint8Array(offset + array.byteLength);
  whole.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), offset);
  return new DataView(whole.buffer, offset, array.byteLength);
}

test("runs of objects and of other values decode in order, numbers from typed arrays", () => {
  const buffers = [new Float64Array([0.5, -1e300, NaN]).buffer, at(new Int32Array([1, -2, 2147483647]), 3)];
  const delta = {
    seq: 7,
    runs: [
      { ids: ["a", "b", "c"], columns: [["v", "f64", 0], ["i", "i32", 1], ["s", "json", ["x", null, { n: [1] }]]] },
      { ids: ["d", "e"], values: [3, "text"] },
      { ids: ["f"], columns: [["ok", "json", [true]]] },
    ],
    deletes: ["z"],
  };
  const out = decodeDelta(delta, buffers);
  assert.equal(out.seq, 7);
  assert.deepEqual(out.deletes, ["z"]);
  assert.deepEqual(
    out.upserts.map(([id]) => id),
    ["a", "b", "c", "d", "e", "f"]
  );
  assert.deepEqual(out.upserts[0], ["a", { v: 0.5, i: 1, s: "x" }]);
  assert.deepEqual(out.upserts[1], ["b", { v: -1e300, i: -2, s: null }]);
  assert.ok(Number.isNaN(/** @type {any} */ (out.upserts[2][1]).v));
  assert.deepEqual(/** @type {any} */ (out.upserts[2][1]).s, { n: [1] });
  assert.equal(/** @type {any} */ (out.upserts[2][1]).i, 2147483647);
  assert.deepEqual(out.upserts.slice(3), [["d", 3], ["e", "text"], ["f", { ok: true }]]);
  assert.deepEqual(Object.keys(/** @type {any} */ (out.upserts[0][1])), ["v", "i", "s"]);
});

test("an unaligned buffer is copied, an aligned one is read in place", () => {
  const floats = new Float64Array([1.25, 2.5]);
  const unaligned = numbers(at(floats, 1), "f64", 2);
  assert.deepEqual([...unaligned], [1.25, 2.5]);
  const inPlace = numbers(floats, "f64", 2);
  assert.equal(inPlace.buffer, floats.buffer);
});

test("a buffer shorter than its column, or an unknown kind, is an error, not garbage", () => {
  assert.throws(() => numbers(new Float64Array([1]).buffer, "f64", 2), /needs 16 bytes/);
  assert.throws(() => numbers(new Float64Array([1]).buffer, /** @type {any} */ ("u8"), 1), /unknown column kind/);
});

test("the store applies decoded deltas with their deletes", () => {
  const store = new LiveStore();
  store.keyframe({ seq: 1, items: [["a", { v: 1 }], ["gone", { v: 0 }]] });
  const delta = { seq: 2, runs: [{ ids: ["a", "b"], columns: [["v", "f64", 0]] }], deletes: ["gone"] };
  assert.equal(store.delta(decodeDelta(delta, [new Float64Array([10, 20]).buffer])), true);
  assert.deepEqual(Object.fromEntries(store.items), { a: { v: 10 }, b: { v: 20 } });
});

test("a points frame hands uPlot typed arrays, and nulls where a series has gaps", () => {
  const buffers = [at(new Float64Array([1, 2, 3]), 5), new Float64Array([4, 5, 6]), new Float64Array([7, NaN, 9])];
  const frame = decodePoints({ type: "points", view: "v", x: 0, y: [1, 2], n: 3 }, buffers);
  assert.ok(frame.x instanceof Float64Array && frame.y[0] instanceof Float64Array);
  assert.deepEqual([...frame.x], [1, 2, 3]);
  assert.deepEqual([...frame.y[0]], [4, 5, 6]);
  assert.deepEqual(frame.y[1], [7, null, 9]);
  assert.equal(frame.view, "v");
});
