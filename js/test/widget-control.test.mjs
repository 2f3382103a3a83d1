// A notebook table's control speaks to its model: a choice goes out as a `view` message,
// its answer (or error) comes back by `req`, the applied choice is the `controls` trait,
// and an export is put together from its parts.
import assert from "node:assert/strict";
import test from "node:test";
import { ModelControl } from "../src/widget-control.js";

/** A model as anywidget hands it over: traits, sent messages, event handlers. */
function model(traits) {
  const handlers = new Map();
  return {
    sent: [],
    get: (name) => traits[name],
    send(message) {
      this.sent.push(message);
    },
    on: (event, fn) => handlers.set(event, [...(handlers.get(event) ?? []), fn]),
    off: (event, fn) => handlers.set(event, (handlers.get(event) ?? []).filter((f) => f !== fn)),
    emit: (event, message) => (handlers.get(event) ?? []).forEach((fn) => fn(message)),
    set(name, value) {
      traits[name] = value;
      this.emit(`change:${name}`);
    },
    handlers,
  };
}

const GROUPED = { group_by: ["region"], agg: { qty_sum: ["qty", "sum"] } };

test("a choice is asked for, pending until its answer; the applied one is the trait's", () => {
  const m = model({ stream_name: "o", group_id: "all", controls: {} });
  const control = new ModelControl(m);
  const states = [];
  const unlisten = control.listen((state) => states.push(state));
  const choice = { spec: GROUPED, sort: null, hidden: [], fields: ["region", "qty"] };
  control.choose(choice);
  const [asked] = m.sent;
  assert.deepEqual({ ...asked, req: undefined }, { type: "view", req: undefined, spec: GROUPED, sort: null, hidden: [], fields: ["region", "qty"] });
  assert.deepEqual(states.at(-1), { pending: true, error: null });
  assert.deepEqual(control.choice(), choice);
  assert.equal(control.shown().spec, null);

  m.emit("msg:custom", { type: "view", req: "another display's", closed: true }); // not ours
  assert.deepEqual(states.at(-1), { pending: true, error: null });
  m.set("controls", { ...choice, view: { streamName: "o~views" } });
  m.emit("msg:custom", { type: "view", req: asked.req, streamName: "o~views", groupId: "all~v1" });
  assert.deepEqual(states.at(-1), { pending: false, error: null });
  assert.deepEqual(control.shown().spec, GROUPED);

  control.choose({ ...choice, spec: { where: ["qty >"] } });
  const error = { part: "where[0]", message: "view spec `where[0]`: invalid expression" };
  m.emit("msg:custom", { type: "view", req: m.sent.at(-1).req, error });
  assert.deepEqual(states.at(-1), { pending: false, error });
  assert.deepEqual(control.choice().spec, GROUPED); // back to the view shown

  unlisten();
  assert.deepEqual([m.handlers.get("msg:custom"), m.handlers.get("change:controls")], [[], []]);
});

test("an export comes in parts and is put together; an error rejects it", async () => {
  const m = model({ stream_name: "o", group_id: "all", controls: {} });
  const control = new ModelControl(m);
  control.listen(() => {});
  const rows = control.readAll();
  const { req } = m.sent.at(-1);
  assert.equal(m.sent.at(-1).type, "export");
  m.emit("msg:custom", { type: "export", req, rows: [["a", 1]], last: false });
  m.emit("msg:custom", { type: "export", req, rows: [["b", 2]], last: true });
  assert.deepEqual(await rows, [["a", 1], ["b", 2]]);
  const failed = control.readAll();
  m.emit("msg:custom", { type: "export", req: m.sent.at(-1).req, error: "the rows could not be read" });
  await assert.rejects(failed, /could not be read/);
});
