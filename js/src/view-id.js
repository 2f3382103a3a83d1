// @ts-check
// Ids that name one view of a group to its source (the kernel, the engine), unique enough
// across pages and reloads.

/** @returns {string} */
export function newViewId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
