// A virtualized live table: one row per item, only the visible rows in the DOM, repainted
// at most once per animation frame, changed cells briefly highlighted.
import { flatten, formatCell, pick, toNumber } from "./store.js";

const ROW_HEIGHT = 26;
const OVERSCAN = 8;
const FLASH_MS = 900;

export class TableView {
  constructor(el, store, options) {
    this.store = store;
    this.options = options;
    this.sort = { by: options.sort_by || null, ascending: options.ascending !== false };
    this.root = document.createElement("div");
    this.root.className = "iii-live iii-table";
    this.header = document.createElement("div");
    this.header.className = "iii-table-header";
    this.viewport = document.createElement("div");
    this.viewport.className = "iii-table-viewport";
    this.viewport.style.height = `${options.height || 360}px`;
    this.spacer = document.createElement("div");
    this.spacer.className = "iii-table-spacer";
    this.body = document.createElement("div");
    this.body.className = "iii-table-body";
    this.spacer.appendChild(this.body);
    this.viewport.appendChild(this.spacer);
    this.footer = document.createElement("div");
    this.footer.className = "iii-table-footer";
    this.root.append(this.header, this.viewport, this.footer);
    el.appendChild(this.root);
    this.rows = [];
    this.columns = [];
    this.cells = new Map(); // item id -> Map(column -> [text, time it last changed])
    this._scheduled = false;
    this.viewport.addEventListener("scroll", () => this.schedule());
    this.unobserve = store.observe(() => this.refresh());
    this.refresh();
  }

  setOptions(options) {
    this.options = options;
    this.sort = { by: options.sort_by || this.sort.by, ascending: options.ascending !== false };
    this.viewport.style.height = `${options.height || 360}px`;
    this.refresh();
  }

  refresh() {
    const { store, options } = this;
    let entries = Array.from(store.items.entries());
    this.columns = options.columns && options.columns.length ? options.columns : this._deriveColumns(entries);
    if (this.sort.by) {
      const key = this.sort.by;
      const sign = this.sort.ascending ? 1 : -1;
      const value = key === "id" ? ([id]) => id : ([, v]) => pick(v, key);
      entries.sort((a, b) => sign * compare(value(a), value(b)));
      if (options.max_rows) entries = entries.slice(0, options.max_rows);
    } else if (options.max_rows && entries.length > options.max_rows) {
      entries = entries.slice(entries.length - options.max_rows);
    }
    this.rows = entries;
    if (this.cells.size > store.items.size * 2 + 1000) {
      for (const id of this.cells.keys()) if (!store.items.has(id)) this.cells.delete(id);
    }
    this._renderHeader();
    this.spacer.style.height = `${entries.length * ROW_HEIGHT}px`;
    this.footer.textContent = `${store.items.size} items${entries.length < store.items.size ? ` (showing ${entries.length})` : ""}`;
    this.root.dataset.items = String(store.items.size);
    this.root.dataset.seq = String(store.seq);
    this.root.dataset.gaps = String(store.stats.gaps);
    this._renderRows();
  }

  schedule() {
    if (this._scheduled) return;
    this._scheduled = true;
    requestAnimationFrame(() => {
      this._scheduled = false;
      this._renderRows();
    });
  }

  _deriveColumns(entries) {
    const seen = new Set();
    for (let i = 0; i < Math.min(entries.length, 200); i++) {
      for (const key of Object.keys(flatten(entries[i][1]))) seen.add(key);
    }
    return Array.from(seen);
  }

  _allColumns() {
    return this.options.show_id === false ? this.columns : ["id", ...this.columns];
  }

  _renderHeader() {
    const columns = this._allColumns();
    const signature = columns.join("\u0000") + `|${this.sort.by}|${this.sort.ascending}`;
    if (signature === this._headerSignature) return;
    this._headerSignature = signature;
    this.header.replaceChildren(
      ...columns.map((name) => {
        const cell = document.createElement("div");
        cell.className = "iii-cell iii-th";
        cell.dataset.column = name;
        const arrow = this.sort.by === name ? (this.sort.ascending ? " \u25b2" : " \u25bc") : "";
        cell.textContent = name + arrow;
        cell.title = `sort by ${name}`;
        cell.addEventListener("click", () => {
          this.sort = { by: name, ascending: this.sort.by === name ? !this.sort.ascending : true };
          this.refresh();
        });
        return cell;
      })
    );
    this._setGrid(columns.length);
  }

  _setGrid(count) {
    const template = `repeat(${count}, minmax(90px, 1fr))`;
    this.header.style.gridTemplateColumns = template;
    this.body.style.setProperty("--iii-columns", template);
  }

  _renderRows() {
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight || this.options.height || 360;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.rows.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const columns = this._allColumns();
    const now = performance.now();
    const fragment = document.createDocumentFragment();
    for (let i = first; i < last; i++) {
      const [id, value] = this.rows[i];
      const row = document.createElement("div");
      row.className = "iii-row";
      row.dataset.id = id;
      row.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
      let seen = this.cells.get(id);
      if (!seen) this.cells.set(id, (seen = new Map()));
      for (const column of columns) {
        const text = column === "id" ? id : formatCell(pick(value, column));
        const previous = seen.get(column);
        if (!previous || previous[0] !== text) seen.set(column, [text, previous ? now : -Infinity]);
        const cell = document.createElement("div");
        cell.className = now - seen.get(column)[1] < FLASH_MS ? "iii-cell iii-flash" : "iii-cell";
        cell.dataset.column = column;
        cell.textContent = text;
        row.appendChild(cell);
      }
      fragment.appendChild(row);
    }
    this.body.replaceChildren(fragment);
  }

  destroy() {
    this.unobserve();
    this.root.remove();
  }
}

function compare(a, b) {
  const x = toNumber(a);
  const y = toNumber(b);
  if (x !== null && y !== null) return x - y;
  if (a === undefined || a === null) return b === undefined || b === null ? 0 : 1;
  if (b === undefined || b === null) return -1;
  return String(a).localeCompare(String(b));
}
