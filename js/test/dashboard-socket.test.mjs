// What a dashboard page sends, and where its socket is under a proxy's path prefix.
import assert from "node:assert/strict";
import test from "node:test";
import { dashboardAddress, joinFrame } from "../src/dashboard-socket.js";

test("the socket sits beside the page, under whatever prefix the page was served", () => {
  const at = (href) => dashboardAddress(new URL(href));
  assert.deepEqual(at("http://127.0.0.1:3112/d/ops"), { name: "ops", socketUrl: "ws://127.0.0.1:3112/d/ops/ws?sync=keyed" });
  assert.deepEqual(at("https://hub.example.org/user/ann/proxy/3112/d/ops?token=a%2Bb"), {
    name: "ops",
    socketUrl: "wss://hub.example.org/user/ann/proxy/3112/d/ops/ws?sync=keyed&token=a%2Bb",
  });
  assert.equal(at("http://127.0.0.1:3112/demo"), null);
});

test("joins opt in to resuming, and name the last place seen after a reconnect", () => {
  const subscription = { id: "s1", stream: "m", group: "g", frames: { position: null } };
  assert.deepEqual(JSON.parse(joinFrame(subscription)), {
    type: "join",
    data: { subscriptionId: "s1", streamName: "m", groupId: "g", resume: true },
  });
  subscription.frames.position = { seq: 7, epoch: "e1" };
  assert.deepEqual(JSON.parse(joinFrame(subscription)).data.since, { seq: 7, epoch: "e1" });
});
