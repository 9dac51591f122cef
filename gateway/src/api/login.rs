//! `/v1/login/*` (the seat page's login steps), `/v1/link/commands` (what
//! `link run` hands on from the server's push socket) and `/v1/console/card`
//! (the console PC's card reads, login mode a). See [`crate::login`].
//!
//! The server is called synchronously through the enrolled link client; its
//! refusals that a page must show (`not_found`, `seat_busy`, …) are answers,
//! not errors, and the enrolled templates never leave the agent.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use examgate_device_sdk::{Template, TemplateFormat};
use examgate_protocol::idcard::IdCardRequest;
use examgate_protocol::link::{Command, PushMessage};
use examgate_protocol::login::{
    AskExaminer, CandidateState, CardCheck, ConsoleCard, FinishLogin, LookupRequest, LookupResponse, SeatCandidate,
    SeatLoginState, TemplateData, Verdict, VerifyEvidence,
};
use examgate_protocol::{Event, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::fingerprint::compare;
use super::{AppState, parse_json, parse_json_or_default};
use crate::camera;
use crate::error::AppError;
use crate::link::client::{Failure, LinkClient};
use crate::link::identity::LOCAL_COMMAND_TOKEN;
use crate::link::service::describe_command;
use crate::login::{Best, CurrentLogin, best_score, change_for, event_for};
use crate::snapshot::SnapshotReason;
use crate::templates::{self, FieldNames};

/// How long a console read waits for the card that was just inserted.
const CONSOLE_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The lookup refusals of the server that the page shows as an answer.
const LOOKUP_MISSES: [&str; 6] =
    ["not_found", "not_today", "assigned_elsewhere", "already_admitted", "refused", "seat_busy"];

/// Why a login request failed, in the API's error format.
#[derive(Debug, thiserror::Error)]
pub(super) enum LoginError {
    #[error(
        "this agent has no enrolment with an exam-centre server; enrol it (examgate-agent enrol) and start it with --link-dir DIR"
    )]
    NoServer,
    #[error("the exam-centre server is unreachable: {0}")]
    Unreachable(String),
    #[error("the exam-centre server refused ({kind}): {message}")]
    Refused { kind: String, message: String },
    #[error(
        "this template was not captured by this seat's fingerprint reader in the last two minutes; place the finger again"
    )]
    NotCapturedHere,
    #[error("no candidate is logging in at this seat; look the candidate up first (POST /v1/login/lookup)")]
    NoCandidate,
    #[error("only this PC's link run may hand on the server's commands (x-examgate-link-token missing or wrong)")]
    NotTheLink,
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<Failure> for LoginError {
    fn from(f: Failure) -> LoginError {
        match f {
            Failure::Unreachable(why) => LoginError::Unreachable(why),
            Failure::Refused { kind, message, .. } => LoginError::Refused { kind, message },
        }
    }
}

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        let (status, kind, retry) = match &self {
            LoginError::App(_) => {
                let LoginError::App(e) = self else { unreachable!() };
                return e.into_response();
            }
            LoginError::NoServer => (StatusCode::SERVICE_UNAVAILABLE, "no_server", false),
            LoginError::Unreachable(_) => (StatusCode::BAD_GATEWAY, "server_unreachable", true),
            LoginError::Refused { .. } => (StatusCode::CONFLICT, "server_refused", false),
            LoginError::NotCapturedHere => (StatusCode::BAD_REQUEST, "not_captured_here", false),
            LoginError::NoCandidate => (StatusCode::CONFLICT, "no_candidate", false),
            LoginError::NotTheLink => (StatusCode::UNAUTHORIZED, "unauthorized", false),
        };
        if status.is_server_error() {
            tracing::warn!(kind, "{self}");
        } else {
            tracing::info!(kind, "{self}");
        }
        let body = json!({"error": {"kind": kind, "message": self.to_string(), "retry": retry}});
        (status, Json(body)).into_response()
    }
}

fn server(state: &AppState) -> Result<&LinkClient, LoginError> {
    state.login().server().map(|s| s.as_ref()).ok_or(LoginError::NoServer)
}

/// The answer to a lookup: the candidate (without templates), or why not.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum LookupAnswer {
    Found {
        status: &'static str,
        booking_number: String,
        name: String,
        language: String,
        session: String,
        state: CandidateState,
        failures: u32,
    },
    Missed {
        status: String,
        message: String,
    },
}

/// An enrolled template as the server sent it; one the agent cannot read
/// keeps its place (the evidence names templates by index) and compares with nothing.
fn enrolled_template(index: usize, t: &TemplateData) -> Template {
    let field = format!("templates[{index}]");
    let unreadable = || Template::new(TemplateFormat::Vendor("unreadable".into()), Vec::new());
    let Ok(bytes) = templates::decode(&t.data, &field) else {
        tracing::warn!(index, "an enrolled template from the server is not base64; it is left out");
        return unreadable();
    };
    match templates::detect(bytes.clone(), &field) {
        Ok(template) => template,
        // A reader's own format the agent does not recognise by its bytes: its reader will.
        Err(_) => match t.format.parse::<TemplateFormat>() {
            Ok(format) => Template::new(format, bytes),
            Err(_) => {
                tracing::warn!(index, format = %t.format, "an enrolled template is in no known format; it is left out");
                unreadable()
            }
        },
    }
}

pub(super) async fn lookup(State(state): State<AppState>, body: Bytes) -> Result<Json<LookupAnswer>, LoginError> {
    let server = server(&state)?;
    let request: LookupRequest = parse_json(&body)?;
    let found: LookupResponse = match server.lookup(&request).await {
        Ok(found) => found,
        Err(Failure::Refused { status: 404 | 409, kind, message }) if LOOKUP_MISSES.contains(&kind.as_str()) => {
            *state.login().current() = None;
            return Ok(Json(LookupAnswer::Missed { status: kind, message }));
        }
        Err(e) => return Err(e.into()),
    };
    let enrolled: Vec<Template> = found.templates.iter().enumerate().map(|(i, t)| enrolled_template(i, t)).collect();
    tracing::info!(booking = %found.booking_number, enrolled = enrolled.len(), "candidate found for this seat");
    let answer = LookupAnswer::Found {
        status: "found",
        booking_number: found.booking_number.clone(),
        name: found.name.clone(),
        language: found.language.clone(),
        session: found.session.clone(),
        state: found.state,
        failures: found.failures,
    };
    *state.login().current() = Some(CurrentLogin::from_lookup(&found, enrolled));
    Ok(Json(answer))
}

/// `POST /v1/login/verify`: what `POST /v1/fingerprint/template` answered
/// (its other fields are ignored).
#[derive(Debug, Deserialize)]
pub(super) struct VerifyRequest {
    template: String,
    format: String,
}

#[derive(Debug, Serialize)]
pub(super) struct VerifyAnswer {
    verdict: Verdict,
    score: i32,
    failures: u32,
    state: CandidateState,
    /// The server re-computed the score and it did not agree (counted as a failure).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    disagreed: bool,
}

/// Takes the verification snapshot, if the seat has a camera; its SHA-256.
async fn verification_snapshot(state: &AppState) -> Option<String> {
    if !state.devices().has_camera() {
        return None;
    }
    match camera::take(state.devices(), state.snapshots(), None, SnapshotReason::IdentityVerification).await {
        Ok(record) => record.image.as_ref().map(|i| i.sha256_hex()),
        Err(e) => {
            tracing::warn!("no verification snapshot: {e}");
            None
        }
    }
}

pub(super) async fn verify(State(state): State<AppState>, body: Bytes) -> Result<Json<VerifyAnswer>, LoginError> {
    let server = server(&state)?;
    let request: VerifyRequest = parse_json(&body)?;
    let live = templates::parse(&request.template, "template")?;
    if live.format.to_string() != request.format {
        return Err(AppError::BadRequest(format!(
            "format says {} but the template is {}",
            request.format, live.format
        ))
        .into());
    }
    let age = state.login().captured().age(&live.data).ok_or(LoginError::NotCapturedHere)?;
    let (booking_number, enrolled, attempt) = {
        let current = state.login().current();
        let c = current.as_ref().filter(|c| !c.enrolled.is_empty()).ok_or(LoginError::NoCandidate)?;
        (c.booking_number.clone(), c.enrolled.clone(), c.attempts + 1)
    };
    // MatchSampleTemplate against each enrolled template, as POST /v1/fingerprint/match compares.
    let mut results = Vec::with_capacity(enrolled.len());
    for (i, e) in enrolled.into_iter().enumerate() {
        let name = format!("enrolled[{i}]");
        results.push(compare(&state, live.clone(), e, None, FieldNames { probe: "template", enrolled: &name }).await);
    }
    let (index, score) = match best_score(results) {
        Best::Scored { index, score } => (index, score),
        Best::Retry(e) => return Err(e.into()),
    };
    let snapshot_sha256 = verification_snapshot(&state).await;
    let captured_at = Timestamp::from_unix_millis(
        Timestamp::now().unix_millis() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX),
    );
    let evidence = VerifyEvidence {
        booking_number: booking_number.clone(),
        attempt,
        live: TemplateData { format: live.format.to_string(), data: templates::encode(&live.data) },
        enrolled_index: u32::try_from(index).unwrap_or(u32::MAX),
        score,
        snapshot_sha256: snapshot_sha256.clone(),
        captured_at,
    };
    let (verdict, score, failures, candidate_state, disagreed) = match server.verify(&evidence).await {
        Ok(r) => (r.verdict, r.score, r.failures, r.state, false),
        Err(Failure::Refused { kind, .. }) if kind == "score_disagrees" => {
            // Counted as a failure; the server's tally says where the candidate stands now.
            let now = server.login_state().await.ok().and_then(|s| s.candidate);
            let known = state.login().current().as_ref().map(|c| (c.failures + 1, c.state));
            let (failures, candidate_state) = match (now, known) {
                (Some(c), _) if c.booking_number == booking_number => (c.failures, c.state),
                (_, Some(k)) => k,
                (_, None) => (attempt, CandidateState::Verifying),
            };
            (Verdict::NoMatch, score, failures, candidate_state, true)
        }
        Err(e) => return Err(e.into()),
    };
    state.login().captured().forget(&live.data);
    if let Some(c) = state.login().current().as_mut().filter(|c| c.booking_number == booking_number) {
        c.attempts = attempt;
        c.failures = failures;
        c.snapshot_sha256 = snapshot_sha256.or(c.snapshot_sha256.take());
        c.settle(candidate_state);
    }
    tracing::info!(booking = %booking_number, attempt, score, ?verdict, disagreed, "verification attempt");
    Ok(Json(VerifyAnswer { verdict, score, failures, state: candidate_state, disagreed }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AskRequest {
    failures: u32,
    /// A word: `three_failures`, `device_fault`, `not_found`, …
    reason: String,
}

#[derive(Debug, Serialize)]
pub(super) struct AskAnswer {
    state: Option<CandidateState>,
}

/// The server's view of this seat's candidate, copied into the current login.
fn follow(state: &AppState, seat: &SeatLoginState) {
    let Some(candidate) = &seat.candidate else { return };
    if let Some(c) = state.login().current().as_mut().filter(|c| c.booking_number == candidate.booking_number) {
        c.failures = candidate.failures;
        c.settle(candidate.state);
    }
}

pub(super) async fn ask_examiner(State(state): State<AppState>, body: Bytes) -> Result<Json<AskAnswer>, LoginError> {
    let server = server(&state)?;
    let request: AskRequest = parse_json(&body)?;
    let word = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    if request.reason.is_empty() || request.reason.len() > 64 || !request.reason.chars().all(word) {
        return Err(AppError::BadRequest(format!(
            "reason {:?} must be a word of a-z, 0-9 and _ (three_failures, device_fault, not_found, …)",
            request.reason
        ))
        .into());
    }
    let booking_number = state.login().current().as_ref().map(|c| c.booking_number.clone());
    let ask = AskExaminer { booking_number, failures: request.failures, reason: request.reason };
    let seat = server.ask_examiner(&ask).await?;
    follow(&state, &seat);
    Ok(Json(AskAnswer { state: seat.candidate.map(|c| c.state) }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FinishRequest {
    #[serde(default)]
    snapshot_sha256: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Outcome {
    Admitted,
    WaitingForExaminer,
    Refused,
}

#[derive(Debug, Serialize)]
pub(super) struct FinishAnswer {
    outcome: Outcome,
}

pub(super) async fn finish(State(state): State<AppState>, body: Bytes) -> Result<Json<FinishAnswer>, LoginError> {
    let server = server(&state)?;
    let request: FinishRequest = parse_json_or_default(&body)?;
    if let Some(sha) = &request.snapshot_sha256
        && !(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    {
        return Err(AppError::BadRequest("snapshot_sha256 is 64 lower-case hex digits, or null".into()).into());
    }
    let (booking_number, taken) = {
        let current = state.login().current();
        let c = current.as_ref().ok_or(LoginError::NoCandidate)?;
        (c.booking_number.clone(), c.snapshot_sha256.clone())
    };
    let finish = FinishLogin { booking_number, snapshot_sha256: request.snapshot_sha256.or(taken) };
    let seat = server.finish(&finish).await?;
    follow(&state, &seat);
    let outcome = match seat.candidate.map(|c| c.state) {
        None => return Err(LoginError::NoCandidate),
        Some(CandidateState::Admitted) => Outcome::Admitted,
        Some(CandidateState::Refused) => Outcome::Refused,
        Some(_) => Outcome::WaitingForExaminer,
    };
    Ok(Json(FinishAnswer { outcome }))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ServerStatus {
    Connected,
    Unreachable,
    NotEnrolled,
}

#[derive(Debug, Serialize)]
pub(super) struct StateAnswer {
    server: ServerStatus,
    seat: Option<String>,
    candidate: Option<SeatCandidate>,
}

pub(super) async fn login_state(State(state): State<AppState>) -> Json<StateAnswer> {
    let local = || state.login().current().as_ref().map(CurrentLogin::candidate);
    let Some(server) = state.login().server() else {
        return Json(StateAnswer { server: ServerStatus::NotEnrolled, seat: None, candidate: local() });
    };
    match server.login_state().await {
        Ok(seat) => {
            follow(&state, &seat);
            Json(StateAnswer { server: ServerStatus::Connected, seat: Some(seat.seat), candidate: seat.candidate })
        }
        Err(e) => {
            tracing::info!("login state: {e}");
            Json(StateAnswer { server: ServerStatus::Unreachable, seat: None, candidate: local() })
        }
    }
}

/// `POST /v1/link/commands`: a command the server pushed, from the local `link run`,
/// which proves it holds the enrolment's key with `x-examgate-link-token`: no other
/// local program may greet, admit or warn a candidate on the seat page.
pub(super) async fn link_command(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<StatusCode, LoginError> {
    let token = server(&state)?.identity().local_command_token();
    let sent = headers.get(LOCAL_COMMAND_TOKEN).map(|v| v.as_bytes()).unwrap_or_default();
    if !super::security::constant_time_eq(sent, token.as_bytes()) {
        return Err(LoginError::NotTheLink);
    }
    let message: PushMessage = parse_json(&body)?;
    tracing::info!(id = %message.id, "pushed command: {}", describe_command(&message.command));
    // The login changes before the event goes out, so a page that reacts with GET /v1/login/state sees it.
    state.login().apply(change_for(&message.command));
    if let Some(exam) = state.exam() {
        exam.on_command(&message.command);
    }
    if let Some(event) = event_for(&message.command, Timestamp::now()) {
        state.devices().emit(event);
    }
    if let Command::SnapshotNow = message.command {
        tracing::debug!("snapshot requests are taken by link run through POST /v1/camera/snapshot");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Reads the card on a reader (as `POST /v1/idcard/read` does) and has the server check it.
async fn check_card(state: &AppState, read: Bytes) -> Result<CardCheck, LoginError> {
    let server = server(state)?;
    let Json(card) = super::idcard::read(State(state.clone()), read).await?;
    let check = server.console_card(&ConsoleCard { card }).await?;
    tracing::info!(
        accepted = check.accepted,
        problems = ?check.problems,
        seat = ?check.seat,
        booking = ?check.booking_number,
        "console card checked by the server"
    );
    Ok(check)
}

/// `POST /v1/console/card`: read the card on the console's reader now (body as `POST /v1/idcard/read`).
pub(super) async fn console_card(State(state): State<AppState>, body: Bytes) -> Result<Json<CardCheck>, LoginError> {
    server(&state)?;
    Ok(Json(check_card(&state, body).await?))
}

/// The console PC's card loop: every card inserted on an ID card reader is
/// read and sent to the server. Ends when the agent shuts down.
pub async fn console_cards(state: AppState) {
    let mut events = state.devices().subscribe();
    let mut stopping = state.stopping();
    tracing::info!("console: cards inserted on the ID card reader go to the server");
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = async { stopping.wait_for(|s| *s).await.is_ok() } => return,
        };
        match event {
            Ok(Event::CardInserted { device, .. }) => {
                let read = IdCardRequest {
                    device: Some(device.clone()),
                    timeout_ms: Some(CONSOLE_READ_TIMEOUT.as_millis() as u64),
                };
                let read = serde_json::to_vec(&read).expect("a card request serialises");
                if let Err(e) = check_card(&state, Bytes::from(read)).await {
                    tracing::warn!(device, "console card not checked: {e}");
                }
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the console card loop fell behind the events");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request, header};
    use examgate_sim::SimFingerprintFactory;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::api::{Settings, app};
    use crate::devices::{DeviceManager, Driver, ManagerOptions};
    use crate::selector::DeviceSelector;

    fn sim_state() -> AppState {
        sim_state_with(Settings::default())
    }

    fn sim_state_with(settings: Settings) -> AppState {
        let selector: DeviceSelector = "sim:fingerprint".parse().unwrap();
        let DeviceSelector::SimFingerprint { config, .. } = &selector else { unreachable!() };
        let driver = Driver::simulated(selector.clone(), Arc::new(SimFingerprintFactory::new(config.clone())));
        let options = ManagerOptions { poll_interval: Duration::from_millis(20), ..ManagerOptions::default() };
        AppState::new(DeviceManager::start(vec![driver], options), settings)
    }

    /// An agent with an enrolment (to a server nobody runs) and the token its `link run` would send.
    fn linked_state() -> (AppState, String) {
        let identity = Arc::new(crate::link::identity::Identity::generate().unwrap());
        let token = identity.local_command_token();
        let pin = crate::link::tls::Pin::parse(&"ab".repeat(32)).unwrap();
        let client = LinkClient::new("https://127.0.0.1:9", pin, identity, "02:00:00:00:00:01".into()).unwrap();
        let mut settings = Settings::default();
        settings.login.server = Some(Arc::new(client));
        (sim_state_with(settings), token)
    }

    async fn command(state: &AppState, token: Option<&str>, body: Value) -> StatusCode {
        let mut request = Request::post("/v1/link/commands").header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(LOCAL_COMMAND_TOKEN, token);
        }
        app(state.clone()).oneshot(request.body(Body::from(body.to_string())).unwrap()).await.unwrap().status()
    }

    async fn call(state: &AppState, method: &str, uri: &str, body: Value) -> (StatusCode, Value) {
        let body = if body.is_null() { Body::empty() } else { Body::from(body.to_string()) };
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .unwrap();
        let response = app(state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn without_an_enrolment_every_login_call_answers_no_server() {
        let state = sim_state();
        let calls = [
            ("/v1/login/lookup", json!({"kind": "booking_number", "value": "20261125001", "source": "keyboard"})),
            ("/v1/login/verify", json!({"template": "AAAA", "format": "iso19794-2"})),
            ("/v1/login/ask-examiner", json!({"failures": 3, "reason": "three_failures"})),
            ("/v1/login/finish", json!({"snapshot_sha256": null})),
            ("/v1/console/card", json!({})),
        ];
        for (uri, body) in calls {
            let (status, body) = call(&state, "POST", uri, body).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
            assert_eq!(body["error"]["kind"], "no_server", "{uri}");
            assert!(body["error"]["message"].as_str().unwrap().contains("--link-dir"), "{body}");
        }
        let (status, body) = call(&state, "GET", "/v1/login/state", Value::Null).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"server": "not_enrolled", "seat": null, "candidate": null}));
    }

    /// The next event that is about the login, not a device.
    async fn next_login_event(events: &mut tokio::sync::broadcast::Receiver<Event>) -> Event {
        loop {
            let event = events.recv().await.unwrap();
            if event.device().is_empty() && !matches!(event, Event::SnapshotTaken { .. } | Event::CameraFault { .. }) {
                return event;
            }
        }
    }

    #[tokio::test]
    async fn pushed_commands_become_seat_events_and_change_the_current_login() {
        let (state, token) = linked_state();
        let mut events = state.devices().subscribe();
        let assign = json!({"id": "c1", "command": {"type": "candidate_assigned",
            "booking_number": "20261125001", "name": "张伟", "language": "zh"}});
        assert_eq!(command(&state, Some(&token), assign).await, StatusCode::NO_CONTENT);
        let event = next_login_event(&mut events).await;
        let Event::CandidateAssigned { booking_number, name, language, .. } = event else { unreachable!() };
        assert_eq!((booking_number.as_str(), name.as_str(), language.as_str()), ("20261125001", "张伟", "zh"));
        let (_, body) = call(&state, "GET", "/v1/login/state", Value::Null).await;
        assert_eq!(body["candidate"]["name"], "张伟");
        assert_eq!(body["candidate"]["state"], "assigned");
        assert_eq!(body["candidate"]["mode"], "card_at_console");

        let decide = json!({"id": "c2", "command": {"type": "login_decision",
            "booking_number": "20261125001", "decision": "admitted"}});
        assert_eq!(command(&state, Some(&token), decide).await, StatusCode::NO_CONTENT);
        let event = next_login_event(&mut events).await;
        assert!(matches!(event, Event::LoginDecision { decision: examgate_protocol::login::Decision::Admitted, .. }));
        let (_, body) = call(&state, "GET", "/v1/login/state", Value::Null).await;
        assert_eq!(body["candidate"], Value::Null, "the decision ended the login");

        let warn = json!({"id": "c3", "command": {"type": "warning", "text": "eyes on your screen"}});
        assert_eq!(command(&state, Some(&token), warn).await, StatusCode::NO_CONTENT);
        let event = next_login_event(&mut events).await;
        assert!(matches!(event, Event::Warning { text, .. } if text == "eyes on your screen"));
        assert_eq!(command(&state, Some(&token), json!({"id": "c4"})).await, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn only_the_link_with_the_enrolment_key_may_hand_on_commands() {
        let assign = json!({"id": "c1", "command": {"type": "candidate_assigned",
            "booking_number": "20261125001", "name": "张伟", "language": "zh"}});
        // Without an enrolment there is no link to take commands from.
        assert_eq!(command(&sim_state(), None, assign.clone()).await, StatusCode::SERVICE_UNAVAILABLE);
        let (state, token) = linked_state();
        let other = crate::link::identity::Identity::generate().unwrap().local_command_token();
        for wrong in [None, Some(""), Some(other.as_str()), Some(&token[..64])] {
            assert_eq!(command(&state, wrong, assign.clone()).await, StatusCode::UNAUTHORIZED, "{wrong:?}");
        }
        let (_, body) = call(&state, "GET", "/v1/login/state", Value::Null).await;
        assert_eq!(body["candidate"], Value::Null, "a refused command changes nothing");
        assert_eq!(command(&state, Some(&token), assign).await, StatusCode::NO_CONTENT);
    }

    #[tokio::test]
    async fn templates_captured_by_this_agent_are_remembered_by_both_apis() {
        let state = sim_state();
        let (status, body) = call(&state, "POST", "/v1/fingerprint/template", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let rest = templates::decode(body["template"].as_str().unwrap(), "t").unwrap();
        assert!(state.login().captured().age(&rest).is_some());
        let request = Request::post("/legacy/GetTemplate").body(Body::empty()).unwrap();
        let response = app(state.clone()).oneshot(request).await.unwrap();
        let text = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let legacy = templates::decode(std::str::from_utf8(&text).unwrap(), "t").unwrap();
        assert_ne!(legacy, rest, "two impressions differ");
        assert!(state.login().captured().age(&legacy).is_some());
        let elsewhere = SimFingerprintFactory::default().template_for(1, 99);
        assert!(state.login().captured().age(&elsewhere.data).is_none());
    }

    #[test]
    fn enrolled_templates_keep_their_place_even_when_unreadable() {
        let sim = SimFingerprintFactory::default().template_for(1, 1);
        let good = TemplateData { format: sim.format.to_string(), data: templates::encode(&sim.data) };
        let t = enrolled_template(0, &good);
        assert_eq!((&t.format, &t.data), (&sim.format, &sim.data));
        let vendor = TemplateData { format: "vendor:acme".into(), data: templates::encode(b"acme bytes") };
        let t = enrolled_template(1, &vendor);
        assert_eq!((t.format.to_string(), t.data.as_slice()), ("vendor:acme".to_owned(), &b"acme bytes"[..]));
        let broken = TemplateData { format: "iso19794-2".into(), data: "*not base64*".into() };
        assert!(enrolled_template(2, &broken).data.is_empty());
    }
}
