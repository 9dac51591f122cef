// The evidence the examiner compares before deciding: the roster photo beside
// the verification snapshot of each fingerprint attempt, with its time, the
// seat's score and the server's, the verdict, and whether the seat's signature
// holds (GET /api/v1/roster/{booking}/evidence). A snapshot travels through the
// seat's outbox and may arrive after its attempt: until it is here the view
// says so, and looks again on every update and every few seconds meanwhile.

import { el } from "./dom.js";
import { current, say, t, tOr, unsay } from "./i18n.js";
import { api, enc, sayError } from "./api.js";

/** How often a view looks again for snapshots not yet received (no event says one arrived). */
const RECHECK_MS = 2000;

/** Snapshots known to be on the server, by SHA-256: files never change once there. */
const received = new Set();

const snapshotUrl = (sha256) => `/api/v1/snapshots/${enc(sha256)}`;

/** Whether the server has the snapshot yet (HEAD: no body, no cache, no broken image). */
async function onServer(sha256) {
  if (received.has(sha256)) return true;
  try {
    const r = await fetch(snapshotUrl(sha256), { method: "HEAD", credentials: "same-origin", cache: "no-store" });
    if (r.ok) received.add(sha256);
    return r.ok;
  } catch {
    return false;
  }
}

const signature = (valid) => (valid === true ? "valid" : valid === false ? "invalid" : "purged");

/** One candidate's evidence, as a block that a list item or a table row holds. */
class EvidenceView {
  constructor(booking) {
    this.booking = booking;
    this.data = null;
    this.dropped = false;
    this.loading = null;
    this.again = false;
    this.timer = 0;
    this.error = null;
    /** Per attempt id: its snapshot's <img> once the server has the file, and whether it decoded. */
    this.snapshots = new Map();
    this.photoState = "loading";
    this.photo = el("img", { class: "roster-photo", src: `/api/v1/roster/${enc(booking)}/photo` });
    this.photo.addEventListener("load", () => this.photoDone("shown"));
    this.photo.addEventListener("error", () => this.photoDone("none"));
    this.status = el("p", { class: "evidence-status", role: "status" });
    this.table = el("table", { class: "attempts" });
    this.root = el("div", { class: "evidence", role: "group", "data-booking": booking });
    this.draw();
  }

  photoDone(state) {
    this.photoState = state;
    this.draw();
  }

  /** Fetch the attempts again (one fetch at a time), then look for the snapshots still missing. */
  update() {
    if (this.dropped) return Promise.resolve();
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      try {
        const data = await api("GET", `/api/v1/roster/${enc(this.booking)}/evidence`);
        if (this.error || JSON.stringify(data) !== JSON.stringify(this.data)) {
          this.data = data;
          this.error = null;
          this.draw();
        }
        await this.lookForSnapshots();
      } catch (e) {
        this.error = e;
        this.draw();
      } finally {
        this.loading = null;
      }
      if (this.again) {
        this.again = false;
        await this.update();
      }
      this.scheduleRecheck();
    })();
    return this.loading;
  }

  async lookForSnapshots() {
    const found = [];
    for (const a of this.attempts()) {
      if (a.snapshot_sha256 && !this.snapshots.has(a.id) && await onServer(a.snapshot_sha256)) found.push(a);
    }
    if (this.dropped || !found.length) return;
    for (const a of found) {
      const img = el("img", { class: "snapshot", "data-sha256": a.snapshot_sha256 });
      const entry = { img, state: "loading" };
      img.addEventListener("load", () => { entry.state = "shown"; this.draw(); });
      img.addEventListener("error", () => { entry.state = "unreadable"; this.draw(); });
      img.src = snapshotUrl(a.snapshot_sha256);
      this.snapshots.set(a.id, entry);
    }
    this.draw();
  }

  attempts() {
    return this.data?.attempts ?? [];
  }

  /**
   * While a snapshot is missing (or the server could not be reached) and the view is shown,
   * look again; a locked console stops it, and the next refresh after login starts it again.
   */
  scheduleRecheck() {
    clearTimeout(this.timer);
    const unreachable = this.error && !(this.error.status >= 400 && this.error.status < 500);
    const waiting = unreachable || (!this.error && this.attempts().some((a) => a.snapshot_sha256 && !this.snapshots.has(a.id)));
    if (this.dropped || !waiting) return;
    this.timer = setTimeout(() => {
      if (this.root.isConnected && !this.root.closest("[hidden]")) this.update();
    }, RECHECK_MS);
  }

  drop() {
    this.dropped = true;
    clearTimeout(this.timer);
  }

  /** Redraw from the last answer, in the current language; the images are kept, not fetched again. */
  draw() {
    const name = this.data?.name ?? "";
    const who = { name, booking: this.booking };
    this.root.setAttribute("aria-label", t("evidence.label", who));
    this.photo.alt = t("evidence.roster_photo_alt", who);
    this.photo.hidden = this.photoState !== "shown";
    const photo = el("figure", { class: "roster", "data-photo": this.photoState }, this.photo,
      this.photoState === "none" ? el("p", { class: "muted" }, t("evidence.no_roster_photo")) : null,
      el("figcaption", {}, t("evidence.roster_caption")));

    const attempts = this.attempts();
    this.table.hidden = attempts.length === 0;
    this.table.replaceChildren(
      el("caption", {}, t("evidence.caption")),
      el("thead", {}, el("tr", {}, ...["evidence.attempt", "col.seat", "evidence.time", "evidence.score", "evidence.server_score",
        "evidence.verdict", "evidence.signature", "evidence.snapshot"].map((k) => el("th", { scope: "col" }, t(k))))),
      el("tbody", {}, ...attempts.map((a) => this.attemptRow(a))));

    if (this.error) sayError(this.status, this.error, "evidence.error");
    else if (!this.data) say(this.status, "evidence.loading");
    else if (!attempts.length) say(this.status, "evidence.none");
    else unsay(this.status);
    this.root.replaceChildren(photo, el("div", { class: "attempts-box" }, this.table, this.status));
  }

  attemptRow(a) {
    const verdict = a.verdict;
    const sig = signature(a.signature_valid);
    const [snapshotState, snapshotCell] = this.snapshotCell(a);
    return el("tr", { "data-attempt": a.attempt, "data-verdict": verdict, "data-signature": sig, "data-snapshot": snapshotState },
      el("td", {}, t("evidence.attempt_no", { attempt: a.attempt })),
      el("td", {}, a.seat),
      el("td", {}, new Date(a.captured_at).toLocaleTimeString(current().code)),
      el("td", { class: "score" }, String(a.score)),
      el("td", { class: "server-score" }, a.server_score === null || a.server_score === undefined ? t("evidence.not_rechecked") : String(a.server_score)),
      el("td", { class: `verdict ${verdict}` }, tOr(`verdict.${verdict}`, verdict)),
      el("td", { class: `signature ${sig}` }, t(`signature.${sig}`)),
      el("td", { class: "snapshot-cell" }, snapshotCell));
  }

  snapshotCell(a) {
    if (!a.snapshot_sha256) return ["none", el("span", { class: "muted" }, t("evidence.no_snapshot"))];
    const entry = this.snapshots.get(a.id);
    if (!entry) return ["missing", el("span", { class: "muted" }, t("evidence.not_received"))];
    entry.img.alt = t("evidence.snapshot_alt", { attempt: a.attempt });
    if (entry.state === "unreadable") return ["unreadable", el("span", { class: "error" }, t("evidence.unreadable"))];
    return [entry.state, entry.img];
  }
}

/** The views in use, by where they are shown ("needs", "roster") and booking number. */
const views = new Map();

/**
 * The evidence block of `booking` for the place `where`: made (and loaded) on
 * first use, the same element afterwards so that a redraw does not reload it.
 */
export function evidenceFor(where, booking) {
  const key = `${where}\n${booking}`;
  let view = views.get(key);
  if (!view) {
    view = new EvidenceView(booking);
    views.set(key, view);
    view.update();
  }
  return view.root;
}

/** Forget the views of `where` whose booking is not in `bookings` (no longer shown). */
export function keepEvidence(where, bookings) {
  const keep = new Set(bookings);
  for (const [key, view] of views) {
    const [place, booking] = key.split("\n");
    if (place === where && !keep.has(booking)) {
      view.drop();
      views.delete(key);
    }
  }
}

/** Something changed at the server: every view fetches its attempts again. */
export function refreshEvidence() {
  return Promise.all([...views.values()].map((v) => v.update()));
}

/** Redraw every view in the current language. */
export function rerenderEvidence() {
  for (const view of views.values()) view.draw();
}
