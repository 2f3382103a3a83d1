// A Node SDK worker that hosts one function and lives until stdin closes, reconnecting
// (with the SDK's own reattach) whenever its connection is cut.
// Usage: node reconnect.mjs ws://127.0.0.1:PORT
import { registerWorker } from "iii-sdk";
import readline from "node:readline";

const iii = registerWorker(process.argv[2], { workerName: "node-reconnect", otel: { enabled: false } });
iii.registerFunction("node::echo", async (data) => ({ echoed: data.n }));
process.stdout.write(JSON.stringify({ step: "ready" }) + "\n");

readline.createInterface({ input: process.stdin }).on("close", async () => {
  await iii.shutdown?.();
  process.exit(0);
});
