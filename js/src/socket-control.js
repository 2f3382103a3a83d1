// @ts-check
// The control of a table in a standalone page (the stream browser): filters and group-bys
// become a view in the engine, asked for over a WebSocket to the stream port (`view`
// frames, answered with the view's derived group, or an error naming the wrong part of the
// spec); the page then follows that group. The view lives as long as the socket: after a
// reconnect it is asked for again. The sort and hidden columns stay in the page.
import { parse } from "./connection.js";
import { groupSocketUrl } from "./page-context.js";
import { newViewId } from "./view-id.js";
import { sameSpec } from "./view-choice.js";

/**
 * @typedef {import("./store.js").Entry} Entry
 * @typedef {import("./view-choice.js").Choice} Choice
 * @typedef {import("./view-choice.js").ControlState} ControlState
 * @typedef {import("./view-choice.js").ViewControl} ViewControl
 */

/**
 * The group a table shows: the page's own, or a view's derived group; `items` is how many
 * it held when named (null: not known).
 * @typedef {{stream: string, group: string, items: number | null}} Target
 */

/**
 * @typedef {object} SocketControlOptions
 * @property {string} url the engine's stream port (no group in the path)
 * @property {string} stream
 * @property {string} group
 * @property {Choice} initial the choice to start from (a page's address)
 * @property {(target: Target) => void} onShow the table is to show another group
 * @property {(choice: Choice) => void} [onApplied] a choice was applied
 */

/**
 * What the engine answers a view request.
 * @typedef {{type: "view", viewId: string, req: number, streamName?: string, groupId?: string, rows?: number | null, closed?: boolean, error?: {part: string, message: string}}} ViewAnswer
 */

const FIRST_RETRY_MS = 250;
const LONGEST_RETRY_MS = 5000;

/** @implements {ViewControl} */
export class SocketControl {
  /** @param {SocketControlOptions} options */
  constructor({ url, stream, group, initial, onShow, onApplied = () => {} }) {
    this.views = true;
    this.name = `${stream}_${group}`;
    this.url = url;
    this.stream = stream;
    this.group = group;
    this._onShow = onShow;
    this._onApplied = onApplied;
    this.id = newViewId();
    this._req = 0;
    /** @type {Choice} the choice the rows are of (its spec once the engine opened it) */
    this._shown = { ...initial, spec: null };
    /** @type {{req: number, choice: Choice} | null} */
    this._pending = null;
    /** @type {ControlState["error"]} */
    this._error = null;
    /** @type {Target} */
    this.target = { stream, group, items: null };
    /** @type {Set<(state: ControlState) => void>} */
    this._listeners = new Set();
    this._closed = false;
    this._delay = FIRST_RETRY_MS;
    /** @type {WebSocket | null} */
    this._socket = null;
    /** @type {() => Promise<Entry[]>} */
    this.readAll = () => readGroup(groupSocketUrl(this.target.stream, this.target.group));
    if (initial.spec) this.choose(initial);
    this._open();
  }

  choice() {
    return this._pending ? this._pending.choice : this._shown;
  }

  shown() {
    return this._shown;
  }

  /** @param {Choice} choice */
  choose(choice) {
    this._error = null;
    if (sameSpec(choice.spec, this._shown.spec) && !this._pending) {
      this._apply(choice);
      return;
    }
    this._req += 1;
    this._pending = { req: this._req, choice };
    this._tell();
    this._ask();
  }

  /** @param {(state: ControlState) => void} listener */
  listen(listener) {
    this._listeners.add(listener);
    return () => {
      this._listeners.delete(listener);
    };
  }

  /** Close the socket for good (the engine closes its views). */
  close() {
    this._closed = true;
    this._socket?.close();
  }

  /** Send the request pending, or, after a reconnect, ask again for the view shown. */
  _ask() {
    const socket = this._socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return; // asked once open
    if (!this._pending && this._shown.spec) {
      this._req += 1;
      this._pending = { req: this._req, choice: this._shown };
    }
    if (!this._pending) return;
    const { req, choice } = this._pending;
    const data = { viewId: this.id, req, streamName: this.stream, groupId: this.group, spec: choice.spec };
    socket.send(JSON.stringify({ type: "view", data }));
  }

  _open() {
    const socket = new WebSocket(this.url);
    this._socket = socket;
    socket.onopen = () => {
      this._delay = FIRST_RETRY_MS;
      this._ask();
    };
    socket.onmessage = (message) => {
      const frame = /** @type {ViewAnswer | null} */ (parse(message.data));
      if (frame && frame.type === "view" && frame.viewId === this.id) this._answered(frame);
    };
    socket.onclose = () => {
      if (this._closed) return;
      setTimeout(() => this._open(), this._delay);
      this._delay = Math.min(this._delay * 2, LONGEST_RETRY_MS);
    };
  }

  /** @param {ViewAnswer} answer */
  _answered(answer) {
    const pending = this._pending;
    if (!pending || answer.req !== pending.req) return; // a later request supersedes it
    this._pending = null;
    if (answer.error) {
      this._error = answer.error;
      this._tell();
      return;
    }
    const target = answer.closed || !answer.streamName || !answer.groupId
      ? { stream: this.stream, group: this.group, items: null }
      : { stream: answer.streamName, group: answer.groupId, items: answer.rows ?? null };
    const choice = answer.closed ? { ...pending.choice, spec: null } : pending.choice;
    if (target.stream !== this.target.stream || target.group !== this.target.group) {
      this.target = target;
      this._shown = choice;
      this._onShow(target);
    }
    this._apply(choice);
  }

  /** @param {Choice} choice */
  _apply(choice) {
    this._shown = choice;
    this._onApplied(choice);
    this._tell();
  }

  _tell() {
    const state = { pending: this._pending !== null, error: this._error };
    for (const listener of this._listeners) listener(state);
  }
}

/**
 * Every item of a group, from the sync of a subscription closed once it came.
 * @param {string} url a keyed subscription's URL
 * @returns {Promise<Entry[]>}
 */
export function readGroup(url) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    let done = false;
    socket.onmessage = (message) => {
      const frame = /** @type {{id?: unknown, event?: {type?: unknown, data?: unknown}} | null} */ (parse(message.data));
      const event = frame?.event;
      if (!event || frame.id != null) return;
      done = true;
      socket.close();
      if (event.type === "sync") resolve(event.data !== null && typeof event.data === "object" ? Object.entries(event.data) : []);
      else reject(new Error(`the engine refused to read the rows (${String(event.type)})`));
    };
    socket.onclose = () => {
      if (!done) reject(new Error("the connection closed before the rows came"));
    };
  });
}
