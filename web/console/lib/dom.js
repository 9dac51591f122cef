// DOM helpers. Everything a PC, a roster or the server reports goes in as
// text (textContent, text nodes), never as HTML.

export const $ = (sel) => document.querySelector(sel);

/** `el("td", {class: "x", onclick: f}, child, "text", [more])`. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/**
 * Redraw `root` with `render` keeping the values and focus of its [data-keep]
 * fields, so that a live update or a change of language does not wipe what
 * someone is typing.
 */
export function keepFields(root, render) {
  const values = new Map([...root.querySelectorAll("[data-keep]")].map((f) => [f.dataset.keep, f.value]));
  const focused = document.activeElement?.closest?.("[data-keep], [data-focus]");
  const focusKey = focused && root.contains(focused) ? (focused.dataset.keep ?? focused.dataset.focus) : null;
  const selection = focused?.selectionStart ?? null;
  render();
  for (const f of root.querySelectorAll("[data-keep]")) {
    const value = values.get(f.dataset.keep);
    // A choice that is no longer offered (a spare PC just taken) leaves the first one chosen.
    const offered = f.tagName !== "SELECT" || [...f.options].some((o) => o.value === value);
    if (value !== undefined && offered) f.value = value;
  }
  if (focusKey) {
    const again = [...root.querySelectorAll("[data-keep], [data-focus]")]
      .find((f) => (f.dataset.keep ?? f.dataset.focus) === focusKey);
    again?.focus();
    if (selection !== null && again?.setSelectionRange) again.setSelectionRange(selection, selection);
  }
}
