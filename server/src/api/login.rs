//! The login endpoints agents call (`protocol::login::paths`), signed and
//! binding-checked like every agent request ([`SignedSeat`], [`SignedConsole`]).
//! Seats look candidates up, send fingerprint attempts, ask for the examiner
//! and finish (mode (b)); the console PC's agent sends the ID cards the
//! examiner reads (mode (a)). A console never gets a candidate and a seat
//! never reads cards for the console.
//!
//! Candidates' ID numbers and names never reach a log; booking numbers do.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use examgate_protocol::link::{Command, PushMessage};
use examgate_protocol::login::{
    AskExaminer, CardCheck, ConsoleCard, FinishLogin, IdentityKind, LookupRequest, LookupResponse, SeatCandidate,
    SeatLoginState, TemplateData, Verdict, VerifyEvidence, VerifyResponse,
};

use super::AppState;
use super::signed::{SignedConsole, SignedSeat};
use crate::audit::{Action, Entry};
use crate::crypto::sha256_hex;
use crate::error::AppError;
use crate::hub::{CardRead, ConsoleEvent, ToAgent};
use crate::login::card::{self, CardProblem, CardView};
use crate::login::evidence::StoredSignature;
use crate::login::rules::{self, Standing};
use crate::login::score::{self, Recheck};
use crate::seal::aad;
use crate::snapshots::is_sha256_hex;
use crate::store::{
    Alert, Candidate, Claim, CommandRow, ExaminerCall, Finish, LoginError, NewVerification, SeatAssignment,
    StoredVerdict,
};
use crate::{ids, now_ms};

/// Largest live template accepted (ISO 19794-2 records stay far below it).
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// Longest booking number or ID number a seat may send.
const MAX_IDENTITY_CHARS: usize = 64;

impl From<LoginError> for AppError {
    fn from(e: LoginError) -> AppError {
        match e {
            LoginError::Conflict(c) => AppError::new(StatusCode::CONFLICT, c.kind, c.message),
            LoginError::Store(e) => e.into(),
        }
    }
}

/// The `candidate_updated` console event of a candidate.
pub(crate) fn candidate_event(c: &Candidate) -> ConsoleEvent {
    ConsoleEvent::CandidateUpdated {
        booking_number: c.booking_number.clone(),
        name: c.name.clone(),
        seat: c.seat_no.clone(),
        state: c.state,
        failures: c.failures,
        mode: c.mode.clone(),
    }
}

pub(crate) fn alert_event(a: &Alert) -> ConsoleEvent {
    ConsoleEvent::Alert { seat: a.seat.clone(), kind: a.kind.clone(), message: a.message.clone() }
}

/// Sends a queued command to its PC now if it is connected here (else it
/// gets it from the database when it connects).
pub(crate) fn push(state: &AppState, row: &CommandRow) -> bool {
    match serde_json::from_str::<Command>(&row.body) {
        Ok(command) => state.hub.send(&row.key_id, ToAgent::Push(PushMessage { id: row.id.clone(), command })),
        Err(e) => {
            tracing::error!(command = %row.id, "a queued command does not parse: {e}");
            false
        }
    }
}

fn seat_state(seat: &str, c: Option<Candidate>) -> SeatLoginState {
    SeatLoginState {
        seat: seat.to_owned(),
        candidate: c.map(|c| SeatCandidate {
            booking_number: c.booking_number,
            name: c.name,
            language: c.language,
            state: c.state,
            failures: c.failures,
            mode: c.mode.unwrap_or_default(),
        }),
    }
}

async fn current(state: &AppState, seat: &str) -> Result<SeatLoginState, AppError> {
    let today = state.clock.today(&state.config);
    Ok(seat_state(seat, state.store.seat_candidate(seat, &today).await?))
}

fn check_booking(booking: &str) -> Result<(), AppError> {
    if booking.is_empty() || booking.chars().count() > MAX_IDENTITY_CHARS || booking.chars().any(char::is_control) {
        return Err(AppError::bad_request(format!("booking_number must be 1 to {MAX_IDENTITY_CHARS} characters")));
    }
    Ok(())
}

fn check_snapshot(sha: Option<&str>) -> Result<(), AppError> {
    match sha {
        Some(s) if !is_sha256_hex(s) => {
            Err(AppError::bad_request("snapshot_sha256 is not a SHA-256 in lower-case hex"))
        }
        _ => Ok(()),
    }
}

fn not_found() -> AppError {
    AppError::not_found("no booking today matches this ID number or booking number: check it, or ask the examiner")
}

fn not_today(date: &str, today: &str) -> AppError {
    AppError::new(
        StatusCode::CONFLICT,
        "not_today",
        format!("this booking is for {date}, not today ({today}): please come on the day of the exam"),
    )
}

/// The enrolled templates of a candidate, opened.
fn templates(state: &AppState, c: &Candidate) -> Result<Vec<TemplateData>, AppError> {
    let sealed = c.templates.as_deref().ok_or_else(|| {
        AppError::new(
            StatusCode::CONFLICT,
            "no_templates",
            "this booking's templates have been purged; ask the examiner",
        )
    })?;
    let plain = state.sealer.open(&aad::templates(&c.booking_number), sealed).map_err(|e| {
        tracing::error!(booking = %c.booking_number, "cannot open enrolled templates: {e}");
        AppError::internal("the enrolled templates cannot be opened with this server's roster key")
    })?;
    serde_json::from_slice(&plain).map_err(|e| AppError::internal(format!("stored templates are not JSON: {e}")))
}

/// `POST /agent/v1/login/lookup`: today's booking by ID or booking number, claimed for this seat.
pub async fn lookup(State(state): State<AppState>, signed: SignedSeat) -> Result<Json<LookupResponse>, AppError> {
    let req: LookupRequest = signed.json()?;
    let seat = signed.seat();
    let value = req.value.trim();
    if value.is_empty() || value.chars().count() > MAX_IDENTITY_CHARS || value.chars().any(char::is_control) {
        return Err(AppError::bad_request(format!("value must be 1 to {MAX_IDENTITY_CHARS} characters")));
    }
    let today = state.clock.today(&state.config);
    let booking = match req.kind {
        IdentityKind::IdNumber => {
            let id = value.to_ascii_uppercase();
            match state.store.candidate_by_id_number(&id, &today).await? {
                Some(c) => c.booking_number,
                None => {
                    let other = state.store.bookings_of_id_number(&id).await?;
                    let dates: Vec<&str> = other.iter().map(|(_, date)| date.as_str()).collect();
                    return Err(if dates.is_empty() { not_found() } else { not_today(&dates.join(", "), &today) });
                }
            }
        }
        IdentityKind::BookingNumber => match state.store.candidate(value).await? {
            Some(c) if c.exam_date == today => c.booking_number,
            Some(c) => return Err(not_today(&c.exam_date, &today)),
            None => return Err(not_found()),
        },
    };
    let claim =
        Claim { booking_number: booking.clone(), seat: seat.to_owned(), key_id: signed.agent.machine.key_id.clone() };
    let claimed = state.store.claim_candidate(claim, now_ms()).await?;
    if let Some(released) = &claimed.released {
        let released_booking = &released.booking_number;
        tracing::info!(booking = %released_booking, %seat, "candidate released: another was looked up at the seat");
        state.hub.notify(candidate_event(released));
    }
    if claimed.changed {
        tracing::info!(%booking, %seat, "candidate claimed at a seat");
        state.hub.notify(candidate_event(&claimed.candidate));
    }
    let c = claimed.candidate;
    let templates = templates(&state, &c)?;
    Ok(Json(LookupResponse {
        booking_number: c.booking_number,
        name: c.name,
        language: c.language,
        session: c.session,
        state: c.state,
        failures: c.failures,
        templates,
    }))
}

/// The evidence checks that need no candidate: sizes, the score's range, base64.
fn check_evidence(ev: &VerifyEvidence) -> Result<Vec<u8>, AppError> {
    check_booking(&ev.booking_number)?;
    check_snapshot(ev.snapshot_sha256.as_deref())?;
    if !(1..=1000).contains(&ev.attempt) {
        return Err(AppError::bad_request("attempt must be 1 to 1000"));
    }
    if !score::is_valid_score(ev.score) {
        return Err(AppError::bad_request("score must be 1 to 1000, or -1 when the match failed"));
    }
    ev.live.format.parse::<examgate_device_sdk::TemplateFormat>().map_err(|e| AppError::bad_request(e.to_string()))?;
    if ev.live.data.len() > MAX_TEMPLATE_BYTES * 4 / 3 + 4 {
        return Err(AppError::bad_request(format!("the live template is larger than {MAX_TEMPLATE_BYTES} bytes")));
    }
    let live = B64.decode(&ev.live.data).map_err(|_| AppError::bad_request("live.data is not standard base64"))?;
    if live.is_empty() || live.len() > MAX_TEMPLATE_BYTES {
        return Err(AppError::bad_request(format!("the live template must be 1 to {MAX_TEMPLATE_BYTES} bytes")));
    }
    Ok(live)
}

/// `POST /agent/v1/login/verify`: one fingerprint attempt, its score re-computed
/// for standard templates, stored whole with its signature.
pub async fn verify(State(state): State<AppState>, signed: SignedSeat) -> Result<Json<VerifyResponse>, AppError> {
    let ev: VerifyEvidence = signed.json()?;
    let seat = signed.seat();
    let live = check_evidence(&ev)?;
    let candidate = state.store.candidate(&ev.booking_number).await?.ok_or_else(not_found)?;
    let standing = Standing { state: candidate.state, seat: candidate.seat_no.as_deref() };
    rules::may_verify(standing, seat).map_err(LoginError::from)?;
    let enrolled = templates(&state, &candidate)?;
    let enrolled = enrolled.get(ev.enrolled_index as usize).ok_or_else(|| {
        AppError::bad_request(format!(
            "enrolled_index {} is out of range: the booking has {} templates",
            ev.enrolled_index,
            enrolled.len()
        ))
    })?;
    let enrolled = B64.decode(&enrolled.data).map_err(|_| AppError::internal("an enrolled template is not base64"))?;
    let (seat_score, tolerance) = (ev.score, state.config.login.score_tolerance);
    let recheck = tokio::task::spawn_blocking(move || score::recheck(&live, &enrolled, seat_score, tolerance))
        .await
        .map_err(|e| AppError::internal(e.to_string()))?;
    let (verdict, server_score) = match recheck {
        Recheck::Computed { server_score, agrees: false } => (StoredVerdict::Disagreed, Some(server_score)),
        Recheck::Computed { server_score, agrees: true } => (seat_verdict(ev.score), Some(server_score)),
        Recheck::NotComparable => (seat_verdict(ev.score), None),
    };
    let id = ids::random_hex(16);
    let raw = &signed.request.body;
    let sealed = state.sealer.seal(&aad::verification_body(&id), raw).map_err(|e| {
        tracing::error!("cannot seal verification evidence: {e}");
        AppError::internal("the evidence cannot be sealed with this server's roster key")
    })?;
    let sig = &signed.agent.signature;
    let signature = StoredSignature {
        method: signed.request.method.as_str().to_owned(),
        path: signed.request.path.clone(),
        key: sig.key_id.clone(),
        timestamp: sig.timestamp,
        nonce: sig.nonce.clone(),
        mac: sig.mac.clone(),
        content_sha256: sig.body_sha256.clone(),
        signature: B64.encode(&sig.signature),
    };
    let new = NewVerification {
        id: id.clone(),
        booking_number: ev.booking_number.clone(),
        seat: seat.to_owned(),
        key_id: signed.agent.machine.key_id.clone(),
        attempt: ev.attempt,
        live_format: ev.live.format.clone(),
        enrolled_index: ev.enrolled_index,
        score: ev.score,
        server_score,
        verdict,
        snapshot_sha256: ev.snapshot_sha256.clone(),
        body: sealed,
        body_sha256: sha256_hex(raw),
        signature: serde_json::to_string(&signature).map_err(|e| AppError::internal(e.to_string()))?,
        captured_at: ev.captured_at.unix_millis(),
    };
    let verified = state.store.record_verification(new, now_ms()).await?;
    let c = &verified.candidate;
    let (booking, verdict_word) = (&c.booking_number, verdict.as_str());
    tracing::info!(%booking, %seat, verdict = verdict_word, failures = c.failures, "fingerprint attempt");
    state.hub.notify(candidate_event(c));
    for a in &verified.alerts {
        state.hub.notify(alert_event(a));
    }
    if verdict == StoredVerdict::Disagreed {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "score_disagrees",
            format!(
                "the server computes {} from the same templates, not {}: the attempt is refused and counts as a \
                 failure ({} so far)",
                server_score.unwrap_or(score::FAILED),
                ev.score,
                c.failures
            ),
        ));
    }
    Ok(Json(VerifyResponse {
        verdict: if verdict == StoredVerdict::Match { Verdict::Match } else { Verdict::NoMatch },
        score: ev.score,
        server_score,
        failures: c.failures,
        state: c.state,
    }))
}

fn seat_verdict(score: i32) -> StoredVerdict {
    if score::is_match(score) { StoredVerdict::Match } else { StoredVerdict::NoMatch }
}

/// `POST /agent/v1/login/ask-examiner`: the candidate needs the examiner.
pub async fn ask_examiner(State(state): State<AppState>, signed: SignedSeat) -> Result<Json<SeatLoginState>, AppError> {
    let req: AskExaminer = signed.json()?;
    let seat = signed.seat();
    if let Some(b) = &req.booking_number {
        check_booking(b)?;
    }
    let word = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    if req.reason.is_empty() || req.reason.len() > 40 || !req.reason.bytes().all(word) {
        return Err(AppError::bad_request("reason must be a word of 1 to 40 characters a-z, 0-9 and '_'"));
    }
    let call = ExaminerCall {
        booking_number: req.booking_number,
        seat: seat.to_owned(),
        key_id: signed.agent.machine.key_id.clone(),
        failures: req.failures,
        reason: req.reason,
    };
    let called = state.store.call_examiner(call, now_ms()).await?;
    tracing::info!(%seat, "the seat asks for the examiner");
    if let Some(c) = called.candidate.as_ref().filter(|_| called.changed) {
        state.hub.notify(candidate_event(c));
    }
    if let Some(alert) = &called.alert {
        state.hub.notify(alert_event(alert));
    }
    Ok(Json(current(&state, seat).await?))
}

/// `POST /agent/v1/login/finish`: admitted if the seat proved who the candidate is, else to the examiner.
pub async fn finish(State(state): State<AppState>, signed: SignedSeat) -> Result<Json<SeatLoginState>, AppError> {
    let req: FinishLogin = signed.json()?;
    let seat = signed.seat();
    check_booking(&req.booking_number)?;
    check_snapshot(req.snapshot_sha256.as_deref())?;
    let paper = super::exam::plan_for(&state, &req.booking_number).await?;
    let f = Finish {
        booking_number: req.booking_number,
        seat: seat.to_owned(),
        key_id: signed.agent.machine.key_id.clone(),
        snapshot_sha256: req.snapshot_sha256,
        paper,
    };
    let finished = state.store.finish_login(f, now_ms()).await?;
    super::exam::after_admission(&state, &finished.candidate.booking_number, &finished.exam);
    if finished.changed {
        let c = &finished.candidate;
        tracing::info!(booking = %c.booking_number, %seat, state = ?c.state, "login finished");
        state.hub.notify(candidate_event(c));
    }
    if let Some(a) = &finished.alert {
        state.hub.notify(alert_event(a));
    }
    Ok(Json(seat_state(seat, Some(finished.candidate))))
}

/// `GET /agent/v1/login/state`: who is at this seat today.
pub async fn seat_login_state(
    State(state): State<AppState>,
    signed: SignedSeat,
) -> Result<Json<SeatLoginState>, AppError> {
    Ok(Json(current(&state, signed.seat()).await?))
}

fn random_u64() -> u64 {
    u64::from_str_radix(&ids::random_hex(8), 16).expect("16 hex digits are a u64")
}

/// `POST /agent/v1/console/card`: a card the examiner read at the console PC:
/// checked, today's booking found, a free seat assigned at random.
pub async fn console_card(State(state): State<AppState>, signed: SignedConsole) -> Result<Json<CardCheck>, AppError> {
    let req: ConsoleCard = signed.json()?;
    let now = now_ms();
    let today = state.clock.today(&state.config);
    let findings = card::check(&req.card, &today);
    let mut problems: Vec<String> = findings.problems.iter().map(|p| p.as_str().to_owned()).collect();
    // A number that fails its own check is nobody's: it is not looked up.
    let id_number = findings.id_number.as_deref().filter(|_| {
        !findings.problems.iter().any(|p| matches!(p, CardProblem::CheckCharacter | CardProblem::Unreadable))
    });
    let candidate = match id_number {
        Some(id) => state.store.candidate_by_id_number(id, &today).await?,
        None => None,
    };
    if candidate.is_none() && id_number.is_some() {
        problems.push("no_booking_today".into());
    }
    let actor = format!("agent:{}", signed.agent.machine.key_id);
    let mut seat = None;
    let mut accepted = false;
    if let Some(c) = &candidate {
        seat = c.seat_no.clone().filter(|_| rules::at_a_seat(c.state));
        if problems.is_empty() {
            let a = SeatAssignment {
                booking_number: c.booking_number.clone(),
                actor: actor.clone(),
                online_keys: state.hub.online_keys(now, state.config.agents.offline_after_ms),
                online_since: now - state.config.agents.offline_after_ms,
                random: random_u64(),
                command_id: ids::random_hex(8),
            };
            match state.store.assign_seat(a, now).await {
                Ok(assigned) => {
                    accepted = true;
                    seat = Some(assigned.seat.clone());
                    if let Some(row) = &assigned.command {
                        push(&state, row);
                        tracing::info!(booking = %c.booking_number, seat = %assigned.seat, "seat assigned from a card");
                        state.hub.notify(candidate_event(&assigned.candidate));
                    }
                }
                Err(LoginError::Conflict(conflict)) => problems.push(conflict.kind.to_owned()),
                Err(LoginError::Store(e)) => return Err(e.into()),
            }
        }
    }
    let subject =
        candidate.as_ref().map_or_else(|| "unknown".to_owned(), |c| format!("candidate:{}", c.booking_number));
    let detail = format!(
        "problems: {}; {}",
        if problems.is_empty() { "none".to_owned() } else { problems.join(" ") },
        seat.as_deref().map_or_else(|| "no seat".to_owned(), |s| format!("seat {s}"))
    );
    state.store.audit(Entry::new(actor, Action::CardReadAtConsole, subject, detail), now_ms()).await?;
    let check = CardCheck {
        accepted,
        problems,
        booking_number: candidate.as_ref().map(|c| c.booking_number.clone()),
        name: candidate.as_ref().map(|c| c.name.clone()).or_else(|| req.card.name.clone()),
        seat,
    };
    let photo_url =
        candidate.as_ref().filter(|c| c.photo.is_some()).map(|c| format!("/api/v1/roster/{}/photo", c.booking_number));
    let read = CardRead { check: check.clone(), card: CardView::from(&req.card), photo_url };
    state.hub.notify(ConsoleEvent::CardRead(Box::new(read)));
    Ok(Json(check))
}
