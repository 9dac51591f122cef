// The exam: per seat the candidate's paper (answered / total, time left on
// the server's clock, online or not, submitted with the score), and per
// session how many started, submitted and passed. Redrawn on the server's
// exam_progress / exam_submitted events and every few seconds for the clock.

import { $, el } from "./dom.js";
import { api, sayError } from "./api.js";
import { t, tOr } from "./i18n.js";

let last = null;
let timer = 0;

/** "12:05": minutes and seconds left. */
function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function verdict(passed) {
  if (passed === true) return t("exam.passed");
  if (passed === false) return t("exam.failed");
  return t("exam.no_pass_score");
}

function row(s, elapsed) {
  const done = s.state === "submitted";
  const result = done ? t("exam.score", { score: s.score ?? 0, max: s.max_score, verdict: verdict(s.passed) }) : "";
  return el(
    "tr",
    { "data-seat": s.seat, "data-state": s.state },
    el("td", {}, s.seat),
    el("td", {}, s.name, el("br"), el("span", { class: "muted" }, s.booking_number)),
    el("td", {}, s.exam_name),
    el("td", {}, t("exam.answered", { answered: s.answered, total: s.total })),
    el("td", {}, done ? "" : clock(s.time_left_ms - elapsed)),
    el("td", {}, s.online ? t("roster.yes") : t("roster.no")),
    el("td", {}, tOr(`exam_state.${s.state}`, s.state), result ? el("br") : null, result),
  );
}

function render(view, summary) {
  const elapsed = Date.now() - view.fetchedAt;
  const body = $("#exam-seats");
  body.replaceChildren(...view.seats.map((s) => row(s, elapsed)));
  $("#exam-table").hidden = view.seats.length === 0;
  $("#no-exam").hidden = view.seats.length !== 0;
  $("#exam-summary").replaceChildren(
    ...summary.sessions.map((s) =>
      el("li", {}, t("exam.summary", { session: s.session, started: s.started, submitted: s.submitted, passed: s.passed })),
    ),
  );
}

/** Redraw the last exam view in the current language. */
export function rerenderExam() {
  if (last) render(last.view, last.summary);
}

let loading = null;
export async function loadExam() {
  if (loading) return loading;
  loading = (async () => {
    try {
      const [view, summary] = await Promise.all([api("GET", "/api/v1/exam/progress"), api("GET", "/api/v1/exam/summary")]);
      view.fetchedAt = Date.now();
      last = { view, summary };
      render(view, summary);
    } catch (e) {
      if (e.status === 401 || e.status === 403) return;
      sayError($("#error"), e, "exam.error");
    } finally {
      loading = null;
    }
  })();
  return loading;
}

/** The clock column counts down between fetches; a fetch every 15 s keeps the rest fresh. */
export function watchExam() {
  clearInterval(timer);
  let ticks = 0;
  timer = setInterval(() => {
    if ($("#console").hidden) return;
    ticks += 1;
    if (ticks % 15 === 0) loadExam();
    else rerenderExam();
  }, 1000);
}
