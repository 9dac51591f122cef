// The console's languages: Simplified Chinese for the staff of Chinese exam
// centres, and English. Each is one file, /console/i18n/<code>.json:
// {"meta": {lang, name, dir}, "messages": {key: text}}; both files have every
// key (web/tests/test_console_messages.py fails otherwise).
//
// A text is shown with `say(element, key, params)`, which remembers the key
// and its parameters on the element, so that a change of language re-says it.
// Parameters are data (names, numbers, the server's own messages) and go in
// as text; `sayNodes` puts elements (a name in <bdi>) where the placeholders are.

export const CODES = ["zh-CN", "en"];
const STORED = "examgate-console-language";
const PLACEHOLDER = /\{(\w+)\}/g;

class Language {
  constructor(doc) {
    this.code = doc.meta.lang;
    this.name = doc.meta.name;
    this.dir = doc.meta.dir;
    this.messages = doc.messages;
  }

  /** The raw text of `key`; a missing key comes back as the key itself, so that a test sees it. */
  raw(key) {
    const text = this.messages[key];
    if (typeof text === "string") return text;
    console.error(`console: no message ${key} in ${this.code}`);
    return key;
  }
}

const languages = new Map();
let language = null;
const listeners = [];

/** Load both languages (a few kB each) so that switching needs no round trip. */
export async function loadLanguages() {
  const docs = await Promise.all(CODES.map(async (code) => {
    const response = await fetch(`/console/i18n/${code}.json`, { cache: "no-cache" });
    if (!response.ok) throw new Error(`/console/i18n/${code}.json: ${response.status}`);
    return response.json();
  }));
  for (const doc of docs) languages.set(doc.meta.lang, new Language(doc));
}

export const allLanguages = () => [...languages.values()];
export const current = () => language;

/** The remembered choice, else the browser's first language we have (zh-* → zh-CN), else English. */
export function preferredCode() {
  let stored = null;
  try {
    stored = localStorage.getItem(STORED);
  } catch {
    stored = null;
  }
  if (stored && languages.has(stored)) return stored;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (primary === "zh") return "zh-CN";
    if (primary === "en") return "en";
  }
  return "en";
}

/**
 * The text for `key` with `{name}` placeholders filled from `params`. A
 * parameter `{key, params}` is itself a message, said in the same language.
 */
export function t(key, params = {}) {
  return language.raw(key).replace(PLACEHOLDER, (whole, name) => (name in params ? param(params[name]) : whole));
}

const param = (v) => (v !== null && typeof v === "object" && "key" in v ? t(v.key, v.params ?? {}) : String(v));

/** Like `t`, as a list of strings and nodes: a parameter that is a Node goes in as that node. */
export function tNodes(key, params = {}) {
  const text = language.raw(key);
  const parts = [];
  let at = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    if (m.index > at) parts.push(text.slice(at, m.index));
    const value = m[1] in params ? params[m[1]] : m[0];
    parts.push(value instanceof Node ? value : param(value));
    at = m.index + m[0].length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}

/** The text for `key`, or `fallback` (the server's own word) where no message names it. */
export function tOr(key, fallback) {
  return typeof language.messages[key] === "string" ? t(key) : String(fallback ?? "");
}

/** Show `key` in `element` now and after every change of language. */
export function say(element, key, params = {}) {
  element.dataset.i18n = key;
  element.dataset.i18nParams = JSON.stringify(params);
  element.textContent = t(key, params);
}

/** Empty `element` and forget its message. */
export function unsay(element) {
  delete element.dataset.i18n;
  delete element.dataset.i18nParams;
  element.textContent = "";
}

/** Fill every [data-i18n] (text), [data-i18n-placeholder], [data-i18n-aria-label], [data-i18n-title], [data-i18n-alt]. */
export function translate(root = document) {
  for (const e of root.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n, JSON.parse(e.dataset.i18nParams ?? "{}"));
  for (const [attr, name] of [["placeholder", "i18nPlaceholder"], ["aria-label", "i18nAriaLabel"], ["title", "i18nTitle"], ["alt", "i18nAlt"]]) {
    for (const e of root.querySelectorAll(`[data-i18n-${attr}]`)) e.setAttribute(attr, t(e.dataset[name]));
  }
}

/** Call `f` after every change of language, to redraw what was drawn from data. */
export function onLanguageChange(f) {
  listeners.push(f);
}

/** Speak `code` from now on: <html lang dir>, every static text, every listener. */
export function use(code) {
  language = languages.get(code) ?? languages.get("en");
  const root = document.documentElement;
  root.lang = language.code;
  root.dir = language.dir;
  translate(document);
  for (const f of listeners) f(language);
}

/** The person chose `code` on the switch: use it, and remember it on this PC. */
export function choose(code) {
  use(code);
  try {
    localStorage.setItem(STORED, language.code);
  } catch {
    // A browser without storage still switches; it just forgets at the next load.
  }
}
