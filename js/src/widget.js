// @ts-check
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
import { exposeForTests } from "./test-hooks.js";

/**
 * The synced traits of LiveTable and LiveChart.
 * @typedef {object} WidgetTraits
 * @property {string} _store_id
 * @property {"table" | "chart"} _view_kind
 * @property {import("./store.js").Keyframe} _keyframe
 * @property {string} stream_name
 * @property {string} group_id
 * @property {number} height
 * @property {string[]} [columns]
 * @property {string | null} [sort_by]
 * @property {boolean} [ascending]
 * @property {number | null} [max_rows]
 * @property {boolean} [show_id]
 * @property {string | null} [x]
 * @property {string[]} [y]
 * @property {"line" | "bar" | "scatter"} [kind]
 * @property {number | null} [window]
 * @property {string} [title]
 */

/**
 * @typedef {import("@anywidget/types").AnyModel<WidgetTraits>} Model
 * @typedef {import("./table.js").TableOptions & import("./chart.js").ChartOptions} ViewOptions
 * @typedef {{type: "delta"} & import("./store.js").Delta} DeltaMessage
 */

/** @type {(keyof WidgetTraits & keyof ViewOptions)[]} */
const OPTION_TRAITS = ["columns", "sort_by", "ascending", "max_rows", "height", "show_id", "x", "y", "kind", "window", "title"];

// initialize() and render() receive different proxies of one model, so stores are found
// by the widget's own id, not by the model object.
/** @type {Map<string, LiveStore>} */
const stores = new Map();

/** @param {Model} model */
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

/**
 * @param {Model} model
 * @returns {ViewOptions}
 */
function options(model) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const name of OPTION_TRAITS) {
    const value = model.get(name);
    if (value !== undefined) out[name] = value;
  }
  return /** @type {ViewOptions} */ (out);
}

/** @param {unknown} msg */
function isDelta(msg) {
  return msg !== null && typeof msg === "object" && "type" in msg && msg.type === "delta";
}

/** @type {import("@anywidget/types").Initialize<WidgetTraits>} */
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
    if (isDelta(msg) && !store.delta(/** @type {DeltaMessage} */ (msg))) askKeyframe();
  });
  return () => {
    stores.delete(model.get("_store_id"));
  };
}

/** @type {import("@anywidget/types").Render<WidgetTraits>} */
function render({ model, el }) {
  const store = storeFor(model);
  const view = model.get("_view_kind") === "chart" ? new ChartView(el, store, options(model)) : new TableView(el, store, options(model));
  const update = () => view.setOptions(options(model));
  for (const name of OPTION_TRAITS) model.on(`change:${name}`, update);
  model.send({ type: "ready", seq: store.seq });
  const unexpose = exposeForTests({ group: `${model.get("stream_name")}/${model.get("group_id")}`, store, view });
  return () => {
    unexpose();
    view.destroy();
    for (const name of OPTION_TRAITS) model.off(`change:${name}`, update);
  };
}

export default { initialize, render };
