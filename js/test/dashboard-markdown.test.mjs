// The markdown subset of dashboard cells, parsed into plain blocks (built as DOM text later).
import assert from "node:assert/strict";
import test from "node:test";
import { inlineSpans, markdownBlocks } from "../src/dashboard-markdown.js";

test("headings, paragraphs joined across lines, lists, rules and code blocks", () => {
  const text = "# Ops\nline one\nline two\n\n- a\n- **b**\n\n1. first\n2. second\n---\n```\n<b>raw</b>\n```";
  assert.deepEqual(markdownBlocks(text), [
    { type: "heading", level: 1, spans: [{ type: "text", text: "Ops" }] },
    { type: "paragraph", spans: [{ type: "text", text: "line one line two" }] },
    { type: "list", ordered: false, items: [[{ type: "text", text: "a" }], [{ type: "strong", text: "b" }]] },
    { type: "list", ordered: true, items: [[{ type: "text", text: "first" }], [{ type: "text", text: "second" }]] },
    { type: "rule" },
    { type: "code", text: "<b>raw</b>" },
  ]);
});

test("inline code, emphasis and links; markup stays text", () => {
  assert.deepEqual(inlineSpans("a `x<y>` *b* [docs](https://example.org/x) <script>"), [
    { type: "text", text: "a " },
    { type: "code", text: "x<y>" },
    { type: "text", text: " " },
    { type: "em", text: "b" },
    { type: "text", text: " " },
    { type: "link", text: "docs", href: "https://example.org/x" },
    { type: "text", text: " <script>" },
  ]);
});

test("links that would run code are shown as their text", () => {
  for (const href of ["javascript:alert`1`", "JavaScript:void0", "data:text/html,x", "vbscript:x"]) {
    assert.deepEqual(inlineSpans(`[x](${href})`), [{ type: "text", text: "x" }], href);
  }
  assert.equal(inlineSpans("[rel](../other)")[0].type, "link");
  assert.equal(inlineSpans("[mail](mailto:a@b.c)")[0].type, "link");
});
