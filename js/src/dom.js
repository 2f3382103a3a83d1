// @ts-check
// The few DOM builders the table and its menus share.

/**
 * @param {string} tag
 * @param {string} className
 * @returns {HTMLElement}
 */
export function element(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

/**
 * A button known by its `data-action` (to styles and tests).
 * @param {string} text
 * @param {string} action
 * @param {() => void} onClick
 * @param {string} [className]
 * @returns {HTMLButtonElement}
 */
export function button(text, action, onClick, className = "iii-tool") {
  const node = /** @type {HTMLButtonElement} */ (element("button", className));
  node.type = "button";
  node.textContent = text;
  node.dataset.action = action;
  node.addEventListener("click", onClick);
  return node;
}
