//! The console's side of login: the examiner admits (with a typed reason),
//! refuses or releases a candidate, and reads the evidence of their
//! fingerprint attempts with each stored signature re-checked against the
//! seat's key. Every endpoint needs the open console (examiner + invigilator).

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use examgate_protocol::login::{CandidateState, Decision};
use serde::{Deserialize, Serialize};

use super::console::{Empty, OpenSession, actor};
use super::login::{candidate_event, push};
use super::{AppState, PeerAddr};
use crate::error::AppError;
use crate::login::evidence::StoredSignature;
use crate::seal::aad;
use crate::store::{Candidate, ExaminerDecision, Session, StoredVerdict, VerificationRow};
use crate::{ids, now_ms};

/// Shortest and longest reason an examiner may type, in characters.
pub const REASON_CHARS: std::ops::RangeInclusive<usize> = 4..=500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[serde(default)]
    pub reason: String,
}

/// A candidate as the console shows them after a change.
#[derive(Serialize)]
pub struct CandidateView {
    pub booking_number: String,
    pub name: String,
    pub seat: Option<String>,
    pub state: CandidateState,
    pub failures: u32,
    pub mode: Option<String>,
    /// The decision was sent to the seat's agent now (else it gets it when it connects).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_now: Option<bool>,
}

fn view(c: &Candidate, sent_now: Option<bool>) -> CandidateView {
    CandidateView {
        booking_number: c.booking_number.clone(),
        name: c.name.clone(),
        seat: c.seat_no.clone(),
        state: c.state,
        failures: c.failures,
        mode: c.mode.clone(),
        sent_now,
    }
}

fn reason(r: &str) -> Result<String, AppError> {
    let r = r.trim();
    if !REASON_CHARS.contains(&r.chars().count()) || r.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "reason_required",
            format!("type the reason for the decision: {} to {} characters", REASON_CHARS.start(), REASON_CHARS.end()),
        ));
    }
    Ok(r.to_owned())
}

async fn decide(
    state: &AppState,
    session: &Session,
    booking: String,
    decision: Decision,
    req: ReasonRequest,
) -> Result<Json<CandidateView>, AppError> {
    let reason = reason(&req.reason)?;
    let paper = match decision {
        Decision::Admitted => super::exam::plan_for(state, &booking).await?,
        Decision::Refused => None,
    };
    let d = ExaminerDecision {
        booking_number: booking,
        decision,
        reason,
        actor: actor(session),
        command_id: ids::random_hex(8),
        paper,
    };
    let decided = state.store.decide(d, now_ms()).await?;
    super::exam::after_admission(state, &decided.candidate.booking_number, &decided.exam);
    let sent_now = decided.command.as_ref().map(|row| push(state, row));
    let c = &decided.candidate;
    tracing::info!(booking = %c.booking_number, decision = ?decision, "the examiner decided");
    state.hub.notify(candidate_event(c));
    Ok(Json(view(c, sent_now)))
}

/// `POST /api/v1/roster/{booking}/admit` `{"reason": "…"}`.
pub async fn admit(
    State(state): State<AppState>,
    OpenSession(session): OpenSession,
    Path(booking): Path<String>,
    Json(req): Json<ReasonRequest>,
) -> Result<Json<CandidateView>, AppError> {
    decide(&state, &session, booking, Decision::Admitted, req).await
}

/// `POST /api/v1/roster/{booking}/refuse` `{"reason": "…"}`.
pub async fn refuse(
    State(state): State<AppState>,
    OpenSession(session): OpenSession,
    Path(booking): Path<String>,
    Json(req): Json<ReasonRequest>,
) -> Result<Json<CandidateView>, AppError> {
    decide(&state, &session, booking, Decision::Refused, req).await
}

/// `POST /api/v1/roster/{booking}/release` `{}`: back to `booked`, so the candidate may move seat.
pub async fn release(
    State(state): State<AppState>,
    OpenSession(session): OpenSession,
    Path(booking): Path<String>,
    Json(_): Json<Empty>,
) -> Result<Json<CandidateView>, AppError> {
    let command_id = ids::random_hex(8);
    let released = state.store.release_candidate(&booking, &actor(&session), &command_id, now_ms()).await?;
    let sent_now = released.command.as_ref().map(|row| push(&state, row));
    tracing::info!(%booking, "the examiner released a candidate");
    state.hub.notify(candidate_event(&released.candidate));
    Ok(Json(view(&released.candidate, sent_now)))
}

/// One fingerprint attempt as evidence.
#[derive(Serialize)]
pub struct Attempt {
    pub id: String,
    pub seat: String,
    pub key_id: String,
    pub attempt: u32,
    pub live_format: String,
    pub enrolled_index: u32,
    pub score: i32,
    pub server_score: Option<i32>,
    pub verdict: StoredVerdict,
    pub snapshot_sha256: Option<String>,
    pub body_sha256: String,
    pub captured_at: i64,
    pub received_at: i64,
    /// The stored body is the one the seat signed, by its key; `null` once the body is purged.
    pub signature_valid: Option<bool>,
}

#[derive(Serialize)]
pub struct Evidence {
    #[serde(flatten)]
    pub candidate: CandidateView,
    pub attempts: Vec<Attempt>,
}

/// `GET /api/v1/roster/{booking}/evidence`: every attempt, each signature re-checked.
pub async fn evidence(
    State(state): State<AppState>,
    _: OpenSession,
    Path(booking): Path<String>,
) -> Result<Json<Evidence>, AppError> {
    let candidate = state
        .store
        .candidate(&booking)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no booking {booking} in the roster")))?;
    let rows = state.store.verifications(&booking).await?;
    let mut attempts = Vec::with_capacity(rows.len());
    for row in rows {
        let signature_valid = match &row.body {
            Some(sealed) => Some(signature_valid(&state, &row, sealed).await?),
            None => None,
        };
        attempts.push(Attempt {
            id: row.id,
            seat: row.seat,
            key_id: row.key_id,
            attempt: row.attempt,
            live_format: row.live_format,
            enrolled_index: row.enrolled_index,
            score: row.score,
            server_score: row.server_score,
            verdict: row.verdict,
            snapshot_sha256: row.snapshot_sha256,
            body_sha256: row.body_sha256,
            captured_at: row.captured_at,
            received_at: row.received_at,
            signature_valid,
        });
    }
    Ok(Json(Evidence { candidate: view(&candidate, None), attempts }))
}

/// Whether the stored body opens, hashes to what was signed, and carries the
/// seat's signature by the key it enrolled with.
async fn signature_valid(state: &AppState, row: &VerificationRow, sealed: &str) -> Result<bool, AppError> {
    let Ok(body) = state.sealer.open(&aad::verification_body(&row.id), sealed) else {
        tracing::warn!(verification = %row.id, "a stored verification body does not open: altered");
        return Ok(false);
    };
    let Ok(sig) = serde_json::from_str::<StoredSignature>(&row.signature) else { return Ok(false) };
    let Some(machine) = state.store.machine(&sig.key).await? else { return Ok(false) };
    let Ok(public_key) = B64.decode(&machine.public_key) else { return Ok(false) };
    Ok(sig.key == row.key_id && sig.content_sha256 == row.body_sha256 && sig.verifies(&public_key, &body))
}

/// `POST /api/v1/session/activity` `{}`: a person used the console; keeps it from locking.
pub async fn activity(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<PeerAddr>,
    h: HeaderMap,
    Json(_): Json<Empty>,
) -> Result<StatusCode, AppError> {
    super::console::touch(&state, &h, peer.ip()).await?;
    Ok(StatusCode::NO_CONTENT)
}
