// @ts-check
// A direct WebSocket subscription to the stream port that keeps a LiveStore in step,
// reconnecting with backoff (each new connection starts with a sync, a fresh keyframe).
import { StreamFrames } from "./stream-frames.js";

/** @typedef {"connecting" | "live" | "reconnecting"} Status */

const FIRST_RETRY_MS = 250;
const LONGEST_RETRY_MS = 5000;

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
    socket = new WebSocket(url);
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
function parse(data) {
  if (typeof data !== "string") return null;
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
}
