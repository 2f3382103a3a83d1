// @ts-check
// The bar above a table: what its view does (filters, the expression, the grouping, hidden
// columns, each removable), the group-by picker, a filter expression, the CSV export, and
// what the engine answered (applying, or the error naming the part of the spec).
import { button, element } from "./dom.js";
import { NO_FILTER, describe, expressionOf, withColumnFilter, withExpression, withGroupBy } from "./view-choice.js";

/**
 * @typedef {import("./view-choice.js").Choice} Choice
 * @typedef {import("./view-choice.js").ControlState} ControlState
 */

/**
 * @typedef {object} ToolbarHandlers
 * @property {boolean} views filters and group-by are offered
 * @property {(choice: Choice) => void} onChoose
 * @property {(anchor: HTMLElement) => void} onGroupPicker
 * @property {() => void} onExport
 * @property {() => string[]} baseColumns
 */

export class TableToolbar {
  /** @param {ToolbarHandlers} handlers */
  constructor(handlers) {
    this.handlers = handlers;
    this.element = element("div", "iii-table-toolbar");
    this.chips = element("div", "iii-chips");
    this.status = element("span", "iii-view-status");
    this.status.dataset.role = "pending";
    this.error = element("div", "iii-table-error");
    this.error.dataset.role = "error";
    this.error.setAttribute("role", "alert");
    /** @type {Choice | null} */
    this._choice = null;
    this._signature = "";
    this._expressionShown = "";
    this.expression = /** @type {HTMLInputElement} */ (element("input", "iii-input iii-expression"));
    this.expression.dataset.role = "expression";
    this.expression.placeholder = "filter, e.g. qty * price > 100";
    this.expression.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && this._choice) handlers.onChoose(withExpression(this._choice, this.expression.value));
    });
    const actions = element("div", "iii-toolbar-actions");
    if (handlers.views) {
      const group = button("Group by…", "open-group", () => handlers.onGroupPicker(group));
      actions.append(this.expression, group);
    }
    actions.append(button("CSV", "export", () => handlers.onExport()), this.status);
    this.element.append(this.chips, actions);
  }

  /**
   * Show `choice` and the engine's answer (rebuilt only when they change, so typing is kept).
   * @param {Choice} choice
   * @param {ControlState} state
   */
  render(choice, state) {
    this._choice = choice;
    const signature = JSON.stringify([choice.spec, choice.hidden, state]);
    if (signature === this._signature) return;
    this._signature = signature;
    const expression = expressionOf(choice);
    if (expression !== this._expressionShown) this.expression.value = this._expressionShown = expression;
    const chips = describe(choice).map(({ kind, column, text }) =>
      chip(text, kind, () => {
        if (kind === "filter") this.handlers.onChoose(withColumnFilter(choice, column, { ...NO_FILTER }));
        else if (kind === "expression") this.handlers.onChoose(withExpression(choice, ""));
        else this.handlers.onChoose(withGroupBy(choice, [], {}, this.handlers.baseColumns()));
      })
    );
    if (choice.hidden.length) chips.push(chip(`${choice.hidden.length} hidden: ${choice.hidden.join(", ")}`, "hidden", () => this.handlers.onChoose({ ...choice, hidden: [] })));
    this.chips.replaceChildren(...chips);
    this.status.textContent = state.pending ? "applying…" : "";
    this.error.textContent = state.error ? state.error.message : "";
    if (state.error) this.error.dataset.part = state.error.part;
    else delete this.error.dataset.part;
    this.error.hidden = !state.error;
  }

  /**
   * Show a problem of the page's own (an export that cannot be made).
   * @param {string} text
   */
  say(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
    delete this.error.dataset.part;
  }
}

/**
 * @param {string} text
 * @param {string} kind
 * @param {() => void} remove
 * @returns {HTMLElement}
 */
function chip(text, kind, remove) {
  const node = element("span", "iii-chip");
  node.dataset.kind = kind;
  const label = element("span", "");
  label.textContent = text;
  node.append(label, button("×", "remove", remove));
  return node;
}
