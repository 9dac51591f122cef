// The examgate console: dual login (examiner + invigilator) with an idle
// lock, the live seat map with each seat's candidate, the ID card read at
// the console (login mode a), the examiner's decisions, alerts, the day's
// roster and its import, and waiting PCs (approve, rebind). Plain ES module,
// no build step. Everything a PC or a roster reports goes in with
// textContent, never as HTML.

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
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

class ApiError extends Error {
  constructor(status, data, fallback) {
    super(data?.error?.message ?? fallback);
    this.status = status;
    this.kind = data?.error?.kind;
    this.data = data;
  }
}

async function api(method, path, body) {
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
    const err = new ApiError(resp.status, data, `${resp.status} ${resp.statusText}`);
    if (err.kind === "locked") lock("The console was locked after a while without input.");
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------- session, dual login, idle lock

/** The last session the server showed (null: nobody logged in). */
let current = null;
/** When the last key press, click or wheel turn happened here. */
let lastInput = Date.now();
let lastActivitySent = 0;

function showSession(s) {
  current = s;
  $("#who").textContent = `examiner: ${s?.examiner ?? "—"} · invigilator: ${s?.invigilator ?? "—"}`;
  for (const role of ["examiner", "invigilator"]) {
    const item = $(`#roles li[data-role='${role}']`);
    item.dataset.in = String(!!s?.[role]);
    item.querySelector(".name").textContent = s?.[role] ? `${s[role]} (logged in)` : "not logged in";
  }
  $("#logout").hidden = !s;
  $("#login").hidden = !!s?.open;
  $("#console").hidden = !s?.open;
  if (!s?.open) {
    socket?.close();
    $("#login-form input[name=username]").focus();
  }
}

async function start() {
  let session = null;
  try {
    session = await api("GET", "/api/v1/session");
  } catch {
    session = null;
  }
  showSession(session);
  if (session?.open) {
    lastInput = Date.now();
    await Promise.all([refresh(), loadRoster()]);
    listen();
  }
}

/** Close the console: both log in again. `notice` says why. */
async function lock(notice) {
  if (!current) return;
  current = null;
  socket?.close();
  await fetch("/api/v1/session/logout", {
    method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" }, body: "{}",
  }).catch(() => {});
  showSession(null);
  $("#login-notice").textContent = notice;
}

/** The server's idle time is the rule; activity is reported often enough for it, at most every 30 s. */
const activityEvery = () => Math.min(30_000, Math.max(1_000, (current?.idle_ms ?? 30_000) / 3));

function onInput() {
  lastInput = Date.now();
  if (!current?.open || lastInput - lastActivitySent < activityEvery()) return;
  lastActivitySent = lastInput;
  api("POST", "/api/v1/session/activity", {}).catch(() => {});
}

for (const type of ["keydown", "pointerdown", "wheel"]) window.addEventListener(type, onInput, { capture: true, passive: true });

setInterval(() => {
  const idle = current?.idle_ms;
  if (current?.open && idle && Date.now() - lastInput >= idle) {
    lock(`The console locked after ${Math.round(idle / 1000)} s without input. The examiner and the invigilator log in again.`);
  }
}, 1000);

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  $("#login-error").textContent = "";
  try {
    await api("POST", "/api/v1/session/login", { username: form.get("username"), password: form.get("password") });
    ev.target.reset();
    $("#login-notice").textContent = "";
  } catch (e) {
    $("#login-error").textContent = e.message;
  }
  await start();
});

$("#logout").addEventListener("click", async () => {
  await api("POST", "/api/v1/session/logout", {}).catch(() => {});
  socket?.close();
  $("#login-notice").textContent = "Logged out: the console is locked.";
  await start();
});

// ---------------------------------------------------------------- re-rendering without losing what is typed

/** Values and focus of [data-keep] fields, so that a live update does not wipe what someone is typing. */
function keepFields(root, render) {
  const values = new Map([...root.querySelectorAll("[data-keep]")].map((f) => [f.dataset.keep, f.value]));
  const focused = document.activeElement?.closest?.("[data-keep], [data-focus]");
  const focusKey = focused && root.contains(focused) ? (focused.dataset.keep ?? focused.dataset.focus) : null;
  const selection = focused?.selectionStart ?? null;
  render();
  for (const f of root.querySelectorAll("[data-keep]")) {
    if (values.has(f.dataset.keep)) f.value = values.get(f.dataset.keep);
  }
  if (focusKey) {
    const again = [...root.querySelectorAll("[data-keep], [data-focus]")]
      .find((f) => (f.dataset.keep ?? f.dataset.focus) === focusKey);
    again?.focus();
    if (selection !== null && again?.setSelectionRange) again.setSelectionRange(selection, selection);
  }
}

// ---------------------------------------------------------------- seat map

const STATES = {
  booked: "booked",
  assigned: "assigned (card read at the console)",
  verifying: "verifying at the seat",
  waiting_for_examiner: "needs the examiner",
  admitted: "admitted",
  refused: "refused",
};
const MODES = { card_at_console: "card at the console", seat: "at the seat" };

function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

function candidateLine(c) {
  return el("div", { class: "candidate", "data-candidate-state": c.state },
    el("strong", {}, el("bdi", {}, c.name)), ` · ${c.booking_number}`,
    el("div", { class: `state ${c.state}` }, STATES[c.state] ?? c.state),
    el("div", { class: "devices" }, `${MODES[c.mode] ?? c.mode ?? ""}${c.failures ? ` · ${c.failures} failed finger(s)` : ""}`));
}

function renderSeats(map) {
  const grid = $("#seats");
  keepFields(grid, () => {
    grid.replaceChildren();
    const spares = map.unbound.filter((m) => m.state === "pending" || m.state === "replaced");
    for (const seat of map.seats) {
      const state = seat.open_alerts > 0 ? "alert" : seat.online ? "online" : "offline";
      const c = seat.candidate;
      const card = el("article", {
        class: `seat ${state}${seat.role === "console" ? " console-pc" : ""}`, "data-seat": seat.seat,
        "data-state": state, "data-key": seat.key_id, "data-role": seat.role ?? "seat",
        "data-candidate-state": c?.state,
      });
      card.append(el("div", { class: "no" }, seat.seat, seat.role === "console" ? el("span", { class: "role" }, " console PC") : null));
      const status = seat.online ? `online · ${ago(map.now - seat.last_seen)}` : seat.last_seen ? `offline since ${ago(map.now - seat.last_seen)}` : "never seen";
      card.append(el("div", { class: "status" }, status));
      if (c) card.append(candidateLine(c));
      else if (seat.role !== "console") card.append(el("div", { class: "muted" }, "free"));
      card.append(el("div", { class: "devices" }, seat.host_name));
      card.append(el("div", { class: "devices" }, `${seat.ip} · ${seat.macs.join(" ")}`));
      if (seat.devices.length) {
        card.append(el("div", { class: "devices" }, seat.devices.map((d) => `${d.class}: ${d.state}`).join(", ")));
      }
      if (seat.open_alerts > 0) card.append(el("div", { class: "error" }, `${seat.open_alerts} alert(s)`));
      const actions = el("div", { class: "actions" });
      if (c) {
        actions.append(el("button", { type: "button", class: "release", "data-focus": `release-${seat.seat}`,
          onclick: () => release(c.booking_number) }, "Release"));
      }
      actions.append(el("button", { type: "button", "data-focus": `snapshot-${seat.seat}`, onclick: () => command(seat.seat, { type: "snapshot_now" }) }, "Snapshot"));
      actions.append(el("button", { type: "button", "data-focus": `warn-${seat.seat}`, onclick: () => warn(seat.seat) }, "Warn"));
      if (spares.length) {
        const pick = el("select", { "aria-label": `spare PC for seat ${seat.seat}`, class: "rebind-pick", "data-keep": `rebind-${seat.seat}` });
        for (const m of spares) pick.append(el("option", { value: m.key_id }, `${m.host_name} (${m.source_ip})`));
        actions.append(pick);
        actions.append(el("button", { type: "button", class: "rebind", "data-focus": `rebind-to-${seat.seat}`, onclick: () => rebind(seat.seat, pick.value) }, "Rebind"));
      }
      card.append(actions);
      grid.append(card);
    }
  });
  $("#no-seats").hidden = map.seats.length > 0;
}

// ---------------------------------------------------------------- the examiner's decisions

let needsShown = null;

function renderNeeds(map) {
  const list = $("#needs-examiner");
  const waiting = map.seats.filter((s) => s.candidate?.state === "waiting_for_examiner");
  // Redrawn only when it changes: someone may be typing a reason, or reading a note.
  const shown = JSON.stringify(waiting.map((s) => [s.seat, s.candidate]));
  if (shown === needsShown) return;
  needsShown = shown;
  keepFields(list, () => {
    list.replaceChildren();
    for (const seat of waiting) {
      const c = seat.candidate;
      const reason = el("input", { class: "reason", "data-keep": `reason-${c.booking_number}`, minlength: "4", size: "32",
        "aria-label": `reason for the decision on ${c.name} (${c.booking_number})`, placeholder: "reason (required)" });
      const note = el("span", { class: "error", role: "alert" });
      const decide = (decision) => {
        const text = reason.value.trim();
        if (text.length < 4) {
          note.textContent = "Type the reason for the decision (at least 4 characters).";
          reason.focus();
          return;
        }
        act(() => api("POST", `/api/v1/roster/${enc(c.booking_number)}/${decision}`, { reason: text }));
      };
      list.append(el("li", { "data-booking": c.booking_number, "data-seat": seat.seat },
        el("strong", {}, `Seat ${seat.seat}: `, el("bdi", {}, c.name)), ` (${c.booking_number}) · ${c.failures} failed finger(s) `,
        reason, " ",
        el("button", { type: "button", class: "admit primary", "data-focus": `admit-${c.booking_number}`, onclick: () => decide("admit") }, "Admit"), " ",
        el("button", { type: "button", class: "refuse danger", "data-focus": `refuse-${c.booking_number}`, onclick: () => decide("refuse") }, "Refuse"), " ",
        note));
    }
  });
  $("#no-needs").hidden = waiting.length > 0;
}

const ALERT_KINDS = {
  examiner_needed: "examiner needed",
  score_disagreement: "score disagreement",
  replaced_pc: "replaced PC",
  device: "device",
};

function renderAlerts(map) {
  const list = $("#alerts");
  keepFields(list, () => renderAlertItems(list, map.alerts));
  $("#no-alerts").hidden = map.alerts.length > 0;
}

function renderAlertItems(list, alerts) {
  list.replaceChildren();
  for (const a of alerts) {
    const when = new Date(a.at).toLocaleTimeString();
    list.append(el("li", { "data-alert": a.id, "data-kind": a.kind, "data-seat": a.seat },
      `${when} ${a.seat ? `seat ${a.seat}` : `PC ${(a.key_id ?? "?").slice(0, 12)}`} — `,
      el("strong", {}, ALERT_KINDS[a.kind] ?? a.kind), ": ", el("bdi", {}, a.message), " ",
      el("button", { type: "button", "data-focus": `clear-${a.id}`, onclick: () => act(() => api("POST", `/api/v1/alerts/${enc(a.id)}/clear`, {})) }, "Clear")));
  }
}

// ---------------------------------------------------------------- waiting PCs

function renderPending(map) {
  const body = $("#pending tbody");
  keepFields(body, () => {
    body.replaceChildren();
    for (const m of map.unbound) {
      const seatInput = el("input", { size: "4", placeholder: "seat", "aria-label": `seat for ${m.host_name}`, class: "seat-input", "data-keep": `seat-${m.key_id}` });
      const approve = el("button", { type: "button", class: "primary approve", "data-focus": `approve-${m.key_id}`, onclick: () => approveAs(m.key_id, seatInput.value.trim()) }, "Approve");
      body.append(
        el("tr", { "data-key": m.key_id, "data-state": m.state },
          el("td", {}, m.host_name),
          el("td", {}, m.macs.join(" ")),
          el("td", {}, m.source_ip),
          el("td", {}, el("code", {}, m.key_id.slice(0, 12))),
          el("td", {}, m.state),
          el("td", {}, seatInput, " ", approve)),
      );
    }
  });
  $("#no-pending").hidden = map.unbound.length > 0;
}

// ---------------------------------------------------------------- refresh and actions

let refreshing = null;
async function refresh() {
  // Coalesce bursts of events into one fetch at a time.
  if (refreshing) return refreshing.then(refresh);
  refreshing = (async () => {
    try {
      const map = await api("GET", "/api/v1/seats");
      renderSeats(map);
      renderNeeds(map);
      renderPending(map);
      renderAlerts(map);
      document.body.dataset.updated = String(map.now);
    } catch (e) {
      if (e.status === 401 || e.status === 403) return start();
      $("#error").textContent = e.message;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function act(f) {
  $("#error").textContent = "";
  try {
    await f();
  } catch (e) {
    $("#error").textContent = e.message;
  }
  await Promise.all([refresh(), loadRoster()]);
}

const approveAs = (key, seat) => act(() => {
  if (!seat) throw new Error("enter the seat number to approve this PC as");
  return api("POST", `/api/v1/seats/${enc(seat)}/approve`, { key_id: key });
});
const rebind = (seat, key) => act(() => api("POST", `/api/v1/seats/${enc(seat)}/rebind`, { key_id: key }));
const command = (seat, body) => act(() => api("POST", `/api/v1/seats/${enc(seat)}/commands`, body));
const release = (booking) => act(() => api("POST", `/api/v1/roster/${enc(booking)}/release`, {}));
function warn(seat) {
  const text = prompt(`Warning for seat ${seat}:`);
  if (text) command(seat, { type: "warning", text });
}

// ---------------------------------------------------------------- the card read at the console (mode a)

const PROBLEMS = {
  check_character: "The ID number's check character is wrong: the card may be forged or damaged.",
  not_yet_valid: "The card is not valid yet.",
  expired: "The card has expired.",
  no_booking_today: "Nobody with this ID number is booked today.",
  already_admitted: "This candidate has already been admitted today.",
  refused: "This candidate was refused today.",
  no_free_seat: "There is no free seat: release one, or approve a spare PC.",
  unreadable: "The card could not be read: place it on the reader again.",
};

function renderCard(ev) {
  const check = ev.check ?? {};
  const card = ev.card ?? {};
  const panel = $("#card-panel");
  panel.hidden = false;
  panel.dataset.accepted = String(!!check.accepted);
  panel.dataset.booking = check.booking_number ?? "";
  const verdict = $("#card-verdict");
  verdict.replaceChildren();
  if (check.accepted && check.seat) {
    verdict.append("Seat ", el("strong", { id: "card-seat", "data-seat": check.seat }, check.seat),
      " assigned to ", el("bdi", {}, check.name ?? card.name ?? "the candidate"), ` (booking ${check.booking_number ?? "?"}). Send them to it.`);
  } else {
    verdict.append(el("strong", {}, "Not accepted."), check.seat ? ` The candidate holds seat ${check.seat}.` : " No seat was assigned.");
  }
  $("#card-problems").replaceChildren(...(check.problems ?? []).map((p) => el("li", { "data-problem": p }, PROBLEMS[p] ?? p)));

  const cardPhoto = $("#card-photo");
  cardPhoto.hidden = !card.photo_jpeg;
  if (card.photo_jpeg) cardPhoto.src = `data:image/jpeg;base64,${card.photo_jpeg}`;
  else cardPhoto.removeAttribute("src");
  $("#card-no-photo").hidden = !!card.photo_jpeg;
  const rosterUrl = ev.photo_url ?? (check.booking_number ? `/api/v1/roster/${enc(check.booking_number)}/photo` : null);
  const rosterPhoto = $("#roster-photo");
  rosterPhoto.hidden = !rosterUrl;
  $("#roster-no-photo").hidden = !!rosterUrl;
  if (rosterUrl) {
    rosterPhoto.onerror = () => {
      rosterPhoto.hidden = true;
      $("#roster-no-photo").hidden = false;
    };
    rosterPhoto.src = rosterUrl;
  } else rosterPhoto.removeAttribute("src");

  const valid = card.valid_until === null && card.valid_from ? `${card.valid_from} – long-term` : [card.valid_from, card.valid_until].filter(Boolean).join(" – ");
  const rows = [
    ["Name", card.name], ["English name", card.english_name], ["Sex", card.sex?.label], ["Nation", card.nation?.label],
    ["Born", card.birth_date], ["ID number", card.id_number], ["Address", card.address], ["Issued by", card.issuer],
    ["Valid", valid],
  ];
  $("#card-fields").replaceChildren(...rows.filter(([, v]) => v).flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-field": k }, v)]));
  panel.scrollIntoView({ block: "nearest" });
}

// ---------------------------------------------------------------- roster

function renderCandidates(roster) {
  const body = $("#candidates tbody");
  $("#roster-date").value = roster.date ?? $("#roster-date").value;
  body.replaceChildren();
  for (const c of roster.candidates) {
    body.append(el("tr", { "data-booking": c.booking_number, "data-state": c.state },
      el("td", {}, c.booking_number), el("td", {}, el("bdi", {}, c.name)), el("td", {}, maskId(c.id_number)), el("td", {}, c.session),
      el("td", {}, c.language), el("td", { class: `state ${c.state}` }, STATES[c.state] ?? c.state), el("td", {}, c.seat ?? ""),
      el("td", {}, c.failures), el("td", {}, c.has_photo ? "yes" : "no"), el("td", {}, c.templates),
      el("td", {}, c.seat ? el("button", { type: "button", class: "release", onclick: () => release(c.booking_number) }, "Release") : "")));
  }
  $("#no-candidates").hidden = roster.candidates.length > 0;
}

/** Enough of an ID number to compare with the card, not enough to copy down from across the room. */
const maskId = (id) => (id && id.length > 8 ? `${id.slice(0, 6)}${"•".repeat(id.length - 10)}${id.slice(-4)}` : id ?? "");

async function loadRoster() {
  const date = $("#roster-date").value;
  try {
    renderCandidates(await api("GET", `/api/v1/roster${date ? `?date=${enc(date)}` : ""}`));
  } catch (e) {
    if (e.status === 401 || e.status === 403) return;
    $("#error").textContent = `roster: ${e.message}`;
  }
}

$("#roster-date").addEventListener("change", loadRoster);

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
  return tokens.find((t) => t === file.name || t.endsWith(`/${file.name}`)) ?? file.name;
}

$("#roster-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const result = $("#roster-result");
  const errors = $("#roster-errors");
  result.textContent = "";
  result.className = "";
  errors.hidden = true;
  const files = [...$("#roster-files").files];
  const rosters = files.filter((f) => /\.(csv|json)$/i.test(f.name));
  if (rosters.length !== 1) {
    result.textContent = "Choose one roster file (.csv or .json) together with its photo and template files.";
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
    result.textContent = `Imported ${r.rows} row(s) from ${roster.name}${r.replaced ? `, replacing ${r.replaced} booking(s)` : ""}.`;
    result.className = "ok";
    ev.target.reset();
  } catch (e) {
    result.textContent = `${roster.name} was not imported: ${e.message}`;
    result.className = "error";
    const rows = e.data?.rows ?? [];
    errors.querySelector("tbody").replaceChildren(...rows.map((r) => el("tr", { "data-line": r.line },
      el("td", {}, r.line), el("td", {}, r.booking_number ?? ""), el("td", {}, r.field ?? ""), el("td", {}, r.reason))));
    errors.hidden = rows.length === 0;
  }
  await loadRoster();
});

// ---------------------------------------------------------------- live events

let socket = null;
let retry = 500;
let rosterTimer = 0;
function listen() {
  if (socket) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/v1/events`);
  socket = ws;
  ws.onopen = () => {
    retry = 500;
    $("#live").classList.add("on");
    refresh();
  };
  ws.onmessage = (m) => {
    let ev = null;
    try {
      ev = JSON.parse(m.data);
    } catch {
      ev = null;
    }
    if (ev?.type === "card_read") renderCard(ev);
    if (ev?.type === "card_read" || ev?.type === "candidate_updated") {
      clearTimeout(rosterTimer);
      rosterTimer = setTimeout(loadRoster, 100);
    }
    refresh();
  };
  ws.onclose = () => {
    if (socket === ws) socket = null;
    $("#live").classList.remove("on");
    if (!$("#console").hidden) setTimeout(listen, retry);
    retry = Math.min(retry * 2, 10000);
  };
}

start();
