// @ts-check
// A live chart over the items of a group (uPlot, made for streaming data): one series per
// y field, x from a field (numbers or timestamps) or the item order, an optional rolling
// window, axes that follow the data, repainted at most once per animation frame.
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

/** @typedef {[number[], ...(number | null)[][]]} ChartData x values, then one column per series */

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f"];
const MIN_WIDTH = 300;
const DEFAULT_HEIGHT = 320;

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
    this.refresh();
  }

  /** @returns {ChartData} */
  data() {
    const { x, window: size } = this.options;
    const ys = this._ys();
    /** @type {[number, (number | null)[]][]} */
    let points = [];
    let index = 0;
    for (const [, value] of this.store.items) {
      const xv = x ? toNumber(pick(value, x)) : index;
      index += 1;
      if (xv === null) continue;
      points.push([xv, ys.map((y) => toNumber(pick(value, y)))]);
    }
    if (x) points.sort((a, b) => a[0] - b[0]);
    if (size && points.length > size) points = points.slice(points.length - size);
    return [points.map((p) => p[0]), ...ys.map((_, i) => points.map((p) => p[1][i]))];
  }

  refresh() {
    const data = this.data();
    const timeAxis = Boolean(this.options.x) && this._looksLikeTime();
    if (this.plot && timeAxis !== this.timeAxis) {
      this.plot.destroy();
      this.plot = null;
    }
    this.timeAxis = timeAxis;
    if (!this.plot) this.plot = this._build(data);
    else this.plot.setData(data);
    this.root.dataset.points = String(data[0].length);
    this.root.dataset.seq = String(this.store.seq);
    this.root.dataset.last = JSON.stringify(data.map((column) => column[column.length - 1] ?? null));
    this.note.show(this.store.status);
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
        width: kind === "scatter" ? 0 : 1.5,
        paths,
        points: { show: kind === "scatter", size: 6, fill: COLORS[i % COLORS.length] },
      })),
    ];
    return new uPlot(
      {
        title,
        width: Math.max(this.root.clientWidth, MIN_WIDTH),
        height,
        scales: { x: { time: this.timeAxis } },
        series,
        legend: { live: false },
      },
      data,
      this.root
    );
  }

  /** Whether the x field of the first item is text (a timestamp, as `toNumber` read it). */
  _looksLikeTime() {
    const x = this.options.x;
    if (!x) return false;
    for (const [, value] of this.store.items) return typeof pick(value, x) === "string";
    return false;
  }

  _resize() {
    if (this.plot && this.root.clientWidth) this.plot.setSize({ width: this.root.clientWidth, height: this.plot.height });
  }
}
