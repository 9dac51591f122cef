// Live updates: the server's event socket; every event redraws the seat map
// (one fetch at a time) and the evidence shown, a card read at the console
// shows its card, and candidate changes reload the roster.

import { $ } from "./dom.js";
import { api, sayError } from "./api.js";
import { renderCard } from "./card.js";
import { refreshEvidence } from "./evidence.js";
import { loadExam } from "./exam.js";
import { loadRoster } from "./roster.js";
import { renderNeeds, renderSeats } from "./seats.js";
import { renderAlerts, renderPending } from "./alerts.js";

/** The last seat map, redrawn on a change of language. */
let lastMap = null;
let onClosed = async () => {};

/** `f` runs when the server says the session is gone (401/403 on the seat map). */
export function whenSessionGone(f) {
  onClosed = f;
}

function draw(map) {
  renderSeats(map);
  renderNeeds(map);
  renderPending(map);
  renderAlerts(map);
}

/** Redraw the last seat map in the current language. */
export function rerenderMap() {
  if (lastMap) draw(lastMap);
}

let refreshing = null;
export async function refresh() {
  // Coalesce bursts of events into one fetch at a time.
  if (refreshing) return refreshing.then(refresh);
  refreshing = (async () => {
    try {
      lastMap = await api("GET", "/api/v1/seats");
      draw(lastMap);
      document.body.dataset.updated = String(lastMap.now);
      refreshEvidence();
    } catch (e) {
      if (e.status === 401 || e.status === 403) return onClosed();
      sayError($("#error"), e);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

let socket = null;
let retry = 500;
let rosterTimer = 0;
let examTimer = 0;

export function listen() {
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
    if (ev?.type === "exam_progress" || ev?.type === "exam_submitted") {
      // Answers arrive in bursts: one fetch for each quarter second of them.
      if (!examTimer) examTimer = setTimeout(() => { examTimer = 0; loadExam(); }, 250);
      return;
    }
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

export function stopListening() {
  socket?.close();
}
