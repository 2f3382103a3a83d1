// The state of one stream group in the browser: items by id, kept in step with the
// engine by numbered deltas and keyframes, and observers told at most once per frame.

export class LiveStore {
  constructor() {
    this.items = new Map(); // item id -> value, in first-write order
    this.seq = -1; // sequence of the last applied delta or keyframe; -1: none yet
    this.stats = { deltas: 0, keyframes: 0, gaps: 0, stale: 0 };
    this.version = 0;
    this._observers = new Set();
    this._frame = 0;
  }

  /** Replace everything with a keyframe: `{seq, items: [[id, value], ...]}`. */
  keyframe(frame) {
    if (frame == null || frame.seq == null || frame.seq < this.seq) return;
    this.items = new Map(frame.items);
    this.seq = frame.seq;
    this.stats.keyframes += 1;
    this._changed();
  }

  /**
   * Apply a delta `{seq, upserts: [[id, value], ...], deletes: [id, ...]}`.
   * Returns false on a gap (a delta was missed): the caller asks for a keyframe.
   */
  delta(frame) {
    if (this.seq >= 0 && frame.seq <= this.seq) {
      this.stats.stale += 1;
      return true;
    }
    if (this.seq < 0 || frame.seq !== this.seq + 1) {
      this.stats.gaps += 1;
      return false;
    }
    for (const [id, value] of frame.upserts) this.items.set(id, value);
    for (const id of frame.deletes) this.items.delete(id);
    this.seq = frame.seq;
    this.stats.deltas += 1;
    this._changed();
    return true;
  }

  /** Apply one iii stream wrapper message (direct WebSocket transport). */
  streamEvent(message, idOf = (value, index) => (value && value.id != null ? String(value.id) : String(index))) {
    const event = message.event || {};
    if (event.type === "sync") {
      if (message.id == null) {
        const data = event.data || [];
        // `?sync=keyed` subscriptions get {item_id: value}; iii's own sync is a list of values
        this.items = Array.isArray(data)
          ? new Map(data.map((value, index) => [idOf(value, index), value]))
          : new Map(Object.entries(data));
      } else if (event.data == null) {
        this.items.delete(message.id);
      } else {
        this.items.set(message.id, event.data);
      }
    } else if (event.type === "create" || event.type === "update") {
      this.items.set(message.id, event.data);
    } else if (event.type === "delete") {
      this.items.delete(message.id);
    } else {
      return;
    }
    this.seq += 1;
    this.stats.deltas += 1;
    this._changed();
  }

  /** Call `fn(store)` after changes, at most once per animation frame. Returns an unsubscribe. */
  observe(fn) {
    this._observers.add(fn);
    return () => this._observers.delete(fn);
  }

  _changed() {
    this.version += 1;
    if (this._frame) return;
    const run = () => {
      this._frame = 0;
      for (const fn of this._observers) fn(this);
    };
    this._frame = typeof requestAnimationFrame === "function" ? requestAnimationFrame(run) : setTimeout(run, 16);
  }
}

/** Flatten nested objects into "a.b" paths (arrays and scalars are leaves). */
export function flatten(value, prefix = "", out = {}, depth = 0) {
  if (value !== null && typeof value === "object" && !Array.isArray(value) && depth < 4) {
    for (const [key, child] of Object.entries(value)) flatten(child, prefix ? `${prefix}.${key}` : key, out, depth + 1);
  } else {
    out[prefix || "value"] = value;
  }
  return out;
}

/** The value at a "a.b" path of an item. */
export function pick(value, path) {
  if (path === "value" && (value === null || typeof value !== "object")) return value;
  let node = value;
  for (const part of path.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = node[part];
  }
  return node;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;

/** A number for sorting and plotting: numbers, ISO timestamps (in seconds), booleans. */
export function toNumber(value) {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string" && ISO_TIME.test(value)) {
    const ms = Date.parse(value.endsWith("Z") || /[+-]\d\d:?\d\d$/.test(value) ? value : value + "Z");
    return Number.isNaN(ms) ? null : ms / 1000;
  }
  if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) return Number(value);
  return null;
}

/** Text for a table cell. */
export function formatCell(value) {
  if (value === undefined || value === null) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1e6 || Math.abs(value) < 1e-3 ? value.toExponential(3) : String(+value.toFixed(6));
  }
  if (typeof value === "string") return ISO_TIME.test(value) ? value.replace("T", " ").replace(/\.\d+/, "") : value;
  if (typeof value === "boolean") return value ? "true" : "false";
  return JSON.stringify(value);
}
