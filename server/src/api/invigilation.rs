//! Invigilation from the console, under `/api/v1/exam/`: a warning, a forced
//! submission, pause and resume (one seat or the room), an extension (one
//! candidate or the room) and the offline-time proposal after a rebind. Only
//! an open console may: anything else is refused and audited
//! (`console_refused`). Each action is one store transaction with its audit
//! row and the command to the seat, pushed at once (a seat that is offline
//! gets it from the push queue when it connects); `GET
//! /api/v1/exam/{booking}/actions` shows which the seat has acknowledged.

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use examgate_protocol::exam::SubmitReason;
use examgate_protocol::invigilation::{ExtensionReason, ForceReason, PauseReason, WarningReason};
use serde::{Deserialize, Serialize};

use super::console::{actor, open_session};
use super::login::{alert_event, push};
use super::{AppState, PeerAddr};
use crate::audit::{Action, Entry};
use crate::config::WarningAction;
use crate::error::AppError;
use crate::hub::ConsoleEvent;
use crate::store::{CloseOutcome, ExamAction, Invigilated, NewAction, NewAlert, PaperRow, PaperState, Session};
use crate::{ids, now_ms};

/// Longest warning text or note.
const MAX_TEXT: usize = 500;
/// Longest extension, minutes.
const MAX_MINUTES: u32 = 240;

/// An open console session; otherwise refused with the reason and audited
/// (`console_refused`, by the caller's IP and the path).
pub struct Invigilator(pub Session);

impl axum::extract::FromRequestParts<AppState> for Invigilator {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Invigilator, AppError> {
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<PeerAddr>>()
            .cloned()
            .ok_or_else(|| AppError::internal("no peer address on the connection"))?;
        match open_session(state, &parts.headers, peer.ip()).await {
            Ok(s) => Ok(Invigilator(s)),
            Err(e) => {
                let path: String = parts.uri.path().chars().take(200).collect();
                let detail = format!("{} {path} refused ({}): {}", parts.method, e.kind, e.message);
                let entry = Entry::new(format!("ip:{}", peer.ip()), Action::ConsoleRefused, "console", detail);
                if let Err(a) = state.store.audit(entry, now_ms()).await {
                    tracing::error!("cannot audit a refused console command: {a}");
                }
                Err(e)
            }
        }
    }
}

/// One action as the console sees it.
#[derive(Serialize)]
pub struct ActionView {
    #[serde(flatten)]
    pub action: ExamAction,
    /// The seat's agent was connected to this server and was sent the command now.
    pub sent_now: bool,
    /// The seat acknowledged the command (see `acked_at`).
    pub delivered: bool,
}

#[derive(Serialize)]
pub struct ActionsView {
    pub booking_number: String,
    pub paper_id: String,
    pub deadline: i64,
    pub paused_at: Option<i64>,
    pub warnings: u32,
    pub actions: Vec<ActionView>,
}

#[derive(Serialize)]
pub struct WarnView {
    #[serde(flatten)]
    pub action: ActionView,
    /// What `[exam] warning_action` did now that the warnings reached `warnings_before_action`.
    pub then: Option<&'static str>,
}

fn text_ok(what: &str, text: &str, required: bool) -> Result<(), AppError> {
    if (required && text.trim().is_empty()) || text.chars().count() > MAX_TEXT {
        let min = if required { 1 } else { 0 };
        return Err(AppError::bad_request(format!("{what} must be {min} to {MAX_TEXT} characters")));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AppError::bad_request(format!("{what} may not hold control characters")));
    }
    Ok(())
}

async fn paper_of(state: &AppState, booking: &str) -> Result<PaperRow, AppError> {
    state
        .store
        .paper_of_booking(booking)
        .await?
        .ok_or_else(|| AppError::not_found(format!("candidate {booking} has no paper (not admitted, or no exam)")))
}

/// An action's id, also its command's: the push queue sends a seat's pending
/// commands by (created_at, id), so two actions in one millisecond keep their order.
fn next_id() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("i{:012x}{n:08x}{}", now_ms(), ids::random_hex(2))
}

fn new_action(session: &Session, reason: &str, note: &str) -> NewAction {
    NewAction { id: next_id(), reason: reason.to_owned(), note: note.to_owned(), actor: actor(session) }
}

/// Pushes the command of each action and tells the consoles.
fn after(state: &AppState, done: Vec<Invigilated>) -> Vec<ActionView> {
    done.into_iter()
        .map(|d| {
            let sent_now = d.command.as_ref().is_some_and(|c| push(state, c));
            state.hub.notify(ConsoleEvent::ExamInvigilation {
                seat: d.paper.seat.clone(),
                booking_number: d.paper.booking_number.clone(),
                paper_id: d.paper.paper_id.clone(),
                kind: d.action.kind.clone(),
                deadline: d.paper.deadline,
            });
            ActionView { action: d.action, sent_now, delivered: false }
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarnRequest {
    pub reason: WarningReason,
    pub text: String,
}

/// `POST /api/v1/exam/{booking}/warn` `{reason, text}`.
pub async fn warn(
    State(state): State<AppState>,
    Invigilator(session): Invigilator,
    Path(booking): Path<String>,
    Json(req): Json<WarnRequest>,
) -> Result<(StatusCode, Json<WarnView>), AppError> {
    text_ok("text", &req.text, true)?;
    let paper = paper_of(&state, &booking).await?;
    let a = new_action(&session, req.reason.as_str(), req.text.trim());
    let done = state.store.warn(&paper.paper_id, a, now_ms()).await?;
    let n = done.action.count.unwrap_or(0);
    let view = after(&state, vec![done]).pop().expect("one action");
    let limit = state.config.exam.warnings_before_action;
    let mut then = None;
    if limit > 0 && n >= limit {
        match state.config.exam.warning_action {
            WarningAction::None => {}
            WarningAction::AskExaminer => {
                let alert = NewAlert {
                    seat: Some(paper.seat.clone()),
                    key_id: None,
                    kind: "warnings_reached".into(),
                    message: format!(
                        "seat {}: candidate {booking} has had {n} warnings: decide what follows",
                        paper.seat
                    ),
                    at: now_ms(),
                };
                let entry = Entry::new(
                    "server",
                    Action::ExamWarning,
                    format!("candidate:{booking}"),
                    format!("{n} warnings reach warnings_before_action {limit}: the examiner is asked"),
                );
                let alert = state.store.raise_alert(alert, entry).await?;
                state.hub.notify(alert_event(&alert));
                then = Some("ask_examiner");
            }
            WarningAction::ForcedSubmission => {
                let note = format!("{n} warnings reached warnings_before_action {limit}");
                let forced = new_action(&session, ForceReason::Warnings.as_str(), &note);
                force(&state, &session, &paper, forced).await?;
                then = Some("forced_submission");
            }
        }
    }
    Ok((StatusCode::CREATED, Json(WarnView { action: view, then })))
}

#[derive(Serialize)]
pub struct ForcedView {
    pub paper_id: String,
    pub score: Option<u32>,
    pub max_score: u32,
    pub passed: Option<bool>,
    pub submitted_at: Option<i64>,
    pub reason: &'static str,
    pub forced_reason: String,
    /// The seat's agent was sent the `exam_result` command now.
    pub sent_now: bool,
}

async fn force(state: &AppState, session: &Session, paper: &PaperRow, a: NewAction) -> Result<ForcedView, AppError> {
    let forced_reason = a.reason.clone();
    let outcome = super::exam::close_with(state, paper, SubmitReason::Forced, actor(session), None, Some(a)).await?;
    match outcome {
        CloseOutcome::Closed { paper, command } => Ok(ForcedView {
            paper_id: paper.paper_id.clone(),
            score: paper.score,
            max_score: paper.max_score,
            passed: paper.passed,
            submitted_at: paper.submitted_at,
            reason: SubmitReason::Forced.as_str(),
            forced_reason,
            // `close` pushed it already; this says whether the seat was connected.
            sent_now: command.is_some() && state.hub.is_connected(&command.as_ref().expect("some").key_id),
        }),
        CloseOutcome::AlreadyClosed { paper } => Err(AppError::conflict(format!(
            "paper {} was submitted already ({})",
            paper.paper_id,
            paper.reason.map(SubmitReason::as_str).unwrap_or("?")
        ))),
        CloseOutcome::Conflict => Err(AppError::conflict("the submission conflicts with an earlier one")),
        CloseOutcome::Refused(r) => Err(AppError::new(StatusCode::CONFLICT, r.kind, r.message)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForceRequest {
    pub reason: ForceReason,
    #[serde(default)]
    pub note: String,
}

/// `POST /api/v1/exam/{booking}/force-submit` `{reason, note}`: scored with what the server holds, marked forced.
pub async fn force_submit(
    State(state): State<AppState>,
    Invigilator(session): Invigilator,
    Path(booking): Path<String>,
    Json(req): Json<ForceRequest>,
) -> Result<(StatusCode, Json<ForcedView>), AppError> {
    text_ok("note", &req.note, req.reason == ForceReason::Other)?;
    let paper = paper_of(&state, &booking).await?;
    if paper.state == PaperState::Submitted {
        return Err(AppError::conflict(format!("paper {} is already submitted", paper.paper_id)));
    }
    let a = new_action(&session, req.reason.as_str(), req.note.trim());
    Ok((StatusCode::CREATED, Json(force(&state, &session, &paper, a).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// One seat, or
    #[serde(default)]
    pub seat: Option<String>,
    /// `"all"`: every paper in progress today.
    #[serde(default)]
    pub room: Option<String>,
    pub reason: PauseReason,
}

#[derive(Serialize)]
pub struct ActionsDone {
    pub actions: Vec<ActionView>,
}

/// The papers in progress today that a `{seat}` or `{room: "all"}` names.
async fn targets(state: &AppState, seat: Option<&str>, room: Option<&str>) -> Result<Vec<String>, AppError> {
    let today = state.clock.today(&state.config);
    match (seat, room) {
        (Some(seat), None) => {
            let paper = state
                .store
                .seat_paper(seat, &today)
                .await?
                .ok_or_else(|| AppError::not_found(format!("seat {seat} has no paper today")))?;
            Ok(vec![paper.paper_id])
        }
        (None, Some("all")) => Ok(state
            .store
            .paper_progress(Some(&today))
            .await?
            .into_iter()
            .filter(|p| p.paper.state == PaperState::InProgress)
            .map(|p| p.paper.paper_id)
            .collect()),
        (None, Some(other)) => Err(AppError::bad_request(format!("room {other:?}: only \"all\" is known"))),
        _ => Err(AppError::bad_request("name either a seat or room: \"all\"")),
    }
}

/// `POST /api/v1/exam/pause` `{seat | room: "all", reason}`: the clock stops.
pub async fn pause(
    State(state): State<AppState>,
    Invigilator(session): Invigilator,
    Json(req): Json<PauseRequest>,
) -> Result<Json<ActionsDone>, AppError> {
    let papers = targets(&state, req.seat.as_deref(), req.room.as_deref()).await?;
    let done = state.store.pause(&papers, new_action(&session, req.reason.as_str(), ""), now_ms()).await?;
    Ok(Json(ActionsDone { actions: after(&state, done) }))
}

/// `POST /api/v1/exam/resume` `{seat | room: "all", reason}`: each deadline moves by the time paused.
pub async fn resume(
    State(state): State<AppState>,
    Invigilator(session): Invigilator,
    Json(req): Json<PauseRequest>,
) -> Result<Json<ActionsDone>, AppError> {
    let papers = targets(&state, req.seat.as_deref(), req.room.as_deref()).await?;
    let done = state.store.resume(&papers, new_action(&session, req.reason.as_str(), ""), now_ms()).await?;
    Ok(Json(ActionsDone { actions: after(&state, done) }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    pub minutes: u32,
    pub reason: ExtensionReason,
    #[serde(default)]
    pub note: String,
    /// Room-wide only: `"all"`.
    #[serde(default)]
    pub room: Option<String>,
}

fn check_extend(req: &ExtendRequest) -> Result<(), AppError> {
    if req.minutes == 0 || req.minutes > MAX_MINUTES {
        return Err(AppError::bad_request(format!("minutes must be 1 to {MAX_MINUTES}")));
    }
    text_ok("note", &req.note, req.reason == ExtensionReason::Other)
}

/// `POST /api/v1/exam/{booking}/extend` `{minutes, reason, note}`.
pub async fn extend(
    State(state): State<AppState>,
    Invigilator(session): Invigilator,
    Path(booking): Path<String>,
    Json(req): Json<ExtendRequest>,
) -> Result<Json<ActionsDone>, AppError> {
    check_extend(&req)?;
    if req.room.is_some() {
        return Err(AppError::bad_request("room is for POST /api/v1/exam/extend"));
    }
    let paper = paper_of(&state, &booking).await?;
    if paper.state == PaperState::Submitted {
        return Err(AppError::conflict(format!("paper {} is already submitted", paper.paper_id)));
    }
    let a = new_action(&session, req.reason.as_str(), req.note.trim());
    let done = state.store.extend(&[paper.paper_id], req.minutes, a, now_ms()).await?;
    Ok(Json(ActionsDone { actions: after(&state, done) }))
}

/// `POST /api/v1/exam/extend` `{room: "all", minutes, reason, note}`.
pub async fn extend_room(
    State(state): State<AppState>,
    Invigilator(session): Invigilator,
    Json(req): Json<ExtendRequest>,
) -> Result<Json<ActionsDone>, AppError> {
    check_extend(&req)?;
    let papers = targets(&state, None, Some(req.room.as_deref().unwrap_or(""))).await?;
    let a = new_action(&session, req.reason.as_str(), req.note.trim());
    let done = state.store.extend(&papers, req.minutes, a, now_ms()).await?;
    Ok(Json(ActionsDone { actions: after(&state, done) }))
}

#[derive(Serialize)]
pub struct ProposalView {
    pub booking_number: String,
    pub paper_id: String,
    pub seat: String,
    /// When the PC now at the seat took it over.
    pub rebound_at: i64,
    /// The last answer or heartbeat of the PC before it.
    pub last_activity: i64,
    /// The first answer from the PC now at the seat (None: none yet, measured to now).
    pub first_activity: Option<i64>,
    pub offline_ms: i64,
    /// Whole minutes, rounded up: what the examiner accepts or changes.
    pub proposed_minutes: u32,
    pub reason: &'static str,
}

/// `GET /api/v1/exam/{booking}/extension-proposal`: the time the seat could not work across its last rebind.
pub async fn extension_proposal(
    State(state): State<AppState>,
    Invigilator(_session): Invigilator,
    Path(booking): Path<String>,
) -> Result<Json<ProposalView>, AppError> {
    let paper = paper_of(&state, &booking).await?;
    let basis = state.store.extension_basis(&paper.paper_id).await?.ok_or_else(|| {
        AppError::not_found(format!(
            "seat {} was not given to another PC since {booking}'s paper was drawn",
            paper.seat
        ))
    })?;
    let last = basis.last_before.unwrap_or(paper.drawn_at);
    let end = basis.first_after.unwrap_or_else(now_ms);
    let offline_ms = (end - last).max(0);
    let proposed_minutes = u32::try_from((offline_ms + 59_999) / 60_000).unwrap_or(MAX_MINUTES).min(MAX_MINUTES);
    Ok(Json(ProposalView {
        booking_number: booking,
        paper_id: paper.paper_id,
        seat: basis.seat,
        rebound_at: basis.rebound_at,
        last_activity: last,
        first_activity: basis.first_after,
        offline_ms,
        proposed_minutes,
        reason: ExtensionReason::Offline.as_str(),
    }))
}

/// `GET /api/v1/exam/{booking}/actions`: warnings, pauses, extensions, reminders and their delivery.
pub async fn actions(
    State(state): State<AppState>,
    Invigilator(_session): Invigilator,
    Path(booking): Path<String>,
) -> Result<Json<ActionsView>, AppError> {
    let paper = paper_of(&state, &booking).await?;
    let rows = state.store.exam_actions(&paper.paper_id).await?;
    let paused_at = state.store.paused().await?.into_iter().find(|p| p.paper_id == paper.paper_id).map(|p| p.paused_at);
    let warnings = u32::try_from(rows.iter().filter(|a| a.kind == crate::store::exam_invigilation::WARNING).count())
        .unwrap_or(u32::MAX);
    let actions =
        rows.into_iter().map(|a| ActionView { delivered: a.acked_at.is_some(), sent_now: false, action: a }).collect();
    Ok(Json(ActionsView {
        booking_number: booking,
        paper_id: paper.paper_id,
        deadline: paper.deadline,
        paused_at,
        warnings,
        actions,
    }))
}

/// The server's end-of-time reminders: for each paper in progress, not
/// paused, with `m` minutes or less left (and more than the next smaller
/// reminder), `exam_reminder` is queued once per deadline and pushed.
pub async fn remind_due(state: &AppState, now: i64) -> Result<usize, AppError> {
    let minutes = &state.config.exam.reminders_minutes;
    if minutes.is_empty() {
        return Ok(0);
    }
    let largest = i64::from(minutes[0]) * 60_000;
    let mut sent = 0;
    for paper_id in state.store.overdue_papers(now + largest + 1).await? {
        let Some(paper) = state.store.paper(&paper_id).await? else { continue };
        let left = paper.deadline - now;
        if left <= 0 {
            continue;
        }
        // The smallest reminder not yet passed: a seat that comes late hears only the latest one due.
        let Some(m) = minutes.iter().rev().find(|&&m| left <= i64::from(m) * 60_000) else { continue };
        if let Some(done) = state.store.remind(&paper_id, *m, now).await? {
            after(state, vec![done]);
            sent += 1;
        }
    }
    Ok(sent)
}
