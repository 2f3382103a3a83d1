// @ts-check
// The one WebSocket of a dashboard page: every group the page shows is a subscription on it
// (iii join/leave), each kept in step with its LiveStore. It opts in to resuming: after a
// reconnect each subscription asks for the events it missed since the last one it saw.
import { parse } from "./connection.js";
import { withToken } from "./page-context.js";
import { StreamFrames } from "./stream-frames.js";

/** @typedef {import("./connection.js").Status} Status */

const FIRST_RETRY_MS = 250;
const LONGEST_RETRY_MS = 5000;
/** The close code of a socket the engine closed on purpose (a changed token): no retry. */
const POLICY_VIOLATION = 1008;

/**
 * @typedef {object} Subscription
 * @property {string} id
 * @property {string} stream
 * @property {string} group
 * @property {StreamFrames} frames
 */

/**
 * @typedef {object} SocketHandlers
 * @property {(status: Status) => void} [onStatus]
 * @property {(stream: string, group: string, reason: string) => void} [onRefused] a join was refused
 * @property {(reason: string) => void} [onClosed] the engine closed the socket for good
 */

/**
 * The dashboard's name and its socket's URL, from the page's own address: everything
 * before `/d/<name>` is kept, so the page works under a proxy's path prefix.
 * @param {Location} where
 * @returns {{name: string, socketUrl: string} | null}
 */
export function dashboardAddress(where) {
  const match = /^(.*)\/d\/([^/]+)$/.exec(where.pathname);
  if (!match) return null;
  const scheme = where.protocol === "https:" ? "wss" : "ws";
  return { name: decodeURIComponent(match[2]), socketUrl: withToken(`${scheme}://${where.host}${match[1]}/d/${match[2]}/ws?sync=keyed`, where) };
}

/**
 * The join frame of `subscription`, from the last place it saw when it has one.
 * @param {Subscription} subscription
 * @returns {string}
 */
export function joinFrame({ id, stream, group, frames }) {
  /** @type {Record<string, unknown>} */
  const data = { subscriptionId: id, streamName: stream, groupId: group, resume: true };
  if (frames.position) data.since = frames.position;
  return JSON.stringify({ type: "join", data });
}

/**
 * One key per group, for maps of what a page shows.
 * @param {string} stream
 * @param {string} group
 * @returns {string}
 */
export function groupKey(stream, group) {
  return `${stream}\u0000${group}`;
}

export class DashboardSocket {
  /**
   * @param {string} url
   * @param {SocketHandlers} [handlers]
   */
  constructor(url, handlers = {}) {
    this.url = url;
    this.handlers = handlers;
    /** @type {Map<string, Subscription>} by stream and group */
    this.subscriptions = new Map();
    this.closed = false;
    this._count = 0;
    this._delay = FIRST_RETRY_MS;
    /** @type {WebSocket | null} */
    this.socket = null;
    this.handlers.onStatus?.("connecting");
    this._open();
  }

  /**
   * Keep `store` in step with `stream/group` (once per group).
   * @param {string} stream
   * @param {string} group
   * @param {import("./store.js").LiveStore} store
   */
  subscribe(stream, group, store) {
    const key = groupKey(stream, group);
    if (this.subscriptions.has(key)) return;
    this._count += 1;
    const subscription = { id: `s${this._count}`, stream, group, frames: new StreamFrames(store) };
    this.subscriptions.set(key, subscription);
    this._send(joinFrame(subscription));
  }

  /**
   * @param {string} stream
   * @param {string} group
   */
  unsubscribe(stream, group) {
    const key = groupKey(stream, group);
    const subscription = this.subscriptions.get(key);
    if (!subscription) return;
    this.subscriptions.delete(key);
    this._send(JSON.stringify({ type: "leave", data: { subscriptionId: subscription.id, streamName: stream, groupId: group } }));
  }

  close() {
    this.closed = true;
    this.socket?.close();
  }

  _open() {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this._delay = FIRST_RETRY_MS;
      this.handlers.onStatus?.("live");
      for (const subscription of this.subscriptions.values()) socket.send(joinFrame(subscription));
    };
    socket.onmessage = (message) => this._receive(parse(message.data));
    socket.onclose = (event) => {
      if (this.closed) return;
      if (event.code === POLICY_VIOLATION) {
        this.closed = true;
        this.handlers.onClosed?.(event.reason);
        return;
      }
      this.handlers.onStatus?.("reconnecting");
      setTimeout(() => this._open(), this._delay);
      this._delay = Math.min(this._delay * 2, LONGEST_RETRY_MS);
    };
  }

  /** @param {string} frame */
  _send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(frame);
  }

  /** @param {unknown} message */
  _receive(message) {
    if (message === null || typeof message !== "object") return;
    const { streamName, groupId, event } = /** @type {{streamName?: unknown, groupId?: unknown, event?: {type?: unknown, reason?: unknown}}} */ (message);
    const subscription = this.subscriptions.get(groupKey(String(streamName), String(groupId)));
    if (!subscription) return;
    if (event && event.type === "unauthorized") {
      this.handlers.onRefused?.(subscription.stream, subscription.group, typeof event.reason === "string" ? event.reason : "refused");
      return;
    }
    subscription.frames.apply(message);
  }
}
