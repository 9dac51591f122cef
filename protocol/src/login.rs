//! Identity verification at login: the messages between the seat page, its
//! agent and the exam-centre server, for both of the seeds' login modes.
//!
//! - Mode (a): the examiner reads the candidate's ID card on the console
//!   PC. Its agent (approved with the role `console`) sends the card to the
//!   server ([`ConsoleCard`] to [`paths::CONSOLE_CARD`]); the server finds
//!   today's booking, checks the card, assigns a free seat at random and
//!   pushes [`Command::CandidateAssigned`](crate::link::Command) to it.
//! - Mode (b): at the seat the candidate gives an ID or booking number
//!   ([`LookupRequest`]), the agent receives the enrolled templates, runs
//!   `MatchSampleTemplate` against them and sends the signed evidence
//!   ([`VerifyEvidence`]); the server re-computes standard-format scores and
//!   refuses a result that disagrees. After [`MAX_FAILURES`] failures the
//!   examiner decides ([`Decision`]).
//!
//! Every agent → server request here is signed like any other link request
//! (see [`crate::link`]); the server keeps the signature of each
//! [`VerifyEvidence`] with it, so the evidence can be re-checked later.
//!
//! ```
//! use examgate_protocol::login::{IdentityKind, LookupRequest, IdentitySource};
//! let r: LookupRequest = serde_json::from_str(
//!     r#"{"kind":"booking_number","value":"20261125001","source":"keyboard"}"#).unwrap();
//! assert_eq!(r.kind, IdentityKind::BookingNumber);
//! assert_eq!(r.source, IdentitySource::Keyboard);
//! ```

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Failed fingerprint attempts after which the seat asks the examiner.
pub const MAX_FAILURES: u32 = 3;

/// A score above this is a match (the seeds' `MatchSampleTemplate` rule).
pub const MATCH_THRESHOLD: i32 = 800;

/// Paths of the server's login endpoints (signed agent requests).
pub mod paths {
    /// `POST`: [`LookupRequest`](super::LookupRequest) → [`LookupResponse`](super::LookupResponse).
    pub const LOOKUP: &str = "/agent/v1/login/lookup";
    /// `POST`: [`VerifyEvidence`](super::VerifyEvidence) → [`VerifyResponse`](super::VerifyResponse).
    pub const VERIFY: &str = "/agent/v1/login/verify";
    /// `POST`: [`AskExaminer`](super::AskExaminer) → [`SeatLoginState`](super::SeatLoginState).
    pub const ASK_EXAMINER: &str = "/agent/v1/login/ask-examiner";
    /// `POST`: [`FinishLogin`](super::FinishLogin) → [`SeatLoginState`](super::SeatLoginState).
    pub const FINISH: &str = "/agent/v1/login/finish";
    /// `GET`: → [`SeatLoginState`](super::SeatLoginState): who is at this seat now.
    pub const STATE: &str = "/agent/v1/login/state";
    /// `POST` (console agents only): [`ConsoleCard`](super::ConsoleCard) → [`CardCheck`](super::CardCheck).
    pub const CONSOLE_CARD: &str = "/agent/v1/console/card";
}

/// What the candidate identified themselves with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// The 18-character citizen ID number (or a permanent residence card's).
    IdNumber,
    /// The booking number of today's exam.
    BookingNumber,
}

/// How the identity reached the seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySource {
    Keyboard,
    /// Read from the ID card on the seat's reader.
    Card,
}

/// `POST /agent/v1/login/lookup` (and the agent's `POST /v1/login/lookup`):
/// find today's booking and claim the candidate for this seat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    pub kind: IdentityKind,
    pub value: String,
    pub source: IdentitySource,
}

/// A fingerprint template with its format, as the agent API writes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateData {
    /// `iso19794-2`, `ansi378` or `vendor:NAME`.
    pub format: String,
    /// The template bytes, standard padded base64.
    pub data: String,
}

/// Where a candidate stands today.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateState {
    /// Booked, not yet at a seat.
    Booked,
    /// Mode (a): the examiner read the card and the server gave them a seat.
    Assigned,
    /// Mode (b): identifying at a seat.
    Verifying,
    /// Three failures (or a broken device): the examiner decides.
    WaitingForExaminer,
    /// May sit the exam.
    Admitted,
    /// The examiner refused.
    Refused,
}

/// The server's answer to a lookup: the candidate and the templates to match against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupResponse {
    pub booking_number: String,
    pub name: String,
    /// One of the twelve exam languages, as the seat page names them
    /// (`web/seat/i18n/languages.json`): `zh-CN`, `en`, `fr`, `de`, `ru`, `es`,
    /// `ar`, `ja`, `ko`, `mn-Mong`, `ug`, `kk-Arab`.
    pub language: String,
    /// The exam session, e.g. `2026-11-25 09:00`.
    pub session: String,
    pub state: CandidateState,
    /// Failed fingerprint attempts so far today.
    pub failures: u32,
    /// The enrolled templates (at least one); only ever sent to the seat that claimed the candidate.
    pub templates: Vec<TemplateData>,
}

/// `POST /agent/v1/login/verify`: one fingerprint attempt, signed by the seat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyEvidence {
    pub booking_number: String,
    /// 1 for the first attempt today at this seat, then 2, 3 …
    pub attempt: u32,
    /// The live template the seat's reader captured.
    pub live: TemplateData,
    /// Which enrolled template (index into [`LookupResponse::templates`]) scored best.
    pub enrolled_index: u32,
    /// `MatchSampleTemplate`'s result for that pair: 1..=1000, or -1 when the match failed.
    pub score: i32,
    /// The SHA-256 (hex) of the verification snapshot the seat took as the finger was read,
    /// delivered separately as a snapshot; `None` without a camera.
    pub snapshot_sha256: Option<String>,
    pub captured_at: Timestamp,
}

/// The verdict of an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Match,
    NoMatch,
}

/// The server's answer to [`VerifyEvidence`]. A score the server re-computed
/// differently is not an answer but an error (`409 score_disagrees`), and counts as a failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyResponse {
    pub verdict: Verdict,
    pub score: i32,
    /// The server's own score for standard-format templates; `None` for vendor formats.
    pub server_score: Option<i32>,
    /// Failed attempts so far, this one included.
    pub failures: u32,
    pub state: CandidateState,
}

/// `POST /agent/v1/login/ask-examiner`: the candidate needs the examiner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskExaminer {
    /// `None` when the candidate could not even be identified.
    pub booking_number: Option<String>,
    pub failures: u32,
    /// `three_failures`, `device_fault`, `not_found`, `server_unreachable`, … (a word, not prose).
    pub reason: String,
}

/// `POST /agent/v1/login/finish`: the photo step is done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinishLogin {
    pub booking_number: String,
    /// SHA-256 (hex) of the verification snapshot, delivered separately.
    pub snapshot_sha256: Option<String>,
}

/// A candidate at a seat, as the seat sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatCandidate {
    pub booking_number: String,
    pub name: String,
    pub language: String,
    pub state: CandidateState,
    pub failures: u32,
    /// `card_at_console` (mode a) or `seat` (mode b).
    pub mode: String,
}

/// Who is at a seat now (answers to ask-examiner, finish and `GET …/state`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatLoginState {
    pub seat: String,
    pub candidate: Option<SeatCandidate>,
}

/// `POST /agent/v1/console/card`: the card the examiner read at the console PC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleCard {
    pub card: crate::idcard::IdCard,
}

/// What the server made of a card read at the console (also pushed to the
/// console page as a `card_read` event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardCheck {
    /// The card passed every check and a seat was assigned.
    pub accepted: bool,
    /// Problems found, each a word: `check_character`, `not_yet_valid`,
    /// `expired`, `no_booking_today`, `already_admitted`, `refused`, `no_free_seat`, `unreadable`.
    pub problems: Vec<String>,
    pub booking_number: Option<String>,
    pub name: Option<String>,
    /// The seat assigned (or already held).
    pub seat: Option<String>,
}

/// The examiner's decision on a candidate who failed at the seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Admitted,
    Refused,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_verdicts_have_snake_case_names() {
        assert_eq!(serde_json::to_string(&CandidateState::WaitingForExaminer).unwrap(), r#""waiting_for_examiner""#);
        assert_eq!(serde_json::to_string(&Verdict::NoMatch).unwrap(), r#""no_match""#);
        assert_eq!(serde_json::to_string(&Decision::Admitted).unwrap(), r#""admitted""#);
    }

    #[test]
    fn evidence_refuses_unknown_fields() {
        let json = r#"{"booking_number":"1","attempt":1,"live":{"format":"iso19794-2","data":"AA=="},
            "enrolled_index":0,"score":900,"snapshot_sha256":null,"captured_at":"2026-11-25T09:00:00.000Z","x":1}"#;
        assert!(serde_json::from_str::<VerifyEvidence>(json).is_err());
    }
}
