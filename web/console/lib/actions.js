// What the examiner does from the console: approve and rebind PCs, commands
// to seats, releases, decisions, clearing alerts. Each runs through `act`,
// which shows a failure in #error and then redraws from the server.

import { $ } from "./dom.js";
import { t, unsay } from "./i18n.js";
import { PageError, api, enc, sayError } from "./api.js";

let redraw = async () => {};
/** `f` redraws everything after each action. */
export function afterEachAction(f) {
  redraw = f;
}

export async function act(f) {
  unsay($("#error"));
  try {
    await f();
  } catch (e) {
    sayError($("#error"), e);
  }
  await redraw();
}

export const approveAs = (key, seat) => act(() => {
  if (!seat) throw new PageError("pending.seat_missing");
  return api("POST", `/api/v1/seats/${enc(seat)}/approve`, { key_id: key });
});
export const rebind = (seat, key) => act(() => api("POST", `/api/v1/seats/${enc(seat)}/rebind`, { key_id: key }));
export const command = (seat, body) => act(() => api("POST", `/api/v1/seats/${enc(seat)}/commands`, body));
export const release = (booking) => act(() => api("POST", `/api/v1/roster/${enc(booking)}/release`, {}));
export const decide = (booking, decision, reason) => act(() => api("POST", `/api/v1/roster/${enc(booking)}/${decision}`, { reason }));
export const clearAlert = (id) => act(() => api("POST", `/api/v1/alerts/${enc(id)}/clear`, {}));

export function warn(seat) {
  const text = prompt(t("seat.warn_prompt", { seat }));
  if (text) command(seat, { type: "warning", text });
}
