// The anywidget front-end. One LiveStore per model (created in initialize, so deltas that
// arrive before any view exists are kept); views render from it.
//
// Protocol with the kernel: the `_keyframe` trait holds `{seq, items}` (synced state is
// never lost); custom messages carry `{type: "delta", seq, upserts, deletes}`; the view
// sends `{type: "ready"}` when it exists and `{type: "resync"}` on a gap.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { ChartView } from "./chart.js";
import { LiveStore } from "./store.js";
import { TableView } from "./table.js";

// initialize() and render() receive different proxies of one model, so stores are found
// by the widget's own id, not by the model object.
const stores = new Map();

function storeFor(model) {
  const key = model.get("_store_id");
  let store = stores.get(key);
  if (!store) {
    store = new LiveStore();
    store.keyframe(model.get("_keyframe"));
    stores.set(key, store);
  }
  return store;
}

const OPTION_TRAITS = ["columns", "sort_by", "ascending", "max_rows", "height", "show_id", "x", "y", "kind", "window", "title"];

function options(model) {
  const out = {};
  for (const name of OPTION_TRAITS) {
    const value = model.get(name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function initialize({ model }) {
  const store = storeFor(model);
  let asked = false;
  const askKeyframe = () => {
    if (asked) return;
    asked = true;
    model.send({ type: "resync", seq: store.seq });
  };
  model.on("change:_keyframe", () => {
    store.keyframe(model.get("_keyframe"));
    asked = false;
  });
  model.on("msg:custom", (msg) => {
    if (msg.type === "delta" && !store.delta(msg)) askKeyframe();
  });
  return () => stores.delete(model.get("_store_id"));
}

function render({ model, el }) {
  const store = storeFor(model);
  const View = model.get("_view_kind") === "chart" ? ChartView : TableView;
  const view = new View(el, store, options(model));
  const update = () => view.setOptions(options(model));
  for (const name of OPTION_TRAITS) model.on(`change:${name}`, update);
  model.send({ type: "ready", seq: store.seq });
  globalThis.__iiiLive = globalThis.__iiiLive || [];
  globalThis.__iiiLive.push({ model_id: model.get("stream_name") + "/" + model.get("group_id"), store, view });
  return () => view.destroy();
}

export default { initialize, render };
