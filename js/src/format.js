// @ts-check
// Field access and cell text: items are any JSON value; tables and charts address their
// fields by "a.b" paths and show them as short, readable text.

/** Deepest level of nesting turned into separate columns. */
const MAX_DEPTH = 4;

/**
 * Flatten nested objects into "a.b" paths (arrays and scalars are leaves).
 * @param {unknown} value
 * @param {string} [prefix]
 * @param {Record<string, unknown>} [out]
 * @param {number} [depth]
 * @returns {Record<string, unknown>}
 */
export function flatten(value, prefix = "", out = {}, depth = 0) {
  if (isRecord(value) && depth < MAX_DEPTH) {
    for (const [key, child] of Object.entries(value)) flatten(child, prefix ? `${prefix}.${key}` : key, out, depth + 1);
  } else {
    const key = prefix || "value";
    // `out.__proto__ = v` would set the prototype: that field is defined, as JSON.parse does
    if (key === "__proto__") Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
    else out[key] = value;
  }
  return out;
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * The value at a "a.b" path of an item ("value" is a scalar item itself).
 * @param {unknown} value
 * @param {string} path
 * @returns {unknown}
 */
export function pick(value, path) {
  if (path === "value" && (value === null || typeof value !== "object")) return value;
  let node = value;
  for (const part of path.split(".")) {
    if (!isRecord(node) || !hasOwn.call(node, part)) return undefined; // not what it inherits
    node = node[part];
  }
  return node;
}

/** An ISO 8601 date and time: date, time of day (minutes or seconds), fraction, zone. */
const ISO_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * A number for sorting, plotting and comparing: numbers, ISO timestamps (in seconds; a
 * timestamp without a zone is read as UTC), numeric strings, booleans; otherwise null.
 * @param {unknown} value
 * @returns {number | null}
 */
export function toNumber(value) {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value !== "string") return null;
  const time = ISO_TIME.exec(value);
  if (time) {
    const ms = Date.parse(`${time[1]}T${time[2]}${time[3] || ""}${time[4] || "Z"}`);
    return Number.isNaN(ms) ? null : ms / 1000;
  }
  if (value.trim() !== "" && !Number.isNaN(Number(value))) return Number(value);
  return null;
}

/**
 * Text for a table cell. Timestamps show the time of day when they fall on `today`, the
 * date and time otherwise; a timestamp with a zone is shown in the viewer's local time.
 * @param {unknown} value
 * @param {Date} [today]
 * @returns {string}
 */
export function formatCell(value, today = new Date()) {
  if (value === undefined || value === null) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1e6 || Math.abs(value) < 1e-3 ? value.toExponential(3) : String(Number(value.toFixed(6)));
  }
  if (typeof value === "string") return formatTimestamp(value, today) ?? value;
  if (typeof value === "boolean") return value ? "true" : "false";
  return JSON.stringify(value);
}

/**
 * "HH:MM:SS" for a timestamp on `today`, "YYYY-MM-DD HH:MM:SS" otherwise; null when
 * `text` is not an ISO timestamp.
 * @param {string} text
 * @param {Date} today
 * @returns {string | null}
 */
export function formatTimestamp(text, today) {
  const match = ISO_TIME.exec(text);
  if (!match) return null;
  let [, date, time] = match;
  if (match[4]) {
    const local = new Date(Date.parse(`${date}T${time}${match[3] || ""}${match[4]}`));
    if (Number.isNaN(local.getTime())) return null;
    date = localDate(local);
    time = [local.getHours(), local.getMinutes(), local.getSeconds()].map(twoDigits).join(":");
  }
  return date === localDate(today) ? time : `${date} ${time}`;
}

/**
 * A numeric reading of a cell value for telling a rise from a fall: numbers and numeric
 * strings only (timestamps always rise, so their direction says nothing).
 * @param {unknown} value
 * @returns {number | null}
 */
export function magnitude(value) {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && !ISO_TIME.test(value)) {
    const number = toNumber(value);
    return number !== null && Number.isFinite(number) ? number : null;
  }
  return null;
}

/**
 * @param {Date} when
 * @returns {string} the local calendar date, "YYYY-MM-DD"
 */
function localDate(when) {
  return `${when.getFullYear()}-${twoDigits(when.getMonth() + 1)}-${twoDigits(when.getDate())}`;
}

/** @param {number} n */
function twoDigits(n) {
  return String(n).padStart(2, "0");
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
function isRecord(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
