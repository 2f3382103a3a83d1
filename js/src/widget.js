// @ts-check
// The anywidget front-end. One LiveStore per model (created in initialize, so deltas that
// arrive before any view exists are kept); views render from it.
//
// Protocol with the kernel: the `_keyframe` trait holds `{seq, items}` (synced state is
// never lost); custom messages carry `{type: "delta", seq, runs, deletes}` with the changed
// items' numeric fields in binary buffers (delta-columns.js); `_state`
// says whether the data is live. A group too large to send whole comes as windows: the
// keyframe holds `{seq, window}` (the default window), views send `{type: "window", ...}`
// requests and get `{type: "rows" | "points", view, ...}` frames (the viewport protocol;
// a chart's points in binary buffers). Each view has an id and sends `{type: "ready", view}` when
// it exists and `{type: "gone", view}` when it goes; every few seconds (and when the page
// shows again) the page renews its views with `{type: "alive", views}`, so the kernel stops
// sending for views that went without a word (a reload, a closed tab). `{type: "resync"}`
// asks for a keyframe on a gap.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { ChartView } from "./chart.js";
import { decodeDelta, decodePoints } from "./delta-columns.js";
import { LiveStore } from "./store.js";
import { TableView } from "./table.js";
import { exposeForTests } from "./test-hooks.js";
import { ModelControl } from "./widget-control.js";

/** How often the page renews the leases of its views in the kernel. */
const RENEW_MS = 5000;

/** What views say over the data in each state of the widget. */
const STATE_TEXT = {
  live: "",
  paused: "paused: waiting for the kernel",
  stopped: "engine stopped",
  closed: "closed",
};

/**
 * The synced traits of LiveTable and LiveChart.
 * @typedef {object} WidgetTraits
 * @property {string} _store_id
 * @property {"table" | "chart"} _view_kind
 * @property {import("./store.js").Keyframe} _keyframe
 * @property {keyof typeof STATE_TEXT} _state
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
 * @typedef {{type: "delta"} & import("./delta-columns.js").ColumnsDelta} DeltaMessage
 */

/** @type {(keyof WidgetTraits & keyof ViewOptions)[]} */
const OPTION_TRAITS = ["columns", "sort_by", "ascending", "max_rows", "height", "show_id", "x", "y", "kind", "window", "title"];

/**
 * A model's store and the ids of its views in this page.
 * @typedef {{store: LiveStore, views: Set<string>}} ModelEntry
 */

// initialize() and render() receive different proxies of one model, so entries are found
// by the widget's own id, not by the model object.
/** @type {Map<string, ModelEntry>} */
const models = new Map();

/**
 * @param {Model} model
 * @returns {ModelEntry}
 */
function entryFor(model) {
  const key = model.get("_store_id");
  let entry = models.get(key);
  if (!entry) {
    const store = new LiveStore();
    store.keyframe(model.get("_keyframe"));
    store.setStatus(STATE_TEXT[model.get("_state")] ?? "");
    entry = { store, views: new Set() };
    models.set(key, entry);
  }
  return entry;
}

/**
 * Send to the kernel unless the comm is already gone (a view removed with its model).
 * @param {Model} model
 * @param {object} message
 */
function tell(model, message) {
  try {
    model.send(message);
  } catch {
    // the model is closed: nobody to tell
  }
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

/**
 * @param {unknown} msg
 * @returns {string | null} the type of a custom message from the kernel
 */
function messageType(msg) {
  return msg !== null && typeof msg === "object" && "type" in msg && typeof msg.type === "string" ? msg.type : null;
}

/** @type {import("@anywidget/types").Initialize<WidgetTraits>} */
function initialize({ model }) {
  const entry = entryFor(model);
  const { store } = entry;
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
  model.on("change:_state", () => store.setStatus(STATE_TEXT[model.get("_state")] ?? ""));
  model.on("msg:custom", (msg, buffers) => {
    const type = messageType(msg);
    if (type === "delta" && !store.delta(decodeDelta(/** @type {DeltaMessage} */ (msg), buffers ?? []))) askKeyframe();
    if (type === "rows") store.windowFrame(/** @type {{view: string}} */ (msg));
    if (type === "points") store.windowFrame(decodePoints(/** @type {import("./delta-columns.js").PointsMessage} */ (msg), buffers ?? []));
  });
  store.askWindow = (request) => tell(model, request);
  const renew = () => {
    if (entry.views.size) tell(model, { type: "alive", views: [...entry.views] });
  };
  const timer = setInterval(renew, RENEW_MS);
  const shown = () => {
    if (document.visibilityState === "visible") renew();
  };
  document.addEventListener("visibilitychange", shown);
  return () => {
    clearInterval(timer);
    document.removeEventListener("visibilitychange", shown);
    models.delete(model.get("_store_id"));
  };
}

/** @type {import("@anywidget/types").Render<WidgetTraits>} */
function render({ model, el }) {
  const entry = entryFor(model);
  const { store } = entry;
  const view = model.get("_view_kind") === "chart" ? new ChartView(el, store, options(model)) : new TableView(el, store, options(model), new ModelControl(model));
  const update = () => view.setOptions(options(model));
  for (const name of OPTION_TRAITS) model.on(`change:${name}`, update);
  const { id } = view;
  entry.views.add(id);
  tell(model, { type: "ready", view: id, seq: store.seq });
  const unexpose = exposeForTests({ group: `${model.get("stream_name")}/${model.get("group_id")}`, store, view });
  return () => {
    entry.views.delete(id);
    store.forget(id);
    tell(model, { type: "gone", view: id });
    unexpose();
    view.destroy();
    for (const name of OPTION_TRAITS) model.off(`change:${name}`, update);
  };
}

export default { initialize, render };
