// @ts-check
// Reads what the kernel sends as binary columns: a widget delta (numeric fields as typed
// arrays over the message's buffers, iii_live/protocol/delta_columns.py), so the browser
// parses no JSON per item, each item rebuilt as an object from its run's columns; and a
// chart's points (x and each series as Float64 arrays, iii_live/protocol/chart_points.py),
// handed to uPlot as they are.

/** @typedef {import("./store.js").Entry} Entry */

/**
 * A column of a run: numbers in buffer `ref` ("f64", "i32") or values in a list ("json").
 * @typedef {[string, "f64" | "i32", number] | [string, "json", unknown[]]} Column
 */

/**
 * Items in the order they changed: objects with the same fields (`columns`), or any values.
 * @typedef {{ids: string[], columns: Column[]} | {ids: string[], values: unknown[]}} Run
 */

/**
 * A delta message as the kernel sends it, with its binary buffers alongside.
 * @typedef {{seq: number, runs: Run[], deletes: string[]}} ColumnsDelta
 */

/** @typedef {ArrayBuffer | ArrayBufferView} Buffer */

const ARRAYS = { f64: Float64Array, i32: Int32Array };

/**
 * A typed array over a buffer as the comm hands it over (an ArrayBuffer or a view of one);
 * copied first when it does not start at a multiple of the element size.
 * @param {Buffer} buffer
 * @param {"f64" | "i32"} kind
 * @param {number} length
 * @returns {Float64Array | Int32Array}
 */
export function numbers(buffer, kind, length) {
  const Array_ = ARRAYS[kind];
  if (!Array_) throw new Error(`unknown column kind ${kind}`);
  const bytes = ArrayBuffer.isView(buffer) ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : new Uint8Array(buffer);
  const size = length * Array_.BYTES_PER_ELEMENT;
  if (bytes.byteLength < size) throw new Error(`a ${kind} column of ${length} needs ${size} bytes, not ${bytes.byteLength}`);
  const aligned = bytes.byteOffset % Array_.BYTES_PER_ELEMENT === 0 ? bytes : bytes.slice(0, size);
  return new Array_(/** @type {ArrayBuffer} */ (aligned.buffer), aligned.byteOffset, length);
}

/**
 * The upserts of a columns delta as entries, in the order the items changed.
 * @param {ColumnsDelta} delta
 * @param {Buffer[]} buffers
 * @returns {Entry[]}
 */
export function decodeUpserts(delta, buffers) {
  /** @type {Entry[]} */
  const out = [];
  for (const run of delta.runs) {
    const { ids } = run;
    if ("values" in run) {
      for (let k = 0; k < ids.length; k++) out.push([ids[k], run.values[k]]);
      continue;
    }
    const names = run.columns.map((column) => column[0]);
    const columns = run.columns.map(([, kind, ref]) => (kind === "json" ? /** @type {unknown[]} */ (ref) : numbers(buffers[/** @type {number} */ (ref)], kind, ids.length)));
    const width = names.length;
    // `item.__proto__ = v` would set the prototype, not a field: such a run defines its
    // fields, as JSON.parse does
    const define = names.includes("__proto__");
    for (let k = 0; k < ids.length; k++) {
      /** @type {Record<string, unknown>} */
      const item = {};
      if (define) for (let c = 0; c < width; c++) defineField(item, names[c], columns[c][k]);
      else for (let c = 0; c < width; c++) item[names[c]] = columns[c][k];
      out.push([ids[k], item]);
    }
  }
  return out;
}

/**
 * A field as JSON.parse makes it, whatever its name.
 * @param {Record<string, unknown>} item
 * @param {string} name
 * @param {unknown} value
 */
function defineField(item, name, value) {
  Object.defineProperty(item, name, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * A columns delta as the store's delta.
 * @param {ColumnsDelta} delta
 * @param {Buffer[]} buffers
 * @returns {import("./store.js").Delta}
 */
export function decodeDelta(delta, buffers) {
  return { seq: delta.seq, upserts: decodeUpserts(delta, buffers), deletes: delta.deletes };
}

/**
 * A points frame as the kernel sends it: x and each series in the buffers of these indexes.
 * @typedef {{type: "points", view: string, x: number, y: number[], n: number}} PointsMessage
 */

/**
 * A points frame with its columns as arrays: typed arrays, or plain ones with null for a
 * series that has gaps (NaN in the buffer), as uPlot draws them.
 * @param {PointsMessage} frame
 * @param {Buffer[]} buffers
 */
export function decodePoints(frame, buffers) {
  const x = numbers(buffers[frame.x], "f64", frame.n);
  const y = frame.y.map((ref) => withGaps(/** @type {Float64Array} */ (numbers(buffers[ref], "f64", frame.n))));
  return { ...frame, x, y };
}

/**
 * @param {Float64Array} column
 * @returns {Float64Array | (number | null)[]}
 */
function withGaps(column) {
  for (let k = 0; k < column.length; k++) {
    if (Number.isNaN(column[k])) return Array.from(column, (v) => (Number.isNaN(v) ? null : v));
  }
  return column;
}
