// Open alerts (the server's message shown as it wrote it, as text) and the
// PCs waiting for an examiner to approve them as a seat.

import { $, el, keepFields } from "./dom.js";
import { current, t, tNodes } from "./i18n.js";
import { approveAs, clearAlert } from "./actions.js";
import { alertKind, pcState } from "./words.js";

export function renderAlerts(map) {
  const list = $("#alerts");
  keepFields(list, () => list.replaceChildren(...map.alerts.map(alertItem)));
  $("#no-alerts").hidden = map.alerts.length > 0;
}

function alertItem(a) {
  const where = a.seat ? t("alert.at_seat", { seat: a.seat }) : t("alert.at_pc", { key: (a.key_id ?? "?").slice(0, 12) });
  return el("li", { "data-alert": a.id, "data-kind": a.kind, "data-seat": a.seat },
    tNodes("alert.line", {
      time: new Date(a.at).toLocaleTimeString(current().code),
      where,
      kind: el("strong", {}, alertKind(a.kind)),
      message: el("bdi", {}, a.message),
    }), " ",
    el("button", { type: "button", "data-focus": `clear-${a.id}`, onclick: () => clearAlert(a.id) }, t("alert.clear")));
}

export function renderPending(map) {
  const body = $("#pending tbody");
  keepFields(body, () => body.replaceChildren(...map.unbound.map(pendingRow)));
  $("#no-pending").hidden = map.unbound.length > 0;
}

function pendingRow(m) {
  const seatInput = el("input", { size: "4", placeholder: t("pending.seat_placeholder"), "aria-label": t("pending.seat_for", { host: m.host_name }),
    class: "seat-input", "data-keep": `seat-${m.key_id}` });
  const approve = el("button", { type: "button", class: "primary approve", "data-focus": `approve-${m.key_id}`,
    onclick: () => approveAs(m.key_id, seatInput.value.trim()) }, t("pending.approve"));
  return el("tr", { "data-key": m.key_id, "data-state": m.state },
    el("td", {}, m.host_name),
    el("td", {}, m.macs.join(" ")),
    el("td", {}, m.source_ip),
    el("td", {}, el("code", {}, m.key_id.slice(0, 12))),
    el("td", {}, pcState(m.state)),
    el("td", {}, seatInput, " ", approve));
}
