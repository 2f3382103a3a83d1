// @ts-check
// What a table's header menu and toolbar set: a view spec over the group (per-column
// filters, a filter expression, group-by fields and aggregates), the sort and the hidden
// columns. The spec becomes a live view in the engine; the rest is how the page shows it.
// Plain data, so it travels to the kernel and back, into a page's address, unchanged.

/**
 * @typedef {import("./store.js").SortSpec} SortSpec
 * @typedef {import("./store.js").Entry} Entry
 */

/**
 * A `where` entry: `[field, op, value]`, or an expression.
 * @typedef {[string, string, unknown] | string} Condition
 */

/**
 * The part of a view spec a page sets (see `iii_live.protocol.view_requests`).
 * @typedef {{where?: Condition[], group_by?: string[], agg?: Record<string, [string, string]>}} PageSpec
 */

/**
 * @typedef {object} Choice
 * @property {PageSpec | null} spec the view over the group (null: the group as it is)
 * @property {SortSpec | null} sort
 * @property {string[]} hidden columns not shown
 * @property {string[]} fields the group's columns (a grouped view's rows no longer show them)
 */

/**
 * A column's filter, as its menu edits it.
 * @typedef {{contains: string, min: number | null, max: number | null, values: unknown[] | null}} ColumnFilter
 */

/**
 * Where a table's choice goes, and what comes back.
 * @typedef {{pending: boolean, error: {part: string, message: string} | null}} ControlState
 * @typedef {object} ViewControl
 * @property {boolean} views whether filters and group-by (views in the engine) are offered
 * @property {string} name what the table shows, for the names of exported files
 * @property {() => Choice} choice the choice asked for last (the one shown while none is pending)
 * @property {() => Choice} shown the choice the rows are of
 * @property {(choice: Choice) => void} choose ask for a choice; listeners hear how it went
 * @property {(listener: (state: ControlState) => void) => () => void} listen hear of choices
 *   asked for, applied and refused
 * @property {(() => Promise<Entry[]>) | null} readAll every row shown, for a group too large to hold
 */

export const AGGREGATES = ["count", "sum", "mean", "min", "max", "first", "last", "count_distinct"];
export const NO_FILTER = /** @type {ColumnFilter} */ ({ contains: "", min: null, max: null, values: null });
const COLUMN_OPS = new Set(["contains", "between", ">=", "<=", "in"]);

/** @returns {Choice} the group as it is, in its own order */
export function noChoice() {
  return { spec: null, sort: null, hidden: [], fields: [] };
}

/**
 * A choice from anything (a kernel's trait, a page's address): what is not of the form is left out.
 * @param {unknown} raw
 * @returns {Choice}
 */
export function readChoice(raw) {
  const choice = noChoice();
  if (!isRecord(raw)) return choice;
  if (isRecord(raw.spec)) {
    /** @type {PageSpec} */
    const spec = {};
    if (Array.isArray(raw.spec.where)) spec.where = /** @type {Condition[]} */ (raw.spec.where.filter((c) => typeof c === "string" || (Array.isArray(c) && c.length === 3 && typeof c[0] === "string" && typeof c[1] === "string")));
    if (Array.isArray(raw.spec.group_by)) spec.group_by = strings(raw.spec.group_by);
    if (isRecord(raw.spec.agg)) {
      spec.agg = {};
      for (const [name, pair] of Object.entries(raw.spec.agg)) {
        if (Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" && typeof pair[1] === "string") spec.agg[name] = [pair[0], pair[1]];
      }
    }
    choice.spec = tidy(spec);
  }
  if (isRecord(raw.sort) && typeof raw.sort.by === "string" && typeof raw.sort.ascending === "boolean") choice.sort = { by: raw.sort.by, ascending: raw.sort.ascending };
  choice.hidden = strings(raw.hidden);
  choice.fields = strings(raw.fields);
  return choice;
}

/**
 * @param {Choice} choice
 * @returns {boolean} the rows are a grouped view's (one per key)
 */
export function isGrouped(choice) {
  return Boolean(choice.spec?.group_by?.length);
}

/**
 * The columns of a grouped view's rows: its group-by fields, then its aggregates.
 * @param {Choice} choice
 * @returns {string[] | null} null when the rows are not grouped
 */
export function groupedColumns(choice) {
  const spec = choice.spec;
  if (!spec || !spec.group_by?.length) return null;
  return [...spec.group_by, ...Object.keys(spec.agg ?? {})];
}

/**
 * The filter the spec holds on one column.
 * @param {Choice} choice
 * @param {string} column
 * @returns {ColumnFilter}
 */
export function columnFilter(choice, column) {
  const filter = { ...NO_FILTER };
  for (const condition of choice.spec?.where ?? []) {
    if (typeof condition === "string" || condition[0] !== column) continue;
    const [, op, value] = condition;
    if (op === "contains" && typeof value === "string") filter.contains = value;
    else if (op === "between" && Array.isArray(value) && value.length === 2) [filter.min, filter.max] = [numberOrNull(value[0]), numberOrNull(value[1])];
    else if (op === ">=") filter.min = numberOrNull(value);
    else if (op === "<=") filter.max = numberOrNull(value);
    else if (op === "in" && Array.isArray(value)) filter.values = value;
  }
  return filter;
}

/**
 * The choice with one column's filter replaced (NO_FILTER takes it away).
 * @param {Choice} choice
 * @param {string} column
 * @param {ColumnFilter} filter
 * @returns {Choice}
 */
export function withColumnFilter(choice, column, filter) {
  const kept = (choice.spec?.where ?? []).filter((c) => typeof c === "string" || c[0] !== column || !COLUMN_OPS.has(c[1]));
  /** @type {Condition[]} */
  const added = [];
  if (filter.contains) added.push([column, "contains", filter.contains]);
  if (filter.min !== null && filter.max !== null) added.push([column, "between", [filter.min, filter.max]]);
  else if (filter.min !== null) added.push([column, ">=", filter.min]);
  else if (filter.max !== null) added.push([column, "<=", filter.max]);
  if (filter.values) added.push([column, "in", filter.values]);
  return withSpec(choice, { ...choice.spec, where: [...kept, ...added] });
}

/**
 * @param {Choice} choice
 * @returns {string} the filter expression (entries that are text), "" when none
 */
export function expressionOf(choice) {
  return (choice.spec?.where ?? []).filter((c) => typeof c === "string").join(" and ");
}

/**
 * The choice with its filter expression replaced ("" takes it away).
 * @param {Choice} choice
 * @param {string} text
 * @returns {Choice}
 */
export function withExpression(choice, text) {
  const kept = (choice.spec?.where ?? []).filter((c) => typeof c !== "string");
  return withSpec(choice, { ...choice.spec, where: text.trim() ? [...kept, text.trim()] : kept });
}

/**
 * The choice grouped by `fields` with `agg` (no fields: not grouped). A sort on a column
 * the new rows do not have is dropped.
 * @param {Choice} choice
 * @param {string[]} fields
 * @param {Record<string, [string, string]>} agg
 * @param {string[]} baseColumns the group's columns, remembered while grouped
 * @returns {Choice}
 */
export function withGroupBy(choice, fields, agg, baseColumns) {
  const grouped = fields.length > 0;
  const next = withSpec(choice, { ...choice.spec, group_by: grouped ? fields : [], agg: grouped ? agg : {} });
  const columns = groupedColumns(next) ?? baseColumns;
  next.fields = grouped ? baseColumns : [];
  if (next.sort && !columns.includes(next.sort.by ?? "")) next.sort = null;
  next.hidden = next.hidden.filter((name) => columns.includes(name));
  return next;
}

/**
 * The name of an aggregate's column, as pandas' named aggregation reads well: `qty_sum`.
 * @param {string} field
 * @param {string} fn
 * @returns {string}
 */
export function aggName(field, fn) {
  return fn === "count" ? "count" : `${field}_${fn}`;
}

/**
 * Short texts of what the spec does, for the toolbar.
 * @param {Choice} choice
 * @returns {{kind: "filter" | "expression" | "group", column: string, text: string}[]}
 */
export function describe(choice) {
  const spec = choice.spec;
  if (!spec) return [];
  /** @type {{kind: "filter" | "expression" | "group", column: string, text: string}[]} */
  const out = [];
  const columns = new Set();
  for (const condition of spec.where ?? []) {
    if (typeof condition === "string") out.push({ kind: "expression", column: "", text: condition });
    else columns.add(condition[0]);
  }
  for (const column of columns) out.push({ kind: "filter", column, text: filterText(column, columnFilter({ ...noChoice(), spec }, column)) });
  if (spec.group_by?.length) {
    const aggs = Object.entries(spec.agg ?? {}).map(([name, [field, fn]]) => (name === aggName(field, fn) ? name : `${name} = ${fn}(${field})`));
    out.push({ kind: "group", column: "", text: `by ${spec.group_by.join(", ")}${aggs.length ? `: ${aggs.join(", ")}` : ""}` });
  }
  return out;
}

/**
 * @param {PageSpec | null} a
 * @param {PageSpec | null} b
 * @returns {boolean} both ask for the same view
 */
export function sameSpec(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/**
 * The control of a table that opens no views (a published dashboard's): the sort and the
 * hidden columns stay in the page.
 * @implements {ViewControl}
 */
export class LocalControl {
  /** @param {string} name */
  constructor(name) {
    this.views = false;
    this.name = name;
    /** @type {(() => Promise<Entry[]>) | null} */
    this.readAll = null;
    this._choice = noChoice();
    /** @type {Set<(state: ControlState) => void>} */
    this._listeners = new Set();
  }

  choice() {
    return this._choice;
  }

  shown() {
    return this._choice;
  }

  /** @param {Choice} choice */
  choose(choice) {
    this._choice = { ...choice, spec: null };
    for (const listener of this._listeners) listener({ pending: false, error: null });
  }

  /** @param {(state: ControlState) => void} listener */
  listen(listener) {
    this._listeners.add(listener);
    return () => {
      this._listeners.delete(listener);
    };
  }
}

/**
 * @param {string} column
 * @param {ColumnFilter} filter
 * @returns {string}
 */
function filterText(column, filter) {
  const parts = [];
  if (filter.contains) parts.push(`contains "${filter.contains}"`);
  if (filter.min !== null && filter.max !== null) parts.push(`${filter.min} to ${filter.max}`);
  else if (filter.min !== null) parts.push(`≥ ${filter.min}`);
  else if (filter.max !== null) parts.push(`≤ ${filter.max}`);
  if (filter.values) parts.push(`in ${filter.values.map((v) => JSON.stringify(v)).join(", ")}`);
  return `${column} ${parts.join(", ")}`;
}

/**
 * @param {Choice} choice
 * @param {PageSpec} spec
 * @returns {Choice}
 */
function withSpec(choice, spec) {
  return { ...choice, spec: tidy(spec) };
}

/**
 * @param {PageSpec} spec
 * @returns {PageSpec | null} the spec without empty parts; null when nothing is left
 */
function tidy(spec) {
  /** @type {PageSpec} */
  const out = {};
  if (spec.where?.length) out.where = spec.where;
  if (spec.group_by?.length) {
    out.group_by = spec.group_by;
    if (spec.agg && Object.keys(spec.agg).length) out.agg = spec.agg;
  }
  return Object.keys(out).length ? out : null;
}

/**
 * @param {unknown} value
 * @returns {number | null}
 */
function numberOrNull(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * @param {unknown} value
 * @returns {string[]}
 */
function strings(value) {
  return Array.isArray(value) ? value.filter((v) => typeof v === "string") : [];
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, any>}
 */
function isRecord(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
