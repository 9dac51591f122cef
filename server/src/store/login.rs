//! Candidate state changes at login, in the store: a seat claims a candidate,
//! records fingerprint attempts, calls the examiner and finishes; the console
//! assigns a seat from a card read, admits, refuses and releases. Each change
//! is one transaction with its audit row (and its alert or pushed command),
//! and each begins by locking the audit head, so two servers on one
//! PostgreSQL decide one claim at a time. The rules themselves live in
//! [`crate::login`]; `login_sql.rs` applies them, one SQL text for both databases.
//!
//! While a candidate is `verifying`, `updated_at` is the time of the claim:
//! a failed attempt changes `failures`, never `updated_at`, so "a match since
//! the claim" is a match received at or after `updated_at`.

use async_trait::async_trait;
use examgate_protocol::login::Decision;

use super::exam::{Admission, PaperPlan};
use super::{Alert, Candidate, CommandRow, StoreError};
use crate::login::Conflict;

/// Why a login step did not happen: the rules refused it (409 with its kind), or storage failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    Conflict(#[from] Conflict),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for LoginError {
    fn from(e: sqlx::Error) -> LoginError {
        LoginError::Store(e.into())
    }
}

/// A seat looks a candidate up (mode (b)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub booking_number: String,
    pub seat: String,
    pub key_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    pub candidate: Candidate,
    /// Whether this lookup changed the candidate (a repeated lookup does not).
    pub changed: bool,
    /// The seat's earlier candidate, released to `booked` by this claim.
    pub released: Option<Candidate>,
}

/// `verifications.verdict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredVerdict {
    Match,
    NoMatch,
    /// The server's re-computed score disagreed with the seat's: a failure, and a tamper alert.
    Disagreed,
}

impl StoredVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            StoredVerdict::Match => "match",
            StoredVerdict::NoMatch => "no_match",
            StoredVerdict::Disagreed => "disagreed",
        }
    }

    pub fn parse(s: &str) -> Result<StoredVerdict, StoreError> {
        match s {
            "match" => Ok(StoredVerdict::Match),
            "no_match" => Ok(StoredVerdict::NoMatch),
            "disagreed" => Ok(StoredVerdict::Disagreed),
            other => Err(StoreError::Invalid(format!("stored verdict {other:?} is unknown"))),
        }
    }
}

/// One fingerprint attempt with its evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewVerification {
    pub id: String,
    pub booking_number: String,
    pub seat: String,
    pub key_id: String,
    pub attempt: u32,
    pub live_format: String,
    pub enrolled_index: u32,
    pub score: i32,
    pub server_score: Option<i32>,
    pub verdict: StoredVerdict,
    pub snapshot_sha256: Option<String>,
    /// The request body, sealed ([`aad::verification_body`](crate::seal::aad::verification_body)).
    pub body: String,
    pub body_sha256: String,
    /// JSON of [`StoredSignature`](crate::login::evidence::StoredSignature).
    pub signature: String,
    pub captured_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub candidate: Candidate,
    /// `score_disagreement` and/or `examiner_needed`, raised with this attempt.
    pub alerts: Vec<Alert>,
}

/// A stored attempt, as the evidence view reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerificationRow {
    pub id: String,
    pub booking_number: String,
    pub seat: String,
    pub key_id: String,
    pub attempt: u32,
    pub live_format: String,
    pub enrolled_index: u32,
    pub score: i32,
    pub server_score: Option<i32>,
    pub verdict: StoredVerdict,
    pub snapshot_sha256: Option<String>,
    /// Sealed; `None` once purged.
    pub body: Option<String>,
    pub body_sha256: String,
    pub signature: String,
    pub captured_at: i64,
    pub received_at: i64,
}

/// The seat asks for the examiner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExaminerCall {
    pub booking_number: Option<String>,
    pub seat: String,
    pub key_id: String,
    pub failures: u32,
    /// A word: `three_failures`, `device_fault`, …
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Called {
    /// The candidate, if this seat held them (now `waiting_for_examiner`).
    pub candidate: Option<Candidate>,
    pub changed: bool,
    /// The new `examiner_needed` alert; `None` when the candidate was already
    /// waiting and the seat's alert for them is still open (no second alert).
    pub alert: Option<Alert>,
}

/// The seat's photo step is done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finish {
    pub booking_number: String,
    pub seat: String,
    pub key_id: String,
    pub snapshot_sha256: Option<String>,
    /// The paper to store if this admits the candidate ([`super::exam`]).
    pub paper: Option<PaperPlan>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    pub candidate: Candidate,
    pub changed: bool,
    /// `examiner_needed`, when finishing without a match sent the candidate to the examiner.
    pub alert: Option<Alert>,
    /// The exam step of an admission: the paper and its `exam_ready` command, or an alert.
    pub exam: Admission,
}

/// Mode (a): give the candidate of a card read at the console a free seat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatAssignment {
    pub booking_number: String,
    /// `agent:KEY` of the console PC.
    pub actor: String,
    /// PCs whose heartbeat this server saw recently.
    pub online_keys: Vec<String>,
    /// A heartbeat stored at or after this counts as online too (another server's).
    pub online_since: i64,
    pub random: u64,
    /// The id of the `candidate_assigned` command, if one is sent.
    pub command_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assigned {
    pub candidate: Candidate,
    pub seat: String,
    /// The command pushed to the seat; `None` when the candidate already held this seat.
    pub command: Option<CommandRow>,
}

/// The examiner admits or refuses a candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExaminerDecision {
    pub booking_number: String,
    pub decision: Decision,
    pub reason: String,
    pub actor: String,
    pub command_id: String,
    /// The paper to store if this admits the candidate ([`super::exam`]).
    pub paper: Option<PaperPlan>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    pub candidate: Candidate,
    /// The `login_decision` command, when the candidate is at a bound seat.
    pub command: Option<CommandRow>,
    /// The exam step of an admission: the paper and its `exam_ready` command, or an alert.
    pub exam: Admission,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Released {
    pub candidate: Candidate,
    /// The seat the candidate left.
    pub seat: Option<String>,
    /// The `candidate_released` command for that seat, when it is bound.
    pub command: Option<CommandRow>,
}

#[async_trait]
pub trait LoginStore: Send + Sync + 'static {
    /// A seat claims a booked candidate (`verifying`, mode `seat`), releasing
    /// the seat's half-identified one; a candidate already this seat's is answered as is.
    async fn claim_candidate(&self, claim: Claim, now: i64) -> Result<Claimed, LoginError>;
    /// Stores an attempt and counts a failure; the third calls the examiner.
    async fn record_verification(&self, v: NewVerification, now: i64) -> Result<Verified, LoginError>;
    async fn call_examiner(&self, call: ExaminerCall, now: i64) -> Result<Called, LoginError>;
    /// Admits the candidate (assigned here, a match since the claim, or the
    /// examiner's admission) or sends them to the examiner.
    async fn finish_login(&self, finish: Finish, now: i64) -> Result<Finished, LoginError>;
    /// Mode (a): a free seat at random (online ones first) and the command to it;
    /// a candidate already assigned keeps their seat.
    async fn assign_seat(&self, a: SeatAssignment, now: i64) -> Result<Assigned, LoginError>;
    async fn decide(&self, d: ExaminerDecision, now: i64) -> Result<Decided, LoginError>;
    /// Back to `booked`, seat cleared, failures forgotten (the candidate moves seat).
    /// Back to `booked`, with a `candidate_released` command (id `command_id`) for the seat left.
    async fn release_candidate(
        &self,
        booking_number: &str,
        actor: &str,
        command_id: &str,
        now: i64,
    ) -> Result<Released, LoginError>;
    /// This seat's candidate on `exam_date` (assigned, verifying, waiting or admitted).
    async fn seat_candidate(&self, seat: &str, exam_date: &str) -> Result<Option<Candidate>, StoreError>;
    /// The exam dates this ID number is booked on, with the booking numbers.
    async fn bookings_of_id_number(&self, id_number: &str) -> Result<Vec<(String, String)>, StoreError>;
    /// A candidate's attempts, oldest first.
    async fn verifications(&self, booking_number: &str) -> Result<Vec<VerificationRow>, StoreError>;
    /// A person did something on the console.
    async fn touch_session(&self, token_hash: &str, now: i64) -> Result<(), StoreError>;
    /// Ends a session left idle too long, and audits it.
    async fn lock_session(&self, token_hash: &str, idle_ms: i64, now: i64) -> Result<(), StoreError>;
}
