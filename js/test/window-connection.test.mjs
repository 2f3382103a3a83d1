// Where a page's windows go: the engine's own socket, with the page's token.
import assert from "node:assert/strict";
import test from "node:test";
import { WHOLE_LIMIT, engineSocketUrl } from "../src/window-connection.js";

test("windows go to the root socket of the engine that served the page, token included", () => {
  const page = /** @type {Location} */ ({ protocol: "http:", host: "127.0.0.1:3112", search: "?token=a b" });
  assert.equal(engineSocketUrl(page), "ws://127.0.0.1:3112/?token=a%20b");
  const secure = /** @type {Location} */ ({ protocol: "https:", host: "example.org", search: "" });
  assert.equal(engineSocketUrl(secure), "wss://example.org/");
  assert.equal(WHOLE_LIMIT, 10000); // as the kernel's widgets (iii_live.protocol.widget_session.WHOLE_LIMIT)
});
