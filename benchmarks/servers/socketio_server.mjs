// Socket.IO on Node (npm socket.io), broadcasting one event to every client.
import { createServer } from "node:http";
import readline from "node:readline";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const http = createServer();
const io = new Server(http, { transports: ["websocket"] });
const monotonicNs = () => process.hrtime.bigint();

function wrapper(seq) {
  return {
    type: "stream", timestamp: Date.now(), streamName: "bench", groupId: "g", id: `x${seq % 10}`,
    event: { type: "update", data: { seq, t: Number(monotonicNs()) } },
  };
}

http.listen(port, "127.0.0.1", () => console.log(JSON.stringify({ listening: port })));

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const [command, count, rate] = line.trim().split(/\s+/);
  if (command === "quit") process.exit(0);
  const started = performance.now();
  const n = Number(count);
  const perSecond = Number(rate);
  for (let seq = 0; seq < n; seq++) {
    const delay = perSecond ? started + (seq * 1000) / perSecond - performance.now() : 0;
    await new Promise((resolve) => (delay > 0 ? setTimeout(resolve, delay) : setImmediate(resolve)));
    io.emit("tick", wrapper(seq));
  }
  console.log(JSON.stringify({ sent: n, send_s: (performance.now() - started) / 1000 }));
});
lines.on("close", () => process.exit(0));
