// @ts-check
// The control of a notebook table: what its header menu sets goes to the kernel as a
// `view` message (see `iii_live.widgets.page_requests`); the kernel opens the view, shows
// its rows in the table and keeps the choice in the `controls` trait, so a reloaded page,
// or another display of the widget, shows the same. Every row for a CSV file comes in
// `export` messages.
import { newViewId } from "./view-id.js";
import { noChoice, readChoice } from "./view-choice.js";

/**
 * @typedef {import("./store.js").Entry} Entry
 * @typedef {import("./view-choice.js").Choice} Choice
 * @typedef {import("./view-choice.js").ControlState} ControlState
 * @typedef {import("./view-choice.js").ViewControl} ViewControl
 */

/**
 * What a control needs of an anywidget model (methods, so any model's traits fit).
 * @typedef {{get(name: string): any, send(content: object): void, on(event: string, callback: (message: any) => void): void, off(event: string, callback: (message: any) => void): void}} ControlModel
 */

/**
 * @typedef {{rows: Entry[], resolve: (rows: Entry[]) => void, reject: (error: Error) => void}} Export
 */

/** @implements {ViewControl} */
export class ModelControl {
  /** @param {ControlModel} model */
  constructor(model) {
    this.model = model;
    this.views = true;
    this.name = `${model.get("stream_name")}_${model.get("group_id")}`;
    /** Tells this control's requests from those of other displays of the model. */
    this._prefix = newViewId();
    this._req = 0;
    /** @type {{req: string, choice: Choice} | null} the request not yet answered */
    this._pending = null;
    /** @type {ControlState["error"]} */
    this._error = null;
    /** @type {Map<string, Export>} exports being received, by request */
    this._exports = new Map();
    /** @type {Set<(state: ControlState) => void>} */
    this._listeners = new Set();
    /** @type {() => Promise<Entry[]>} */
    this.readAll = () => this._export();
  }

  choice() {
    return this._pending ? this._pending.choice : this.shown();
  }

  shown() {
    const controls = this.model.get("controls");
    return controls ? readChoice(controls) : noChoice();
  }

  /** @param {Choice} choice */
  choose(choice) {
    const req = this._next();
    this._pending = { req, choice };
    this._error = null;
    this._tell();
    this._send({ type: "view", req, spec: choice.spec, sort: choice.sort, hidden: choice.hidden, fields: choice.fields });
  }

  /** @param {(state: ControlState) => void} listener */
  listen(listener) {
    if (this._listeners.size === 0) {
      this.model.on("msg:custom", this._received);
      this.model.on("change:controls", this._changed);
    }
    this._listeners.add(listener);
    return () => {
      this._listeners.delete(listener);
      if (this._listeners.size > 0) return;
      this.model.off("msg:custom", this._received);
      this.model.off("change:controls", this._changed);
      for (const pending of this._exports.values()) pending.reject(new Error("the table closed"));
      this._exports.clear();
    };
  }

  /** @param {unknown} message a custom message from the kernel */
  _received = (message) => {
    if (message === null || typeof message !== "object") return;
    const { type, req } = /** @type {{type?: unknown, req?: unknown}} */ (message);
    if (type === "view" && this._pending && req === this._pending.req) {
      const { error } = /** @type {{error?: {part: string, message: string}}} */ (message);
      this._pending = null;
      this._error = error ?? null;
      this._tell();
    } else if (type === "export" && typeof req === "string") {
      this._exportPart(req, /** @type {{rows?: Entry[], last?: boolean, error?: string}} */ (message));
    }
  };

  _changed = () => this._tell();

  /** @returns {Promise<Entry[]>} every row the table shows, from the kernel */
  _export() {
    const req = this._next();
    return new Promise((resolve, reject) => {
      this._exports.set(req, { rows: [], resolve, reject });
      this._send({ type: "export", req });
    });
  }

  /**
   * @param {string} req
   * @param {{rows?: Entry[], last?: boolean, error?: string}} part
   */
  _exportPart(req, part) {
    const receiving = this._exports.get(req);
    if (!receiving) return;
    if (part.error !== undefined) {
      this._exports.delete(req);
      receiving.reject(new Error(part.error));
      return;
    }
    for (const row of part.rows ?? []) receiving.rows.push(row);
    if (part.last) {
      this._exports.delete(req);
      receiving.resolve(receiving.rows);
    }
  }

  _next() {
    this._req += 1;
    return `${this._prefix}:${this._req}`;
  }

  /** @param {object} message */
  _send(message) {
    try {
      this.model.send(message);
    } catch {
      // the model is closed: nobody to ask
    }
  }

  _tell() {
    const state = { pending: this._pending !== null, error: this._error };
    for (const listener of this._listeners) listener(state);
  }
}
