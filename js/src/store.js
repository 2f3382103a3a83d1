// @ts-check
// The state of one stream group in the browser: items by id, kept in step with their
// source by numbered keyframes and deltas, and observers told at most once per frame.
//
// A group too large to send whole is *windowed*: the store holds no items, only the rows
// each view asked for (`rows` frames of the viewport protocol, by view id; "" is the
// default window every view starts from), and `askWindow` sends a view's request.

/**
 * An item id and its value.
 * @typedef {[string, unknown]} Entry
 */

/**
 * The whole group: replaces everything the store holds.
 * @typedef {{seq: number, items: Entry[]}} Keyframe
 */

/**
 * The changes that follow sequence `seq - 1`.
 * @typedef {{seq: number, upserts: Entry[], deletes: string[]}} Delta
 */

/**
 * @typedef {{by: string | null, ascending: boolean}} SortSpec
 * `by` null: the order items were first written in (`ascending` false: newest first)
 */

/**
 * The rows of one view's window: positions `start` to `start + rows.length` of `total`;
 * `offset` is where the view's first visible row is now.
 * @typedef {{view: string, req: number, total: number, offset: number, start: number, rows: Entry[], sort: SortSpec}} RowsFrame
 */

/**
 * What a view asks to see.
 * @typedef {{type: "window", view: string, req: number, offset: number, anchor: string | null, before: number, after: number, sort: SortSpec, columns: string[] | null}} WindowRequest
 */

/**
 * A keyframe of a windowed group: the default window.
 * @typedef {{seq: number, window: RowsFrame | null}} WindowKeyframe
 */

/** @typedef {(store: LiveStore) => void} Observer */

export class LiveStore {
  constructor() {
    /** @type {Map<string, unknown>} item id -> value, in first-write order */
    this.items = new Map();
    /** Sequence of the last applied keyframe or delta; -1: none yet. */
    this.seq = -1;
    this.stats = { deltas: 0, keyframes: 0, gaps: 0, stale: 0 };
    /** What views say over the data when it is not live ("engine stopped", "closed"); "" when live. */
    this.status = "";
    /** True when the group is seen through windows (no items here). */
    this.windowed = false;
    /** @type {Map<string, any>} the latest frame of each view's window (rows, or a chart's points) */
    this.windows = new Map();
    /** @type {((request: WindowRequest) => void) | null} sends a view's window request to the source */
    this.askWindow = null;
    /** @type {Set<Observer>} */
    this._observers = new Set();
    /** @type {ReturnType<typeof setTimeout> | number | 0} */
    this._frame = 0;
  }

  /**
   * Replace everything with a keyframe (the whole group, or the default window of a large
   * one); an older one than the state held is ignored.
   * @param {Keyframe | WindowKeyframe | null | undefined} frame
   */
  keyframe(frame) {
    if (frame == null || frame.seq == null || frame.seq < this.seq) return;
    if ("window" in frame) {
      this.windowed = true;
      this.items = new Map();
      if (frame.window) this.windows.set("", frame.window);
    } else {
      this.windowed = false;
      this.windows.clear();
      this.items = new Map(frame.items);
    }
    this.seq = frame.seq;
    this.stats.keyframes += 1;
    this._changed();
  }

  /**
   * Apply a delta. Returns false on a gap (a delta was missed, or none came before it):
   * the caller asks its source for a keyframe.
   * @param {Delta} frame
   * @returns {boolean}
   */
  delta(frame) {
    if (this.windowed) return true;
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

  /**
   * What a view's window shows now: its rows (a table) or its points (a chart); ignored
   * unless the store is windowed.
   * @param {RowsFrame | {view: string}} frame
   */
  windowFrame(frame) {
    if (!this.windowed) return;
    this.windows.set(frame.view, frame);
    this._changed();
  }

  /**
   * A view went: forget its window.
   * @param {string} view
   */
  forget(view) {
    if (view) this.windows.delete(view);
  }

  /**
   * Say why the data is not live (or "" when it is again); views show it over the data.
   * @param {string} text
   */
  setStatus(text) {
    if (text === this.status) return;
    this.status = text;
    this._changed();
  }

  /**
   * Call `fn(store)` after changes, at most once per animation frame.
   * @param {Observer} fn
   * @returns {() => void} unsubscribe
   */
  observe(fn) {
    this._observers.add(fn);
    return () => {
      this._observers.delete(fn);
    };
  }

  _changed() {
    if (this._frame) return;
    const run = () => {
      this._frame = 0;
      for (const fn of this._observers) fn(this);
    };
    this._frame = typeof requestAnimationFrame === "function" ? requestAnimationFrame(run) : setTimeout(run, 16);
  }
}
