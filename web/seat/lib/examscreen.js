// The exam screen: the instructions, then one question at a time with its
// picture and choices, the question map, the time left from the server's
// deadline, submission with a confirmation, and the result. Every control is
// a button reachable by keyboard; the keys (lib/exam.js) work wherever the
// focus is. The agent holds the exam: each change is sent at once and the
// page is rebuilt from GET /v1/exam after a reload, so it comes back to the
// same question with the same answers, flags and deadline.

import * as exam from "./exam.js";
import { applyLayout, markLanguage, translate } from "./i18n.js";

const $ = (id) => document.getElementById(id);

const KIND_KEYS = {
  true_false: "exam.kind.true_false",
  single: "exam.kind.single",
  multiple: "exam.kind.multiple",
};
const MAP_CELL_KEYS = {
  answered: "exam.map.cell.answered",
  answered_flagged: "exam.map.cell.answered_flagged",
  unanswered: "exam.map.cell.unanswered",
  unanswered_flagged: "exam.map.cell.unanswered_flagged",
};
const POLL_MS = 2000;

const view = {
  /** Hooks from seat.js: languageFor(code), fallback(), candidateName(), onEnter(language). */
  hooks: null,
  language: null,
  /** The last GET /v1/exam answer. */
  state: null,
  paperId: null,
  paper: null,
  index: 0,
  /** item id -> [choice ids] */
  answers: {},
  flagged: new Set(),
  saver: null,
  /** "preparing" | "instructions" | "question" | "done" */
  phase: null,
  /** No more changes: submitted, or the time is up. */
  closed: false,
  timeUp: false,
  lastRemaining: null,
  clockTimer: 0,
  pollTimer: 0,
  busy: false,
  /** The paper is being fetched from the agent. */
  loading: false,
};

const t = (key, params) => view.language.t(key, params);
const items = () => view.paper?.items ?? [];
const current = () => items()[view.index];
const answered = (item) => (view.answers[item.id] ?? []).length > 0;

/** Wire the exam screen's buttons and keys; `hooks` as in `view.hooks`. */
export function initExam(hooks) {
  view.hooks = hooks;
  $("exam-start").addEventListener("click", start);
  $("exam-prev").addEventListener("click", () => move(-1, { focus: "exam-prev" }));
  $("exam-next").addEventListener("click", () => move(1, { focus: "exam-next" }));
  $("exam-flag").addEventListener("click", toggleFlag);
  $("exam-map-open").addEventListener("click", openMap);
  $("exam-submit").addEventListener("click", askSubmit);
  $("map-close").addEventListener("click", () => $("exam-map").close());
  $("map-grid").addEventListener("keydown", moveInMap);
  $("exam-map").addEventListener("close", () => {
    if (view.phase === "question") focusQuestion();
  });
  $("confirm-submit").addEventListener("click", submit);
  $("confirm-cancel").addEventListener("click", () => $("exam-confirm").close());
  // Closing the confirmation gives the focus back to where it was (the browser does it).
  window.addEventListener("keydown", onKey);
}

/** Whether the exam screen is the page now. */
export const examShown = () => !$("screen-exam").hidden;

/**
 * Ask the agent about the exam and show it when there is one (downloading,
 * ready, running or submitted). Resolves to whether the exam screen is shown.
 */
export async function refreshExam() {
  let state;
  try {
    state = await exam.examState();
  } catch {
    return examShown(); // the agent is away: keep what is shown
  }
  if (!state) return examShown();
  await show(state);
  return true;
}

/** Whether the paper on screen is submitted (the candidate may be released to go). */
export const examOver = () => view.phase === "done";

/** Leave the exam screen (the examiner released a candidate whose paper is in): the seat starts over. */
export function leaveExam() {
  clearInterval(view.clockTimer);
  clearTimeout(view.pollTimer);
  view.saver?.close();
  Object.assign(view, {
    state: null,
    paperId: null,
    paper: null,
    index: 0,
    answers: {},
    flagged: new Set(),
    saver: null,
    phase: null,
    closed: false,
    timeUp: false,
    lastRemaining: null,
    clockTimer: 0,
    pollTimer: 0,
  });
  $("exam-reminder").textContent = "";
  delete $("exam-reminder").dataset.shown;
  $("question-media").replaceChildren();
  delete $("question-media").dataset.item;
  $("screen-exam").hidden = true;
}

/** The agent said something about the exam (exam_ready, exam_submitted, exam_result). */
export function onExamEvent() {
  refreshExam();
}

/** The agent's events socket is up (true) or down (false). */
export function onAgentLink(online) {
  $("exam-agent-offline").hidden = online;
  if (online) view.saver?.flush();
}

// ---------------------------------------------------------------- state

async function show(state) {
  view.state = state;
  view.language = view.hooks.languageFor(state.language) ?? view.language ?? view.hooks.fallback();
  enterScreen();
  if (state.state === "downloading") {
    setPhase("preparing");
    showDownload(state.download);
    return poll();
  }
  if (view.paperId !== state.paper_id) {
    // An event and a poll may both bring the new paper: it is loaded and restored once.
    if (view.loading) return;
    view.loading = true;
    try {
      view.paper = await exam.loadPaper();
    } catch {
      setPhase("preparing");
      return poll();
    } finally {
      view.loading = false;
    }
    restore(state);
  }
  startClock();
  if (exam.CLOSED_STATES.has(state.state)) return showDone();
  if (state.state === "ready") return setPhase("instructions");
  if (view.phase !== "question") {
    setPhase("question");
    renderQuestion();
    focusQuestion();
  }
}

/** Take the agent's record of the exam, and the changes a reload left unsent on top of it. */
function restore(state) {
  view.paperId = state.paper_id;
  view.answers = { ...(state.answers ?? {}) };
  view.flagged = new Set(state.flagged ?? []);
  view.closed = false;
  view.timeUp = false;
  view.phase = null;
  view.saver = new exam.Saver(state.paper_id, { onChange: showSaving, onClosed: onClosedByAgent });
  const left = view.saver.leftovers();
  Object.assign(view.answers, left.answers);
  for (const [item, flagged] of Object.entries(left.flags)) {
    if (flagged) view.flagged.add(item);
    else view.flagged.delete(item);
  }
  const at = items().findIndex((i) => i.id === (left.position ?? state.current));
  view.index = Math.max(0, at);
  view.saver.flush();
}

function enterScreen() {
  applyLayout(view.language);
  if (examShown()) return render();
  view.hooks.onEnter(view.language);
  $("screen-language").hidden = true;
  $("screen-login").hidden = true;
  $("screen-exam").hidden = false;
  render();
}

function setPhase(phase) {
  view.phase = phase;
  for (const panel of document.querySelectorAll("[data-exam-panel]")) panel.hidden = panel.dataset.examPanel !== phase;
  $("exam-nav").hidden = phase !== "question";
  $("exam-progress").hidden = phase !== "question";
  $("exam-save").hidden = phase !== "question";
  // After submission the time no longer counts for anything.
  $("exam-clock").hidden = phase === "done" || view.state?.deadline == null;
  render();
  if (phase === "preparing") $("preparing-title").focus();
  if (phase === "instructions") $("exam-start").focus({ focusVisible: true });
}

/** How much of the paper package the agent has (`{received, size}`), as a bar without words. */
function showDownload(download) {
  const bar = $("preparing-progress");
  bar.hidden = !download?.size;
  if (download?.size) {
    bar.max = download.size;
    bar.value = Math.min(download.received ?? 0, download.size);
  }
}

/** Ask again in a moment (downloading, waiting for the result or for the timeout submission). */
function poll() {
  clearTimeout(view.pollTimer);
  view.pollTimer = setTimeout(refreshExam, POLL_MS);
}

// ---------------------------------------------------------------- words

/** Every word of the exam screen in the candidate's language. */
function render() {
  const language = view.language;
  const screen = $("screen-exam");
  translate(screen, language);
  for (const dialog of [$("exam-map"), $("exam-confirm")]) translate(dialog, language);
  const info = view.state?.exam ?? view.paper?.exam ?? {};
  $("exam-name").textContent = info.name ?? "";
  markLanguage($("exam-name"), language);
  const name = view.hooks.candidateName();
  $("exam-candidate").hidden = !name;
  withName($("exam-candidate"), name ? t("candidate.greeting") : "", name ?? "");
  const total = items().length;
  $("fact-questions").textContent = String(total);
  $("fact-minutes").textContent = t("exam.fact.minutes_value", { minutes: info.minutes ?? "" });
  $("fact-pass-row").hidden = info.pass_score == null;
  $("fact-pass").textContent = t("exam.fact.pass_value", {
    pass: exam.scoreText(info.pass_score ?? 0),
    max: exam.scoreText(info.max_score ?? 0),
  });
  buildKeyList();
  if (view.phase === "question") renderQuestion();
  if (view.phase === "done") renderDone();
  showSaving(view.saver ? { pending: view.saver.pending.size, failing: view.saver.failing } : null);
}

/** `text` into `el` with {name} as isolated text (a name in another script keeps the words around it in place). */
function withName(el, text, name) {
  el.replaceChildren();
  text.split("{name}").forEach((part, i) => {
    if (i > 0) {
      const bdi = document.createElement("bdi");
      bdi.textContent = name;
      el.append(bdi);
    }
    if (part) el.append(part);
  });
}

/** The keys, each a keycap (as printed on the keyboard, so never translated) and what it does. */
function keyHelp() {
  const { dir, writingMode } = view.language;
  const arrows = writingMode === "vertical-lr" ? ["↑", "↓"] : dir === "rtl" ? ["→", "←"] : ["←", "→"];
  return [
    [["1–4", "A–D"], "exam.key.choose"],
    [["Y", "N"], "exam.key.true_false"],
    [[...arrows, "PgUp", "PgDn"], "exam.key.move"],
    [["F"], "exam.key.flag"],
    [["M"], "exam.key.map"],
    [["S"], "exam.key.submit"],
  ];
}

function buildKeyList() {
  const list = $("exam-keys");
  list.replaceChildren();
  for (const [caps, key] of keyHelp()) {
    const li = document.createElement("li");
    const keys = document.createElement("span");
    keys.className = "caps";
    for (const cap of caps) {
      const kbd = document.createElement("kbd");
      kbd.dir = "ltr"; // 1–4 reads 1–4 in a right-to-left line too
      kbd.textContent = cap;
      keys.append(kbd);
    }
    const what = document.createElement("span");
    what.dataset.i18n = key;
    what.textContent = t(key);
    li.append(keys, what);
    list.append(li);
  }
}

// ---------------------------------------------------------------- instructions

async function start() {
  if (view.busy) return;
  view.busy = true;
  try {
    const state = await exam.startExam();
    view.state = { ...view.state, ...(state ?? {}), state: "in_progress" };
  } catch (e) {
    console.error("seat page: the exam did not start", e);
    view.busy = false;
    return refreshExam();
  }
  view.busy = false;
  setPhase("question");
  renderQuestion();
  focusQuestion();
}

// ---------------------------------------------------------------- one question

function renderQuestion() {
  const item = current();
  if (!item) return;
  const total = items().length;
  const paperLanguage = view.hooks.languageFor(view.paper.language) ?? view.language;
  $("question-number").textContent = t("exam.question.number", { number: item.number, total });
  $("question-kind").textContent = t(KIND_KEYS[item.kind] ?? "exam.kind.single");
  $("question-flagged").hidden = !view.flagged.has(item.id);
  const prompt = $("question-prompt");
  markLanguage(prompt, paperLanguage);
  prompt.textContent = item.prompt;
  $("exam-question").dataset.item = item.id;
  $("exam-question").dataset.kind = item.kind;

  const media = $("question-media");
  if (media.dataset.item !== item.id) {
    media.dataset.item = item.id;
    media.replaceChildren(...(item.media ?? []).map((m) => mediaElement(m, item)));
  }

  const chosen = new Set(view.answers[item.id] ?? []);
  const [yes, no] = item.kind === "true_false" ? exam.trueFalseChoices(item) : [];
  const box = $("question-choices");
  const focused = document.activeElement?.closest?.("#question-choices button")?.dataset.choice;
  box.dataset.item = item.id;
  box.replaceChildren(
    ...item.choices.map((choice, i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "choice";
      button.dataset.choice = choice.id;
      button.setAttribute("aria-pressed", String(chosen.has(choice.id)));
      if (view.closed) button.setAttribute("aria-disabled", "true");
      const cap = document.createElement("span");
      cap.className = "choice-key";
      cap.dir = "ltr";
      cap.textContent = exam.choiceLetter(i) + (choice.id === yes ? " · Y" : choice.id === no ? " · N" : "");
      const text = document.createElement("span");
      text.className = "choice-text";
      markLanguage(text, paperLanguage);
      text.textContent = choice.text;
      button.append(cap, text);
      button.addEventListener("click", () => choose(choice.id));
      return button;
    }),
  );
  if (focused) box.querySelector(`button[data-choice="${CSS.escape(focused)}"]`)?.focus();

  const flag = $("exam-flag");
  flag.setAttribute("aria-pressed", String(view.flagged.has(item.id)));
  $("exam-prev").setAttribute("aria-disabled", String(view.index === 0));
  $("exam-next").setAttribute("aria-disabled", String(view.index === total - 1));
  const count = items().filter(answered).length;
  $("exam-progress").textContent = t("exam.progress", { answered: count, total });
  for (const id of ["exam-flag", "exam-submit"]) $(id).setAttribute("aria-disabled", String(view.closed));
}

function mediaElement(m, item) {
  const url = exam.mediaUrl(m.path);
  if (String(m.mime).startsWith("video/")) {
    const video = document.createElement("video");
    video.src = url;
    video.controls = true;
    video.muted = true;
    video.setAttribute("aria-label", t("exam.picture", { number: item.number }));
    return video;
  }
  const img = document.createElement("img");
  img.src = url;
  img.alt = t("exam.picture", { number: item.number });
  img.className = "question-picture";
  return img;
}

function focusQuestion() {
  $("question-number").focus();
}

function choose(choice) {
  const item = current();
  if (!item || view.closed) return;
  const choices = exam.pick(item, view.answers[item.id] ?? [], choice);
  view.answers[item.id] = choices;
  view.saver.answer(item.id, choices);
  renderQuestion();
}

function move(step, { focus = null } = {}) {
  const next = view.index + step;
  if (next < 0 || next >= items().length) return;
  goToQuestion(next, { focus });
}

function goToQuestion(index, { focus = null } = {}) {
  view.index = index;
  if (!view.closed) view.saver.position(current().id);
  renderQuestion();
  if (focus) $(focus).focus();
  else focusQuestion();
}

function toggleFlag() {
  const item = current();
  if (!item || view.closed) return;
  const flagged = !view.flagged.has(item.id);
  if (flagged) view.flagged.add(item.id);
  else view.flagged.delete(item.id);
  view.saver.flag(item.id, flagged);
  renderQuestion();
}

// ---------------------------------------------------------------- the map

function openMap() {
  if (view.phase !== "question") return;
  const grid = $("map-grid");
  grid.replaceChildren(
    ...items().map((item, i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "map-cell";
      button.dataset.item = item.id;
      const isAnswered = answered(item);
      const isFlagged = view.flagged.has(item.id);
      button.dataset.answered = String(isAnswered);
      button.dataset.flagged = String(isFlagged);
      if (i === view.index) button.setAttribute("aria-current", "true");
      const state = `${isAnswered ? "answered" : "unanswered"}${isFlagged ? "_flagged" : ""}`;
      button.setAttribute("aria-label", t(MAP_CELL_KEYS[state], { number: item.number }));
      const number = document.createElement("span");
      number.className = "map-number";
      number.textContent = String(item.number);
      button.append(number);
      button.addEventListener("click", () => {
        $("exam-map").close();
        goToQuestion(i);
      });
      return button;
    }),
  );
  const dialog = $("exam-map");
  translate(dialog, view.language);
  if (!dialog.open) dialog.showModal();
  grid.querySelector("[aria-current=true]")?.focus({ focusVisible: true });
}

/** Arrow keys move between the map's cells by where they are on screen, in any writing mode. */
function moveInMap(event) {
  const step = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[event.key];
  if (!step) return;
  event.preventDefault();
  event.stopPropagation();
  const centre = (el) => {
    const r = el.getBoundingClientRect();
    return [r.left + r.width / 2, r.top + r.height / 2];
  };
  const [x0, y0] = centre(document.activeElement);
  let best = null;
  let bestDistance = Infinity;
  for (const cell of $("map-grid").querySelectorAll("button")) {
    const [x, y] = centre(cell);
    const along = (x - x0) * step[0] + (y - y0) * step[1];
    if (along <= 1) continue;
    const across = Math.abs((x - x0) * step[1]) + Math.abs((y - y0) * step[0]);
    const distance = along + 4 * across;
    if (distance < bestDistance) [best, bestDistance] = [cell, distance];
  }
  best?.focus();
}

// ---------------------------------------------------------------- submission

function askSubmit() {
  if (view.phase !== "question" || view.closed) return;
  const total = items().length;
  const unanswered = total - items().filter(answered).length;
  const text = $("confirm-text");
  text.dataset.unanswered = String(unanswered);
  text.textContent = unanswered > 0
    ? t("exam.confirm.unanswered", { count: unanswered, total })
    : t("exam.confirm.all_answered", { total });
  const dialog = $("exam-confirm");
  translate(dialog, view.language);
  if (!dialog.open) dialog.showModal();
  $("confirm-submit").focus({ focusVisible: true });
}

async function submit() {
  if (view.busy || view.closed) return;
  view.busy = true;
  $("exam-confirm").close();
  view.closed = true;
  renderQuestion();
  // Every change reaches the agent before the paper is closed.
  while (view.saver.pending.size > 0 && !view.saver.closed) {
    view.saver.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  let answer = null;
  try {
    answer = await exam.submitExam();
  } catch (e) {
    // 409: already submitted (the agent's timeout came first); otherwise the state says where we are.
    console.error("seat page: submission", e);
  }
  view.busy = false;
  view.state = { ...view.state, state: "submitted", result: answer?.result ?? null, submitted_at: answer?.submitted_at };
  await refreshExam();
  if (view.phase !== "done") showDone();
}

/** The agent refused a change: the paper is submitted, or the time is up. */
function onClosedByAgent(why) {
  view.closed = true;
  if (why === "deadline") view.timeUp = true;
  showSaving(null);
  refreshExam();
}

function showDone() {
  view.closed = true;
  view.saver?.close();
  for (const dialog of [$("exam-map"), $("exam-confirm")]) if (dialog.open) dialog.close();
  const first = view.phase !== "done";
  if (first) setPhase("done");
  else renderDone();
  if (first) $("done-title").focus();
  if (!view.state?.result) poll();
}

function renderDone() {
  const state = view.state ?? {};
  const result = state.result;
  // The agent's word on why the paper closed, else the page's own clock.
  const reason = state.submit_reason ?? result?.reason;
  const byTimeout = reason ? reason === "timeout" : view.timeUp;
  $("done-title").textContent = t("exam.submitted.title");
  const body = result
    ? (byTimeout ? "exam.submitted.timeout_scored" : "exam.submitted.stored")
    : (byTimeout ? "exam.submitted.timeout" : "exam.submitted.body");
  $("done-body").textContent = t(body);
  $("exam-done").dataset.reason = byTimeout ? "timeout" : "candidate";
  const box = $("exam-result");
  box.hidden = !result;
  $("exam-done").dataset.result = result ? (result.passed === true ? "passed" : result.passed === false ? "failed" : "scored") : "pending";
  if (!result) return;
  $("result-score").textContent = t("exam.result.score", {
    score: exam.scoreText(result.score),
    max: exam.scoreText(result.max_score),
  });
  $("result-verdict").hidden = result.passed == null;
  $("result-verdict").textContent = result.passed ? t("exam.result.passed") : t("exam.result.failed");
}

// ---------------------------------------------------------------- time

function startClock() {
  if (view.clockTimer || view.state?.deadline == null) return;
  $("exam-clock").hidden = view.phase === "done";
  tick();
  view.clockTimer = setInterval(tick, 250);
}

function tick() {
  const state = view.state;
  if (!state?.deadline) return;
  const left = exam.remainingMs(state);
  const done = exam.CLOSED_STATES.has(state.state) || view.phase === "done";
  $("exam-clock-time").textContent = exam.clockText(done ? Math.max(0, left) : left);
  $("exam-clock").dataset.low = String(left <= 5 * 60_000 && !done);
  if (view.lastRemaining !== null && !done) {
    const minutes = exam.reminderDue(view.lastRemaining, left);
    if (minutes !== null) remind(minutes === 1 ? t("exam.reminder.one") : t("exam.reminder.minutes", { minutes }));
  }
  view.lastRemaining = left;
  if (left <= 0 && !done && !view.timeUp) {
    // The agent submits by itself at the deadline; the page stops taking answers and waits for it.
    view.timeUp = true;
    view.closed = true;
    for (const dialog of [$("exam-map"), $("exam-confirm")]) if (dialog.open) dialog.close();
    remind(t("exam.time_up"));
    if (view.phase === "question") renderQuestion();
    poll();
  }
}

/** A reminder where the candidate sees it, read out politely: the focus stays on the question. */
function remind(text) {
  const reminder = $("exam-reminder");
  reminder.textContent = text;
  reminder.dataset.shown = "true";
}

function showSaving(status) {
  const el = $("exam-save");
  if (!status || view.phase === "done") {
    el.textContent = "";
    delete el.dataset.kind;
    return;
  }
  const key = status.failing ? "exam.save.failed" : status.pending > 0 ? "exam.save.saving" : "exam.save.saved";
  el.dataset.kind = status.failing ? "error" : status.pending > 0 ? "saving" : "saved";
  el.setAttribute("aria-live", status.failing ? "assertive" : "off");
  el.textContent = t(key);
}

// ---------------------------------------------------------------- keys

function onKey(event) {
  if (!examShown() || event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) return;
  if ($("exam-confirm").open || $("fullscreen-prompt").open || $("warning").open) return; // their buttons take Enter, Escape
  if ($("exam-map").open) {
    if (event.code === "KeyM") {
      event.preventDefault();
      $("exam-map").close();
    }
    return;
  }
  if (view.phase !== "question") return;
  const item = current();
  const step = exam.moveForKey(event.key, view.language);
  if (step !== 0) {
    event.preventDefault();
    return move(step);
  }
  const choice = exam.choiceForKey(item, event.code);
  if (choice !== null) {
    event.preventDefault();
    return choose(choice);
  }
  const action = { KeyF: toggleFlag, KeyM: openMap, KeyS: askSubmit }[event.code];
  if (action) {
    event.preventDefault();
    action();
  }
}
