// @ts-check
// The page of a published dashboard. Its layout is the item `layout` of the group `<name>`
// of the reserved stream `iii-live~dashboards`, so the page re-renders when the kernel
// publishes again; its tables and charts are the widgets' own views, each over a LiveStore
// of its group, all subscribed over one socket. A viewer's sort stays in that page.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { ChartView } from "./chart.js";
import { renderMarkdown } from "./dashboard-markdown.js";
import { DashboardSocket, dashboardAddress, groupKey } from "./dashboard-socket.js";
import { byId } from "./page-context.js";
import { LiveStore } from "./store.js";
import { TableView } from "./table.js";
import { exposeForTests } from "./test-hooks.js";

export const LAYOUT_STREAM = "iii-live~dashboards";
const LAYOUT_ITEM = "layout";

/**
 * @typedef {{kind: "table" | "chart", stream: string, group: string, options: Record<string, unknown>}} ViewCell
 * @typedef {ViewCell | {kind: "markdown", text: string} | {kind: "column", cells: Cell[]}} Cell
 * @typedef {{title: string, rows: Cell[][]}} Layout
 * @typedef {{key: string, holder: HTMLElement, view: TableView | ChartView, unexpose: () => void}} Shown
 */

export function startDashboard() {
  const address = dashboardAddress(location);
  const status = byId("status");
  if (!address) {
    status.textContent = "not a dashboard address (…/d/<name>)";
    return;
  }
  /** @param {string} text */
  const say = (text) => {
    status.textContent = text;
    document.body.dataset.status = text;
  };
  const socket = new DashboardSocket(address.socketUrl, {
    onStatus: say,
    onRefused: (stream, group, reason) => say(`${stream}/${group} refused: ${reason}`),
    onClosed: (reason) => say(`closed by the engine: ${reason}`),
  });
  const page = new DashboardPage(byId("dashboard"), byId("title"), socket);
  const layouts = new LiveStore();
  layouts.observe(() => page.show(/** @type {Layout | undefined} */ (layouts.items.get(LAYOUT_ITEM))));
  socket.subscribe(LAYOUT_STREAM, address.name, layouts);
}

class DashboardPage {
  /**
   * @param {HTMLElement} main
   * @param {HTMLElement} title
   * @param {DashboardSocket} socket
   */
  constructor(main, title, socket) {
    this.main = main;
    this.title = title;
    this.socket = socket;
    /** @type {Map<string, {stream: string, group: string, store: LiveStore}>} by stream and group */
    this.stores = new Map();
    /** @type {Shown[]} */
    this.shown = [];
    /** @type {Layout | undefined} */
    this.layout = undefined;
  }

  /**
   * Render `layout` (or say the dashboard is not published). Views whose cell did not
   * change are moved, not rebuilt, so a viewer's sort and scroll survive a republish.
   * @param {Layout | undefined} layout
   */
  show(layout) {
    if (layout === this.layout) return;
    this.layout = layout;
    if (!isLayout(layout)) {
      const note = element("p", "iii-dash-note");
      note.textContent = "This dashboard is not published at the moment; the page follows it when it is again.";
      this._render("Not published", [note], []);
      return;
    }
    /** @type {{holder: HTMLElement, cell: ViewCell, key: string}[]} */
    const wanted = [];
    const rows = layout.rows.map((row) => this._row(row, wanted));
    this._render(String(layout.title ?? ""), rows, wanted);
  }

  /**
   * @param {string} title
   * @param {HTMLElement[]} rows
   * @param {{holder: HTMLElement, cell: ViewCell, key: string}[]} wanted
   */
  _render(title, rows, wanted) {
    this.title.textContent = title;
    document.title = `${title} · iii-live`;
    const previous = this.shown;
    this.shown = [];
    /** @type {{holder: HTMLElement, cell: ViewCell, key: string}[]} */
    const fresh = [];
    for (const want of wanted) {
      const index = previous.findIndex((shown) => shown.key === want.key);
      if (index < 0) {
        fresh.push(want);
        continue;
      }
      const [kept] = previous.splice(index, 1);
      want.holder.replaceWith(kept.holder);
      this.shown.push(kept);
    }
    for (const gone of previous) {
      gone.unexpose();
      gone.view.destroy();
    }
    this._subscribe(wanted.map((want) => want.cell));
    this.main.replaceChildren(...rows);
    for (const want of fresh) this.shown.push(this._view(want));
  }

  /**
   * @param {Cell[]} cells
   * @param {{holder: HTMLElement, cell: ViewCell, key: string}[]} wanted
   * @returns {HTMLElement}
   */
  _row(cells, wanted) {
    const row = element("div", "iii-dash-row");
    for (const cell of Array.isArray(cells) ? cells : []) row.appendChild(this._cell(cell, wanted));
    return row;
  }

  /**
   * @param {Cell} cell
   * @param {{holder: HTMLElement, cell: ViewCell, key: string}[]} wanted
   * @returns {HTMLElement}
   */
  _cell(cell, wanted) {
    const box = element("div", "iii-dash-cell");
    if (cell.kind === "markdown") {
      box.classList.add("iii-dash-markdown");
      box.appendChild(renderMarkdown(String(cell.text)));
    } else if (cell.kind === "column" && Array.isArray(cell.cells)) {
      box.classList.add("iii-dash-column");
      for (const inner of cell.cells) box.appendChild(this._cell(inner, wanted));
    } else if ((cell.kind === "table" || cell.kind === "chart") && typeof cell.stream === "string" && typeof cell.group === "string") {
      const holder = box.appendChild(element("div", "iii-dash-view"));
      wanted.push({ holder, cell, key: JSON.stringify(cell) });
    } else {
      box.textContent = `(a cell this page cannot show: ${JSON.stringify(cell)})`;
    }
    return box;
  }

  /**
   * Join the groups `cells` show, leave the others.
   * @param {ViewCell[]} cells
   */
  _subscribe(cells) {
    const keys = new Set(cells.map((cell) => groupKey(cell.stream, cell.group)));
    for (const [key, { stream, group }] of this.stores) {
      if (keys.has(key)) continue;
      this.socket.unsubscribe(stream, group);
      this.stores.delete(key);
    }
    for (const { stream, group } of cells) this._store(stream, group);
  }

  /**
   * @param {string} stream
   * @param {string} group
   * @returns {LiveStore}
   */
  _store(stream, group) {
    const key = groupKey(stream, group);
    let entry = this.stores.get(key);
    if (!entry) {
      entry = { stream, group, store: new LiveStore() };
      this.stores.set(key, entry);
      this.socket.subscribe(stream, group, entry.store);
    }
    return entry.store;
  }

  /**
   * @param {{holder: HTMLElement, cell: ViewCell, key: string}} want
   * @returns {Shown}
   */
  _view({ holder, cell, key }) {
    const store = this._store(cell.stream, cell.group);
    const options = cell.options && typeof cell.options === "object" ? cell.options : {};
    const view = cell.kind === "chart" ? new ChartView(holder, store, options) : new TableView(holder, store, options);
    const unexpose = exposeForTests({ group: `${cell.stream}/${cell.group}`, store, view });
    return { key, holder, view, unexpose };
  }
}

/**
 * @param {unknown} layout
 * @returns {layout is Layout}
 */
function isLayout(layout) {
  return layout !== null && typeof layout === "object" && "rows" in layout && Array.isArray(layout.rows);
}

/**
 * @param {string} tag
 * @param {string} className
 * @returns {HTMLElement}
 */
function element(tag, className) {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}
