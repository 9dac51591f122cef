// The seat page. The candidate picks an exam language, then logs in in three
// steps: (1) the ID number or booking number, typed or read from the ID card;
// (2) a fingerprint, which the server matches (lib/server.js); (3) a look at
// the camera. Three failures send the candidate to the examiner. Usable by
// keyboard alone; every word comes from /i18n/<lang>.json. Talks only to the
// agent that served it and, through lib/server.js, to the exam-centre server.

import { AgentError, call, listen } from "./lib/agent.js";
import { startPreview } from "./lib/camera.js";
import { applyLayout, loadLanguages, markLanguage, translate } from "./lib/i18n.js";
import { parseIdentity, sanitize } from "./lib/identity.js";
import { blockShortcuts, enterFullscreen, isFullscreen, watchFullscreen } from "./lib/keys.js";
import * as server from "./lib/server.js";

const MAX_FAILURES = 3;
/** Spoken before a language is chosen: the language screen's title, in this order. */
const PROMPT_LANGUAGES = ["zh-CN", "en"];
const STEPS = ["id", "finger", "camera"];
/** Capture errors the candidate can fix; anything else means the reader is not working. */
const CAPTURE_ERRORS = { poor_quality: "finger.poor_quality", no_finger: "finger.no_finger", timeout: "finger.no_finger" };

const $ = (id) => document.getElementById(id);

const session = {
  languages: new Map(),
  /** The chosen Language, or null on the language screen. */
  language: null,
  /** "id" | "finger" | "camera" | "result", or null before the first language choice. */
  step: null,
  identity: null,
  candidateName: null,
  failures: 0,
  verdict: null,
  /** A card read, capture or server call is running: ignore repeats. */
  busy: false,
  stopPreview: null,
};

/** The language messages are shown in: the chosen one, else the first prompt language. */
const speaking = () => session.language ?? session.languages.get(PROMPT_LANGUAGES[0]);

// ---------------------------------------------------------------- language

function buildLanguageScreen() {
  const title = $("language-title");
  for (const code of PROMPT_LANGUAGES) {
    const language = session.languages.get(code);
    const line = document.createElement("span");
    line.className = "prompt-line";
    markLanguage(line, language);
    line.textContent = language.t("language.prompt");
    title.append(line);
  }
  const list = $("languages");
  for (const language of session.languages.values()) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "language-tile";
    button.dataset.lang = language.code;
    const name = document.createElement("span");
    name.className = "endonym";
    markLanguage(name, language);
    name.textContent = language.name;
    button.append(name);
    button.addEventListener("click", () => chooseLanguage(language.code));
    item.append(button);
    list.append(item);
  }
  list.addEventListener("keydown", moveInGrid);
}

/** Arrow keys move between language tiles by where they are on screen. */
function moveInGrid(event) {
  const step = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[event.key];
  if (!step) return;
  event.preventDefault();
  const tiles = [...$("languages").querySelectorAll("button")];
  const centre = (el) => {
    const r = el.getBoundingClientRect();
    return [r.left + r.width / 2, r.top + r.height / 2];
  };
  const [x0, y0] = centre(document.activeElement);
  let best = null;
  let bestDistance = Infinity;
  for (const tile of tiles) {
    const [x, y] = centre(tile);
    const along = (x - x0) * step[0] + (y - y0) * step[1];
    if (along <= 1) continue;
    const across = Math.abs((x - x0) * step[1]) + Math.abs((y - y0) * step[0]);
    const distance = along + 2 * across;
    if (distance < bestDistance) [best, bestDistance] = [tile, distance];
  }
  best?.focus();
}

function showLanguageScreen() {
  const root = document.documentElement;
  root.lang = PROMPT_LANGUAGES[0];
  root.dir = "ltr";
  delete root.dataset.writingMode;
  stopCamera();
  $("screen-login").hidden = true;
  $("screen-language").hidden = false;
  const current = session.language && $("languages").querySelector(`[data-lang="${session.language.code}"]`);
  (current ?? $("languages").querySelector("button")).focus();
}

function chooseLanguage(code) {
  session.language = session.languages.get(code);
  applyLayout(session.language);
  render();
  $("screen-language").hidden = true;
  $("screen-login").hidden = false;
  if (!isFullscreen()) enterFullscreen();
  goto(session.step ?? "id", { keepStatus: true });
}

/** Put every text of the page into the current language. */
function render() {
  const language = speaking();
  translate(document, language);
  const attempts = $("attempts");
  attempts.hidden = session.failures === 0 || session.step === "result";
  attempts.textContent = language.t("attempts.left", { count: MAX_FAILURES - session.failures });
  const candidate = $("candidate");
  candidate.hidden = !session.candidateName;
  candidate.textContent = session.candidateName ? language.t("candidate.greeting", { name: session.candidateName }) : "";
}

// ---------------------------------------------------------------- steps

function goto(step, { keepStatus = false, failedStep = null } = {}) {
  session.step = step;
  for (const panel of document.querySelectorAll("[data-panel]")) panel.hidden = panel.dataset.panel !== step;
  const reached = failedStep ? STEPS.indexOf(failedStep) : step === "result" ? STEPS.length : STEPS.indexOf(step);
  for (const item of $("steps").children) {
    const index = STEPS.indexOf(item.dataset.step);
    item.classList.toggle("done", index < reached);
    item.classList.toggle("failed", index === reached && failedStep !== null);
    if (index === reached) item.setAttribute("aria-current", "step");
    else item.removeAttribute("aria-current");
  }
  $("change-language").hidden = step === "result";
  if (step === "camera") startCamera();
  else stopCamera();
  if (!keepStatus) setStatus(null);
  render();
  const focus = { id: "id-number", finger: "finger-start", camera: "camera-continue", result: "result-title" }[step];
  $(focus).focus({ focusVisible: true });
}

/** Show message `key` under the step (null clears it); `kind` colours it. */
function setStatus(key, kind = "info") {
  const status = $("status");
  if (key === null) {
    delete status.dataset.i18n;
    status.textContent = "";
  } else {
    status.dataset.i18n = key;
    status.textContent = speaking().t(key);
  }
  status.dataset.kind = kind;
  if (key !== null) status.scrollIntoView({ block: "nearest", inline: "nearest" });
}

/** Mark the step busy (a capture is running) without moving focus off its button. */
function setBusy(busy) {
  session.busy = busy;
  document.querySelector(".panel").setAttribute("aria-busy", String(busy));
  for (const id of ["finger-start", "finger-back", "camera-continue", "id-confirm"]) {
    $(id).setAttribute("aria-disabled", String(busy));
  }
}

async function whileBusy(work) {
  if (session.busy) return;
  setBusy(true);
  try {
    await work();
  } finally {
    setBusy(false);
  }
}

// ---------------------------------------------------------------- step 1: identity

function typeIntoIdField(text) {
  const field = $("id-number");
  field.value = sanitize(field.value + text);
  field.focus();
  if ($("status").dataset.i18n === "id.invalid") setStatus(null);
}

function submitId() {
  const identity = parseIdentity($("id-number").value);
  if (!identity) {
    setStatus("id.invalid", "error");
    $("id-number").focus();
    $("id-number").select();
    return;
  }
  whileBusy(() => acceptIdentity({ ...identity, source: "keyboard" }));
}

async function acceptIdentity(identity) {
  let found;
  try {
    found = await server.lookupCandidate(identity);
  } catch {
    return toExaminer("server_unreachable");
  }
  if (found.status === "not_found") {
    setStatus("id.not_found", "error");
    $("id-number").focus();
    return;
  }
  session.identity = identity;
  session.candidateName = (found.status === "found" && found.name) || identity.card?.name || null;
  goto("finger", { keepStatus: identity.source === "card" });
}

/** A card was put on the reader during step 1: read it and go on with its ID number. */
function readCard() {
  if (session.step !== "id" || $("screen-login").hidden) return;
  whileBusy(async () => {
    setStatus("id.card_reading");
    let card;
    try {
      card = await call("/v1/idcard/read", {});
    } catch {
      setStatus("id.card_failed", "error");
      return;
    }
    const identity = parseIdentity(card?.id_number ?? "");
    if (identity?.kind !== "id_number") {
      setStatus("id.card_failed", "error");
      return;
    }
    $("id-number").value = identity.value;
    setStatus("id.card_read", "ok");
    await acceptIdentity({ ...identity, source: "card", card });
  });
}

/** Name the card reader in the instruction only when the seat has one. */
async function refreshDevices() {
  try {
    const { devices } = await call("/v1/devices");
    const card = devices.some((d) => d.classes.includes("idcard") && d.state !== "disconnected");
    $("id-instruction").dataset.i18n = card ? "id.instruction_card" : "id.instruction";
    if (session.language) render();
  } catch {
    // The link indicator already says the agent is away.
  }
}

// ---------------------------------------------------------------- step 2: fingerprint

function captureFinger() {
  if (session.step !== "finger") return;
  whileBusy(async () => {
    setStatus("finger.scanning");
    let capture;
    try {
      capture = await call("/v1/fingerprint/template", {});
    } catch (e) {
      return fail(CAPTURE_ERRORS[e instanceof AgentError ? e.kind : ""] ?? "finger.unavailable");
    }
    let verdict;
    try {
      ({ verdict } = await server.verifyWithServer({ identity: session.identity, capture, attempt: session.failures + 1 }));
    } catch {
      return toExaminer("server_unreachable");
    }
    if (verdict === "no_match") return fail("finger.no_match");
    session.verdict = verdict;
    goto("camera");
    setStatus(verdict === "match" ? "finger.matched" : "finger.waiting_examiner", verdict === "match" ? "ok" : "info");
  });
}

/** One failed attempt: say why and how many are left, or send for the examiner. */
function fail(key) {
  session.failures += 1;
  if (session.failures >= MAX_FAILURES) return toExaminer(key);
  setStatus(key, "error");
  render();
  $("finger-start").focus();
}

// ---------------------------------------------------------------- step 3: camera

function startCamera() {
  if (session.stopPreview) return;
  $("camera-unavailable").hidden = true;
  session.stopPreview = startPreview($("camera-preview"), {
    onUnavailable: () => {
      $("camera-unavailable").hidden = false;
    },
  });
}

function stopCamera() {
  session.stopPreview?.();
  session.stopPreview = null;
}

function finishCamera() {
  whileBusy(async () => {
    // The verification photo, stored and signed by the agent beside the fingerprint.
    let snapshot = null;
    try {
      snapshot = await call("/v1/camera/snapshot", { reason: "identity_verification" });
    } catch {
      // No camera, or an agent without the route: the examiner checks the face.
    }
    let outcome;
    try {
      ({ outcome } = await server.finishLogin({ identity: session.identity, verdict: session.verdict, snapshot }));
    } catch {
      return toExaminer("server_unreachable");
    }
    showResult(outcome === "admitted" ? "admitted" : "waiting");
  });
}

// ---------------------------------------------------------------- results

/** How a login can end, each with its title and text. */
const RESULTS = {
  admitted: ["result.admitted.title", "result.admitted.body"],
  waiting: ["result.waiting.title", "result.waiting.body"],
  examiner: ["result.examiner.title", "result.examiner.body"],
};

function showResult(kind, failedStep = null) {
  [$("result-title").dataset.i18n, $("result-body").dataset.i18n] = RESULTS[kind];
  $("panel-result").dataset.result = kind;
  goto("result", { failedStep });
}

async function toExaminer(reason) {
  showResult("examiner", session.step === "result" ? null : session.step);
  try {
    await server.askExaminer({ identity: session.identity, failures: session.failures, reason });
  } catch {
    // The result screen already tells the candidate to raise a hand.
  }
}

// ---------------------------------------------------------------- keyboard, full screen, agent

let toastTimer = 0;
function onBlockedKey(event) {
  // On step 1, Backspace anywhere takes back the last character typed.
  if (event.key === "Backspace" && session.step === "id" && !$("screen-login").hidden) {
    const field = $("id-number");
    field.value = field.value.slice(0, -1);
    field.focus();
    return;
  }
  const toast = $("toast");
  markLanguage(toast, speaking());
  toast.textContent = speaking().t("keys.blocked");
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    toast.hidden = true;
  }, 2500);
}

/** On step 1 digits and X go straight into the ID field, wherever the focus is. */
function onKeyDown(event) {
  if (session.step !== "id" || $("screen-login").hidden || event.target === $("id-number")) return;
  if (event.ctrlKey || event.altKey || event.metaKey || !/^[0-9xX]$/.test(event.key)) return;
  event.preventDefault();
  typeIntoIdField(event.key);
}

function onFullscreenLost() {
  const dialog = $("fullscreen-prompt");
  translate(dialog, speaking());
  if (!dialog.open) dialog.showModal();
}

function onAgentEvent(event) {
  switch (event.type) {
    case "card_inserted":
      readCard();
      break;
    case "finger_placed":
      if (session.step === "finger" && !$("screen-login").hidden) captureFinger();
      break;
    case "device_attached":
    case "device_detached":
      refreshDevices();
      break;
  }
}

function wire() {
  const field = $("id-number");
  field.addEventListener("keydown", (event) => {
    // Only digits and X are typed; other printable keys do nothing.
    if (event.key.length === 1 && !event.ctrlKey && !event.altKey && !event.metaKey && !/^[0-9xX]$/.test(event.key)) {
      event.preventDefault();
    }
  });
  field.addEventListener("input", () => {
    const clean = sanitize(field.value);
    if (clean !== field.value) field.value = clean;
    if ($("status").dataset.i18n === "id.invalid") setStatus(null);
  });
  $("id-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitId();
  });
  $("id-clear").addEventListener("click", () => {
    field.value = "";
    setStatus(null);
    field.focus();
  });
  $("finger-start").addEventListener("click", captureFinger);
  $("finger-back").addEventListener("click", () => !session.busy && goto("id"));
  $("camera-continue").addEventListener("click", finishCamera);
  $("change-language").addEventListener("click", showLanguageScreen);
  window.addEventListener("keydown", onKeyDown);

  const dialog = $("fullscreen-prompt");
  dialog.addEventListener("cancel", (event) => event.preventDefault());
  $("fullscreen-return").addEventListener("click", async () => {
    await enterFullscreen();
    dialog.close();
  });
}

async function boot() {
  blockShortcuts({ onBlocked: onBlockedKey });
  watchFullscreen({ onLost: onFullscreenLost, onBack: () => $("fullscreen-prompt").close() });
  session.languages = await loadLanguages();
  buildLanguageScreen();
  wire();
  listen("/v1/events", {
    onEvent: onAgentEvent,
    onLink: (online) => {
      $("agent-offline").hidden = online;
      if (online) refreshDevices();
    },
  });
  showLanguageScreen();
  document.documentElement.dataset.ready = "true";
}

boot().catch((e) => {
  console.error("seat page failed to start", e);
  document.documentElement.dataset.ready = "failed";
});
