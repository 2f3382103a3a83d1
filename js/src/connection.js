// @ts-check
// A direct WebSocket subscription to the stream port that keeps a LiveStore in step,
// reconnecting with backoff. It opts in to resuming: after a reconnect it asks for the
// events it missed since the last one it saw, and gets them (the store keeps its state)
// or, when the engine no longer holds them, a fresh sync.
import { StreamFrames } from "./stream-frames.js";

/** @typedef {"connecting" | "live" | "reconnecting"} Status */

const FIRST_RETRY_MS = 250;
const LONGEST_RETRY_MS = 5000;

/**
 * Where a subscription stands in its group's history: the last `seq` seen and its `epoch`.
 * @typedef {{seq: number, epoch: string}} Position
 */

/**
 * `url` opted in to resuming, from `position` when there is one.
 * @param {string} url
 * @param {Position | null} position
 * @returns {string}
 */
export function resumeUrl(url, position) {
  let resumed = `${url}${url.includes("?") ? "&" : "?"}resume=1`;
  if (position) resumed += `&since_seq=${position.seq}&since_epoch=${encodeURIComponent(position.epoch)}`;
  return resumed;
}

/**
 * Keep `store` in step with `ws(s)://.../stream/{stream}/{group}`.
 * @param {string} url
 * @param {import("./store.js").LiveStore} store
 * @param {{onStatus?: (status: Status) => void}} [handlers]
 * @returns {() => void} closes the subscription for good
 */
export function connect(url, store, { onStatus = () => {} } = {}) {
  const frames = new StreamFrames(store);
  let delay = FIRST_RETRY_MS;
  /** @type {WebSocket} */
  let socket;
  let closed = false;
  const open = () => {
    onStatus("connecting");
    socket = new WebSocket(resumeUrl(url, frames.position));
    socket.onopen = () => {
      delay = FIRST_RETRY_MS;
      onStatus("live");
    };
    socket.onmessage = (message) => {
      frames.apply(parse(message.data));
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
    socket.close();
  };
}

/**
 * @param {unknown} data a text frame
 * @returns {unknown} its JSON, or null when it is not JSON text
 */
export function parse(data) {
  if (typeof data !== "string") return null;
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
}
