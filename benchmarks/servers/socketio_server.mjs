// Socket.IO on Node (npm socket.io), broadcasting one event to every client.
import { createServer } from "node:http";
import readline from "node:readline";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const http = createServer();
const io = new Server(http, { transports: ["websocket"] });
const monotonicNs = () => process.hrtime.bigint();

// t: when the message was due (a fixed rate), or when it was sent (full speed); see common.py
function wrapper(seq, t) {
  return {
    type: "stream", timestamp: Date.now(), streamName: "bench", groupId: "g", id: `x${seq % 10}`,
    event: { type: "update", data: { seq, t: Number(t) } },
  };
}

http.listen(port, "127.0.0.1", () => console.log(JSON.stringify({ listening: port })));

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const [command, count, rate] = line.trim().split(/\s+/);
  if (command === "quit") process.exit(0);
  const started = performance.now();
  const startNs = monotonicNs();
  const n = Number(count);
  const perSecond = Number(rate);
  for (let seq = 0; seq < n; seq++) {
    const due = perSecond ? startNs + BigInt(Math.round((seq * 1e9) / perSecond)) : 0n;
    // timers keep whole milliseconds on the loop's clock: sleep the whole ones, then yield until `due`
    for (;;) {
      const wait = perSecond ? Number(due - monotonicNs()) / 1e6 : 0;
      await new Promise((resolve) => (wait >= 1 ? setTimeout(resolve, Math.floor(wait)) : setImmediate(resolve)));
      if (wait <= 0) break;
    }
    io.emit("tick", wrapper(seq, perSecond ? due : monotonicNs()));
  }
  console.log(JSON.stringify({ sent: n, send_s: (performance.now() - started) / 1000 }));
});
lines.on("close", () => process.exit(0));
