// The day's roster: the candidates and their state, each one's evidence
// (roster photo, fingerprint attempts and their snapshots) opened beneath
// their row, and the import of a roster file with its photo and template files
// (per-row errors shown with their line; the server's reason as it wrote it).

import { $, el, keepFields } from "./dom.js";
import { say, t, unsay } from "./i18n.js";
import { api, enc, sayError } from "./api.js";
import { release } from "./actions.js";
import { evidenceFor, keepEvidence } from "./evidence.js";
import { candidateState, rosterField } from "./words.js";

/** The last roster and the last import's row errors, redrawn on a change of language. */
let lastRoster = null;
let lastErrors = [];
/** The bookings whose evidence is open beneath their row. */
const evidenceOpen = new Set();
const COLUMNS = 11;

/** Enough of an ID number to compare with the card, not enough to copy down from across the room. */
const maskId = (id) => (id && id.length > 8 ? `${id.slice(0, 6)}${"•".repeat(id.length - 10)}${id.slice(-4)}` : id ?? "");

function toggleEvidence(booking) {
  if (!evidenceOpen.delete(booking)) evidenceOpen.add(booking);
  if (lastRoster) renderCandidates(lastRoster);
}

function candidateRows(c) {
  const open = evidenceOpen.has(c.booking_number);
  const evidenceId = `evidence-${c.booking_number}`;
  const actions = [
    el("button", { type: "button", class: "evidence-toggle", "data-focus": `evidence-${c.booking_number}`,
      "aria-expanded": String(open), "aria-controls": open ? evidenceId : null,
      "aria-label": t("evidence.label", { name: c.name, booking: c.booking_number }),
      onclick: () => toggleEvidence(c.booking_number) }, t("roster.evidence")),
  ];
  if (c.seat) {
    actions.push(" ", el("button", { type: "button", class: "release", "data-focus": `release-${c.booking_number}`,
      onclick: () => release(c.booking_number) }, t("roster.release")));
  }
  const row = el("tr", { "data-booking": c.booking_number, "data-state": c.state },
    el("td", {}, c.booking_number), el("td", {}, el("bdi", {}, c.name)), el("td", {}, maskId(c.id_number)), el("td", {}, c.session),
    el("td", {}, c.language), el("td", { class: `state ${c.state}` }, candidateState(c.state)), el("td", {}, c.seat ?? ""),
    el("td", {}, c.failures), el("td", {}, t(c.has_photo ? "roster.yes" : "roster.no")), el("td", {}, c.templates),
    el("td", {}, actions));
  if (!open) return [row];
  return [row, el("tr", { class: "evidence-row", id: evidenceId, "data-evidence-for": c.booking_number },
    el("td", { colspan: String(COLUMNS) }, evidenceFor("roster", c.booking_number)))];
}

function renderCandidates(roster) {
  lastRoster = roster;
  $("#roster-date").value = roster.date ?? $("#roster-date").value;
  const booked = new Set(roster.candidates.map((c) => c.booking_number));
  for (const b of evidenceOpen) if (!booked.has(b)) evidenceOpen.delete(b);
  keepEvidence("roster", [...evidenceOpen]);
  const body = $("#candidates tbody");
  keepFields(body, () => body.replaceChildren(...roster.candidates.flatMap(candidateRows)));
  $("#no-candidates").hidden = roster.candidates.length > 0;
}

function renderErrors(rows) {
  lastErrors = rows;
  const errors = $("#roster-errors");
  errors.querySelector("tbody").replaceChildren(...rows.map((r) => el("tr", { "data-line": r.line },
    el("td", {}, r.line), el("td", {}, r.booking_number ?? ""), el("td", { "data-field": r.field ?? "" }, rosterField(r.field)),
    el("td", {}, el("bdi", {}, r.reason)))));
  errors.hidden = rows.length === 0;
}

/** Redraw the roster and the last import's errors in the current language. */
export function rerenderRoster() {
  if (lastRoster) renderCandidates(lastRoster);
  renderErrors(lastErrors);
  showChosen();
}

export async function loadRoster() {
  const date = $("#roster-date").value;
  try {
    renderCandidates(await api("GET", `/api/v1/roster${date ? `?date=${enc(date)}` : ""}`));
  } catch (e) {
    if (e.status === 401 || e.status === 403) return;
    sayError($("#error"), e, "roster.error");
  }
}

function base64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/**
 * The name the roster gives a file: the path it references whose last part is
 * the file's name (`photos/1.jpg` for 1.jpg), else the file's own name.
 */
function rosterPath(file, rosterText) {
  if (file.webkitRelativePath) return file.webkitRelativePath.split("/").slice(1).join("/");
  const tokens = rosterText.split(/[\s,;"'[\]{}|]+/);
  return tokens.find((tok) => tok === file.name || tok.endsWith(`/${file.name}`)) ?? file.name;
}

/** The file input is drawn by the page (the browser's own button speaks the browser's language). */
function showChosen() {
  const count = $("#roster-files").files.length;
  if (count) say($("#roster-chosen"), "roster.files_chosen", { count });
  else say($("#roster-chosen"), "roster.no_files");
}

async function importRoster(ev) {
  ev.preventDefault();
  const result = $("#roster-result");
  unsay(result);
  result.className = "";
  renderErrors([]);
  const files = [...$("#roster-files").files];
  const rosters = files.filter((f) => /\.(csv|json)$/i.test(f.name));
  if (rosters.length !== 1) {
    say(result, "roster.choose_one");
    result.className = "error";
    return;
  }
  const [roster] = rosters;
  const text = await roster.text();
  const others = {};
  for (const f of files) if (f !== roster) others[rosterPath(f, text)] = base64(await f.arrayBuffer());
  const body = { format: roster.name.toLowerCase().endsWith(".json") ? "json" : "csv", name: roster.name, roster: text, files: others };
  try {
    const r = await api("POST", "/api/v1/roster/import", body);
    if (r.replaced) say(result, "roster.imported_replacing", { rows: r.rows, file: roster.name, replaced: r.replaced });
    else say(result, "roster.imported", { rows: r.rows, file: roster.name });
    result.className = "ok";
    ev.target.reset();
    showChosen();
  } catch (e) {
    sayError(result, e, "roster.not_imported", { file: roster.name });
    result.className = "error";
    renderErrors(e.data?.rows ?? []);
  }
  await loadRoster();
}

export function installRoster() {
  $("#roster-date").addEventListener("change", loadRoster);
  $("#roster-files").addEventListener("change", showChosen);
  $("#roster-form").addEventListener("submit", importRoster);
  showChosen();
}
