// @ts-check
// A table's rows as a CSV file (RFC 4180): the columns shown, every row in the order shown,
// values as they are (not as cells format them), saved by the browser as a download.
import { pick } from "./format.js";

/**
 * @typedef {import("./store.js").Entry} Entry
 */

/** How long a file's blob stays readable after its download started. */
const REVOKE_AFTER_MS = 60000;

/**
 * @param {string[]} columns the header, in order
 * @param {Entry[]} rows
 * @param {string | null} keyColumn the column that shows each row's id (null: none)
 * @returns {string}
 */
export function toCsv(columns, rows, keyColumn) {
  const lines = [columns.map(csvField).join(",")];
  for (const [id, value] of rows) {
    lines.push(columns.map((column) => csvField(column === keyColumn ? id : pick(value, column))).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

/**
 * One value as a CSV field: text quoted when it holds a comma, a quote or a line break;
 * objects and lists as JSON; missing values and nulls empty.
 * @param {unknown} value
 * @returns {string}
 */
export function csvField(value) {
  if (value === undefined || value === null) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * A name for the file of `what` (a group, a view): safe on every system.
 * @param {string} what
 * @returns {string}
 */
export function csvFileName(what) {
  const safe = what.replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^_+|_+$/g, "");
  return `${safe || "rows"}.csv`;
}

/**
 * Have the browser save `text` as `fileName`.
 * @param {string} fileName
 * @param {string} text
 */
export function download(fileName, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.style.display = "none";
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS); // once the browser has read it
}
