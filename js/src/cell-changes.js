// @ts-check
// What each table cell last showed, so a change can be highlighted in a way that still
// says something when values tick many times a second: numbers show their direction (up
// or down, kept until the next change), and the flash lasts half the cell's own update
// interval, so a cell that changes every 200 ms is not highlighted all the time.

import { magnitude } from "./format.js";

/** Shortest and longest flash, in milliseconds. */
export const FLASH_MIN_MS = 120;
export const FLASH_MAX_MS = 900;

/** @typedef {"up" | "down" | null} Direction */

/**
 * @typedef {object} CellState
 * @property {Direction} direction how the number moved at its last change
 * @property {number} flashElapsed milliseconds since the last change (Infinity: none seen)
 * @property {number} flashDuration how long the flash of that change lasts
 */

/**
 * @typedef {object} Seen
 * @property {string} text
 * @property {number | null} number
 * @property {number} changed when the text last changed (-Infinity: never seen change)
 * @property {number} interval smoothed time between changes, in milliseconds
 * @property {Direction} direction
 */

/**
 * The flash length for a cell that changes every `interval` milliseconds.
 * @param {number} interval
 * @returns {number}
 */
export function flashDuration(interval) {
  return Math.min(FLASH_MAX_MS, Math.max(FLASH_MIN_MS, interval / 2));
}

export class CellChanges {
  constructor() {
    /** @type {Map<string, Map<string, Seen>>} item id -> column -> what it showed */
    this._items = new Map();
  }

  /** How many items are remembered. */
  get size() {
    return this._items.size;
  }

  /**
   * Record that a cell shows `text` (for `value`) at time `now` (milliseconds) and say how
   * to highlight it. The first sighting of a cell is not a change.
   * @param {string} id
   * @param {string} column
   * @param {string} text
   * @param {unknown} value
   * @param {number} now
   * @returns {CellState}
   */
  see(id, column, text, value, now) {
    let columns = this._items.get(id);
    if (!columns) this._items.set(id, (columns = new Map()));
    const seen = columns.get(column);
    const number = magnitude(value);
    if (!seen) {
      columns.set(column, { text, number, changed: -Infinity, interval: Infinity, direction: null });
      return { direction: null, flashElapsed: Infinity, flashDuration: FLASH_MAX_MS };
    }
    if (seen.text !== text) {
      const since = now - seen.changed;
      seen.interval = Number.isFinite(seen.interval) ? (seen.interval + since) / 2 : since;
      seen.direction = direction(seen.number, number);
      seen.text = text;
      seen.number = number;
      seen.changed = now;
    }
    return { direction: seen.direction, flashElapsed: now - seen.changed, flashDuration: flashDuration(seen.interval) };
  }

  /**
   * Forget the items for which `keep(id)` is false.
   * @param {(id: string) => boolean} keep
   */
  prune(keep) {
    for (const id of this._items.keys()) if (!keep(id)) this._items.delete(id);
  }
}

/**
 * @param {number | null} before
 * @param {number | null} after
 * @returns {Direction}
 */
function direction(before, after) {
  if (before === null || after === null || before === after) return null;
  return after > before ? "up" : "down";
}
