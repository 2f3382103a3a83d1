// @ts-check
// The demo page: the simulated market feed's quotes as a live table, its index as a
// live chart, each over its own WebSocket; a group grown large (the index of a feed that
// has run for hours) is followed through windows, drawn by the engine.
import { ChartView } from "./chart.js";
import { byId, withToken } from "./page-context.js";
import { LiveStore } from "./store.js";
import { TableView } from "./table.js";
import { exposeForTests } from "./test-hooks.js";
import { follow } from "./window-connection.js";

const QUOTE_COLUMNS = ["symbol", "price", "change", "volume", "updated"];
const INDEX_CHART = { x: "t", y: ["index", "average"], window: 300 };

export async function startDemo() {
  const sizes = await groupSizes("market");
  const quotes = new LiveStore();
  const onQuotes = (/** @type {string} */ status) => (byId("quotes-status").textContent = status);
  follow(quotes, { stream: "market", group: "quotes", items: sizes.get("quotes") ?? 0, onStatus: onQuotes });
  const table = new TableView(byId("quotes"), quotes, { sort_by: "symbol", height: 370, show_id: false, columns: QUOTE_COLUMNS });
  exposeForTests({ group: "market/quotes", store: quotes, view: table });

  const index = new LiveStore();
  const onIndex = (/** @type {string} */ status) => (byId("index-status").textContent = status);
  follow(index, { stream: "market", group: "index", items: sizes.get("index") ?? 0, chart: INDEX_CHART, onStatus: onIndex });
  const chart = new ChartView(byId("index"), index, { ...INDEX_CHART, height: 400 });
  exposeForTests({ group: "market/index", store: index, view: chart });
}

/**
 * How many items each group of a stream holds (none known: an empty map).
 * @param {string} stream
 * @returns {Promise<Map<string, number>>}
 */
async function groupSizes(stream) {
  try {
    const response = await fetch(withToken("/_iii/streams"));
    /** @type {{streams: {id: string, groups: {id: string, items: number}[]}[]}} */
    const overview = await response.json();
    const groups = overview.streams.find((s) => s.id === stream)?.groups ?? [];
    return new Map(groups.map((g) => [g.id, g.items]));
  } catch {
    return new Map();
  }
}
