// @ts-check
// How a page follows a group: a subscription that syncs it whole (connection.js), or, for
// a group too large for that, a direct WebSocket through which each view asks for the rows
// or chart points it shows (the viewport protocol: `window` requests, `rows` and `points`
// frames). The windowed socket reconnects with backoff and asks again for every window.
import { connect } from "./connection.js";
import { groupSocketUrl, withToken } from "./page-context.js";

/** Groups of more items than this are followed through windows, as the notebook widgets do. */
export const WHOLE_LIMIT = 10000;

const FIRST_RETRY_MS = 250;
const LONGEST_RETRY_MS = 5000;

/**
 * @typedef {import("./store.js").LiveStore} LiveStore
 * @typedef {import("./connection.js").Status} Status
 * @typedef {{x: string | null, y: string[], window: number | null}} ChartSpec what a chart plots
 */

/**
 * @param {Location} [where]
 * @returns {string} the WebSocket of the engine that served the page (no group in the path)
 */
export function engineSocketUrl(where = location) {
  const scheme = where.protocol === "https:" ? "wss" : "ws";
  return withToken(`${scheme}://${where.host}/`, where);
}

/**
 * Keep `store` following `stream/group`: whole, or through windows when it holds more than
 * `WHOLE_LIMIT` items.
 * @param {LiveStore} store
 * @param {{stream: string, group: string, items: number, chart?: ChartSpec, onStatus?: (status: Status) => void}} options
 * @returns {() => void} stops following
 */
export function follow(store, { stream, group, items, chart, onStatus }) {
  if (items > WHOLE_LIMIT) return openWindows(engineSocketUrl(), store, { stream, group, chart, onStatus });
  return connect(groupSocketUrl(stream, group), store, { onStatus });
}

/**
 * Make `store` windowed and serve its views' windows of `stream/group` over `url`.
 * @param {string} url
 * @param {LiveStore} store
 * @param {{stream: string, group: string, chart?: ChartSpec, onStatus?: (status: Status) => void}} options
 * @returns {() => void} closes it for good
 */
export function openWindows(url, store, { stream, group, chart, onStatus = () => {} }) {
  store.keyframe({ seq: store.seq + 1, window: null });
  /** @type {Map<string, Record<string, unknown>>} each view's last request, asked again after a reconnect */
  const asked = new Map();
  let delay = FIRST_RETRY_MS;
  let closed = false;
  /** @type {WebSocket} */
  let socket;
  /** @param {Record<string, unknown>} data */
  const send = (data) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "window", data }));
  };
  store.askWindow = (request) => {
    /** @type {Record<string, unknown>} */
    const data = { ...request, ...(chart ?? {}), kind: chart ? "points" : "rows", subscriptionId: request.view, streamName: stream, groupId: group };
    delete data.type;
    delete data.view;
    asked.set(request.view, data);
    send(data);
  };
  const open = () => {
    onStatus("connecting");
    socket = new WebSocket(url);
    socket.onopen = () => {
      delay = FIRST_RETRY_MS;
      onStatus("live");
      for (const data of asked.values()) send(data);
    };
    socket.onmessage = (message) => {
      const frame = parse(message.data);
      if (frame && frame.streamName === stream && frame.groupId === group && typeof frame.subscriptionId === "string") {
        store.windowFrame({ ...frame, view: frame.subscriptionId });
      }
    };
    socket.onclose = () => {
      if (closed) return;
      onStatus("reconnecting");
      setTimeout(open, delay);
      delay = Math.min(delay * 2, LONGEST_RETRY_MS);
    };
  };
  open();
  return () => {
    closed = true;
    store.askWindow = null;
    socket.close();
  };
}

/**
 * @param {unknown} data a text frame
 * @returns {Record<string, unknown> | null} a rows or points frame, or null
 */
function parse(data) {
  if (typeof data !== "string") return null;
  try {
    const frame = JSON.parse(data);
    return frame && (frame.type === "rows" || frame.type === "points") ? frame : null;
  } catch {
    return null;
  }
}
