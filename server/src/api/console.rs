//! The admin API the console uses, under `/api/v1/`. A console opens only
//! when an examiner and an invigilator have both logged in on it (the
//! seeds' rule); until then everything but the session endpoints answers
//! 403 `console_closed`. The session is an HttpOnly, SameSite=Strict cookie,
//! and every POST takes a JSON body, which a cross-site form cannot send.

use std::net::IpAddr;

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use examgate_protocol::link::{Command, DeviceHealth, PushMessage};
use serde::{Deserialize, Serialize};

use super::{AppState, PeerAddr};
use crate::audit::{self, Action, Entry};
use crate::crypto::sha256_hex;
use crate::error::AppError;
use crate::hub::{ConsoleEvent, ToAgent};
use crate::snapshots::is_sha256_hex;
use crate::store::{
    Alert, AlertFilter, Approval, DeliveryRow, Machine, MachineRole, NewCommand, Rebind, SeatNo, Session, SessionLogin,
};
use crate::{ids, now_ms, passwords};

pub const COOKIE: &str = "examgate_session";

fn token_from(h: &HeaderMap) -> Option<String> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == COOKIE && v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|(_, v)| v.to_owned())
}

fn check_ip(state: &AppState, ip: IpAddr) -> Result<(), AppError> {
    let allowed = &state.config.console.allowed_ips;
    if allowed.is_empty() || allowed.iter().any(|a| super::signed::canonical(*a) == super::signed::canonical(ip)) {
        Ok(())
    } else {
        Err(AppError::forbidden("forbidden", format!("the console may not be used from {ip}")))
    }
}

/// The session behind the cookie (open or not) and its token's hash. A session
/// idle longer than `[console] idle_minutes` is locked: deleted, and 401 `locked`.
async fn live_session(state: &AppState, h: &HeaderMap) -> Result<(String, Session), AppError> {
    let token = token_from(h).ok_or_else(|| AppError::unauthorized("unauthorized", "log in first"))?;
    let hash = sha256_hex(token.as_bytes());
    let now = now_ms();
    let session = state
        .store
        .session(&hash, now)
        .await?
        .ok_or_else(|| AppError::unauthorized("unauthorized", "the session has ended: log in again"))?;
    let idle_ms = state.config.console.idle_ms;
    if now - session.last_active > idle_ms {
        state.store.lock_session(&hash, idle_ms, now).await?;
        return Err(AppError::unauthorized(
            "locked",
            format!(
                "the console locked after {} minutes without input: the examiner and the invigilator log in again",
                idle_ms / 60_000
            ),
        ));
    }
    Ok((hash, session))
}

/// A person did something on the console: it stays unlocked for another `idle_minutes`.
pub(super) async fn touch(state: &AppState, h: &HeaderMap, ip: IpAddr) -> Result<Session, AppError> {
    check_ip(state, ip)?;
    let (hash, session) = live_session(state, h).await?;
    state.store.touch_session(&hash, now_ms()).await?;
    Ok(session)
}

/// Every console POST but the session's own counts as a person's input (GETs
/// and the live events do not); counted once the request has passed the session check.
pub async fn count_activity(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let counts = req.method() == axum::http::Method::POST
        && req.uri().path().starts_with("/api/v1/")
        && !req.uri().path().starts_with("/api/v1/session/");
    let token = if counts { token_from(req.headers()) } else { None };
    let resp = next.run(req).await;
    if let Some(token) = token
        && !matches!(resp.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
        && let Err(e) = state.store.touch_session(&sha256_hex(token.as_bytes()), now_ms()).await
    {
        tracing::warn!(error = %e, "cannot record console activity");
    }
    resp
}

/// The console's session, if open; else 401 (no session, or `locked` after
/// the idle time) or 403 (one login missing).
pub(super) async fn open_session(state: &AppState, h: &HeaderMap, ip: IpAddr) -> Result<Session, AppError> {
    check_ip(state, ip)?;
    let (_, session) = live_session(state, h).await?;
    if !session.is_open() {
        return Err(AppError::forbidden(
            "console_closed",
            "the console opens once an examiner and an invigilator have both logged in",
        ));
    }
    Ok(session)
}

/// An open console session, as an extractor: the caller's IP is allowed, the
/// cookie names a live session, and both the examiner and the invigilator
/// are in it (401, 401 `locked` or 403 `console_closed` otherwise). It runs
/// before a handler's body is read, so nothing from outside an open console
/// is parsed.
pub struct OpenSession(pub Session);

impl axum::extract::FromRequestParts<AppState> for OpenSession {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<OpenSession, AppError> {
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<PeerAddr>>()
            .cloned()
            .ok_or_else(|| AppError::internal("no peer address on the connection"))?;
        Ok(OpenSession(open_session(state, &parts.headers, peer.ip()).await?))
    }
}

/// Who acts: the examiner, countersigned by the invigilator.
pub(super) fn actor(s: &Session) -> String {
    format!("user:{}+{}", s.examiner.as_deref().unwrap_or("?"), s.invigilator.as_deref().unwrap_or("?"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize)]
pub struct SessionView {
    pub examiner: Option<String>,
    pub invigilator: Option<String>,
    /// Both have logged in: the console is usable.
    pub open: bool,
    /// The console locks after this long without input (`POST /api/v1/session/activity` or any POST).
    pub idle_ms: i64,
    /// The last input, Unix ms.
    pub last_active: i64,
}

impl SessionView {
    fn new(s: &Session, idle_ms: i64) -> SessionView {
        SessionView {
            examiner: s.examiner.clone(),
            invigilator: s.invigilator.clone(),
            open: s.is_open(),
            idle_ms,
            last_active: s.last_active,
        }
    }
}

/// `POST /api/v1/session/login`: adds this user (by role) to the console's session.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<PeerAddr>,
    h: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Result<Response, AppError> {
    check_ip(&state, peer.ip())?;
    let user = state.store.user(&req.username).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let password = req.password;
    let ok = tokio::task::spawn_blocking(move || hash.is_some_and(|h| passwords::verify(&password, &h)))
        .await
        .map_err(|e| AppError::internal(e.to_string()))?;
    let Some(user) = user.filter(|_| ok) else {
        let entry = Entry::new(
            format!("ip:{}", peer.ip()),
            Action::LoginFailed,
            format!("user:{}", req.username.chars().take(64).collect::<String>()),
            "wrong user name or password",
        );
        state.store.audit(entry, now_ms()).await?;
        return Err(AppError::unauthorized("unauthorized", "wrong user name or password"));
    };
    let now = now_ms();
    let idle_ms = state.config.console.idle_ms;
    let token = match token_from(&h) {
        Some(t) => match state.store.session(&sha256_hex(t.as_bytes()), now).await? {
            Some(s) if now - s.last_active <= idle_ms => t,
            // Idle too long: the other person's login ends with it; both start again.
            Some(_) => {
                state.store.lock_session(&sha256_hex(t.as_bytes()), idle_ms, now).await?;
                ids::random_hex(32)
            }
            None => ids::random_hex(32),
        },
        None => ids::random_hex(32),
    };
    let login = SessionLogin {
        token_hash: sha256_hex(token.as_bytes()),
        username: user.username.clone(),
        role: user.role,
        expires_at: now + state.config.console.session_ms,
    };
    let session = state.store.session_login(login, now).await?;
    let secure = if state.config.tls.enabled { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}");
    let mut resp = Json(SessionView::new(&session, idle_ms)).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|e| AppError::internal(e.to_string()))?);
    Ok(resp)
}

/// `GET /api/v1/session`.
pub async fn session(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<PeerAddr>,
    h: HeaderMap,
) -> Result<Json<SessionView>, AppError> {
    check_ip(&state, peer.ip())?;
    let (_, s) = live_session(&state, &h).await?;
    Ok(Json(SessionView::new(&s, state.config.console.idle_ms)))
}

/// `POST /api/v1/session/logout` (body `{}`).
pub async fn logout(State(state): State<AppState>, h: HeaderMap, Json(_): Json<Empty>) -> Result<Response, AppError> {
    if let Some(token) = token_from(&h) {
        let hash = sha256_hex(token.as_bytes());
        let now = now_ms();
        if let Some(s) = state.store.session(&hash, now).await? {
            let who = [s.examiner, s.invigilator].into_iter().flatten().collect::<Vec<_>>().join("+");
            state.store.session_logout(&hash, &format!("user:{who}"), now).await?;
        }
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    resp.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("a valid cookie"));
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// A seat on the map.
#[derive(Serialize)]
pub struct SeatView {
    pub seat: String,
    pub key_id: String,
    pub host_name: String,
    pub macs: Vec<String>,
    pub ip: String,
    pub online: bool,
    pub connected: bool,
    pub last_seen: Option<i64>,
    pub devices: Vec<DeviceHealth>,
    pub outbox_pending: Option<i64>,
    pub open_alerts: i64,
    pub bound_at: i64,
    pub bound_by: String,
    /// `seat` or `console`.
    pub role: MachineRole,
    /// Today's candidate at this seat (assigned, verifying, waiting for the examiner or admitted).
    pub candidate: Option<SeatCandidateView>,
}

/// A seat's candidate on the seat map.
#[derive(Serialize)]
pub struct SeatCandidateView {
    pub booking_number: String,
    pub name: String,
    pub state: examgate_protocol::login::CandidateState,
    pub failures: u32,
    pub mode: Option<String>,
}

#[derive(Serialize)]
pub struct SeatMap {
    pub now: i64,
    pub seats: Vec<SeatView>,
    /// Pending PCs, and PCs that lost their seat to a spare.
    pub unbound: Vec<Machine>,
    pub alerts: Vec<Alert>,
}

/// `GET /api/v1/seats`: the seat map.
pub async fn seats(State(state): State<AppState>, _: OpenSession) -> Result<Json<SeatMap>, AppError> {
    Ok(Json(seat_map(&state).await?))
}

pub(crate) async fn seat_map(state: &AppState) -> Result<SeatMap, AppError> {
    let now = now_ms();
    let overview = state.store.overview().await?;
    let offline_after = state.config.agents.offline_after_ms;
    let today = state.clock.today(&state.config);
    let mut at_seats: std::collections::HashMap<String, SeatCandidateView> = std::collections::HashMap::new();
    for c in state.store.candidates(Some(&today)).await? {
        if let Some(seat) = c.seat_no.filter(|_| crate::login::rules::at_a_seat(c.state)) {
            let view = SeatCandidateView {
                booking_number: c.booking_number,
                name: c.name,
                state: c.state,
                failures: c.failures,
                mode: c.mode,
            };
            at_seats.insert(seat, view);
        }
    }
    let seats = overview
        .seats
        .into_iter()
        .map(|mut row| {
            // This server's own view is fresher than the database's (written in batches).
            if let Some(seen) = state.hub.seen(&row.machine.key_id)
                && row.last_seen.is_none_or(|t| t <= seen.last_seen)
            {
                row.last_seen = Some(seen.last_seen);
                row.devices = Some(seen.devices);
                row.outbox_pending = Some(seen.outbox_pending);
            }
            let binding = row.machine.seat.clone().expect("a seat row has a binding");
            SeatView {
                seat: row.seat.to_string(),
                key_id: row.machine.key_id.clone(),
                host_name: row.machine.host_name.clone(),
                macs: row.machine.macs.clone(),
                ip: binding.ip,
                online: row.last_seen.is_some_and(|t| now - t <= offline_after),
                connected: state.hub.is_connected(&row.machine.key_id),
                last_seen: row.last_seen,
                devices: row.devices.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or_default(),
                outbox_pending: row.outbox_pending,
                open_alerts: row.open_alerts,
                bound_at: binding.bound_at,
                bound_by: binding.bound_by,
                role: row.machine.role,
                candidate: at_seats.remove(row.seat.as_str()),
            }
        })
        .collect();
    let alerts = state.store.alerts(AlertFilter::Open).await?;
    Ok(SeatMap { now, seats, unbound: overview.unbound, alerts })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindRequest {
    /// The enrolled PC's key id.
    pub key_id: String,
    /// The IP to bind; default: the one the PC enrolled from.
    #[serde(default)]
    pub ip: Option<String>,
    /// Approve only: `seat` (default) or `console` (the examiner's PC, which reads ID cards).
    #[serde(default)]
    pub role: Option<MachineRole>,
}

fn seat_no(s: &str) -> Result<SeatNo, AppError> {
    s.parse().map_err(|e: crate::store::SeatNoError| AppError::bad_request(e.to_string()))
}

fn bind_ip(ip: Option<String>) -> Result<Option<String>, AppError> {
    ip.map(|ip| {
        ip.parse::<IpAddr>()
            .map(|a| super::signed::canonical(a).to_string())
            .map_err(|_| AppError::bad_request(format!("ip {ip:?} is not an IP address")))
    })
    .transpose()
}

/// `POST /api/v1/seats/{seat}/approve`: binds a pending PC to this seat.
pub async fn approve(
    State(state): State<AppState>,
    OpenSession(session): OpenSession,
    Path(seat): Path<String>,
    Json(req): Json<BindRequest>,
) -> Result<Json<Machine>, AppError> {
    let approval = Approval {
        key_id: req.key_id,
        seat: seat_no(&seat)?,
        ip: bind_ip(req.ip)?,
        actor: actor(&session),
        role: req.role.unwrap_or_default(),
    };
    let machine = state.store.approve(approval, now_ms()).await?;
    state.hub.notify(ConsoleEvent::SeatsChanged);
    Ok(Json(machine))
}

/// `POST /api/v1/seats/{seat}/rebind`: a spare PC takes the seat over; the old one stops at once.
pub async fn rebind(
    State(state): State<AppState>,
    OpenSession(session): OpenSession,
    Path(seat): Path<String>,
    Json(req): Json<BindRequest>,
) -> Result<Json<Machine>, AppError> {
    if req.role.is_some() {
        return Err(AppError::bad_request("role is for approve: a PC that takes a seat over takes the seat's role"));
    }
    let rebind = Rebind { seat: seat_no(&seat)?, key_id: req.key_id, ip: bind_ip(req.ip)?, actor: actor(&session) };
    let rebound = state.store.rebind(rebind, now_ms()).await?;
    state.hub.send(&rebound.old_key_id, ToAgent::Close(format!("seat {seat} was given to another PC")));
    state.hub.notify(ConsoleEvent::SeatsChanged);
    Ok(Json(rebound.machine))
}

#[derive(Serialize)]
pub struct CommandSent {
    pub id: String,
    /// The seat's agent is connected to this server and was sent the command now;
    /// otherwise it gets it when it connects.
    pub sent_now: bool,
}

/// `POST /api/v1/seats/{seat}/commands`: `{"type": "snapshot_now"}` or `{"type": "warning", "text": …}`.
pub async fn command(
    State(state): State<AppState>,
    OpenSession(session): OpenSession,
    Path(seat): Path<String>,
    Json(command): Json<Command>,
) -> Result<(StatusCode, Json<CommandSent>), AppError> {
    if let Command::Warning { text } = &command
        && (text.trim().is_empty() || text.chars().count() > 500)
    {
        return Err(AppError::bad_request("a warning's text must be 1 to 500 characters"));
    }
    let body = serde_json::to_string(&command).map_err(|e| AppError::internal(e.to_string()))?;
    let new = NewCommand { id: ids::random_hex(8), seat: seat_no(&seat)?, body, actor: actor(&session) };
    let row = state.store.queue_command(new, now_ms()).await?;
    let sent_now = state.hub.send(&row.key_id, ToAgent::Push(PushMessage { id: row.id.clone(), command }));
    Ok((StatusCode::CREATED, Json(CommandSent { id: row.id, sent_now })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    #[serde(default)]
    pub all: bool,
}

/// `GET /api/v1/alerts[?all=true]`.
pub async fn alerts(
    State(state): State<AppState>,
    _: OpenSession,
    Query(q): Query<AlertQuery>,
) -> Result<Json<Vec<Alert>>, AppError> {
    let which = if q.all { AlertFilter::All } else { AlertFilter::Open };
    Ok(Json(state.store.alerts(which).await?))
}

/// `POST /api/v1/alerts/{id}/clear` (body `{}`).
pub async fn clear_alert(
    State(state): State<AppState>,
    OpenSession(session): OpenSession,
    Path(id): Path<String>,
    Json(_): Json<Empty>,
) -> Result<StatusCode, AppError> {
    state.store.clear_alert(&id, &actor(&session), now_ms()).await?;
    state.hub.notify(ConsoleEvent::SeatsChanged);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    pub seat: Option<String>,
    pub limit: Option<i64>,
}

/// `GET /api/v1/deliveries[?seat=N&limit=N]`, newest first.
pub async fn deliveries(
    State(state): State<AppState>,
    _: OpenSession,
    Query(q): Query<DeliveryQuery>,
) -> Result<Json<Vec<DeliveryRow>>, AppError> {
    let limit = q.limit.unwrap_or(200).clamp(1, 10_000);
    Ok(Json(state.store.deliveries(q.seat.as_deref(), limit).await?))
}

/// `GET /api/v1/snapshots/{sha256}`: a stored picture.
pub async fn snapshot(
    State(state): State<AppState>,
    _: OpenSession,
    Path(sha256): Path<String>,
) -> Result<Response, AppError> {
    if !is_sha256_hex(&sha256) {
        return Err(AppError::bad_request("a snapshot is named by its SHA-256 in lower-case hex"));
    }
    let files = state.snapshots.clone();
    let name = sha256.clone();
    let bytes = tokio::task::spawn_blocking(move || files.get(&name))
        .await
        .map_err(|e| AppError::internal(e.to_string()))?
        .map_err(|_| AppError::not_found(format!("no snapshot {sha256}")))?;
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub limit: Option<i64>,
}

/// `GET /api/v1/audit[?limit=N]`: the newest rows, newest first.
pub async fn audit_rows(
    State(state): State<AppState>,
    _: OpenSession,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<audit::Row>>, AppError> {
    Ok(Json(state.store.audit_tail(q.limit.unwrap_or(100).clamp(1, 10_000)).await?))
}

#[derive(Serialize)]
pub struct AuditVerdict {
    pub ok: bool,
    pub rows: usize,
    pub findings: Vec<String>,
}

/// `GET /api/v1/audit/verify`: what `examgate-server audit verify` says.
pub async fn audit_verify(State(state): State<AppState>, _: OpenSession) -> Result<Json<AuditVerdict>, AppError> {
    let (rows, head) = state.store.audit_chain().await?;
    let findings: Vec<String> = audit::verify(&rows, &head).iter().map(ToString::to_string).collect();
    Ok(Json(AuditVerdict { ok: findings.is_empty(), rows: rows.len(), findings }))
}

/// `GET /api/v1/events`: a WebSocket telling the console when to refetch.
pub async fn events(State(state): State<AppState>, _: OpenSession, ws: WebSocketUpgrade) -> Result<Response, AppError> {
    let rx = state.hub.subscribe();
    Ok(ws.on_upgrade(move |socket| run_events(socket, rx)))
}

async fn run_events(mut socket: WebSocket, mut rx: tokio::sync::broadcast::Receiver<ConsoleEvent>) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let ev = match ev {
                    Ok(ev) => ev,
                    // Fell behind: one refetch covers whatever was missed.
                    Err(RecvError::Lagged(_)) => ConsoleEvent::SeatsChanged,
                    Err(RecvError::Closed) => break,
                };
                let text = serde_json::to_string(&ev).expect("an event serialises");
                if socket.send(Message::Text(text.into())).await.is_err() { break }
            }
            frame = socket.recv() => match frame {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
}
