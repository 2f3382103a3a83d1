// @ts-check
// The popovers of a table's header: a column's menu (sort, filter, hide, group by it) and
// the group-by picker (fields and aggregates). They edit a copy of the table's choice and
// hand it back through `onChoose`; the table asks for it. One popover is open at a time,
// placed under what opened it, closed by a click elsewhere or Escape.
import { button as toolButton, element } from "./dom.js";
import { AGGREGATES, NO_FILTER, aggName, columnFilter, withColumnFilter, withGroupBy } from "./view-choice.js";

/**
 * @typedef {import("./view-choice.js").Choice} Choice
 * @typedef {import("./view-choice.js").ColumnFilter} ColumnFilter
 */

/** Distinct values past which a column offers no value set. */
const MAX_VALUE_SET = 20;

/** @type {{popover: HTMLElement, close: () => void} | null} */
let open = null;

/** Close the popover that is open, if any. */
export function closeMenu() {
  open?.close();
}

/**
 * Show `popover` under `anchor`.
 * @param {HTMLElement} anchor
 * @param {HTMLElement} popover
 */
function show(anchor, popover) {
  closeMenu();
  popover.classList.add("iii-live", "iii-menu");
  const box = anchor.getBoundingClientRect();
  popover.style.left = `${Math.max(4, Math.min(box.left, window.innerWidth - 280))}px`;
  popover.style.top = `${box.bottom + 2}px`;
  document.body.appendChild(popover);
  /** @param {Event} event */
  const outside = (event) => {
    if (event.target instanceof Node && !popover.contains(event.target) && !anchor.contains(event.target)) close();
  };
  /** @param {KeyboardEvent} event */
  const escape = (event) => {
    if (event.key === "Escape") close();
  };
  const close = () => {
    popover.remove();
    document.removeEventListener("pointerdown", outside, true);
    document.removeEventListener("keydown", escape, true);
    if (open?.popover === popover) open = null;
  };
  document.addEventListener("pointerdown", outside, true);
  document.addEventListener("keydown", escape, true);
  open = { popover, close };
}

/**
 * @typedef {object} ColumnMenuOptions
 * @property {string} column
 * @property {Choice} choice
 * @property {boolean} views filters and group-by are offered
 * @property {boolean} filterable the column is one of the group's fields (not an aggregate, not the ids)
 * @property {unknown[]} values the column's values in the rows held
 * @property {string[]} baseColumns the group's columns
 * @property {(ascending: boolean) => void} onSort
 * @property {(choice: Choice) => void} onChoose
 */

/**
 * Open the menu of a column under its header.
 * @param {HTMLElement} anchor
 * @param {ColumnMenuOptions} options
 */
export function openColumnMenu(anchor, options) {
  const { column, choice, views, filterable, values, baseColumns, onSort, onChoose } = options;
  const menu = element("div", "iii-column-menu");
  menu.dataset.column = column;
  const act = (/** @type {() => void} */ fn) => () => {
    closeMenu();
    fn();
  };
  menu.append(
    button("Sort ascending", "sort-asc", act(() => onSort(true))),
    button("Sort descending", "sort-desc", act(() => onSort(false))),
    button("Hide column", "hide", act(() => onChoose({ ...choice, hidden: [...choice.hidden, column] })))
  );
  if (views && filterable) {
    menu.append(filterSection(column, choice, values, (filter) => {
      closeMenu();
      onChoose(withColumnFilter(choice, column, filter));
    }));
    if (!choice.spec?.group_by?.includes(column)) {
      menu.append(button(`Group by ${column}`, "group", act(() => onChoose(withGroupBy(choice, [...(choice.spec?.group_by ?? []), column], choice.spec?.agg ?? { count: [column, "count"] }, baseColumns)))));
    }
  }
  show(anchor, menu);
}

/**
 * The filter inputs of a column: text contains, a number range, a value set (when the
 * rows held have few distinct values).
 * @param {string} column
 * @param {Choice} choice
 * @param {unknown[]} values
 * @param {(filter: ColumnFilter) => void} apply
 * @returns {HTMLElement}
 */
function filterSection(column, choice, values, apply) {
  const current = columnFilter(choice, column);
  const section = element("form", "iii-filter");
  section.append(heading(`Filter ${column}`));
  const numeric = values.some((v) => typeof v === "number") || current.min !== null || current.max !== null;
  const textual = values.some((v) => typeof v === "string") || Boolean(current.contains) || !numeric;
  const contains = input("text", "contains", "contains…", current.contains);
  const min = input("number", "min", "from", current.min === null ? "" : String(current.min));
  const max = input("number", "max", "to", current.max === null ? "" : String(current.max));
  min.step = max.step = "any";
  if (textual) section.append(contains);
  if (numeric) section.append(row(min, max));
  const distinct = distinctValues(values, current.values);
  /** @type {HTMLInputElement[]} */
  const boxes = [];
  if (distinct) {
    const list = element("div", "iii-value-set");
    for (const value of distinct) {
      const box = /** @type {HTMLInputElement} */ (element("input", ""));
      box.type = "checkbox";
      box.dataset.value = JSON.stringify(value);
      box.checked = current.values !== null && current.values.some((v) => JSON.stringify(v) === box.dataset.value);
      boxes.push(box);
      const label = element("label", "");
      label.append(box, document.createTextNode(` ${value === null ? "null" : String(value)}`));
      list.appendChild(label);
    }
    section.append(list);
  }
  const submit = button("Apply filter", "filter", () => {});
  submit.type = "submit";
  section.append(row(submit, button("Clear filter", "unfilter", () => apply({ ...NO_FILTER }))));
  section.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = boxes.filter((box) => box.checked).map((box) => JSON.parse(box.dataset.value ?? "null"));
    apply({
      contains: textual ? contains.value : "",
      min: numeric && min.value !== "" ? Number(min.value) : null,
      max: numeric && max.value !== "" ? Number(max.value) : null,
      values: chosen.length ? chosen : null,
    });
  });
  return section;
}

/**
 * The distinct scalar values to offer as a set, sorted; null when there are too many.
 * @param {unknown[]} values
 * @param {unknown[] | null} chosen values already in the filter (offered even if no row holds them now)
 * @returns {unknown[] | null}
 */
function distinctValues(values, chosen) {
  /** @type {Map<string, unknown>} */
  const seen = new Map();
  for (const value of [...(chosen ?? []), ...values]) {
    if (value !== null && typeof value === "object") continue;
    if (value === undefined) continue;
    seen.set(JSON.stringify(value), value);
    if (seen.size > MAX_VALUE_SET) return null;
  }
  if (seen.size === 0) return null;
  return [...seen.values()].sort((a, b) => String(a).localeCompare(String(b), undefined, { numeric: true }));
}

/**
 * @typedef {object} GroupPickerOptions
 * @property {Choice} choice
 * @property {string[]} baseColumns the group's columns (what rows can be grouped by and aggregate)
 * @property {(choice: Choice) => void} onChoose
 */

/**
 * Open the group-by picker: fields to group by (in the order ticked) and aggregates.
 * @param {HTMLElement} anchor
 * @param {GroupPickerOptions} options
 */
export function openGroupPicker(anchor, { choice, baseColumns, onChoose }) {
  const picker = element("form", "iii-group-picker");
  picker.append(heading("Group by"));
  /** @type {string[]} */
  const fields = [...(choice.spec?.group_by ?? [])];
  const fieldList = element("div", "iii-value-set");
  for (const column of baseColumns) {
    const box = /** @type {HTMLInputElement} */ (element("input", ""));
    box.type = "checkbox";
    box.dataset.field = column;
    box.checked = fields.includes(column);
    box.addEventListener("change", () => {
      const at = fields.indexOf(column);
      if (box.checked && at < 0) fields.push(column);
      if (!box.checked && at >= 0) fields.splice(at, 1);
    });
    const label = element("label", "");
    label.append(box, document.createTextNode(` ${column}`));
    fieldList.appendChild(label);
  }
  picker.append(fieldList, heading("Aggregates"));
  const aggregates = element("div", "iii-aggregates");
  const addAggregate = (/** @type {string} */ fn, /** @type {string} */ field) => {
    const line = element("div", "iii-aggregate");
    const fnSelect = select("fn", AGGREGATES, fn);
    const fieldSelect = select("field", baseColumns, field);
    line.append(fnSelect, fieldSelect, button("×", "remove-aggregate", () => line.remove()));
    aggregates.appendChild(line);
  };
  const current = Object.values(choice.spec?.agg ?? {});
  for (const [field, fn] of current.length ? current : [[baseColumns[0] ?? "", "count"]]) addAggregate(fn, field);
  picker.append(aggregates, button("+ aggregate", "add-aggregate", () => addAggregate("sum", baseColumns.find((c) => !fields.includes(c)) ?? baseColumns[0] ?? "")));
  const submit = button("Apply", "apply-group", () => {});
  submit.type = "submit";
  picker.append(row(submit, button("No grouping", "ungroup", () => {
    closeMenu();
    onChoose(withGroupBy(choice, [], {}, baseColumns));
  })));
  picker.addEventListener("submit", (event) => {
    event.preventDefault();
    /** @type {Record<string, [string, string]>} */
    const agg = {};
    for (const line of aggregates.querySelectorAll(".iii-aggregate")) {
      const fn = /** @type {HTMLSelectElement} */ (line.querySelector("[data-role='fn']")).value;
      const field = /** @type {HTMLSelectElement} */ (line.querySelector("[data-role='field']")).value;
      agg[aggName(field, fn)] = [field, fn];
    }
    closeMenu();
    onChoose(withGroupBy(choice, fields, agg, baseColumns));
  });
  show(anchor, picker);
}

/**
 * @param {string} text
 * @param {string} action
 * @param {() => void} onClick
 * @returns {HTMLButtonElement}
 */
function button(text, action, onClick) {
  return toolButton(text, action, onClick, "iii-menu-item");
}

/**
 * @param {string} type
 * @param {string} role
 * @param {string} placeholder
 * @param {string} value
 * @returns {HTMLInputElement}
 */
function input(type, role, placeholder, value) {
  const node = /** @type {HTMLInputElement} */ (element("input", "iii-input"));
  node.type = type;
  node.dataset.role = role;
  node.placeholder = placeholder;
  node.value = value;
  return node;
}

/**
 * @param {string} role
 * @param {string[]} options
 * @param {string} value
 * @returns {HTMLSelectElement}
 */
function select(role, options, value) {
  const node = /** @type {HTMLSelectElement} */ (element("select", "iii-input"));
  node.dataset.role = role;
  for (const option of options) node.appendChild(new Option(option, option, false, option === value));
  return node;
}

/**
 * @param {string} text
 * @returns {HTMLElement}
 */
function heading(text) {
  const node = element("div", "iii-menu-heading");
  node.textContent = text;
  return node;
}

/**
 * @param {...HTMLElement} children
 * @returns {HTMLElement}
 */
function row(...children) {
  const node = element("div", "iii-menu-row");
  node.append(...children);
  return node;
}
