// @ts-check
// The stream browser: the engine's streams and groups (refreshed every few seconds) and
// the chosen group as a live table, newest items first; a large group is paged through
// windows (the engine sends the rows on screen), so a million items open at once.
//
// The table's header menu and toolbar filter and group the rows through a view the engine
// opens for the page (see socket-control.js); the page then follows the view's derived
// group. The group watched and what the reader set are kept in the page's address
// (`?stream=…&group=…&view=…`), so a reload, or the address sent to someone, shows the same.
import { byId, withToken } from "./page-context.js";
import { SocketControl } from "./socket-control.js";
import { LiveStore } from "./store.js";
import { TableView } from "./table.js";
import { exposeForTests } from "./test-hooks.js";
import { isGrouped, noChoice, readChoice } from "./view-choice.js";
import { WHOLE_LIMIT, engineSocketUrl, follow } from "./window-connection.js";

const REFRESH_MS = 3000;
const TABLE_HEIGHT = 520;

/**
 * What `GET /_iii/streams` answers.
 * @typedef {object} Overview
 * @property {{stream_url: string, connections: number}} engine
 * @property {{id: string, groups: {id: string, items: number, subscribers: number}[]}[]} streams
 */

/**
 * @typedef {import("./view-choice.js").Choice} Choice
 * @typedef {import("./socket-control.js").Target} Target
 * @typedef {{target: Target, windowed: boolean, close: () => void}} Shown the table of one group
 */

export function startBrowser() {
  /** @type {{stream: string, group: string, control: SocketControl, shown: () => Shown | null, reshow: (target: Target) => void, close: () => void} | null} */
  let watching = null;
  const address = readAddress(location);

  /**
   * @param {string} stream
   * @param {string} group
   * @param {number} items how many it holds (a large group is followed through windows)
   * @param {Choice} initial what the reader set before (a reloaded address)
   */
  const watch = (stream, group, items, initial) => {
    if (watching) watching.close();
    /** @type {Shown | null} */
    let shown = null;
    const status = byId("status");
    /** @param {Target} target */
    const show = (target) => {
      if (shown) shown.close();
      const store = new LiveStore();
      const stop = follow(store, {
        stream: target.stream,
        group: target.group,
        items: target.items ?? (target.stream === stream && target.group === group ? items : 0),
        onStatus: (state) => (status.textContent = `${stream} / ${group}${target.group === group ? "" : " (a view)"}: ${state}`),
      });
      const grouped = isGrouped(control.shown());
      const view = new TableView(byId("view"), store, { height: TABLE_HEIGHT, newest_first: !grouped }, control);
      const unexpose = exposeForTests({ group: `${stream}/${group}`, store, view });
      shown = {
        target,
        windowed: store.windowed,
        close: () => {
          stop();
          unexpose();
          view.destroy();
        },
      };
    };
    const control = new SocketControl({
      url: engineSocketUrl(),
      stream,
      group,
      initial,
      onShow: show,
      onApplied: (choice) => writeAddress(stream, group, choice),
    });
    show(control.target);
    writeAddress(stream, group, control.choice());
    watching = {
      stream,
      group,
      control,
      shown: () => shown,
      reshow: show,
      close: () => {
        shown?.close();
        control.close();
      },
    };
    markActive();
  };

  const markActive = () => {
    for (const button of byId("streams").querySelectorAll("button")) {
      const active = watching !== null && button.dataset.stream === watching.stream && button.dataset.group === watching.group;
      button.classList.toggle("active", active);
    }
  };

  const refresh = async () => {
    /** @type {Overview} */
    let overview;
    try {
      const response = await fetch(withToken("/_iii/streams"));
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      overview = await response.json();
    } catch (error) {
      byId("engine").textContent = `engine unreachable (${error instanceof Error ? error.message : String(error)})`;
      return;
    }
    const { engine, streams } = overview;
    byId("engine").textContent = `${engine.stream_url} · ${engine.connections} connections`;
    const pick = (/** @type {string} */ stream, /** @type {string} */ group, /** @type {number} */ items) => watch(stream, group, items, noChoice());
    byId("streams").replaceChildren(...(streams.length ? streams.flatMap((stream) => streamEntries(stream, pick)) : [empty("No streams yet.")]));
    if (!watching && address) {
      const found = streams.find((s) => s.id === address.stream)?.groups.find((g) => g.id === address.group);
      watch(address.stream, address.group, found?.items ?? 0, address.choice);
    }
    markActive();
    rewatchIfResized(streams);
  };

  /**
   * Follow the group shown the other way once it grew past twice the limit (or shrank
   * below half of it).
   * @param {Overview["streams"]} streams
   */
  const rewatchIfResized = (streams) => {
    const shown = watching?.shown();
    if (!watching || !shown) return;
    const { target, windowed } = shown;
    const found = streams.find((s) => s.id === target.stream)?.groups.find((g) => g.id === target.group);
    if (!found) return;
    if ((!windowed && found.items > 2 * WHOLE_LIMIT) || (windowed && found.items < WHOLE_LIMIT / 2)) watching.reshow({ ...target, items: found.items });
  };

  refresh();
  setInterval(refresh, REFRESH_MS);
}

/**
 * The group and the reader's choice an address names.
 * @param {Location} where
 * @returns {{stream: string, group: string, choice: Choice} | null}
 */
function readAddress(where) {
  const query = new URLSearchParams(where.search);
  const stream = query.get("stream");
  const group = query.get("group");
  if (stream === null || group === null) return null;
  let choice = noChoice();
  const view = query.get("view");
  if (view) {
    try {
      choice = readChoice(JSON.parse(view));
    } catch {
      // an address cut or edited by hand: the group as it is
    }
  }
  return { stream, group, choice };
}

/**
 * Keep the group watched and the reader's choice in the address (the rest of it, a token, stays).
 * @param {string} stream
 * @param {string} group
 * @param {Choice} choice
 */
function writeAddress(stream, group, choice) {
  const query = new URLSearchParams(location.search);
  query.set("stream", stream);
  query.set("group", group);
  if (choice.spec || choice.sort || choice.hidden.length) query.set("view", JSON.stringify(choice));
  else query.delete("view");
  history.replaceState(null, "", `${location.pathname}?${query}`);
}

/**
 * A stream's title and one button per group.
 * @param {Overview["streams"][number]} stream
 * @param {(stream: string, group: string, items: number) => void} watch
 * @returns {HTMLElement[]}
 */
function streamEntries(stream, watch) {
  const title = document.createElement("h2");
  title.textContent = stream.id;
  const buttons = stream.groups.map((group) => {
    const button = document.createElement("button");
    button.dataset.stream = stream.id;
    button.dataset.group = group.id;
    const name = document.createElement("span");
    name.textContent = group.id;
    const counts = document.createElement("small");
    counts.textContent = `${group.items} items · ${group.subscribers} subs`;
    button.append(name, counts);
    button.onclick = () => watch(stream.id, group.id, group.items);
    return button;
  });
  return [title, ...buttons];
}

/** @param {string} text */
function empty(text) {
  const note = document.createElement("div");
  note.className = "empty";
  note.textContent = text;
  return note;
}
