// @ts-check
// The stream browser: the engine's streams and groups (refreshed every few seconds) and
// the chosen group as a live table, newest items first.
import { connect } from "./connection.js";
import { byId, groupSocketUrl, withToken } from "./page-context.js";
import { LiveStore } from "./store.js";
import { TableView } from "./table.js";
import { exposeForTests } from "./test-hooks.js";

const REFRESH_MS = 3000;
const TABLE_HEIGHT = 520;

/**
 * What `GET /_iii/streams` answers.
 * @typedef {object} Overview
 * @property {{stream_url: string, connections: number}} engine
 * @property {{id: string, groups: {id: string, items: number, subscribers: number}[]}[]} streams
 */

export function startBrowser() {
  /** @type {{stream: string, group: string, close: () => void} | null} */
  let watching = null;

  /**
   * @param {string} stream
   * @param {string} group
   */
  const watch = (stream, group) => {
    if (watching) watching.close();
    const store = new LiveStore();
    const view = new TableView(byId("view"), store, { height: TABLE_HEIGHT, newest_first: true });
    const status = byId("status");
    const stop = connect(groupSocketUrl(stream, group), store, {
      onStatus: (state) => (status.textContent = `${stream} / ${group}: ${state}`),
    });
    const unexpose = exposeForTests({ group: `${stream}/${group}`, store, view });
    watching = {
      stream,
      group,
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
  };

  refresh();
  setInterval(refresh, REFRESH_MS);
}

/**
 * A stream's title and one button per group.
 * @param {Overview["streams"][number]} stream
 * @param {(stream: string, group: string) => void} watch
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
    button.onclick = () => watch(stream.id, group.id);
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
