// The seat agent's local API, called from the page the agent serves itself
// (same origin, so no token). Errors keep the agent's machine-readable kind.

/** A failed call: `kind` is the agent's error kind (`no_finger`, `poor_quality`,
 *  `not_found`, …) or `unreachable` when the agent did not answer at all. */
export class AgentError extends Error {
  constructor(kind, message, status = 0) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

/** GET `path`, or POST `body` as JSON when given. Resolves to the JSON answer (null for 204). */
export function call(path, body) {
  return body === undefined ? send("GET", path) : send("POST", path, body);
}

/** `method` `path` with `body` as JSON (none for GET). Resolves to the JSON answer (null for 204). */
export async function send(method, path, body) {
  const options = body === undefined
    ? { method, cache: "no-store" }
    : { method, cache: "no-store", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  let response;
  try {
    response = await fetch(path, options);
  } catch (e) {
    throw new AgentError("unreachable", e.message);
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    throw new AgentError(data?.error?.kind ?? "unknown", data?.error?.message ?? response.statusText, response.status);
  }
  return data;
}

/**
 * Listen to the agent's event WebSocket at `path`, reconnecting with backoff.
 * `onEvent` gets each event object; `onLink(true|false)` the connection state.
 */
export function listen(path, { onEvent, onLink }) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let attempt = 0;
  const open = () => {
    const socket = new WebSocket(`${scheme}://${location.host}${path}`);
    socket.addEventListener("open", () => {
      attempt = 0;
      onLink(true);
    });
    socket.addEventListener("message", (m) => {
      let event;
      try {
        event = JSON.parse(m.data);
      } catch {
        return; // not an event this page knows
      }
      onEvent(event);
    });
    socket.addEventListener("close", () => {
      onLink(false);
      attempt += 1;
      setTimeout(open, Math.min(5000, 250 * 2 ** attempt));
    });
  };
  open();
}
