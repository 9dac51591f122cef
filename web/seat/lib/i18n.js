// The seat page's twelve exam languages. Each language is one file,
// /i18n/<code>.json: {"meta": {lang, name, dir, writing_mode}, "messages": {key: text}};
// /i18n/languages.json lists the codes in the order the page offers them.
// Every file has every key (web/tests/test_messages.py fails otherwise).

/** One language: its layout facts and its messages. */
export class Language {
  constructor(doc) {
    this.code = doc.meta.lang;
    this.name = doc.meta.name;
    /** "ltr" or "rtl". */
    this.dir = doc.meta.dir;
    /** "horizontal-tb", or "vertical-lr" for traditional Mongolian. */
    this.writingMode = doc.meta.writing_mode;
    this.messages = doc.messages;
  }

  /**
   * The text for `key`, with `{name}` placeholders filled from `params`.
   * A missing key comes back as the key itself, so that a test sees it.
   */
  t(key, params = {}) {
    const text = this.messages[key];
    if (typeof text !== "string") {
      console.error(`seat page: no message ${key} in ${this.code}`);
      return key;
    }
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  }
}

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-cache" });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

/** Every language, in the order of languages.json, keyed by code. */
export async function loadLanguages() {
  const codes = await getJSON("/i18n/languages.json");
  const docs = await Promise.all(codes.map((code) => getJSON(`/i18n/${code}.json`)));
  return new Map(docs.map((doc) => [doc.meta.lang, new Language(doc)]));
}

/**
 * Lay the whole document out for `language`: `lang`, `dir` and the writing
 * mode go on <html>, so that everything, the modal dialog in the top layer
 * included, inherits them. CSS does the rest with logical properties.
 */
export function applyLayout(language) {
  const root = document.documentElement;
  root.lang = language.code;
  root.dir = language.dir;
  root.dataset.writingMode = language.writingMode;
}

/** Fill every [data-i18n] (text), [data-i18n-alt] and [data-i18n-aria-label] under `root`. */
export function translate(root, language) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = language.t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-alt]")) el.alt = language.t(el.dataset.i18nAlt);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) {
    el.setAttribute("aria-label", language.t(el.dataset.i18nAriaLabel));
  }
}

/** Mark an element as written in `language`, for fonts, bidi and screen readers. */
export function markLanguage(el, language) {
  el.lang = language.code;
  el.dir = language.dir;
}
