// The seat page. Login mode (b): the candidate picks an exam language, then
// logs in in three steps: (1) the ID number or booking number, typed or read
// from the ID card; (2) a fingerprint, matched against the enrolled ones
// (lib/server.js); (3) a look at the camera. Three failures send the
// candidate to the examiner, whose decision arrives as an event. Login mode
// (a): the examiner read the card at the console and the server gave this
// seat to the candidate; the page greets them by name in their roster
// language and goes on to the photo. Usable by keyboard alone; every word
// comes from /i18n/<lang>.json. Talks only to the agent that served it.
// Once admitted, the exam (lib/examscreen.js) takes over the page.

import { AgentError, call, listen } from "./lib/agent.js";
import { startPreview } from "./lib/camera.js";
import { examOver, examShown, initExam, leaveExam, onAgentLink, onExamEvent, refreshExam } from "./lib/examscreen.js";
import { applyLayout, loadLanguages, markLanguage, translate } from "./lib/i18n.js";
import { parseIdentity, sanitize } from "./lib/identity.js";
import { blockShortcuts, enterFullscreen, isFullscreen, watchFullscreen } from "./lib/keys.js";
import * as server from "./lib/server.js";
import { LoginRefused, ServerUnreachable } from "./lib/server.js";

const MAX_FAILURES = 3;
/** Spoken before a language is chosen: the language screen's title, in this order. */
const PROMPT_LANGUAGES = ["zh-CN", "en"];
const STEPS = ["id", "finger", "camera"];
/** Capture errors the candidate can fix; anything else means the reader is not working. */
const CAPTURE_ERRORS = { poor_quality: "finger.poor_quality", no_finger: "finger.no_finger", timeout: "finger.no_finger" };
/** What the server can say about an identity other than "found", as the message under step 1. */
const LOOKUP_REFUSALS = {
  not_found: "id.not_found",
  not_today: "id.not_today",
  assigned_elsewhere: "id.assigned_elsewhere",
  already_admitted: "id.already_admitted",
  seat_busy: "id.seat_busy",
};
/** Mode (a), as the server names it: the examiner read the card at the console. */
const CARD_AT_CONSOLE = "card_at_console";

const $ = (id) => document.getElementById(id);

/** One candidate's login, from the language screen on; the next candidate starts from this again. */
const freshLogin = () => ({
  /** The chosen Language, or null on the language screen. */
  language: null,
  /** "id" | "finger" | "camera" | "result", or null before the first language choice. */
  step: null,
  identity: null,
  /** The server's booking number for the candidate at this seat, once known. */
  booking: null,
  /** "seat" (mode b) or "card_at_console" (mode a). */
  mode: "seat",
  candidateName: null,
  failures: 0,
  verdict: null,
  /** A card read, capture or server call is running: ignore repeats. */
  busy: false,
});

const session = {
  languages: new Map(),
  ...freshLogin(),
  stopPreview: null,
};

/** The language messages are shown in: the chosen one, else the first prompt language. */
const speaking = () => session.language ?? session.languages.get(PROMPT_LANGUAGES[0]);

/** The page's language for a roster's code (`zh` -> `zh-CN`, `mn` -> `mn-Mong`, `kk` -> `kk-Arab`), or null. */
function pageLanguage(code) {
  if (!code) return null;
  if (session.languages.has(code)) return session.languages.get(code);
  const primary = code.toLowerCase().split("-")[0];
  for (const language of session.languages.values()) {
    if (language.code.toLowerCase().split("-")[0] === primary) return language;
  }
  return null;
}

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
  showLoginIn(session.languages.get(code));
  if (!isFullscreen()) enterFullscreen();
  goto(session.step ?? "id", { keepStatus: true });
}

/** Leave the language screen for the login screen, laid out and worded in `language`. */
function showLoginIn(language) {
  session.language = language;
  applyLayout(language);
  render();
  $("screen-language").hidden = true;
  $("screen-login").hidden = false;
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
  withName(candidate, session.candidateName ? language.t("candidate.greeting") : "", session.candidateName);
  withName($("greet-title"), language.t("greeting.title"), session.candidateName ?? "");
  // Mode (a) has no identity or fingerprint step: the examiner did those at the console.
  document.querySelector(".steps").hidden = session.mode === CARD_AT_CONSOLE;
}

/**
 * Put `text` into `el` with its {name} filled in as text, isolated in <bdi>: a
 * name in another script (a Uyghur name on a Chinese page) must not reorder the words around it.
 */
function withName(el, text, name) {
  const parts = text.split("{name}");
  el.replaceChildren();
  parts.forEach((part, i) => {
    if (i > 0) {
      const bdi = document.createElement("bdi");
      bdi.textContent = name;
      el.append(bdi);
    }
    if (part) el.append(part);
  });
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
  const focus = { greet: "greet-continue", id: "id-number", finger: "finger-start", camera: "camera-continue", result: "result-title" }[step];
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
  for (const id of ["finger-start", "finger-back", "camera-continue", "id-confirm", "greet-continue"]) {
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
  } catch (e) {
    if (e instanceof LoginRefused) return toExaminer("server_refused");
    if (!(e instanceof ServerUnreachable)) console.error("seat page: lookup failed", e);
    setStatus("server.unreachable", "error");
    $("id-number").focus();
    return;
  }
  if (found.status in LOOKUP_REFUSALS) {
    setStatus(LOOKUP_REFUSALS[found.status], "error");
    $("id-number").focus();
    return;
  }
  session.identity = identity;
  session.mode = "seat";
  session.booking = found.booking_number ?? null;
  session.candidateName = (found.status === "found" && found.name) || identity.card?.name || null;
  if (found.status === "refused") return showResult("refused");
  session.failures = Math.max(session.failures, found.failures ?? 0);
  if (found.state === "waiting_for_examiner") return showResult("examiner", "finger");
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
    let answer;
    try {
      answer = await server.verifyWithServer({ identity: session.identity, capture, attempt: session.failures + 1 });
    } catch (e) {
      if (e instanceof LoginRefused) return toExaminer("server_refused");
      if (!(e instanceof ServerUnreachable)) console.error("seat page: verification failed", e);
      // Not the candidate's failure: the attempt does not count.
      setStatus("server.unreachable", "error");
      $("finger-start").focus();
      return;
    }
    const { verdict } = answer;
    if (verdict === "no_match") {
      const examiner = answer.state === "waiting_for_examiner";
      return fail("finger.no_match", { failures: answer.failures, examiner });
    }
    session.verdict = verdict;
    goto("camera");
    setStatus(verdict === "match" ? "finger.matched" : "finger.waiting_examiner", verdict === "match" ? "ok" : "info");
  });
}

/**
 * One failed attempt: say why and how many are left, or send for the examiner.
 * `failures` is the server's count when it gave one (it counts the whole day).
 */
function fail(key, { failures = session.failures + 1, examiner = false } = {}) {
  session.failures = failures;
  if (examiner || session.failures >= MAX_FAILURES) {
    return toExaminer(key === "finger.unavailable" ? "device_fault" : "three_failures");
  }
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
    } catch (e) {
      if (e instanceof LoginRefused) return toExaminer("server_refused");
      if (!(e instanceof ServerUnreachable)) console.error("seat page: finishing the login failed", e);
      setStatus("server.unreachable", "error");
      $("camera-continue").focus();
      return;
    }
    showResult({ admitted: "admitted", refused: "refused" }[outcome] ?? "waiting");
  });
}

// ---------------------------------------------------------------- mode (a): the card read at the console

/** The server gave this seat to `candidate` (`{booking_number, name, language}`): greet them by name. */
function greet(candidate) {
  stopCamera();
  Object.assign(session, {
    identity: null,
    booking: candidate.booking_number,
    mode: CARD_AT_CONSOLE,
    candidateName: candidate.name,
    failures: 0,
    verdict: null,
    step: null,
  });
  showLoginIn(pageLanguage(candidate.language) ?? speaking());
  goto("greet");
}

// ---------------------------------------------------------------- results

/** How a login can end, each with its title and text. */
const RESULTS = {
  admitted: ["result.admitted.title", "result.admitted.body"],
  examiner_admitted: ["result.examiner_admitted.title", "result.examiner_admitted.body"],
  refused: ["result.refused.title", "result.refused.body"],
  waiting: ["result.waiting.title", "result.waiting.body"],
  examiner: ["result.examiner.title", "result.examiner.body"],
};

function showResult(kind, failedStep = null) {
  [$("result-title").dataset.i18n, $("result-body").dataset.i18n] = RESULTS[kind];
  $("panel-result").dataset.result = kind;
  goto("result", { failedStep });
  if (kind === "admitted" || kind === "examiner_admitted") waitForExam();
}

/** How often an admitted candidate's page asks the agent whether the paper has come (besides its event). */
const EXAM_POLL_MS = 2000;
let examPoll = 0;

/** Admitted: the exam screen comes when the agent has the paper (exam_ready, or a look now and then). */
function waitForExam() {
  clearTimeout(examPoll);
  const look = async () => {
    if (await refreshExam()) return;
    const admitted = ["admitted", "examiner_admitted"].includes($("panel-result").dataset.result);
    if (session.step === "result" && admitted) examPoll = setTimeout(look, EXAM_POLL_MS);
  };
  examPoll = setTimeout(look, 0);
}

/** Send for the examiner; `reason` is a word (three_failures, device_fault). */
async function toExaminer(reason) {
  showResult("examiner", session.step === "result" ? null : session.step);
  try {
    await server.askExaminer({ identity: session.identity, failures: session.failures, reason });
  } catch {
    // The result screen already tells the candidate to raise a hand.
  }
}

/** The examiner decided (`admitted` or `refused`) about the candidate at this seat. */
function onDecision(event) {
  if (session.booking && event.booking_number && event.booking_number !== session.booking) return;
  session.booking = event.booking_number ?? session.booking;
  if ($("screen-login").hidden) showLoginIn(speaking());
  showResult(event.decision === "admitted" ? "examiner_admitted" : "refused");
}

/** The examiner released the candidate from this seat (they move seat, or an
 * assignment was taken back): the page starts over for the next candidate. */
function onReleased(event) {
  if (session.booking && event.booking_number !== session.booking) return;
  if (examShown() && !examOver()) return; // a paper under way stays on the screen
  if (examShown()) leaveExam();
  stopCamera();
  Object.assign(session, freshLogin());
  $("id-number").value = "";
  setStatus(null);
  showLanguageScreen();
}

/** The examiner's warning: their words as text, never as markup. */
function showWarning(text) {
  const dialog = $("warning");
  translate(dialog, speaking());
  markLanguage(dialog, speaking());
  $("warning-text").textContent = text;
  if (!dialog.open) dialog.showModal();
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
    case "candidate_assigned":
      greet(event);
      break;
    case "login_decision":
      onDecision(event);
      break;
    case "candidate_released":
      onReleased(event);
      break;
    case "warning":
      if (typeof event.text === "string") showWarning(event.text);
      break;
    case "exam_ready":
    case "exam_submitted":
    case "exam_result":
      onExamEvent(event);
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
  $("greet-continue").addEventListener("click", () => !session.busy && goto("camera"));
  $("warning-close").addEventListener("click", () => $("warning").close());
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
  initExam({
    languageFor: pageLanguage,
    fallback: speaking,
    candidateName: () => session.candidateName,
    onEnter: (language) => {
      // The examiner's warnings and the full-screen prompt speak the exam's language from now on.
      session.language = language;
      stopCamera();
      clearTimeout(examPoll);
    },
  });
  listen("/v1/events", {
    onEvent: onAgentEvent,
    onLink: (online) => {
      $("agent-offline").hidden = online;
      onAgentLink(online);
      if (online) refreshDevices();
    },
  });
  showLanguageScreen();
  // An exam under way (a reload, a killed browser) comes back first: it needs only the agent.
  if (!(await refreshExam())) await resume();
  else resume().catch(() => {});
  document.documentElement.dataset.ready = "true";
}

/** How long the page waits at start for the agent to say who is at this seat. */
const RESUME_WAIT_MS = 5000;

/** A candidate already at this seat (a reload, an assignment made before the page was up). */
async function resume() {
  let state = null;
  try {
    state = await Promise.race([
      server.loginState(),
      new Promise((resolve) => setTimeout(() => resolve(null), RESUME_WAIT_MS)),
    ]);
  } catch {
    return; // the server is away: the candidate starts on the language screen
  }
  const candidate = state?.candidate;
  if (candidate && examShown()) {
    // The exam came back first; the login only adds the candidate's name to its header.
    session.candidateName = candidate.name;
    return void refreshExam();
  }
  if (!candidate || session.step !== null) return;
  if (candidate.state === "assigned") return greet(candidate);
  Object.assign(session, {
    booking: candidate.booking_number,
    mode: candidate.mode === CARD_AT_CONSOLE ? CARD_AT_CONSOLE : "seat",
    candidateName: candidate.name,
    failures: candidate.failures ?? 0,
  });
  const result = { admitted: "admitted", refused: "refused", waiting_for_examiner: "examiner" }[candidate.state];
  if (!result && candidate.state !== "verifying") return;
  showLoginIn(pageLanguage(candidate.language) ?? speaking());
  if (result) return showResult(result);
  session.identity = { kind: "booking_number", value: candidate.booking_number, source: "keyboard" };
  goto("finger");
}

boot().catch((e) => {
  console.error("seat page failed to start", e);
  document.documentElement.dataset.ready = "failed";
});
