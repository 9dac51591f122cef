// The server's console API (/api/v1/...), and the errors the page shows.
// The server's messages are shown as it wrote them, as text; what the page
// itself has to say goes through the message files.

import { say } from "./i18n.js";

/** An answer other than 2xx, with the server's `error.kind` and `error.message` if it sent them. */
export class ApiError extends Error {
  constructor(status, data) {
    super(data?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.kind = data?.error?.kind;
    this.serverMessage = data?.error?.message ?? null;
    this.data = data;
  }
}

/** A mistake the page finds itself (a field left empty): a message key and its parameters. */
export class PageError extends Error {
  constructor(key, params = {}) {
    super(key);
    this.key = key;
    this.params = params;
  }
}

let onLocked = () => {};
/** `f` runs when the server says the session was locked for lack of input. */
export function whenLocked(f) {
  onLocked = f;
}

export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data);
    if (err.kind === "locked") onLocked();
    throw err;
  }
  return data;
}

export const enc = encodeURIComponent;

/** The key and parameters that tell a person what `e` was. */
export function problem(e) {
  if (e instanceof PageError) return [e.key, e.params];
  if (e instanceof ApiError && e.serverMessage) return ["error.server", { message: e.serverMessage }];
  if (e instanceof ApiError) return ["error.http", { status: e.status }];
  return ["error.network", {}];
}

/** Show `e` in `element`; with `wrapKey`, as that message's {message} (the server's words, else the page's). */
export function sayError(element, e, wrapKey = null, params = {}) {
  const [key, p] = problem(e);
  if (!wrapKey) return say(element, key, p);
  const message = e instanceof ApiError && e.serverMessage ? e.serverMessage : { key, params: p };
  say(element, wrapKey, { ...params, message });
}
