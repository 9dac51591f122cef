// The console's words for the server's enumerations (states, kinds, device
// classes), with the server's own word where a newer server sends one this
// page does not know yet.

import { t, tOr } from "./i18n.js";

export const candidateState = (state) => tOr(`state.${state}`, state);
export const loginMode = (mode) => (mode ? tOr(`mode.${mode}`, mode) : "");
export const alertKind = (kind) => tOr(`alert_kind.${kind}`, kind);
export const pcState = (state) => tOr(`pc_state.${state}`, state);
export const rosterField = (field) => (field ? tOr(`roster_field.${field}`, field) : "");
export const device = (d) => t("device.line", { device: tOr(`device.${d.class}`, d.class), state: tOr(`device_state.${d.state}`, d.state) });

/** "12 s ago", "3 min ago". */
export function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? t("time.seconds_ago", { count: s }) : t("time.minutes_ago", { count: Math.round(s / 60) });
}
