// @ts-check
// The note a view shows over its data when that data is not live ("engine stopped",
// "closed"), so a view is never silently stale.

export class StatusNote {
  /** @param {HTMLElement} root the view's root; the note goes first in it */
  constructor(root) {
    this.root = root;
    this.node = document.createElement("div");
    this.node.className = "iii-status";
    this.node.hidden = true;
    root.prepend(this.node);
  }

  /** @param {string} text "" when live */
  show(text) {
    if (this.node.textContent === text && this.node.hidden === !text) return;
    this.node.textContent = text;
    this.node.hidden = !text;
    this.root.classList.toggle("iii-not-live", Boolean(text));
    this.root.dataset.status = text;
  }
}
