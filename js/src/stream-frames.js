// @ts-check
// The pages' reading of the iii stream protocol: each wrapper message from a direct
// WebSocket subscription becomes a keyframe or a delta for a LiveStore.
//
// A group sync (`id` null) carries the whole group: a list of values (iii's own form) or
// `{item_id: value}` (`?sync=keyed`). An item sync, create and update carry one item's
// value (an item sync with no data: the item is gone); delete removes it. Custom events
// (`type: "event"`) change no item.
//
// Frames of a subscription that resumes carry `seq` and `epoch` (its place in the group's
// history); the last one is kept as `position`, to resume from after a reconnect. A resume
// that recovers starts with a custom event marked `recovered: true` and the missed events
// follow; one that cannot starts with a sync marked `recovered: false`.

/**
 * @typedef {import("./store.js").LiveStore} LiveStore
 * @typedef {import("./store.js").Entry} Entry
 * @typedef {(value: unknown, index: number) => string} IdOf
 */

/**
 * The id of a value in a plain (list) sync: its `id` field, else its position.
 * @type {IdOf}
 */
export function idField(value, index) {
  if (value !== null && typeof value === "object" && "id" in value && value.id != null) return String(value.id);
  return String(index);
}

export class StreamFrames {
  /**
   * @param {LiveStore} store
   * @param {IdOf} [idOf] ids for the values of a list sync
   */
  constructor(store, idOf = idField) {
    this.store = store;
    this.idOf = idOf;
    /** @type {import("./connection.js").Position | null} the last place seen in the group's history */
    this.position = null;
    this.stats = { recovered: 0, notRecovered: 0 };
  }

  /**
   * Apply one parsed wrapper message. Returns true when it changed the store; messages
   * that change no item, and item changes before the first group sync, return false.
   * @param {unknown} message
   * @returns {boolean}
   */
  apply(message) {
    if (message === null || typeof message !== "object") return false;
    const { id, event } = /** @type {{id?: unknown, event?: {type?: unknown, data?: unknown}}} */ (message);
    if (event === null || typeof event !== "object") return false;
    this._notePosition(/** @type {{seq?: unknown, epoch?: unknown, recovered?: unknown}} */ (message));
    const itemId = id == null ? null : String(id);
    const seq = this.store.seq + 1;
    switch (event.type) {
      case "sync":
        if (itemId === null) {
          this.store.keyframe({ seq, items: this._entries(event.data) });
          return true;
        }
        return event.data == null ? this._delta(seq, [], [itemId]) : this._delta(seq, [[itemId, event.data]], []);
      case "create":
      case "update":
        return itemId !== null && this._delta(seq, [[itemId, event.data]], []);
      case "delete":
        return itemId !== null && this._delta(seq, [], [itemId]);
      default:
        return false;
    }
  }

  /**
   * Keep the place a resumable frame names, and count the answers to resumes.
   * @param {{seq?: unknown, epoch?: unknown, recovered?: unknown}} frame
   */
  _notePosition({ seq, epoch, recovered }) {
    if (typeof seq === "number" && typeof epoch === "string") this.position = { seq, epoch };
    if (recovered === true) this.stats.recovered += 1;
    if (recovered === false) this.stats.notRecovered += 1;
  }

  /**
   * @param {number} seq
   * @param {Entry[]} upserts
   * @param {string[]} deletes
   */
  _delta(seq, upserts, deletes) {
    return this.store.seq >= 0 && this.store.delta({ seq, upserts, deletes });
  }

  /**
   * @param {unknown} data a group sync's data: a list of values or `{item_id: value}`
   * @returns {Entry[]}
   */
  _entries(data) {
    if (Array.isArray(data)) return data.map((value, index) => [this.idOf(value, index), value]);
    if (data !== null && typeof data === "object") return Object.entries(data);
    return [];
  }
}
