// @ts-check
// A window into live views for browser tests, off unless the page sets
// `globalThis.__iiiLiveTestHooks = true` before the views load. Each view then has an
// entry in `globalThis.__iiiLive` while it exists.

/**
 * @typedef {object} TestEntry
 * @property {string} group "stream/group" the view shows
 * @property {import("./store.js").LiveStore} store
 * @property {{root: HTMLElement, destroy(): void}} view
 */

/**
 * List a view for tests when they asked for it.
 * @param {TestEntry} entry
 * @returns {() => void} removes the entry (call it when the view is destroyed)
 */
export function exposeForTests(entry) {
  if (globalThis.__iiiLiveTestHooks !== true) return () => {};
  const entries = (globalThis.__iiiLive ??= []);
  entries.push(entry);
  return () => {
    const index = entries.indexOf(entry);
    if (index >= 0) entries.splice(index, 1);
  };
}
