//! The exam's endpoints. For seats (signed, the seat's bound PC, the paper of
//! the candidate admitted there): the signed manifest, the package (resumable
//! with `Range: bytes=N-`), the held answers (a spare PC continues from them)
//! and the result; answers and submissions arrive as deliveries
//! ([`deliver`], from `POST /agent/v1/deliveries`). For the console: progress
//! per seat, a summary per session and item exposure.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use examgate_protocol::Timestamp;
use examgate_protocol::exam::{ExamResult, HeldAnswer, HeldAnswers, PaperManifest, SubmitReason};
use examgate_protocol::link::{DeliveryItem, DeliveryReceipt, Stored};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::console::OpenSession;
use super::login::{alert_event, push};
use super::signed::{Bound, Signed, SignedSeat};
use crate::audit::{Action, Entry};
use crate::crypto::sha256_hex;
use crate::error::AppError;
use crate::exam::attempt::{ExamRefusal, valid_id};
use crate::exam::pkg::{self, Built};
use crate::exam::{runtime, score};
use crate::hub::ConsoleEvent;
use crate::store::{
    Admission, AnswerOutcome, CloseOutcome, ClosePaper, NewExamAnswer, PaperPlan, PaperRow, PaperState, SeatSubmission,
};
use crate::{ids, now_ms};

/// Most choices one answer may name.
const MAX_CHOICES: usize = 26;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperQuery {
    pub paper_id: Option<String>,
}

fn refusal(r: &ExamRefusal) -> AppError {
    AppError::new(StatusCode::CONFLICT, r.kind, r.message.clone())
}

fn package_error(e: pkg::PkgError) -> AppError {
    tracing::error!("cannot build a paper package: {e}");
    AppError::internal(format!("the paper package cannot be built: {e}"))
}

/// The paper this seat asks about: the one named (if it is this seat's), else
/// that of the candidate admitted here today.
async fn seat_paper(state: &AppState, seat: &str, q: &PaperQuery) -> Result<PaperRow, AppError> {
    let paper = match &q.paper_id {
        Some(id) => state.store.paper(id).await?.filter(|p| p.seat == seat),
        None => state.store.seat_paper(seat, &state.clock.today(&state.config)).await?,
    };
    paper.ok_or_else(|| AppError::not_found(format!("seat {seat} has no paper (is its candidate admitted?)")))
}

async fn bank_of(state: &AppState, paper: &PaperRow) -> Result<std::sync::Arc<crate::exam::BankVersion>, AppError> {
    state.banks.get(state.store.as_ref(), &paper.bank_version).await?.ok_or_else(|| {
        AppError::internal(format!("bank version {} of paper {} is gone", paper.bank_version, paper.paper_id))
    })
}

/// The package of `paper`, built on first use and kept.
async fn built(state: &AppState, paper: &PaperRow) -> Result<Built, AppError> {
    let bank = bank_of(state, paper).await?;
    pkg::build(state.store.as_ref(), &state.banks, paper, &bank, &state.config.paper_dir()).await.map_err(package_error)
}

/// `GET /agent/v1/exam/paper`: the signed manifest.
pub async fn paper(
    State(state): State<AppState>,
    Query(q): Query<PaperQuery>,
    signed: SignedSeat,
) -> Result<Json<PaperManifest>, AppError> {
    let paper = seat_paper(&state, signed.seat(), &q).await?;
    let built = built(&state, &paper).await?;
    let mut manifest = PaperManifest {
        paper_id: paper.paper_id.clone(),
        booking_number: paper.booking_number.clone(),
        exam: runtime::exam_info(&paper),
        language: paper.language.clone(),
        deadline: paper.deadline,
        server_time: now_ms(),
        package: built.package,
        files: built.files,
        server_key: String::new(),
        signature: String::new(),
    };
    state.server_key.sign_manifest(&mut manifest).map_err(|e| AppError::internal(e.to_string()))?;
    Ok(Json(manifest))
}

/// The first byte a `Range: bytes=N-` asks for.
fn range_start(h: &HeaderMap) -> Result<Option<u64>, AppError> {
    let Some(v) = h.get(header::RANGE) else { return Ok(None) };
    let v = v.to_str().map_err(|_| AppError::bad_request("Range is not text"))?;
    let start = v
        .strip_prefix("bytes=")
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| AppError::bad_request(format!("Range {v:?}: only bytes=N- is served")))?;
    Ok(Some(start))
}

/// `GET /agent/v1/exam/package`: the tar; `Range: bytes=N-` gives the rest from N (206).
pub async fn package(
    State(state): State<AppState>,
    Query(q): Query<PaperQuery>,
    headers: HeaderMap,
    signed: SignedSeat,
) -> Result<Response, AppError> {
    let paper = seat_paper(&state, signed.seat(), &q).await?;
    let built = built(&state, &paper).await?;
    let path = Built::tar_path(&state.config.paper_dir(), &paper.paper_id);
    let bytes = tokio::fs::read(&path).await.map_err(|e| AppError::internal(format!("{}: {e}", path.display())))?;
    let size = bytes.len() as u64;
    if size != built.package.size {
        return Err(AppError::internal(format!("paper package {} changed on disk", paper.paper_id)));
    }
    let tar = HeaderValue::from_static("application/x-tar");
    let mut response = match range_start(&headers)? {
        Some(start) if start >= size && size > 0 => {
            let mut r = AppError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "bad_range",
                format!("the package has {size} bytes; a range from {start} is past its end"),
            )
            .into_response();
            r.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{size}")).unwrap());
            return Ok(r);
        }
        Some(start) => {
            let range = format!("bytes {start}-{}/{size}", size.saturating_sub(1));
            let body = bytes[start as usize..].to_vec();
            let mut r = (StatusCode::PARTIAL_CONTENT, body).into_response();
            r.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&range).expect("ASCII"));
            r
        }
        None => (StatusCode::OK, bytes).into_response(),
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, tar);
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert("x-examgate-package-sha256", HeaderValue::from_str(&built.package.sha256).expect("hex"));
    Ok(response)
}

/// `GET /agent/v1/exam/answers`: `{item: {choices, seq}}` the server holds.
pub async fn answers(
    State(state): State<AppState>,
    Query(q): Query<PaperQuery>,
    signed: SignedSeat,
) -> Result<Json<HeldAnswers>, AppError> {
    let paper = seat_paper(&state, signed.seat(), &q).await?;
    let held = state.store.held_answers(&paper.paper_id).await?;
    Ok(Json(held.into_iter().map(|a| (a.item_id, HeldAnswer { choices: a.choices, seq: a.seq })).collect()))
}

/// `GET /agent/v1/exam/result`.
pub async fn result(
    State(state): State<AppState>,
    Query(q): Query<PaperQuery>,
    signed: SignedSeat,
) -> Result<Json<ExamResult>, AppError> {
    let paper = seat_paper(&state, signed.seat(), &q).await?;
    let answered = state.store.held_answers(&paper.paper_id).await?.iter().filter(|a| !a.choices.is_empty()).count();
    Ok(Json(runtime::result_view(&paper, u32::try_from(answered).unwrap_or(u32::MAX))))
}

/// The paper admission would draw for `booking` now (`None`: no such booking,
/// or already admitted or refused).
pub(crate) async fn plan_for(state: &AppState, booking: &str) -> Result<Option<PaperPlan>, AppError> {
    use examgate_protocol::login::CandidateState;
    let Some(c) = state.store.candidate(booking).await? else { return Ok(None) };
    if matches!(c.state, CandidateState::Admitted | CandidateState::Refused) {
        return Ok(None);
    }
    Ok(Some(runtime::plan(state.store.as_ref(), &state.banks, &state.config, &c).await))
}

/// After an admission: the `exam_ready` command to the seat, the alert or the console event.
pub(crate) fn after_admission(state: &AppState, booking: &str, a: &Admission) {
    if let Some(row) = &a.command {
        push(state, row);
    }
    if let Some(alert) = &a.alert {
        tracing::warn!(%booking, "{}", alert.message);
        state.hub.notify(alert_event(alert));
    }
    if let Some(p) = &a.paper {
        if a.drawn {
            tracing::info!(%booking, paper = %p.paper_id, seat = %p.seat, "paper drawn");
        }
        state.hub.notify(progress_event(p, 0));
    }
}

fn progress_event(p: &PaperRow, answered: u32) -> ConsoleEvent {
    ConsoleEvent::ExamProgress {
        seat: p.seat.clone(),
        booking_number: p.booking_number.clone(),
        paper_id: p.paper_id.clone(),
        answered,
        total: p.item_count,
    }
}

fn submitted_event(p: &PaperRow) -> ConsoleEvent {
    ConsoleEvent::ExamSubmitted {
        seat: p.seat.clone(),
        booking_number: p.booking_number.clone(),
        paper_id: p.paper_id.clone(),
        score: p.score.unwrap_or(0),
        max_score: p.max_score,
        passed: p.passed,
        reason: p.reason.map(SubmitReason::as_str).unwrap_or("").to_owned(),
    }
}

fn receipt(status: StatusCode, idempotency_key: String, stored: Stored, received_at: i64) -> Response {
    let r = DeliveryReceipt { idempotency_key, stored, received_at: Timestamp::from_unix_millis(received_at) };
    (status, Json(r)).into_response()
}

fn check_ids(paper_id: &str, booking: &str) -> Result<(), AppError> {
    if !valid_id(paper_id) || !valid_id(booking) {
        return Err(AppError::bad_request("paper_id and booking_number must be 1 to 128 printable characters"));
    }
    Ok(())
}

/// Audits a refusal decided before the store's transaction, and answers 409.
async fn refused(state: &AppState, key_id: &str, booking: &str, what: String, r: ExamRefusal) -> AppError {
    let detail = format!("{what} refused ({}): {}", r.kind, r.message);
    let entry = Entry::new(format!("agent:{key_id}"), Action::ExamRefused, format!("candidate:{booking}"), detail);
    if let Err(e) = state.store.audit(entry, now_ms()).await {
        tracing::error!("cannot audit a refused exam delivery: {e}");
    }
    refusal(&r)
}

/// Closes `paper` with the server's scoring of what it holds.
pub(crate) async fn close(
    state: &AppState,
    paper: &PaperRow,
    reason: SubmitReason,
    actor: String,
    from_seat: Option<SeatSubmission>,
) -> Result<CloseOutcome, AppError> {
    close_with(state, paper, reason, actor, from_seat, None).await
}

/// [`close`], with a forced submission's reason and note kept in the same transaction.
pub(crate) async fn close_with(
    state: &AppState,
    paper: &PaperRow,
    reason: SubmitReason,
    actor: String,
    from_seat: Option<SeatSubmission>,
    forced: Option<crate::store::NewAction>,
) -> Result<CloseOutcome, AppError> {
    let bank = bank_of(state, paper).await?;
    let scorer = runtime::scorer(paper, bank)?;
    let close = ClosePaper {
        paper_id: paper.paper_id.clone(),
        reason,
        actor,
        from_seat,
        command_id: ids::random_hex(8),
        forced,
    };
    let outcome = state.store.close_paper(close, &scorer, now_ms()).await?;
    if let CloseOutcome::Closed { paper, command } = &outcome {
        if let Some(row) = command {
            push(state, row);
        }
        tracing::info!(paper = %paper.paper_id, seat = %paper.seat, reason = reason.as_str(), "paper submitted and scored");
        state.hub.notify(submitted_event(paper));
    }
    Ok(outcome)
}

/// `ExamAnswer` and `ExamSubmit` deliveries: stored once by idempotency key.
pub(crate) async fn deliver(
    state: &AppState,
    signed: &Signed<Bound>,
    item: &DeliveryItem,
    idempotency_key: String,
) -> Result<Response, AppError> {
    let key_id = signed.agent.machine.key_id.clone();
    let seat = signed.seat().to_owned();
    let body_sha256 = sha256_hex(&signed.request.body);
    let grace_ms = state.config.exam.grace_ms;
    match item {
        DeliveryItem::ExamAnswer { booking_number, paper_id, item, choices, seq, answered_at } => {
            check_ids(paper_id, booking_number)?;
            if !valid_id(item) || choices.len() > MAX_CHOICES || !choices.iter().all(|c| valid_id(c)) {
                return Err(AppError::bad_request(format!(
                    "item and choices must be ids of 1 to 128 printable characters, at most {MAX_CHOICES} choices"
                )));
            }
            let what = format!("answer to {item} of paper {paper_id} (seq {seq})");
            let Some(paper) = state.store.paper(paper_id).await? else {
                let r = ExamRefusal::new("unknown_paper", format!("no paper {paper_id}"));
                return Err(refused(state, &key_id, booking_number, what, r).await);
            };
            // How many choices an item takes is the bank's to say.
            let bank = bank_of(state, &paper).await?;
            if let Some(bank_item) = bank.item(item)
                && paper.drawn_items()?.iter().any(|d| d.id == *item)
                && let Err(e) = score::check_answer(bank_item, choices)
            {
                let r = ExamRefusal::new("no_such_choice", e.to_string());
                return Err(refused(state, &key_id, booking_number, what, r).await);
            }
            let answer = NewExamAnswer {
                paper_id: paper_id.clone(),
                booking_number: booking_number.clone(),
                seat,
                key_id,
                item_id: item.clone(),
                choices: choices.clone(),
                seq: *seq,
                answered_at: answered_at.unix_millis(),
                idempotency_key: idempotency_key.clone(),
                body_sha256,
                grace_ms,
            };
            match state.store.record_answer(answer, now_ms()).await? {
                AnswerOutcome::Stored { received_at, paper, answered, .. } => {
                    state.hub.notify(progress_event(&paper, answered));
                    Ok(receipt(StatusCode::CREATED, idempotency_key, Stored::New, received_at))
                }
                AnswerOutcome::Duplicate { received_at } => {
                    Ok(receipt(StatusCode::OK, idempotency_key, Stored::Duplicate, received_at))
                }
                AnswerOutcome::Conflict => Err(AppError::conflict(format!(
                    "idempotency key {idempotency_key} was used before for a different answer; nothing was stored"
                ))),
                AnswerOutcome::Refused(r) => Err(refusal(&r)),
            }
        }
        DeliveryItem::ExamSubmit { booking_number, paper_id, seq, reason } => {
            check_ids(paper_id, booking_number)?;
            let Some(paper) = state.store.paper(paper_id).await? else {
                let r = ExamRefusal::new("unknown_paper", format!("no paper {paper_id}"));
                let what = format!("submission of paper {paper_id}");
                return Err(refused(state, &key_id, booking_number, what, r).await);
            };
            let from_seat = SeatSubmission {
                booking_number: booking_number.clone(),
                seat,
                key_id: key_id.clone(),
                seq: *seq,
                idempotency_key: idempotency_key.clone(),
                body_sha256,
                grace_ms,
            };
            let now = now_ms();
            match close(state, &paper, *reason, format!("agent:{key_id}"), Some(from_seat)).await? {
                CloseOutcome::Closed { .. } => Ok(receipt(StatusCode::CREATED, idempotency_key, Stored::New, now)),
                // Submitted before (a retry, or the deadline came first): the seat may forget it.
                CloseOutcome::AlreadyClosed { paper } => {
                    let at = paper.submitted_at.unwrap_or(now);
                    Ok(receipt(StatusCode::OK, idempotency_key, Stored::Duplicate, at))
                }
                CloseOutcome::Conflict => Err(AppError::conflict(format!(
                    "idempotency key {idempotency_key} was used before for a different submission; nothing was stored"
                ))),
                CloseOutcome::Refused(r) => Err(refusal(&r)),
            }
        }
        _ => Err(AppError::internal("not an exam delivery")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateQuery {
    pub date: Option<String>,
}

fn date_of(state: &AppState, q: &DateQuery) -> Result<String, AppError> {
    match &q.date {
        Some(d) => Ok(d
            .parse::<crate::roster::ExamDate>()
            .map_err(|e| AppError::bad_request(format!("date: {e}")))?
            .to_string()),
        None => Ok(state.clock.today(&state.config)),
    }
}

/// One seat's attempt, for the console.
#[derive(Serialize)]
pub struct SeatProgress {
    pub seat: String,
    pub booking_number: String,
    pub name: String,
    pub session: String,
    pub exam: String,
    pub exam_name: String,
    pub paper_id: String,
    pub answered: u32,
    pub total: u32,
    pub deadline: i64,
    /// Milliseconds left at `server_time` (0 once past).
    pub time_left_ms: i64,
    pub online: bool,
    pub state: &'static str,
    pub score: Option<u32>,
    pub max_score: u32,
    pub passed: Option<bool>,
    pub submitted_at: Option<i64>,
    pub reason: Option<&'static str>,
}

#[derive(Serialize)]
pub struct ProgressView {
    pub date: String,
    pub server_time: i64,
    pub seats: Vec<SeatProgress>,
}

/// `GET /api/v1/exam/progress?date=`: every paper of the day, per seat.
pub async fn progress(
    State(state): State<AppState>,
    OpenSession(_session): OpenSession,
    Query(q): Query<DateQuery>,
) -> Result<Json<ProgressView>, AppError> {
    let date = date_of(&state, &q)?;
    let now = now_ms();
    let offline_after = state.config.agents.offline_after_ms;
    let overview = state.store.overview().await?;
    let mut online: BTreeMap<String, bool> = BTreeMap::new();
    for row in &overview.seats {
        let last = state.hub.seen(&row.machine.key_id).map(|s| s.last_seen).max(row.last_seen);
        online.insert(row.seat.to_string(), last.is_some_and(|t| now - t <= offline_after));
    }
    let seats = state
        .store
        .paper_progress(Some(&date))
        .await?
        .into_iter()
        .map(|p| {
            let row = p.paper;
            SeatProgress {
                online: online.get(&row.seat).copied().unwrap_or(false),
                seat: row.seat,
                booking_number: row.booking_number,
                name: p.name,
                session: p.session,
                exam: row.exam_id,
                exam_name: row.exam_name,
                paper_id: row.paper_id,
                answered: row.answered.unwrap_or(p.answered),
                total: row.item_count,
                deadline: row.deadline,
                time_left_ms: if row.state == PaperState::Submitted { 0 } else { (row.deadline - now).max(0) },
                state: row.state.as_str(),
                score: row.score,
                max_score: row.max_score,
                passed: row.passed,
                submitted_at: row.submitted_at,
                reason: row.reason.map(SubmitReason::as_str),
            }
        })
        .collect();
    Ok(Json(ProgressView { date, server_time: now, seats }))
}

#[derive(Serialize, Default)]
pub struct SessionSummary {
    pub session: String,
    /// Papers drawn (candidates admitted with a paper).
    pub started: u32,
    pub submitted: u32,
    pub passed: u32,
    pub failed: u32,
}

#[derive(Serialize)]
pub struct SummaryView {
    pub date: String,
    pub sessions: Vec<SessionSummary>,
}

/// `GET /api/v1/exam/summary?date=`: per session, started, submitted and passed.
pub async fn summary(
    State(state): State<AppState>,
    OpenSession(_session): OpenSession,
    Query(q): Query<DateQuery>,
) -> Result<Json<SummaryView>, AppError> {
    let date = date_of(&state, &q)?;
    let mut sessions: BTreeMap<String, SessionSummary> = BTreeMap::new();
    for p in state.store.paper_progress(Some(&date)).await? {
        let s = sessions
            .entry(p.session.clone())
            .or_insert_with(|| SessionSummary { session: p.session.clone(), ..SessionSummary::default() });
        s.started += 1;
        if p.paper.state == PaperState::Submitted {
            s.submitted += 1;
            match p.paper.passed {
                Some(true) => s.passed += 1,
                Some(false) => s.failed += 1,
                None => {}
            }
        }
    }
    Ok(Json(SummaryView { date, sessions: sessions.into_values().collect() }))
}

#[derive(Serialize)]
pub struct ExposureItem {
    pub item_id: String,
    pub drawn: i64,
    pub last_drawn: i64,
}

#[derive(Serialize)]
pub struct ExposureView {
    pub items: Vec<ExposureItem>,
}

/// `GET /api/v1/exam/exposure`: how often each item has been drawn, most first.
pub async fn exposure(
    State(state): State<AppState>,
    OpenSession(_session): OpenSession,
) -> Result<Json<ExposureView>, AppError> {
    let items = state
        .store
        .exposure()
        .await?
        .into_iter()
        .map(|(item_id, drawn, last_drawn)| ExposureItem { item_id, drawn, last_drawn })
        .collect();
    Ok(Json(ExposureView { items }))
}
