// The examgate console: the seat map (bound, online, alerts), waiting PCs
// with approve and rebind, updated live over /api/v1/events. Plain ES
// module, no build step. Everything a PC reports is put in with
// textContent, never as HTML: host names come from the seats.

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (!resp.ok) {
    const err = new Error(data?.error?.message ?? `${resp.status}`);
    err.status = resp.status;
    err.kind = data?.error?.kind;
    throw err;
  }
  return data;
}

function showSession(s) {
  const who = [];
  who.push(`examiner: ${s?.examiner ?? "—"}`);
  who.push(`invigilator: ${s?.invigilator ?? "—"}`);
  $("#who").textContent = who.join(" · ");
  $("#logout").hidden = !s;
  $("#login").hidden = !!s?.open;
  $("#console").hidden = !s?.open;
}

function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

function renderSeats(map) {
  const grid = $("#seats");
  grid.replaceChildren();
  const candidates = map.unbound.filter((m) => m.state === "pending" || m.state === "replaced");
  for (const seat of map.seats) {
    const state = seat.open_alerts > 0 ? "alert" : seat.online ? "online" : "offline";
    const card = el("article", { class: `seat ${state}`, "data-seat": seat.seat, "data-state": state, "data-key": seat.key_id });
    card.append(el("div", { class: "no" }, seat.seat));
    const status = seat.online ? `online · ${ago(map.now - seat.last_seen)}` : seat.last_seen ? `offline since ${ago(map.now - seat.last_seen)}` : "never seen";
    card.append(el("div", { class: "status" }, status));
    card.append(el("div", {}, seat.host_name));
    card.append(el("div", { class: "devices" }, `${seat.ip} · ${seat.macs.join(" ")}`));
    if (seat.devices.length) {
      card.append(el("div", { class: "devices" }, seat.devices.map((d) => `${d.class}: ${d.state}`).join(", ")));
    }
    if (seat.open_alerts > 0) card.append(el("div", { class: "error" }, `${seat.open_alerts} alert(s)`));
    const actions = el("div", { class: "actions" });
    actions.append(el("button", { type: "button", onclick: () => command(seat.seat, { type: "snapshot_now" }) }, "Snapshot"));
    actions.append(el("button", { type: "button", onclick: () => warn(seat.seat) }, "Warn"));
    if (candidates.length) {
      const pick = el("select", { "aria-label": `spare PC for seat ${seat.seat}`, class: "rebind-pick" });
      for (const m of candidates) pick.append(el("option", { value: m.key_id }, `${m.host_name} (${m.source_ip})`));
      actions.append(pick);
      actions.append(el("button", { type: "button", class: "rebind", onclick: () => rebind(seat.seat, pick.value) }, "Rebind"));
    }
    card.append(actions);
    grid.append(card);
  }
  $("#no-seats").hidden = map.seats.length > 0;
}

function renderPending(map) {
  const body = $("#pending tbody");
  body.replaceChildren();
  for (const m of map.unbound) {
    const seatInput = el("input", { size: "4", placeholder: "seat", "aria-label": `seat for ${m.host_name}`, class: "seat-input" });
    const approve = el("button", { type: "button", class: "primary approve", onclick: () => approveAs(m.key_id, seatInput.value.trim()) }, "Approve");
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
  $("#no-pending").hidden = map.unbound.length > 0;
}

function renderAlerts(map) {
  const list = $("#alerts");
  list.replaceChildren();
  for (const a of map.alerts) {
    const when = new Date(a.at).toLocaleTimeString();
    list.append(el("li", { "data-alert": a.id, "data-kind": a.kind },
      `${when} ${a.seat ? `seat ${a.seat}` : `PC ${(a.key_id ?? "?").slice(0, 12)}`} — ${a.kind}: ${a.message} `,
      el("button", { type: "button", onclick: () => act(() => api("POST", `/api/v1/alerts/${a.id}/clear`, {})) }, "Clear")));
  }
  $("#no-alerts").hidden = map.alerts.length > 0;
}

let refreshing = null;
async function refresh() {
  // Coalesce bursts of events into one fetch at a time.
  if (refreshing) return refreshing.then(refresh);
  refreshing = (async () => {
    try {
      const map = await api("GET", "/api/v1/seats");
      renderSeats(map);
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
  await refresh();
}

const approveAs = (key, seat) => act(() => {
  if (!seat) throw new Error("enter the seat number to approve this PC as");
  return api("POST", `/api/v1/seats/${encodeURIComponent(seat)}/approve`, { key_id: key });
});
const rebind = (seat, key) => act(() => api("POST", `/api/v1/seats/${encodeURIComponent(seat)}/rebind`, { key_id: key }));
const command = (seat, body) => act(() => api("POST", `/api/v1/seats/${encodeURIComponent(seat)}/commands`, body));
function warn(seat) {
  const text = prompt(`Warning for seat ${seat}:`);
  if (text) command(seat, { type: "warning", text });
}

let socket = null;
let retry = 500;
function listen() {
  if (socket) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/api/v1/events`);
  socket.onopen = () => {
    retry = 500;
    $("#live").classList.add("on");
    refresh();
  };
  socket.onmessage = () => refresh();
  socket.onclose = () => {
    socket = null;
    $("#live").classList.remove("on");
    if (!$("#console").hidden) setTimeout(listen, retry);
    retry = Math.min(retry * 2, 10000);
  };
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
    await refresh();
    listen();
  }
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  $("#login-error").textContent = "";
  try {
    await api("POST", "/api/v1/session/login", { username: form.get("username"), password: form.get("password") });
    ev.target.reset();
  } catch (e) {
    $("#login-error").textContent = e.message;
  }
  await start();
});

$("#logout").addEventListener("click", async () => {
  await api("POST", "/api/v1/session/logout", {}).catch(() => {});
  socket?.close();
  await start();
});

start();
