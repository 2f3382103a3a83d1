// The reconnecting client's URLs: it always opts in to resuming, from where it stood.
import assert from "node:assert/strict";
import test from "node:test";
import { resumeUrl } from "../src/connection.js";

test("the first connection opts in; a reconnect names the last place seen", () => {
  assert.equal(resumeUrl("ws://h/stream/s/g?sync=keyed", null), "ws://h/stream/s/g?sync=keyed&resume=1");
  assert.equal(
    resumeUrl("ws://h/stream/s/g", { seq: 12, epoch: "a b" }),
    "ws://h/stream/s/g?resume=1&since_seq=12&since_epoch=a%20b"
  );
});
