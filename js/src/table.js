// @ts-check
// A virtualized live table: one row per item, only the visible rows in the DOM, repainted
// at most once per animation frame, columns as wide as what they show, changed cells
// highlighted by direction for numbers and for a time scaled to how often they change.
//
// Over a windowed store (a group too large to send whole) the table asks its source for
// the rows around what it shows, sorted there, and keeps the reader's place: when rows come
// or go above the first visible one, it scrolls by as much, so the rows in view stay put.
// Clicking a row selects it (ctrl/cmd-click: several); selections are kept by item id.
//
// Each header has a menu (sort, filter, hide, group by) and a toolbar sits above the rows
// (what the view does, the group-by picker, a filter expression, CSV export). What they set
// goes to the table's control: a view in the engine (filters, group-by) and how the page
// shows it (sort, hidden columns); a table with no control keeps both in the page.
import { CellChanges } from "./cell-changes.js";
import { csvFileName, download, toCsv } from "./csv.js";
import { button, element } from "./dom.js";
import { flatten, formatCell, pick, toNumber } from "./format.js";
import { StatusNote } from "./status-note.js";
import { closeMenu, openColumnMenu, openGroupPicker } from "./table-menu.js";
import { TableToolbar } from "./table-toolbar.js";
import { LocalControl, groupedColumns, isGrouped } from "./view-choice.js";
import { newViewId } from "./view-id.js";

/**
 * @typedef {import("./store.js").LiveStore} LiveStore
 * @typedef {import("./store.js").Entry} Entry
 * @typedef {import("./store.js").RowsFrame} RowsFrame
 * @typedef {import("./store.js").SortSpec} SortSpec
 * @typedef {import("./view-choice.js").Choice} Choice
 * @typedef {import("./view-choice.js").ControlState} ControlState
 * @typedef {import("./view-choice.js").ViewControl} ViewControl
 */

/**
 * @typedef {object} TableOptions
 * @property {string[]} [columns] field paths to show; by default, those of the items
 * @property {string | null} [sort_by] the column that orders the rows
 * @property {boolean} [ascending]
 * @property {number | null} [max_rows] at most this many rows (the first after sorting,
 *   else the newest)
 * @property {number} [height] height of the rows area, in pixels
 * @property {boolean} [show_id] a first column with the item ids (default true)
 * @property {boolean} [newest_first] without a sort column, the newest items on top
 *   (default: the order items were first written in)
 */

const ROW_HEIGHT = 26;
const HEADER_HEIGHT = 26;
const OVERSCAN = 8;
const DEFAULT_HEIGHT = 360;
/** Column width bounds, in characters. */
const MIN_COLUMN_CHARS = 6;
const MAX_COLUMN_CHARS = 40;
/**
 * Widths of a character of a cell and of a (bold) header, in em. Widths are in em, not ch:
 * `ch` differs between the bold header and the rows, and their columns must line up.
 */
const CELL_CHAR_EM = 0.62;
const HEADER_CHAR_EM = 0.7;
/** Room for the sort arrow and the menu button after a header's name, in characters. */
const SORT_ARROW_CHARS = 4;
/** Horizontal padding of a cell, in pixels. */
const CELL_PADDING_PX = 18;
/** Forget the highlight state of deleted items once it holds this many more than live ones. */
const PRUNE_SLACK = 1000;
/** Items looked at to derive the columns and whether the item ids need a column. */
const SAMPLE_ROWS = 200;
/** Rows a windowed table asks for above and below what it shows (scrolls within them ask nothing). */
const WINDOW_MARGIN = 40;

export class TableView {
  /**
   * @param {HTMLElement} el
   * @param {LiveStore} store
   * @param {TableOptions} options
   * @param {ViewControl} [control] where filters, group-bys, the sort and hidden columns go
   */
  constructor(el, store, options, control = new LocalControl("rows")) {
    this.store = store;
    this.options = options;
    this.control = control;
    const shown = control.shown();
    /** @type {{by: string | null, ascending: boolean}} */
    this.sort = shown.sort ?? { by: options.sort_by || null, ascending: options.ascending !== false };
    /** @type {string[]} columns the reader hid */
    this.hidden = shown.hidden;
    this._shownSignature = choiceSignature(shown);
    this.root = element("div", "iii-live iii-table");
    this.toolbar = new TableToolbar({
      views: control.views,
      onChoose: (choice) => this._choose(choice),
      onGroupPicker: (anchor) => openGroupPicker(anchor, { choice: this._wanted(), baseColumns: this._baseColumns(), onChoose: (choice) => this._choose(choice) }),
      onExport: () => void this.exportCsv(),
      baseColumns: () => this._baseColumns(),
    });
    this.viewport = element("div", "iii-table-viewport");
    this.header = element("div", "iii-table-header");
    this.spacer = element("div", "iii-table-spacer");
    this.body = element("div", "iii-table-body");
    this.footer = element("div", "iii-table-footer");
    this.spacer.appendChild(this.body);
    this.viewport.append(this.header, this.spacer);
    this.root.append(this.toolbar.element, this.toolbar.error, this.viewport, this.footer);
    this.note = new StatusNote(this.root);
    this._setHeight();
    el.appendChild(this.root);
    /** Names this view to a windowed store's source. */
    this.id = newViewId();
    /** @type {Entry[]} the rows held, in display order, from position `rowsStart` */
    this.rows = [];
    this.rowsStart = 0;
    /** Rows in all (more than `rows` holds when windowed). */
    this.total = 0;
    /** @type {Set<string>} ids of the selected rows */
    this.selected = new Set();
    /** @type {{req: number, start: number, end: number, atTop: boolean, sort: string} | null} the last window asked for */
    this._asked = null;
    /** Where the row the last request anchored at was last seen (the table scrolls by its moves). */
    this._anchor = 0;
    /** @type {RowsFrame | null} the frame whose rows are held */
    this._shown = null;
    this._req = 0;
    /** The store's keyframes when this view last asked for its window. */
    this._keyframes = store.stats.keyframes;
    /** @type {string[]} */
    this.columns = [];
    /** @type {string | null} */
    this.keyColumn = "id";
    this.changes = new CellChanges();
    /** @type {Map<string, number>} column -> widest text seen, in characters */
    this._widths = new Map();
    this._gridSignature = "";
    this._headerSignature = "";
    this._scheduled = false;
    this.viewport.addEventListener("scroll", () => this.schedule());
    this.body.addEventListener("click", (event) => this._select(event));
    this.unobserve = store.observe(() => this.refresh());
    this.unlisten = control.listen((state) => this._controlState(state));
    this.toolbar.render(this._wanted(), { pending: false, error: null });
    this.refresh();
  }

  /**
   * The control's news: a choice applied (take its sort and hidden columns), pending, or refused.
   * @param {ControlState} state
   */
  _controlState(state) {
    const shown = this.control.shown();
    const signature = choiceSignature(shown);
    if (signature !== this._shownSignature) {
      this._shownSignature = signature;
      if (shown.sort) this.sort = shown.sort;
      this.hidden = shown.hidden;
      this._headerSignature = "";
      this.refresh();
    }
    this.toolbar.render(this._wanted(), state);
  }

  /** @returns {Choice} what the reader set: the control's choice with this table's sort and hidden columns */
  _wanted() {
    return { ...this.control.choice(), sort: this.sort.by ? { ...this.sort } : null, hidden: [...this.hidden] };
  }

  /**
   * Take a choice from a menu or the toolbar: the sort and hidden columns at once, the rest
   * when the control has applied it.
   * @param {Choice} choice
   */
  _choose(choice) {
    const resort = choice.sort && (choice.sort.by !== this.sort.by || choice.sort.ascending !== this.sort.ascending);
    this.sort = choice.sort ? { ...choice.sort } : { by: null, ascending: this.options.ascending !== false };
    this.hidden = [...choice.hidden];
    if (resort && this.store.windowed) this.viewport.scrollTop = 0; // a new order starts at its top
    this.control.choose(choice);
    this.refresh();
  }

  /**
   * @param {string} column
   * @param {boolean} ascending
   */
  _sortBy(column, ascending) {
    this._choose({ ...this._wanted(), sort: { by: column, ascending } });
  }

  /** @returns {string[]} the group's own columns (what filters and group-bys are over) */
  _baseColumns() {
    const shown = this.control.shown();
    return isGrouped(shown) ? shown.fields : this.columns;
  }

  /**
   * Open the menu of a column under its header.
   * @param {string} column
   * @param {HTMLElement} anchor
   */
  _openMenu(column, anchor) {
    const shown = this.control.shown();
    const grouped = isGrouped(shown);
    const filterable = column !== this.keyColumn && (!grouped || Boolean(shown.spec?.group_by?.includes(column)));
    openColumnMenu(anchor, {
      column,
      choice: this._wanted(),
      views: this.control.views,
      filterable,
      values: this.rows.slice(0, SAMPLE_ROWS).map(([id, value]) => (column === this.keyColumn ? id : pick(value, column))),
      baseColumns: this._baseColumns(),
      onSort: (ascending) => this._sortBy(column, ascending),
      onChoose: (choice) => this._choose(choice),
    });
  }

  /**
   * Save every row of the view as CSV, in the order and with the columns shown: from the
   * page when it holds them all, else read from the source.
   */
  async exportCsv() {
    /** @type {Entry[]} */
    let rows;
    try {
      if (!this.store.windowed) rows = Array.from(this.store.items.entries());
      else if (this.control.readAll) rows = await this.control.readAll();
      else throw new Error("the rows are too many to hold in this page");
    } catch (error) {
      this.toolbar.say(`CSV export failed: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const ordered = this._order(rows);
    download(csvFileName(this.control.name), toCsv(this._allColumns(), ordered, this.keyColumn));
    this.root.dataset.exported = String(ordered.length);
  }

  /** @param {TableOptions} options */
  setOptions(options) {
    this.options = options;
    this.sort = { by: options.sort_by || this.sort.by, ascending: options.ascending !== false };
    this._setHeight();
    this.refresh();
  }

  refresh() {
    if (this.store.windowed) {
      this._refreshWindowed();
      return;
    }
    this._asked = null;
    const { store } = this;
    const all = Array.from(store.items.entries());
    this.columns = this._columnsOf(all);
    this.keyColumn = this._keyColumn(all);
    const entries = this._order(all);
    this.rows = entries;
    this.rowsStart = 0;
    this.total = entries.length;
    if (this.changes.size > store.items.size + PRUNE_SLACK) this.changes.prune((id) => store.items.has(id));
    const shown = entries.length < store.items.size ? ` (showing ${entries.length})` : "";
    this._paint(store.items.size, shown);
  }

  /**
   * Rows in the order shown: sorted (the first `max_rows`), else in the group's order (the
   * newest `max_rows`, newest first if asked).
   * @param {Entry[]} entries (sorted in place)
   * @returns {Entry[]}
   */
  _order(entries) {
    const { options } = this;
    if (this.sort.by) {
      const key = this.sort.by;
      const sign = this.sort.ascending ? 1 : -1;
      /** @type {(entry: Entry) => unknown} */
      const value = key === this.keyColumn ? ([id]) => id : ([, v]) => pick(v, key);
      entries.sort((a, b) => sign * compare(value(a), value(b)));
      return options.max_rows ? entries.slice(0, options.max_rows) : entries;
    }
    const kept = options.max_rows && entries.length > options.max_rows ? entries.slice(entries.length - options.max_rows) : entries;
    return options.newest_first ? kept.reverse() : kept;
  }

  /**
   * The rows' columns (hidden ones included): a grouped view's fields and aggregates, the
   * table's `columns`, else those of the items.
   * @param {Entry[]} entries
   * @returns {string[]}
   */
  _columnsOf(entries) {
    const grouped = groupedColumns(this.control.shown());
    if (grouped) return grouped;
    return this.options.columns && this.options.columns.length ? this.options.columns : deriveColumns(entries);
  }

  /** Rows from the view's window (or the default window until its own is answered). */
  _refreshWindowed() {
    if (this._keyframes !== this.store.stats.keyframes) {
      this._keyframes = this.store.stats.keyframes; // the source started over (another group, new windows): ask anew
      this._asked = null;
    }
    const frame = this._frame();
    if (frame && frame !== this._shown) {
      if (frame.view === this.id && frame.offset !== this._anchor && !this._asked?.atTop) {
        this.viewport.scrollTop += (frame.offset - this._anchor) * ROW_HEIGHT; // keep the reader's place
      }
      if (frame.view === this.id) this._anchor = frame.offset;
      this._shown = frame;
      this.rows = frame.rows;
      this.rowsStart = frame.start;
      this.total = frame.total;
      this.columns = this._columnsOf(frame.rows);
      this.keyColumn = this._keyColumn(frame.rows);
    }
    if (this.changes.size > this.rows.length + PRUNE_SLACK) {
      const held = new Set(this.rows.map(([id]) => id));
      this.changes.prune((id) => held.has(id));
    }
    const sorting = this._shown && sortKey(this._shown.sort) !== sortKey(this._windowSort());
    this._paint(this.total, sorting ? " · sorting…" : "");
    if (!this._covers()) this._ask();
  }

  /**
   * The frame to show: this view's answer to its latest request, else, before any, the
   * default window if it is of the order shown. Answers to earlier requests are passed over:
   * the one to the latest places the rows anew.
   * @returns {RowsFrame | null}
   */
  _frame() {
    const key = sortKey(this._windowSort());
    const own = this.store.windows.get(this.id);
    if (own) return own.req === this._req && sortKey(own.sort) === key ? own : null;
    const initial = this.store.windows.get("");
    return initial && sortKey(initial.sort) === key ? initial : null;
  }

  /** @returns {SortSpec} the order asked of the source */
  _windowSort() {
    if (this.sort.by) return { by: this.sort.by, ascending: this.sort.ascending };
    return { by: null, ascending: !this.options.newest_first };
  }

  /** Whether the window asked for last holds every visible row (and the same order). */
  _covers() {
    const asked = this._asked;
    if (!asked || asked.sort !== sortKey(this._windowSort())) return false;
    const { first, last } = this._visible();
    if ((first === 0) !== asked.atTop) return false;
    return first >= asked.start && (last <= asked.end || asked.end >= this.total);
  }

  /** Ask the source for the rows around what is visible. */
  _ask() {
    const ask = this.store.askWindow;
    if (!ask) return;
    const { first, last } = this._visible();
    const sort = this._windowSort();
    const shown = sortKey(sort) === sortKey(this._shown?.sort ?? sort) ? this.rows[first - this.rowsStart] : undefined;
    this._req += 1;
    this._anchor = first;
    this._asked = { req: this._req, start: Math.max(0, first - WINDOW_MARGIN), end: last + WINDOW_MARGIN, atTop: first === 0, sort: sortKey(sort) };
    const columns = this.options.columns && this.options.columns.length && !isGrouped(this.control.shown()) ? this.options.columns : null;
    const anchor = shown ? shown[0] : null; // the row there as the reader sees it: the source finds it where it is now
    ask({ type: "window", view: this.id, req: this._req, offset: first, anchor, before: WINDOW_MARGIN, after: last - first + WINDOW_MARGIN, sort, columns });
  }

  /** @returns {{first: number, last: number}} the rows on screen */
  _visible() {
    const height = this.viewport.clientHeight || this.options.height || DEFAULT_HEIGHT;
    const first = Math.max(0, Math.floor(this.viewport.scrollTop / ROW_HEIGHT));
    return { first, last: first + Math.ceil(height / ROW_HEIGHT) };
  }

  /**
   * Header, sizes, footer and visible rows.
   * @param {number} items
   * @param {string} note after the item count in the footer
   */
  _paint(items, note) {
    const { store, options } = this;
    this._renderHeader();
    this.spacer.style.height = `${this.total * ROW_HEIGHT}px`;
    const order = !this.sort.by && options.newest_first ? " · newest first" : "";
    this.footer.textContent = `${items} items${note}${order}`;
    this.root.dataset.items = String(items);
    this.root.dataset.seq = String(store.seq);
    this.root.dataset.gaps = String(store.stats.gaps);
    this.note.show(store.status);
    this._renderRows();
  }

  /**
   * A click on a row selects it; with ctrl or cmd, adds it to (or takes it from) the selection.
   * @param {MouseEvent} event
   */
  _select(event) {
    const row = event.target instanceof Element ? event.target.closest(".iii-row") : null;
    const id = row instanceof HTMLElement ? row.dataset.id : undefined;
    if (id === undefined) return;
    const several = event.ctrlKey || event.metaKey;
    const was = this.selected.has(id);
    if (!several) this.selected.clear();
    if (was && several) this.selected.delete(id);
    else this.selected.add(id);
    this._renderRows();
  }

  /** Repaint the visible rows on the next animation frame (after a scroll). */
  schedule() {
    if (this._scheduled) return;
    this._scheduled = true;
    requestAnimationFrame(() => {
      this._scheduled = false;
      this._renderRows();
      if (this.store.windowed && !this._covers()) this._ask();
    });
  }

  destroy() {
    this.unobserve();
    this.unlisten();
    closeMenu();
    this.root.remove();
  }

  _setHeight() {
    this.viewport.style.height = `${(this.options.height || DEFAULT_HEIGHT) + HEADER_HEIGHT}px`;
  }

  /**
   * The label of the item-id column: "id", or "item id" when the items have an `id` field of
   * their own; null when hidden (by `show_id`, or because every item's `id` field is its id).
   * @param {Entry[]} entries
   * @returns {string | null}
   */
  _keyColumn(entries) {
    if (this.options.show_id === false || isGrouped(this.control.shown())) return null; // a grouped row's id is its key
    if (!this.columns.includes("id")) return "id";
    const sample = entries.slice(0, SAMPLE_ROWS);
    const same = sample.every(([id, value]) => isRecord(value) && String(value.id) === id);
    return same ? null : "item id";
  }

  /** @returns {string[]} the columns shown, in order */
  _allColumns() {
    const columns = this.keyColumn === null ? this.columns : [this.keyColumn, ...this.columns];
    return this.hidden.length ? columns.filter((name) => !this.hidden.includes(name)) : columns;
  }

  _renderHeader() {
    const columns = this._allColumns();
    const signature = columns.join("\u0000") + `|${this.sort.by}|${this.sort.ascending}`;
    if (signature === this._headerSignature) return;
    this._headerSignature = signature;
    this.header.replaceChildren(
      ...columns.map((name) => {
        const cell = element("div", "iii-cell iii-th");
        cell.dataset.column = name;
        const arrow = this.sort.by === name ? (this.sort.ascending ? " \u25b2" : " \u25bc") : "";
        const label = element("span", "iii-th-label");
        label.textContent = name + arrow;
        label.title = `sort by ${name}`;
        const menu = button("", "menu", () => this._openMenu(name, cell), "iii-th-menu");
        menu.title = `${name}: sort, filter, hide, group`;
        menu.setAttribute("aria-label", menu.title);
        cell.append(label, menu);
        cell.addEventListener("click", (event) => {
          if (event.target instanceof Node && menu.contains(event.target)) return;
          this._sortBy(name, this.sort.by === name ? !this.sort.ascending : true);
        });
        return cell;
      })
    );
  }

  /**
   * Size each column to the widest text it has shown (never shrinking, so columns do not
   * jump as values change); the table scrolls sideways when they do not fit.
   * @param {string[]} columns
   */
  _setGrid(columns) {
    const widths = columns.map((name) => {
      const cells = Math.min(MAX_COLUMN_CHARS, Math.max(MIN_COLUMN_CHARS, this._widths.get(name) || 0)) * CELL_CHAR_EM;
      const header = (Math.min(MAX_COLUMN_CHARS, name.length) + SORT_ARROW_CHARS) * HEADER_CHAR_EM;
      return Math.ceil(Math.max(cells, header) * 10) / 10;
    });
    const signature = widths.join(",");
    if (signature === this._gridSignature) return;
    this._gridSignature = signature;
    const total = widths.reduce((sum, em) => sum + em, 0);
    this.root.style.setProperty("--iii-columns", widths.map((em) => `minmax(calc(${em}em + ${CELL_PADDING_PX}px), 1fr)`).join(" "));
    this.root.style.setProperty("--iii-min-width", `calc(${total.toFixed(1)}em + ${columns.length * CELL_PADDING_PX}px)`);
  }


  _renderRows() {
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight || this.options.height || DEFAULT_HEIGHT;
    const first = Math.max(this.rowsStart, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.total, this.rowsStart + this.rows.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const columns = this._allColumns();
    const now = performance.now();
    const today = new Date();
    const fragment = document.createDocumentFragment();
    for (let i = first; i < last; i++) {
      const [id, value] = this.rows[i - this.rowsStart];
      const row = element("div", "iii-row");
      row.dataset.id = id;
      row.dataset.position = String(i);
      if (this.selected.has(id)) row.classList.add("iii-selected");
      row.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
      for (const column of columns) {
        const key = column === this.keyColumn;
        const raw = key ? id : pick(value, column);
        const text = key ? id : formatCell(raw, today);
        if (text.length > (this._widths.get(column) || 0)) this._widths.set(column, text.length);
        row.appendChild(this._cell(id, column, text, raw, now));
      }
      fragment.appendChild(row);
    }
    this._setGrid(columns);
    this.body.replaceChildren(fragment);
  }

  /**
   * One cell, with its highlight: the direction of its last change as a class, and a
   * flash that continues where it was (cells are rebuilt on every repaint).
   * @param {string} id
   * @param {string} column
   * @param {string} text
   * @param {unknown} raw
   * @param {number} now
   */
  _cell(id, column, text, raw, now) {
    const cell = element("div", "iii-cell");
    cell.dataset.column = column;
    cell.textContent = text;
    if (typeof raw === "string" && raw !== text) cell.title = raw;
    if (column === this.keyColumn) return cell;
    const state = this.changes.see(id, column, text, raw, now);
    if (state.direction) cell.classList.add(`iii-${state.direction}`);
    if (state.flashElapsed < state.flashDuration) {
      cell.classList.add("iii-flash");
      cell.style.animationDuration = `${Math.round(state.flashDuration)}ms`;
      cell.style.animationDelay = `${-Math.round(state.flashElapsed)}ms`;
    }
    return cell;
  }
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
function isRecord(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * The field paths of the first items, in the order they appear.
 * @param {Entry[]} entries
 * @returns {string[]}
 */
function deriveColumns(entries) {
  const seen = new Set();
  for (let i = 0; i < Math.min(entries.length, SAMPLE_ROWS); i++) {
    for (const key of Object.keys(flatten(entries[i][1]))) seen.add(key);
  }
  return Array.from(seen);
}

/**
 * @param {Choice} choice
 * @returns {string} the same text for the same choice
 */
function choiceSignature(choice) {
  return JSON.stringify([choice.spec, choice.sort, choice.hidden]);
}

/**
 * @param {SortSpec} sort
 * @returns {string} the same text for the same order
 */
function sortKey(sort) {
  return `${sort.by ?? ""}\u0000${sort.ascending}`;
}

/**
 * Numbers and timestamps by value, missing values last, the rest as text.
 * @param {unknown} a
 * @param {unknown} b
 * @returns {number}
 */
function compare(a, b) {
  const x = toNumber(a);
  const y = toNumber(b);
  if (x !== null && y !== null) return x - y;
  if (a === undefined || a === null) return b === undefined || b === null ? 0 : 1;
  if (b === undefined || b === null) return -1;
  return String(a).localeCompare(String(b));
}
