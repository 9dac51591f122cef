// The seat map: each seat's PC, its candidate and their state, its devices
// and alerts, and the examiner's buttons (release, snapshot, warn, rebind to
// a spare PC).

import { $, el, keepFields } from "./dom.js";
import { current, t, tNodes } from "./i18n.js";
import { command, decide, rebind, release, warn } from "./actions.js";
import { evidenceFor, keepEvidence } from "./evidence.js";
import { ago, candidateState, device, loginMode } from "./words.js";

function candidateLine(c) {
  const details = [loginMode(c.mode), c.failures ? t("candidate.failures", { count: c.failures }) : ""].filter(Boolean);
  return el("div", { class: "candidate", "data-candidate-state": c.state },
    el("strong", {}, el("bdi", {}, c.name)), " · ", c.booking_number,
    el("div", { class: `state ${c.state}` }, candidateState(c.state)),
    el("div", { class: "devices" }, details.join(" · ")));
}

function seatStatus(seat, now) {
  if (seat.online) return t("seat.online", { ago: ago(now - seat.last_seen) });
  return seat.last_seen ? t("seat.offline_since", { ago: ago(now - seat.last_seen) }) : t("seat.never_seen");
}

function seatActions(seat, spares) {
  const c = seat.candidate;
  const actions = el("div", { class: "actions" });
  if (c) {
    actions.append(el("button", { type: "button", class: "release", "data-focus": `release-${seat.seat}`,
      onclick: () => release(c.booking_number) }, t("seat.release")));
  }
  actions.append(el("button", { type: "button", "data-focus": `snapshot-${seat.seat}`,
    onclick: () => command(seat.seat, { type: "snapshot_now" }) }, t("seat.snapshot")));
  actions.append(el("button", { type: "button", "data-focus": `warn-${seat.seat}`, onclick: () => warn(seat.seat) }, t("seat.warn")));
  if (spares.length) {
    const pick = el("select", { "aria-label": t("seat.spare_for", { seat: seat.seat }), class: "rebind-pick", "data-keep": `rebind-${seat.seat}` });
    for (const m of spares) pick.append(el("option", { value: m.key_id }, `${m.host_name} (${m.source_ip})`));
    actions.append(pick);
    actions.append(el("button", { type: "button", class: "rebind", "data-focus": `rebind-to-${seat.seat}`,
      onclick: () => rebind(seat.seat, pick.value) }, t("seat.rebind")));
  }
  return actions;
}

function seatCard(seat, map, spares) {
  const state = seat.open_alerts > 0 ? "alert" : seat.online ? "online" : "offline";
  const c = seat.candidate;
  const card = el("article", {
    class: `seat ${state}${seat.role === "console" ? " console-pc" : ""}`, "data-seat": seat.seat,
    "data-state": state, "data-key": seat.key_id, "data-role": seat.role ?? "seat",
    "data-candidate-state": c?.state,
  });
  card.append(el("div", { class: "no" }, seat.seat,
    seat.role === "console" ? el("span", { class: "role" }, " ", t("seat.console_pc")) : null));
  card.append(el("div", { class: "status" }, seatStatus(seat, map.now)));
  if (c) card.append(candidateLine(c));
  else if (seat.role !== "console") card.append(el("div", { class: "muted" }, t("seat.free")));
  card.append(el("div", { class: "devices" }, seat.host_name));
  card.append(el("div", { class: "devices" }, `${seat.ip} · ${seat.macs.join(" ")}`));
  if (seat.devices.length) card.append(el("div", { class: "devices" }, seat.devices.map(device).join(t("list.separator"))));
  if (seat.open_alerts > 0) card.append(el("div", { class: "error" }, t("seat.alerts", { count: seat.open_alerts })));
  card.append(seatActions(seat, spares));
  return card;
}

export function renderSeats(map) {
  const grid = $("#seats");
  const spares = map.unbound.filter((m) => m.state === "pending" || m.state === "replaced");
  keepFields(grid, () => grid.replaceChildren(...map.seats.map((seat) => seatCard(seat, map, spares))));
  $("#no-seats").hidden = map.seats.length > 0;
}

// ---------------------------------------------------------------- the examiner's decisions

let needsShown = null;

export function renderNeeds(map) {
  const list = $("#needs-examiner");
  const waiting = map.seats.filter((s) => s.candidate?.state === "waiting_for_examiner");
  keepEvidence("needs", waiting.map((s) => s.candidate.booking_number));
  // Redrawn only when it changes: someone may be typing a reason, or reading a note.
  const shown = JSON.stringify([current().code, waiting.map((s) => [s.seat, s.candidate])]);
  if (shown === needsShown) return;
  needsShown = shown;
  keepFields(list, () => list.replaceChildren(...waiting.map(needItem)));
  $("#no-needs").hidden = waiting.length > 0;
}

function needItem(seat) {
  const c = seat.candidate;
  const reason = el("input", { class: "reason", "data-keep": `reason-${c.booking_number}`, minlength: "4", size: "32",
    "aria-label": t("needs.reason_label", { name: c.name, booking: c.booking_number }), placeholder: t("needs.reason_placeholder") });
  const note = el("span", { class: "error", role: "alert" });
  const onDecide = (decision) => {
    const text = reason.value.trim();
    if (text.length < 4) {
      note.textContent = t("needs.reason_missing");
      reason.focus();
      return;
    }
    decide(c.booking_number, decision, text);
  };
  // The evidence comes before the reason: from the reason, Tab reaches Admit.
  return el("li", { "data-booking": c.booking_number, "data-seat": seat.seat },
    el("div", {}, el("strong", {}, tNodes("needs.who", { seat: seat.seat, name: el("bdi", {}, c.name) })), " ",
      t("needs.details", { booking: c.booking_number, count: c.failures })),
    evidenceFor("needs", c.booking_number),
    el("div", { class: "decision" },
      reason, " ",
      el("button", { type: "button", class: "admit primary", "data-focus": `admit-${c.booking_number}`, onclick: () => onDecide("admit") }, t("needs.admit")), " ",
      el("button", { type: "button", class: "refuse danger", "data-focus": `refuse-${c.booking_number}`, onclick: () => onDecide("refuse") }, t("needs.refuse")), " ",
      note));
}
