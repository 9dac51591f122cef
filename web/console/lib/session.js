// The console's session: dual login (examiner + invigilator), logout, and the
// idle lock. The server's idle time is the rule; the page locks itself when
// it passes, and reports activity often enough for the server to agree.

import { $ } from "./dom.js";
import { say, unsay } from "./i18n.js";
import { ApiError, api, sayError, whenLocked } from "./api.js";

/** The last session the server showed (null: nobody logged in). */
let current = null;
/** When the last key press, click or wheel turn happened here. */
let lastInput = Date.now();
let lastActivitySent = 0;
let hooks = { opened: async () => {}, closed: () => {} };

/** Draw who is logged in, in the current language. */
export function renderSession() {
  const s = current;
  say($("#who"), "header.who", { examiner: s?.examiner ?? "—", invigilator: s?.invigilator ?? "—" });
  for (const role of ["examiner", "invigilator"]) {
    const item = $(`#roles li[data-role='${role}']`);
    item.dataset.in = String(!!s?.[role]);
    const name = item.querySelector(".name");
    if (s?.[role]) say(name, "login.logged_in", { name: s[role] });
    else say(name, "login.not_logged_in");
  }
}

function showSession(s) {
  current = s;
  renderSession();
  $("#logout").hidden = !s;
  $("#login").hidden = !!s?.open;
  $("#console").hidden = !s?.open;
  if (!s?.open) {
    hooks.closed();
    $("#login-form input[name=username]").focus();
  }
}

/** Ask the server who is logged in; open the console if both are. */
export async function start() {
  let session = null;
  try {
    session = await api("GET", "/api/v1/session");
  } catch {
    session = null;
  }
  showSession(session);
  if (session?.open) {
    lastInput = Date.now();
    await hooks.opened();
  }
}

/** Close the console: both log in again. The notice (a message key) says why. */
async function lock(noticeKey, params = {}) {
  if (!current) return;
  current = null;
  hooks.closed();
  await fetch("/api/v1/session/logout", {
    method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" }, body: "{}",
  }).catch(() => {});
  showSession(null);
  say($("#login-notice"), noticeKey, params);
}

/** Reported at most every 30 s, and often enough for the server's idle time. */
const activityEvery = () => Math.min(30_000, Math.max(1_000, (current?.idle_ms ?? 30_000) / 3));

function onInput() {
  lastInput = Date.now();
  if (!current?.open || lastInput - lastActivitySent < activityEvery()) return;
  lastActivitySent = lastInput;
  api("POST", "/api/v1/session/activity", {}).catch(() => {});
}

/**
 * Wire the login form, the logout button and the idle lock. `opened` runs
 * when the console opens, `closed` when it closes (live updates stop).
 */
export function installSession(opened, closed) {
  hooks = { opened, closed };
  whenLocked(() => lock("lock.server_idle"));
  for (const type of ["keydown", "pointerdown", "wheel"]) window.addEventListener(type, onInput, { capture: true, passive: true });

  setInterval(() => {
    const idle = current?.idle_ms;
    if (current?.open && idle && Date.now() - lastInput >= idle) lock("lock.idle", { seconds: Math.round(idle / 1000) });
  }, 1000);

  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    unsay($("#login-error"));
    try {
      await api("POST", "/api/v1/session/login", { username: form.get("username"), password: form.get("password") });
      ev.target.reset();
      unsay($("#login-notice"));
    } catch (e) {
      // 401 at login means only this; other refusals (a PC not allowed) keep the server's words.
      if (e instanceof ApiError && e.status === 401) say($("#login-error"), "login.wrong");
      else sayError($("#login-error"), e);
    }
    await start();
  });

  $("#logout").addEventListener("click", async () => {
    await api("POST", "/api/v1/session/logout", {}).catch(() => {});
    hooks.closed();
    say($("#login-notice"), "lock.logged_out");
    await start();
  });
}

