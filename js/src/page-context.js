// @ts-check
// What the standalone pages take from the document they run in: the engine that served
// them (with the page's own `?token=`, when it has one) and their elements.

/**
 * @param {string} url
 * @param {Location} [where]
 * @returns {string} `url` with the page's token appended, if it has one
 */
export function withToken(url, where = location) {
  const token = new URLSearchParams(where.search).get("token");
  return token ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : url;
}

/**
 * The keyed WebSocket subscription to a group of the engine that served the page.
 * @param {string} stream
 * @param {string} group
 * @param {Location} [where]
 * @returns {string}
 */
export function groupSocketUrl(stream, group, where = location) {
  const scheme = where.protocol === "https:" ? "wss" : "ws";
  return withToken(`${scheme}://${where.host}/stream/${encodeURIComponent(stream)}/${encodeURIComponent(group)}?sync=keyed`, where);
}

/**
 * @param {string} id
 * @returns {HTMLElement} the page's element with that id
 */
export function byId(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no element #${id}`);
  return found;
}
