// @ts-check
// The stream browser: the engine's streams and groups (refreshed every few seconds) and
// the chosen group as a live table, newest items first; a large group is paged through
// windows (the engine sends the rows on screen), so a million items open at once.
import { byId, withToken } from "./page-context.js";
import { LiveStore } from "./store.js";
import { TableView } from "./table.js";
import { exposeForTests } from "./test-hooks.js";
import { WHOLE_LIMIT, follow } from "./window-connection.js";

const REFRESH_MS = 3000;
const TABLE_HEIGHT = 520;

/**
 * What `GET /_iii/streams` answers.
 * @typedef {object} Overview
 * @property {{stream_url: string, connections: number}} engine
 * @property {{id: string, groups: {id: string, items: number, subscribers: number}[]}[]} streams
 */

export function startBrowser() {
  /** @type {{stream: string, group: string, windowed: boolean, close: () => void} | null} */
  let watching = null;

  /**
   * @param {string} stream
   * @param {string} group
   * @param {number} items how many it holds (a large group is followed through windows)
   */
  const watch = (stream, group, items) => {
    if (watching) watching.close();
    const store = new LiveStore();
    const status = byId("status");
    const stop = follow(store, {
      stream,
      group,
      items,
      onStatus: (state) => (status.textContent = `${stream} / ${group}: ${state}`),
    });
    const view = new TableView(byId("view"), store, { height: TABLE_HEIGHT, newest_first: true });
    const unexpose = exposeForTests({ group: `${stream}/${group}`, store, view });
    watching = {
      stream,
      group,
      windowed: store.windowed,
      close: () => {
        stop();
        unexpose();
        view.destroy();
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
    byId("streams").replaceChildren(...(streams.length ? streams.flatMap((stream) => streamEntries(stream, watch)) : [empty("No streams yet.")]));
    markActive();
    rewatchIfResized(streams);
  };

  /**
   * Follow the watched group the other way once it grew past twice the limit (or shrank
   * below half of it).
   * @param {Overview["streams"]} streams
   */
  const rewatchIfResized = (streams) => {
    if (!watching) return;
    const { stream, group, windowed } = watching;
    const found = streams.find((s) => s.id === stream)?.groups.find((g) => g.id === group);
    if (!found) return;
    if ((!windowed && found.items > 2 * WHOLE_LIMIT) || (windowed && found.items < WHOLE_LIMIT / 2)) watch(stream, group, found.items);
  };

  refresh();
  setInterval(refresh, REFRESH_MS);
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
