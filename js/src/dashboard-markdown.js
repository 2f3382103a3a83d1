// @ts-check
// The markdown of dashboard cells, a small subset: headings, paragraphs, lists, code
// blocks, rules; bold, italics, code and links inline. It is parsed into plain blocks and
// built with DOM nodes and text (never as HTML), so what a cell says cannot run in the page.

/**
 * @typedef {{type: "text" | "strong" | "em" | "code", text: string} | {type: "link", text: string, href: string}} Span
 * @typedef {{type: "heading", level: number, spans: Span[]}
 *   | {type: "paragraph", spans: Span[]}
 *   | {type: "list", ordered: boolean, items: Span[][]}
 *   | {type: "code", text: string}
 *   | {type: "rule"}} Block
 */

const HEADING = /^(#{1,6})\s+(.*)$/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d+[.)]\s+(.*)$/;
const RULE = /^\s*([-*_])(\s*\1){2,}\s*$/;
const FENCE = /^\s*(```|~~~)/;
const INLINE = /`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_/g;
/** Links that go somewhere: web addresses, mail, and paths relative to the page. */
const SAFE_HREF = /^(https?:|mailto:|[/#.?]|[\w-]+(\/|$))/i;

/**
 * @param {string} text
 * @returns {Block[]}
 */
export function markdownBlocks(text) {
  /** @type {Block[]} */
  const blocks = [];
  const lines = String(text).replace(/\r\n?/g, "\n").split("\n");
  /** @type {string[]} */
  let paragraph = [];
  const endParagraph = () => {
    if (paragraph.length) blocks.push({ type: "paragraph", spans: inlineSpans(paragraph.join(" ")) });
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      endParagraph();
      const code = [];
      for (i += 1; i < lines.length && !lines[i].trim().startsWith(fence[1]); i++) code.push(lines[i]);
      blocks.push({ type: "code", text: code.join("\n") });
      continue;
    }
    const heading = HEADING.exec(line);
    const item = BULLET.exec(line) || NUMBERED.exec(line);
    if (!line.trim() || heading || RULE.test(line) || item) endParagraph();
    if (heading) blocks.push({ type: "heading", level: heading[1].length, spans: inlineSpans(heading[2].trim()) });
    else if (RULE.test(line)) blocks.push({ type: "rule" });
    else if (item) {
      const ordered = !BULLET.test(line);
      const last = blocks[blocks.length - 1];
      if (last && last.type === "list" && last.ordered === ordered && lines[i - 1]?.trim()) last.items.push(inlineSpans(item[1]));
      else blocks.push({ type: "list", ordered, items: [inlineSpans(item[1])] });
    } else if (line.trim()) paragraph.push(line.trim());
  }
  endParagraph();
  return blocks;
}

/**
 * @param {string} text one line or paragraph
 * @returns {Span[]}
 */
export function inlineSpans(text) {
  /** @type {Span[]} */
  const spans = [];
  let at = 0;
  for (const match of text.matchAll(INLINE)) {
    const index = match.index ?? 0;
    if (index > at) spans.push({ type: "text", text: text.slice(at, index) });
    const [whole, code, label, href, strong, strongToo, em, emToo] = match;
    if (code !== undefined) spans.push({ type: "code", text: code });
    else if (label !== undefined) spans.push(SAFE_HREF.test(href) ? { type: "link", text: label, href } : { type: "text", text: label });
    else if (strong !== undefined || strongToo !== undefined) spans.push({ type: "strong", text: strong ?? strongToo });
    else if (em !== undefined || emToo !== undefined) spans.push({ type: "em", text: em ?? emToo });
    else spans.push({ type: "text", text: whole });
    at = index + whole.length;
  }
  if (at < text.length) spans.push({ type: "text", text: text.slice(at) });
  return spans;
}

/**
 * The markdown as DOM nodes.
 * @param {string} text
 * @returns {DocumentFragment}
 */
export function renderMarkdown(text) {
  const fragment = document.createDocumentFragment();
  for (const block of markdownBlocks(text)) fragment.appendChild(blockNode(block));
  return fragment;
}

/**
 * @param {Block} block
 * @returns {HTMLElement}
 */
function blockNode(block) {
  switch (block.type) {
    case "heading":
      return withSpans(document.createElement(`h${block.level}`), block.spans);
    case "paragraph":
      return withSpans(document.createElement("p"), block.spans);
    case "list": {
      const list = document.createElement(block.ordered ? "ol" : "ul");
      for (const spans of block.items) list.appendChild(withSpans(document.createElement("li"), spans));
      return list;
    }
    case "code": {
      const pre = document.createElement("pre");
      pre.appendChild(document.createElement("code")).textContent = block.text;
      return pre;
    }
    default:
      return document.createElement("hr");
  }
}

/**
 * @param {HTMLElement} node
 * @param {Span[]} spans
 * @returns {HTMLElement}
 */
function withSpans(node, spans) {
  for (const span of spans) {
    if (span.type === "text") {
      node.appendChild(document.createTextNode(span.text));
      continue;
    }
    const tag = span.type === "link" ? "a" : span.type;
    const inline = document.createElement(tag);
    inline.textContent = span.text;
    if (span.type === "link" && inline instanceof HTMLAnchorElement) {
      inline.href = span.href;
      inline.target = "_blank";
      inline.rel = "noopener noreferrer";
    }
    node.appendChild(inline);
  }
  return node;
}
