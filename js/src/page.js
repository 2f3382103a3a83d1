// Standalone pages (the demo, the engine's stream browser): the same views over a direct
// WebSocket to the stream port, with reconnect and resync.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { ChartView } from "./chart.js";
import { LiveStore } from "./store.js";
import { TableView } from "./table.js";

/** Keep `store` in step with `ws(s)://.../stream/{stream}/{group}`; reconnects with backoff. */
export function connect(url, store, { onStatus = () => {} } = {}) {
  let delay = 250;
  let socket;
  let closed = false;
  const open = () => {
    socket = new WebSocket(url);
    socket.onopen = () => {
      delay = 250;
      onStatus("live");
    };
    socket.onmessage = (message) => store.streamEvent(JSON.parse(message.data));
    socket.onclose = () => {
      if (closed) return;
      onStatus("reconnecting");
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 5000);
    };
  };
  open();
  return () => {
    closed = true;
    socket.close();
  };
}

export { ChartView, LiveStore, TableView };
