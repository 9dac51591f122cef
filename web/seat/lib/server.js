// The seat page's login calls, in one place. The page never talks to the
// exam-centre server itself: its agent does (signed, over the link), and
// answers on loopback under /v1/login/.
//
// An agent that is not enrolled with a server (503 `no_server`, or an older
// agent without these routes) falls back to the placeholder at the bottom:
// nobody is admitted by the seat alone, every login ends "waiting for the
// examiner". Tests may swap the whole thing with `useServer(fake)`.
//
// Data the page hands over:
//
//   Identity = {
//     kind: "id_number" | "booking_number",
//     value: string,               // 18-character ID number or the booking number's digits
//     source: "keyboard" | "card", // typed, or read from the ID card at the seat
//     card?: object,               // POST /v1/idcard/read's answer when source is "card"
//   }
//
//   Capture = POST /v1/fingerprint/template's answer: {template, format, device, quality}
//   Snapshot = POST /v1/camera/snapshot's answer: {jpeg, record: {sha256, ...}}, or null

import { AgentError, call } from "./agent.js";

/**
 * @typedef {object} SeatServer
 * @property {() => Promise<{server: "connected" | "unreachable" | "not_enrolled", seat?: string, candidate: object | null}>} loginState
 *   Who is at this seat now (a reload, a candidate assigned while the page was away).
 * @property {(identity: object) => Promise<object>} lookupCandidate
 *   `{status: "found", booking_number, name, language, state, failures}`, or `{status}` one of
 *   "not_found", "not_today", "assigned_elsewhere", "already_admitted", "refused", "seat_busy";
 *   "deferred" without a server. Rejects with ServerUnreachable.
 * @property {(request: {identity: object, capture: object, attempt: number}) => Promise<object>} verifyWithServer
 *   `{verdict: "match" | "no_match" | "pending", score?, failures?, state?}`; "pending" without a server.
 * @property {(request: {identity: object | null, failures: number, reason: string}) => Promise<object | void>} askExaminer
 *   `reason` is a word: three_failures, device_fault, not_found, server_unreachable.
 * @property {(request: {identity: object | null, verdict: string | null, snapshot: object | null}) => Promise<{outcome: "admitted" | "waiting_for_examiner" | "refused"}>} finishLogin
 */

/** The exam-centre server did not answer (or the agent cannot reach it). */
export class ServerUnreachable extends Error {}

/** The agent or the server refused the step (409: `server_refused`, or `no_candidate` when the
 * agent lost the login, e.g. after a restart): not a retry, the examiner sorts it out. */
export class LoginRefused extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

/** Without a server nobody is admitted by the seat alone. */
const placeholder = {
  async loginState() {
    return { server: "not_enrolled", candidate: null };
  },
  async lookupCandidate() {
    return { status: "deferred" };
  },
  async verifyWithServer() {
    return { verdict: "pending" };
  },
  async askExaminer() {},
  async finishLogin() {
    return { outcome: "waiting_for_examiner" };
  },
};

/** An agent answer that means "no server behind me": not enrolled, or no login routes at all. */
const noServer = (e) => e instanceof AgentError && (e.kind === "no_server" || e.status === 404 || e.status === 405);

/** The agent's /v1/login/ routes; each call falls back to the placeholder while the agent has no server. */
const agent = {
  /** null until known; false once the agent said it has no server. */
  enrolled: null,

  async post(path, body, fallback) {
    if (this.enrolled === false) return fallback();
    try {
      const answer = await call(path, body);
      this.enrolled = true;
      return answer;
    } catch (e) {
      if (noServer(e)) {
        this.enrolled = false;
        return fallback();
      }
      if (e instanceof AgentError && e.status === 409) throw new LoginRefused(e.kind, e.message);
      // 502 server_unreachable, the agent itself gone, or an answer the page cannot use.
      throw new ServerUnreachable(e.message);
    }
  },

  async loginState() {
    let state;
    try {
      state = await call("/v1/login/state");
    } catch (e) {
      if (noServer(e)) {
        this.enrolled = false;
        return placeholder.loginState();
      }
      throw new ServerUnreachable(e.message);
    }
    this.enrolled = state.server !== "not_enrolled";
    return state;
  },

  lookupCandidate({ kind, value, source }) {
    return this.post("/v1/login/lookup", { kind, value, source }, placeholder.lookupCandidate);
  },

  verifyWithServer({ capture }) {
    return this.post("/v1/login/verify", { template: capture.template, format: capture.format },
      placeholder.verifyWithServer);
  },

  askExaminer({ failures, reason }) {
    return this.post("/v1/login/ask-examiner", { failures, reason }, placeholder.askExaminer);
  },

  finishLogin({ snapshot }) {
    return this.post("/v1/login/finish", { snapshot_sha256: snapshot?.record?.sha256 ?? null },
      placeholder.finishLogin);
  },
};

let server = agent;

/** Replace the server calls (tests with a fake); null puts the agent's back. */
export function useServer(impl) {
  server = impl ?? agent;
}

export const loginState = () => (server.loginState ?? placeholder.loginState).call(server);

export const lookupCandidate = (identity) => server.lookupCandidate(identity);

/** The seat captures; the agent matches against the enrolled templates and the server checks the score. */
export const verifyWithServer = (request) => server.verifyWithServer(request);

export const askExaminer = (request) => server.askExaminer(request);

export const finishLogin = (request) => server.finishLogin(request);
