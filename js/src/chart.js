// @ts-check
// A live chart over the items of a group (uPlot, made for streaming data): one series per
// y field, x from a field (numbers or timestamps) or the item order, an optional rolling
// window, axes that follow the data, repainted at most once per animation frame.
//
// Dragging across the plot zooms in; the zoom stays while points come (double-click goes
// back to following the data). Over a windowed store (a group too large to send whole) the
// chart asks its source for the x range it shows at its width, and gets each pixel column's
// minimum and maximum; zooming asks again.
import uPlot from "uplot";
import { pick, toNumber } from "./format.js";
import { StatusNote } from "./status-note.js";
import { newViewId } from "./view-id.js";

/** @typedef {import("./store.js").LiveStore} LiveStore */

/**
 * @typedef {object} ChartOptions
 * @property {string | null} [x] the x field; by default, the item order
 * @property {string | string[]} [y] one series per y field
 * @property {"line" | "bar" | "scatter"} [kind]
 * @property {number | null} [window] only the last `window` points
 * @property {string} [title]
 * @property {number} [height] in pixels
 */

/** @typedef {[number[] | Float64Array, ...((number | null)[] | Float64Array)[]]} ChartData x values, then one column per series */

/**
 * The points of a windowed chart's range, as its source sends them.
 * @typedef {{view: string, req: number, total: number, range: [number | null, number | null], x: number[] | Float64Array, y: ((number | null)[] | Float64Array)[], exact: boolean, time?: boolean}} PointsFrame
 */

/**
 * A reader of one field path, split once (charts read every item each frame).
 * @param {string} path
 * @returns {(value: unknown) => unknown}
 */
function reader(path) {
  if (path === "value" || path.includes(".")) return (value) => pick(value, path);
  return (value) => (value !== null && typeof value === "object" && !Array.isArray(value) ? /** @type {Record<string, unknown>} */ (value)[path] : undefined);
}

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f"];
const MIN_WIDTH = 300;
/** A windowed chart asks again for its range when its width changes by more than this. */
const ASK_AGAIN_PX = 50;
const DEFAULT_HEIGHT = 320;
const LINE_WIDTH = 1.5;

/**
 * The stroke width of a line series, in CSS pixels: one device pixel over a dense range (each
 * pixel column holds a minimum and a maximum, so a wider stroke shows nothing more), where
 * a canvas rasterized without a GPU strokes a wider line 20 to 50 times slower.
 * @param {boolean} dense
 */
function lineWidth(dense) {
  return dense ? 1 / (globalThis.devicePixelRatio || 1) : LINE_WIDTH;
}

export class ChartView {
  /**
   * @param {HTMLElement} el
   * @param {LiveStore} store
   * @param {ChartOptions} options
   */
  constructor(el, store, options) {
    this.store = store;
    /** Names this view to the store's source. */
    this.id = newViewId();
    this.root = document.createElement("div");
    this.root.className = "iii-live iii-chart";
    el.appendChild(this.root);
    this.note = new StatusNote(this.root);
    this.options = options;
    /** @type {uPlot | null} */
    this.plot = null;
    /** Whether x holds timestamps (the axis then shows dates and times). */
    this.timeAxis = false;
    /** @type {{min: number, max: number} | null} the x range the reader zoomed to (null: follow the data) */
    this.zoom = null;
    /** Set while the chart itself gives uPlot data, so scale changes then are not the reader's. */
    this._settingData = false;
    this._req = 0;
    this._asked = false;
    this._askedWidth = 0;
    /** Whether the data drawn is a dense range (min and max per pixel column). */
    this._dense = false;
    /** @type {unknown} the frame last drawn (windowed) */
    this._shown = null;
    this.unobserve = store.observe(() => this.refresh());
    this.resizer = new ResizeObserver(() => this._resize());
    this.resizer.observe(this.root);
    this.setOptions(options);
  }

  /** @param {ChartOptions} options */
  setOptions(options) {
    this.options = options;
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this._shown = null;
    this.refresh();
  }

  /**
   * The points of the items held, ordered by x (sorted only if they came out of order), the
   * last `window` of them; x as a typed array.
   * @returns {ChartData}
   */
  data() {
    const { x, window: size } = this.options;
    const ys = this._ys().map(reader);
    const readX = x ? reader(x) : null;
    const held = this.store.items.size;
    const xs = new Float64Array(held);
    /** @type {(number | null)[][]} */
    const columns = ys.map(() => new Array(held));
    let count = 0;
    let sorted = true;
    let index = 0;
    for (const value of this.store.items.values()) {
      const xv = readX ? toNumber(readX(value)) : index;
      index += 1;
      if (xv === null) continue;
      if (count && xv < xs[count - 1]) sorted = false;
      xs[count] = xv;
      for (let k = 0; k < ys.length; k++) columns[k][count] = toNumber(ys[k](value));
      count += 1;
    }
    const first = size && count > size ? count - size : 0;
    if (sorted) return [xs.slice(first, count), ...columns.map((column) => column.slice(first, count))];
    const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => xs[a] - xs[b]).slice(first);
    return [Float64Array.from(order, (i) => xs[i]), ...columns.map((column) => order.map((i) => column[i]))];
  }

  refresh() {
    if (this.store.windowed) {
      this._refreshWindowed();
      return;
    }
    this._asked = false;
    this._draw(this.data(), Boolean(this.options.x) && this._looksLikeTime());
  }

  /** Points of the range asked for (the default range until the own answer comes). */
  _refreshWindowed() {
    if (!this._asked) this._ask();
    const own = /** @type {PointsFrame | undefined} */ (this.store.windows.get(this.id));
    const initial = /** @type {PointsFrame | undefined} */ (this.store.windows.get(""));
    const frame = own ? (own.req === this._req ? own : null) : initial && !this.zoom ? initial : null;
    if (frame && frame !== this._shown) {
      this._shown = frame;
      this._draw([frame.x, ...frame.y], Boolean(frame.time), !frame.exact);
      this.root.dataset.total = String(frame.total);
      this.root.dataset.exact = String(frame.exact);
    }
    this.note.show(this.store.status);
  }

  /**
   * Give the plot its data, keeping the reader's zoom.
   * @param {ChartData} data
   * @param {boolean} timeAxis
   * @param {boolean} [dense] a range of min/max pixel columns
   */
  _draw(data, timeAxis, dense = false) {
    if (this.plot && timeAxis !== this.timeAxis) {
      this.plot.destroy();
      this.plot = null;
    }
    this.timeAxis = timeAxis;
    if (dense !== this._dense) {
      this._dense = dense;
      const lines = (this.options.kind ?? "line") === "line";
      if (this.plot && lines) for (const series of this.plot.series.slice(1)) series.width = lineWidth(dense);
    }
    if (!this.plot) {
      this._settingData = true; // until uPlot's first commit, a microtask away
      this.plot = this._build(data);
      queueMicrotask(() => (this._settingData = false));
    } else {
      this._quietly((plot) => {
        plot.setData(data, !this.zoom);
        if (this.zoom) plot.setScale("x", this.zoom);
      });
    }
    this.root.dataset.points = String(data[0].length);
    this.root.dataset.seq = String(this.store.seq);
    this.root.dataset.last = JSON.stringify(data.map((column) => column[column.length - 1] ?? null));
    this.root.dataset.zoom = this.zoom ? `${this.zoom.min},${this.zoom.max}` : "";
    this.note.show(this.store.status);
  }

  /** Ask the source for the points of the range shown, at the plot's width. */
  _ask() {
    const ask = this.store.askWindow;
    if (!ask) return;
    this._asked = true;
    this._req += 1;
    const width = Math.max(this.root.clientWidth, MIN_WIDTH);
    this._askedWidth = width;
    ask(/** @type {any} */ ({ type: "window", view: this.id, req: this._req, x0: this.zoom?.min ?? null, x1: this.zoom?.max ?? null, width }));
  }

  /**
   * The reader zoomed (or went back to following the data: null).
   * @param {{min: number, max: number} | null} zoom
   */
  _zoomTo(zoom) {
    this.zoom = zoom;
    this.root.dataset.zoom = zoom ? `${zoom.min},${zoom.max}` : "";
    if (this.store.windowed) this._ask();
    else if (!zoom) this.refresh();
  }

  destroy() {
    this.unobserve();
    this.resizer.disconnect();
    if (this.plot) this.plot.destroy();
    this.root.remove();
  }

  /** @returns {string[]} */
  _ys() {
    const { y } = this.options;
    return Array.isArray(y) ? y : y ? [y] : [];
  }

  /**
   * @param {ChartData} data
   * @returns {uPlot}
   */
  _build(data) {
    const { kind = "line", x, title, height = DEFAULT_HEIGHT } = this.options;
    /** @type {uPlot.Series.PathBuilder | undefined} */
    const paths = kind === "bar" ? uPlot.paths.bars?.({ size: [0.6, 40] }) : kind === "scatter" ? () => null : undefined;
    /** @type {uPlot.Series[]} */
    const series = [
      { label: x || "index" },
      ...this._ys().map((name, i) => ({
        label: name,
        stroke: COLORS[i % COLORS.length],
        fill: kind === "bar" ? COLORS[i % COLORS.length] + "99" : undefined,
        width: kind === "scatter" ? 0 : kind === "line" ? lineWidth(this._dense) : LINE_WIDTH,
        paths,
        points: { show: kind === "scatter", size: 6, fill: COLORS[i % COLORS.length] },
      })),
    ];
    const plot = new uPlot(
      {
        title,
        width: Math.max(this.root.clientWidth, MIN_WIDTH),
        height,
        scales: { x: { time: this.timeAxis } },
        series,
        legend: { live: false },
        cursor: { bind: { dblclick: () => () => null } }, // a double-click follows the data again (below)
        hooks: {
          setScale: [
            (u, key) => {
              const { min, max } = u.scales.x;
              if (key === "x" && !this._settingData && min != null && max != null) this._zoomTo({ min, max });
            },
          ],
        },
      },
      data,
      this.root
    );
    plot.over.addEventListener("dblclick", () => this._zoomTo(null));
    return plot;
  }

  /** Whether the x field of the first item is text (a timestamp, as `toNumber` read it). */
  _looksLikeTime() {
    const x = this.options.x;
    if (!x) return false;
    for (const [, value] of this.store.items) return typeof pick(value, x) === "string";
    return false;
  }

  _resize() {
    if (!this.plot || !this.root.clientWidth) return;
    const width = this.root.clientWidth;
    this._quietly((plot) => plot.setSize({ width, height: plot.height }));
    if (this.store.windowed && Math.abs(width - this._askedWidth) > ASK_AGAIN_PX) this._ask();
  }

  /**
   * Change the plot now (uPlot's batch commits at once), its scale changes not taken as the reader's.
   * @param {(plot: uPlot) => void} change
   */
  _quietly(change) {
    const plot = this.plot;
    if (!plot) return;
    this._settingData = true;
    try {
      plot.batch(() => change(plot));
    } finally {
      this._settingData = false;
    }
  }
}
