// The exam's side of the agent (`/v1/exam`, served from the paper package on
// the agent's own disk) and the parts of the exam screen that need no page:
// the clock, the reminders, which key picks which choice, and the queue that
// saves every change.
//
// The agent answers, as JSON:
//   GET  /v1/exam            -> {state: "none" | "downloading" | "ready" | "in_progress" | "submitted" | "finished",
//                                paper_id, exam: {id, name, minutes, pass_score, max_score}, language, dir,
//                                deadline (ms, the server's clock), server_offset_ms, current, answers: {item: [choice]},
//                                flagged: [item], submitted_at, result: null | {score, max_score, passed, ...}}
//   GET  /v1/exam/paper      -> {paper_id, exam, language, dir, items: [{id, number, kind, prompt,
//                                media: [{path, mime}], choices: [{id, text}]}]}
//   GET  /v1/exam/media/PATH -> the file
//   POST /v1/exam/start, POST /v1/exam/submit, PUT /v1/exam/answers/{item} {choices},
//   PUT  /v1/exam/flags/{item} {flagged}, PUT /v1/exam/position {item}

import { AgentError, send } from "./agent.js";

/** States in which the exam screen, not the login, is the page. */
export const EXAM_STATES = new Set(["downloading", "ready", "in_progress", "submitted", "finished"]);
/** States after submission: answers can no longer change. */
export const CLOSED_STATES = new Set(["submitted", "finished"]);

/** The agent's exam state, or null when it has no exam (none yet, or an agent without the routes). */
export async function examState() {
  try {
    const state = await send("GET", "/v1/exam");
    return state && EXAM_STATES.has(state.state) ? state : null;
  } catch (e) {
    if (e instanceof AgentError && (e.status === 404 || e.kind === "unknown_route" || e.kind === "not_found")) return null;
    throw e;
  }
}

export const loadPaper = () => send("GET", "/v1/exam/paper");
export const startExam = () => send("POST", "/v1/exam/start", {});
export const submitExam = () => send("POST", "/v1/exam/submit", {});

/** The URL of one of the paper's media files (`media/<sha256>.png`): each segment escaped, slashes kept. */
export const mediaUrl = (path) => `/v1/exam/media/${String(path).split("/").map(encodeURIComponent).join("/")}`;

// ---------------------------------------------------------------- time

/**
 * Milliseconds left until the server's `deadline`: the server's clock is the
 * page's (this PC's) plus the offset the agent measured when it fetched the
 * paper, so a PC clock that is wrong does not give anyone more time.
 */
export function remainingMs({ deadline, server_offset_ms: offset = 0 }, now = Date.now()) {
  return deadline - (now + offset);
}

/** `ms` as the clock shows it: `45:00`, `9:07`, `1:05:09`; never below `0:00`, seconds rounded up. */
export function clockText(ms) {
  const total = Math.ceil(Math.max(0, ms) / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** Minutes left at which the candidate is reminded. */
export const REMINDERS = [10, 5, 1];

/**
 * The reminder due when the time left went from `before` to `after` ms: the
 * smallest of REMINDERS passed on the way (a PC that slept past two gets the later one), or null.
 */
export function reminderDue(before, after) {
  let due = null;
  for (const minutes of REMINDERS) {
    const at = minutes * 60_000;
    if (before > at && after <= at && after > 0) due = minutes;
  }
  return due;
}

// ---------------------------------------------------------------- keys

const TRUE_IDS = /^(true|t|yes|y|right|correct|1)$/i;
const FALSE_IDS = /^(false|f|no|n|wrong|incorrect|0)$/i;

/**
 * The two choices of a true/false item as [yes, no]: by their identifiers
 * (`true`/`false`, `T`/`F`, `yes`/`no`…) when they say, else in the order shown.
 */
export function trueFalseChoices(item) {
  const yes = item.choices.find((c) => TRUE_IDS.test(c.id));
  const no = item.choices.find((c) => FALSE_IDS.test(c.id));
  if (yes && no && yes !== no) return [yes.id, no.id];
  return [item.choices[0]?.id, item.choices[1]?.id];
}

/**
 * The choice a key press picks on `item`, or null. `code` is the physical key
 * (`Digit1`, `Numpad1`, `KeyA`…`KeyE`, `KeyY`/`KeyN` on true/false): the keycaps' digits and Latin letters work
 * whatever keyboard layout the candidate's language switched to.
 */
export function choiceForKey(item, code) {
  let index = null;
  let m;
  if ((m = /^(?:Digit|Numpad)([1-9])$/.exec(code))) index = Number(m[1]) - 1;
  else if (item.kind === "true_false" && (code === "KeyY" || code === "KeyN")) {
    return trueFalseChoices(item)[code === "KeyY" ? 0 : 1] ?? null;
  } else if ((m = /^Key([A-E])$/.exec(code))) index = m[1].charCodeAt(0) - 65; // F is Flag
  return index !== null && index < item.choices.length ? item.choices[index].id : null;
}

/** A score as shown: whole numbers as they are, others to two decimals at most (92.5, not 92.50000001). */
export const scoreText = (x) => String(Math.round(Number(x) * 100) / 100);

/** The letter shown on the `index`th choice (A, B, C…), the key that picks it. */
export const choiceLetter = (index) => String.fromCharCode(65 + index);

/**
 * The answer after picking `choice`: multiple choice toggles it (kept in the
 * order shown), single choice and true/false replace the answer with it.
 */
export function pick(item, chosen, choice) {
  if (item.kind !== "multiple") return [choice];
  const set = new Set(chosen);
  if (set.has(choice)) set.delete(choice);
  else set.add(choice);
  return item.choices.map((c) => c.id).filter((id) => set.has(id));
}

/**
 * Which way an arrow key moves through the questions: +1 next, -1 previous,
 * 0 not a move. Arrows keep their meaning in reading order: in a right-to-left
 * language the next question is to the left (as the Next button is), in
 * vertical Mongolian, whose lines run top to bottom and follow each other
 * left to right, down and right both go on. PageDown/PageUp work in every language.
 */
export function moveForKey(key, { dir, writingMode }) {
  if (key === "PageDown") return 1;
  if (key === "PageUp") return -1;
  if (writingMode === "vertical-lr") return { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[key] ?? 0;
  const forward = dir === "rtl" ? "ArrowLeft" : "ArrowRight";
  const back = dir === "rtl" ? "ArrowRight" : "ArrowLeft";
  return key === forward ? 1 : key === back ? -1 : 0;
}

// ---------------------------------------------------------------- saving

const RETRY_MS = [500, 1000, 2000, 4000];

/**
 * Every change, sent to the agent at once and in order, one at a time. A
 * change not yet acknowledged is kept (in memory and in localStorage, so a
 * reload or a killed browser sends it again) and retried until the agent
 * takes it; for one item only the latest change is kept. The paper submitted
 * (409 `submitted`) or the time up (410) stops the queue: `onClosed(why)`; a
 * change the agent cannot take now (the agent away, 409 `not_ready`, 503) is retried.
 * `onChange({pending, failing})` after each step, for the page to show.
 */
export class Saver {
  constructor(paperId, { onChange, onClosed, storage = globalThis.localStorage }) {
    this.key = `examgate.exam.pending.${paperId}`;
    this.storage = storage;
    this.onChange = onChange;
    this.onClosed = onClosed;
    /** Map of "answer:ITEM" | "flag:ITEM" | "position" -> {path, body}, oldest first. */
    this.pending = new Map();
    this.failing = false;
    this.closed = false;
    this.running = false;
    this.attempt = 0;
    this.timer = 0;
    try {
      for (const [k, change] of JSON.parse(storage?.getItem(this.key) ?? "[]")) this.pending.set(k, change);
    } catch {
      // Unreadable leftovers are dropped: the agent's state is the record.
    }
  }

  /** Changes a reload left unsent, as {answers: {item: choices}, flags: {item: bool}, position}. */
  leftovers() {
    const out = { answers: {}, flags: {}, position: null };
    for (const [k, { body }] of this.pending) {
      const [kind, item] = k.split(/:(.*)/s);
      if (kind === "answer") out.answers[item] = body.choices;
      else if (kind === "flag") out.flags[item] = body.flagged;
      else if (kind === "position") out.position = body.item;
    }
    return out;
  }

  answer(item, choices) {
    this.queue(`answer:${item}`, `/v1/exam/answers/${encodeURIComponent(item)}`, { choices });
  }

  flag(item, flagged) {
    this.queue(`flag:${item}`, `/v1/exam/flags/${encodeURIComponent(item)}`, { flagged });
  }

  position(item) {
    this.queue("position", "/v1/exam/position", { item });
  }

  queue(key, path, body) {
    if (this.closed) return;
    this.pending.delete(key); // the latest change goes to the end: the order of changes is kept
    this.pending.set(key, { path, body });
    this.store();
    this.changed();
    this.run();
  }

  /** Send what is pending now (after a reload, or when the agent is back). */
  flush() {
    clearTimeout(this.timer);
    this.attempt = 0;
    this.run();
  }

  /** Stop sending (the paper is closed); what is left stays in storage for nobody. */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.pending.clear();
    this.store();
    this.changed();
  }

  async run() {
    if (this.running || this.closed) return;
    this.running = true;
    try {
      while (this.pending.size > 0 && !this.closed) {
        const [key, change] = this.pending.entries().next().value;
        try {
          await send("PUT", change.path, change.body);
        } catch (e) {
          if (e instanceof AgentError && (e.kind === "submitted" || e.status === 410)) {
            this.close();
            this.onClosed?.(e.status === 410 ? "deadline" : "submitted");
            return;
          }
          if (e instanceof AgentError && (e.status === 400 || e.status === 404)) {
            // Refused as malformed (an item not in the paper): sending it again cannot help.
            console.error(`seat page: the agent refused ${change.path}`, e);
            if (this.pending.get(key) === change) this.pending.delete(key);
            this.store();
            continue;
          }
          this.failing = true;
          this.changed();
          const wait = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
          this.attempt += 1;
          this.timer = setTimeout(() => this.run(), wait);
          return;
        }
        // A newer change to the same thing may have come meanwhile: it stays queued.
        if (this.pending.get(key) === change) this.pending.delete(key);
        this.attempt = 0;
        this.failing = false;
        this.store();
        this.changed();
      }
    } finally {
      this.running = false;
    }
  }

  store() {
    try {
      if (this.pending.size === 0) this.storage?.removeItem(this.key);
      else this.storage?.setItem(this.key, JSON.stringify([...this.pending]));
    } catch {
      // No storage (private mode, full): the queue in memory still holds every change.
    }
  }

  changed() {
    this.onChange?.({ pending: this.pending.size, failing: this.failing });
  }
}
