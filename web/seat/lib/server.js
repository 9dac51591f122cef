// The seat page's calls to the exam-centre server, in one place.
//
// The server side of login (issue 8, items 3-4: roster lookup, the match
// against the enrolled templates, the examiner's decision) is not built yet.
// The page calls only the four functions below; until the server exists they
// answer with the placeholder at the bottom of this file, which never admits
// anyone: every login ends "waiting for the examiner".
//
// To connect the server, call `useServer(impl)` with an object that has the
// same four methods (all async). Each gets plain data and must resolve to
// the shapes documented here; a rejected promise is treated as "the server
// cannot be reached" and the page asks the candidate to call the examiner.
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
//   Capture = {                    // POST /v1/fingerprint/template's answer
//     template: string,            // standard padded base64
//     format: string,              // "iso19794-2", "ansi378" or "vendor:NAME"
//     device: string,
//     quality: number,             // 0..100
//   }

/**
 * @typedef {object} SeatServer
 * @property {(identity: object) => Promise<{status: "found", name?: string} | {status: "not_found"} | {status: "deferred"}>} lookupCandidate
 *   Find today's booking for the identity. "deferred": the server will decide later; the page goes on.
 * @property {(request: {identity: object, capture: object, attempt: number}) => Promise<{verdict: "match" | "no_match" | "pending", score?: number}>} verifyWithServer
 *   Compare the live fingerprint with the enrolled ones (MatchSampleTemplate, above 800 passes).
 *   "pending": the examiner decides; the page says so and goes on to the photo.
 * @property {(request: {identity: object | null, failures: number, reason: string}) => Promise<void>} askExaminer
 *   The candidate needs the examiner (three failures, a broken device). Alerts the console.
 * @property {(request: {identity: object, verdict: string, snapshot: object | null}) => Promise<{outcome: "admitted" | "waiting_for_examiner"}>} finishLogin
 *   The photo step is done: admit the candidate, or keep them waiting for the examiner.
 *   `snapshot` is POST /v1/camera/snapshot's answer (reason identity_verification), null without a camera.
 */

/** Until the server is connected: nobody is admitted by the seat alone. */
const placeholder = {
  async lookupCandidate() {
    return { status: "deferred" };
  },
  async verifyWithServer() {
    return { verdict: "pending" };
  },
  async askExaminer() {},
  async finishLogin({ verdict }) {
    return { outcome: verdict === "match" ? "admitted" : "waiting_for_examiner" };
  },
};

let server = placeholder;

/** Replace the server calls (the login flow when it lands; tests with a fake). */
export function useServer(impl) {
  server = impl ?? placeholder;
}

export const lookupCandidate = (identity) => server.lookupCandidate(identity);

/** The fingerprint match is the server's: the seat only captures. */
export const verifyWithServer = (request) => server.verifyWithServer(request);

export const askExaminer = (request) => server.askExaminer(request);

export const finishLogin = (request) => server.finishLogin(request);
