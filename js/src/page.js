// @ts-check
// The standalone pages' bundle (the demo, the engine's stream browser): the same views as
// the widgets, over a direct WebSocket to the stream port.
import "uplot/dist/uPlot.min.css";
import "./style.css";

export { startBrowser } from "./browser-page.js";
export { ChartView } from "./chart.js";
export { connect } from "./connection.js";
export { startDemo } from "./demo-page.js";
export { LiveStore } from "./store.js";
export { TableView } from "./table.js";
