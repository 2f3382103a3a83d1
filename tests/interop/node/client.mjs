// Drives an iii-live engine with the official npm iii-sdk.
// Usage: node client.mjs ws://127.0.0.1:PORT
// Prints one JSON object per line; exits when stdin closes. Each step says what a Node
// user's code would see: `kind` is "undefined" when the engine sent no `result`, "null"
// when it sent `"result": null`.
import { registerWorker, TriggerAction } from "iii-sdk";
import { createStream } from "iii-sdk/helpers";
import readline from "node:readline";

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const iii = registerWorker(process.argv[2], { workerName: "node-interop", otel: { enabled: false } });

const kind = (value) => (value === undefined ? "undefined" : value === null ? "null" : typeof value);

async function step(name, request) {
  try {
    const result = await iii.trigger(request);
    out({ step: name, result: result ?? null, kind: kind(result) });
  } catch (err) {
    out({ step: name, error: { code: err.code, message: err.message } });
  }
}

const s = (payload) => ({ stream_name: "node", group_id: "g", ...payload });
await step("set1", { function_id: "stream::set", payload: s({ item_id: "a", data: { n: 1 } }) });
await step("set2", { function_id: "stream::set", payload: s({ item_id: "a", data: { n: 2 } }) });
await step("get", { function_id: "stream::get", payload: s({ item_id: "a" }) });
await step("get_missing", { function_id: "stream::get", payload: s({ item_id: "zz" }) });
await step("list", { function_id: "stream::list", payload: s({}) });
await step("list_groups", { function_id: "stream::list_groups", payload: { stream_name: "node" } });
await step("list_all", { function_id: "stream::list_all", payload: {} });
await step("send", { function_id: "stream::send", payload: s({ type: "hello", data: { from: "node" } }) });
await step("update", {
  function_id: "stream::update",
  payload: s({ item_id: "a", ops: [{ type: "increment", path: "n", by: 5 }, { type: "merge", value: 1 }] }),
});
await step("delete", { function_id: "stream::delete", payload: s({ item_id: "a" }) });
await step("delete_missing", { function_id: "stream::delete", payload: s({ item_id: "a" }) });
await step("get_deleted", { function_id: "stream::get", payload: s({ item_id: "a" }) });
await step("set_null", { function_id: "stream::set", payload: s({ item_id: "n", data: null }) });
await step("get_stored_null", { function_id: "stream::get", payload: s({ item_id: "n" }) });
await step("bad_payload", { function_id: "stream::set", payload: { stream_name: "node" } });
await step("unknown", { function_id: "no::such", payload: {} });
await step("void", { function_id: "stream::set", payload: s({ item_id: "v", data: 1 }), action: TriggerAction.Void() });

iii.registerFunction("node::greet", async (data) => `hello ${data.name}`);
iii.registerFunction("node::nothing", async () => undefined);
iii.registerFunction("node::null", async () => null);
iii.registerFunction("node::on_change", async (event) => {
  out({ step: "trigger", event });
  return null;
});
iii.registerTrigger({ type: "stream", function_id: "node::on_change", config: { stream_name: "nodefeed" } });
const items = new Map();
createStream(iii, "nodestore", {
  get: async (input) => items.get(`${input.group_id}/${input.item_id}`) ?? null,
  set: async (input) => {
    const key = `${input.group_id}/${input.item_id}`;
    const old = items.get(key) ?? null;
    items.set(key, input.data);
    return { old_value: old, new_value: input.data };
  },
  delete: async (input) => {
    const key = `${input.group_id}/${input.item_id}`;
    const old = items.get(key) ?? null;
    items.delete(key);
    return { old_value: old };
  },
  list: async (input) => [...items.entries()].filter(([k]) => k.startsWith(`${input.group_id}/`)).map(([, v]) => v),
  listGroups: async () => [...new Set([...items.keys()].map((k) => k.split("/")[0]))],
  update: async () => null,
});
// Results relayed by the engine: from this worker, from a Python SDK worker, from the
// notebook, and from the custom stream above.
await step("relay_undefined", { function_id: "node::nothing", payload: {} });
await step("relay_null", { function_id: "node::null", payload: {} });
await step("relay_python_none", { function_id: "py::nothing", payload: {} });
await step("relay_notebook_none", { function_id: "nb::nothing", payload: {} });
await step("relay_notebook_zero", { function_id: "nb::zero", payload: {} });
await step("custom_get_missing", { function_id: "stream::get", payload: { stream_name: "nodestore", group_id: "g", item_id: "zz" } });
out({ step: "ready" });

readline.createInterface({ input: process.stdin }).on("close", async () => {
  await iii.shutdown?.();
  process.exit(0);
});
