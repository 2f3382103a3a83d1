// Highlights of changed cells: direction for numbers, flashes scaled to the update rate.
import assert from "node:assert/strict";
import test from "node:test";
import { CellChanges, FLASH_MAX_MS, FLASH_MIN_MS, flashDuration } from "../src/cell-changes.js";

test("the first sighting is not a change; later changes flash", () => {
  const changes = new CellChanges();
  const first = changes.see("a", "price", "10", 10, 0);
  assert.equal(first.direction, null);
  assert.ok(first.flashElapsed >= first.flashDuration);
  const same = changes.see("a", "price", "10", 10, 500);
  assert.ok(same.flashElapsed >= same.flashDuration);
  const changed = changes.see("a", "price", "11", 11, 1000);
  assert.equal(changed.flashElapsed, 0);
  assert.equal(changed.flashDuration, FLASH_MAX_MS);
});

test("a rising number is up, a falling one down, until the next change", () => {
  const changes = new CellChanges();
  changes.see("a", "price", "10", 10, 0);
  assert.equal(changes.see("a", "price", "11", 11, 100).direction, "up");
  assert.equal(changes.see("a", "price", "11", 11, 5000).direction, "up");
  assert.equal(changes.see("a", "price", "9.5", "9.5", 6000).direction, "down");
  assert.equal(changes.see("a", "price", "n/a", "n/a", 7000).direction, null);
  changes.see("a", "name", "x", "x", 0);
  assert.equal(changes.see("a", "name", "y", "y", 100).direction, null);
});

test("cells that change often flash for a shorter time", () => {
  const changes = new CellChanges();
  changes.see("fast", "v", "0", 0, 0);
  changes.see("slow", "v", "0", 0, 0);
  let fast;
  for (let i = 1; i <= 20; i++) fast = changes.see("fast", "v", String(i), i, i * 200);
  changes.see("slow", "v", "1", 1, 5000);
  const slow = changes.see("slow", "v", "2", 2, 10000);
  assert.equal(fast.flashDuration, flashDuration(200));
  assert.ok(fast.flashDuration < slow.flashDuration);
  assert.equal(slow.flashDuration, FLASH_MAX_MS);
  assert.equal(flashDuration(10), FLASH_MIN_MS);
  assert.equal(flashDuration(400), 200);
  assert.equal(flashDuration(60_000), FLASH_MAX_MS);
});

test("prune forgets the items that are gone", () => {
  const changes = new CellChanges();
  changes.see("a", "v", "1", 1, 0);
  changes.see("b", "v", "1", 1, 0);
  changes.prune((id) => id === "b");
  assert.equal(changes.size, 1);
  assert.equal(changes.see("a", "v", "2", 2, 10).direction, null); // a new sighting
});
