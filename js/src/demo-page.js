// @ts-check
// The demo page: the simulated market feed's quotes as a live table, its index as a
// live chart, each over its own WebSocket subscription.
import { ChartView } from "./chart.js";
import { connect } from "./connection.js";
import { byId, groupSocketUrl } from "./page-context.js";
import { LiveStore } from "./store.js";
import { TableView } from "./table.js";
import { exposeForTests } from "./test-hooks.js";

const QUOTE_COLUMNS = ["symbol", "price", "change", "volume", "updated"];

export function startDemo() {
  const quotes = new LiveStore();
  const table = new TableView(byId("quotes"), quotes, { sort_by: "symbol", height: 370, show_id: false, columns: QUOTE_COLUMNS });
  connect(groupSocketUrl("market", "quotes"), quotes, { onStatus: (status) => (byId("quotes-status").textContent = status) });
  exposeForTests({ group: "market/quotes", store: quotes, view: table });

  const index = new LiveStore();
  const chart = new ChartView(byId("index"), index, { x: "t", y: ["index", "average"], window: 300, height: 400 });
  connect(groupSocketUrl("market", "index"), index, { onStatus: (status) => (byId("index-status").textContent = status) });
  exposeForTests({ group: "market/index", store: index, view: chart });
}
