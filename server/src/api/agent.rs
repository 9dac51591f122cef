//! The endpoints agents call: enrolment, status, heartbeats, deliveries and
//! the push WebSocket. Every one but enrolment needs a signed request from a
//! PC bound to a seat ([`Signed`], [`signed::authenticate`]).

use std::collections::HashSet;
use std::time::Duration;

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use examgate_protocol::Timestamp;
use examgate_protocol::link::{
    Command, Delivery, DeliveryItem, DeliveryReceipt, DeviceHealth, EnrolRequest, EnrolResponse, Heartbeat,
    HeartbeatResponse, PushAck, PushMessage, Stored, headers,
};

use super::signed::{self, AgentRequest, Bound, Enrolled, NeedsSeat, Refusal, Signed, normalise_mac};
use super::{AppState, PeerAddr};
use crate::audit::{Action, Entry};
use crate::crypto::{key_id, sha256_hex};
use crate::error::AppError;
use crate::hub::{ConsoleEvent, ToAgent};
use crate::now_ms;
use crate::snapshots::is_sha256_hex;
use crate::store::{DeliveryOutcome, Machine, NewAlert, NewDelivery, NewMachine};

/// Where the PC stands, with the server's signing key for the agent to pin.
fn enrol_response(state: &AppState, m: &Machine) -> Result<EnrolResponse, AppError> {
    let server_key = state.server_key.public_key_b64().map_err(|e| AppError::internal(e.to_string()))?;
    Ok(EnrolResponse {
        key_id: m.key_id.clone(),
        state: m.state,
        seat: m.seat.as_ref().map(|b| b.seat.to_string()),
        server_key: Some(server_key),
    })
}

fn check_id(what: &str, s: &str, max: usize) -> Result<(), AppError> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)) {
        return Err(AppError::bad_request(format!(
            "{what} {s:?} is not 1 to {max} characters of A-Z, a-z, 0-9, '.', '_', ':', '-'"
        )));
    }
    Ok(())
}

/// `POST /agent/v1/enrol`: signed with the key the body carries.
pub async fn enrol(State(state): State<AppState>, request: AgentRequest) -> Result<Response, AppError> {
    let sig = signed::parse_signature(&request.headers)?;
    let req: EnrolRequest = request.json()?;
    let public_key = B64
        .decode(&req.public_key)
        .ok()
        .filter(|k| k.len() == 32)
        .ok_or_else(|| AppError::bad_request("public_key is not 32 bytes of standard base64 (an Ed25519 key)"))?;
    let key_id = key_id(&public_key);
    if sig.key_id != key_id {
        return Err(AppError::bad_request(format!("{} must be {key_id}, the id of public_key", headers::KEY)));
    }
    let ip = request.ip;
    let about = Refusal { key_id: Some(&key_id), seat: None, ip };
    signed::check_signature(&state, &request.method, &request.path, &sig, &public_key, &request.body, about).await?;
    let macs: Vec<String> = req
        .macs
        .iter()
        .map(|m| normalise_mac(m).ok_or_else(|| AppError::bad_request(format!("{m:?} is not a MAC address"))))
        .collect::<Result<_, _>>()?;
    if macs.is_empty() || macs.len() > 16 {
        return Err(AppError::bad_request("macs must list 1 to 16 MAC addresses"));
    }
    if !macs.contains(&sig.mac) {
        return Err(AppError::bad_request(format!("{} must be one of macs", headers::MAC)));
    }
    let reported_ip: std::net::IpAddr =
        req.ip.parse().map_err(|_| AppError::bad_request(format!("ip {:?} is not an IP address", req.ip)))?;
    if req.host_name.is_empty() || req.host_name.len() > 253 || req.host_name.chars().any(char::is_control) {
        return Err(AppError::bad_request("host_name must be 1 to 253 printable characters"));
    }
    if req.agent_version.len() > 64 {
        return Err(AppError::bad_request("agent_version is longer than 64 characters"));
    }
    let new = NewMachine {
        key_id,
        public_key: req.public_key,
        macs,
        reported_ip: reported_ip.to_string(),
        source_ip: signed::canonical(ip).to_string(),
        host_name: req.host_name,
        agent_version: req.agent_version,
    };
    let enrolled = state.store.enrol(new, now_ms()).await?;
    if enrolled.created {
        tracing::info!(key = %enrolled.machine.key_id, host = %enrolled.machine.host_name, "a PC enrolled");
        state.hub.notify(ConsoleEvent::SeatsChanged);
    }
    let status = if enrolled.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(enrol_response(&state, &enrolled.machine)?)).into_response())
}

/// `GET /agent/v1/status`: where this PC stands (pending, bound as seat N,
/// replaced), and the server's signing key, which an agent enrolled before
/// this server signed papers pins from here (over the pinned TLS).
pub async fn status(State(state): State<AppState>, signed: Signed<Enrolled>) -> Result<Json<EnrolResponse>, AppError> {
    Ok(Json(enrol_response(&state, &signed.agent.machine)?))
}

/// `POST /agent/v1/heartbeat`: device health every few seconds.
pub async fn heartbeat(
    State(state): State<AppState>,
    signed: Signed<Bound>,
) -> Result<Json<HeartbeatResponse>, AppError> {
    let beat: Heartbeat = signed.json()?;
    signed.check_seat_claim(&state, beat.seat.as_deref()).await?;
    if beat.devices.len() > 64 {
        return Err(AppError::bad_request("a heartbeat lists at most 64 devices"));
    }
    let devices = serde_json::to_string(&beat.devices).map_err(|e| AppError::internal(e.to_string()))?;
    let now = now_ms();
    let outbox_pending = i64::try_from(beat.outbox_pending).unwrap_or(i64::MAX);
    // Kept in memory and written in batches (`commands::spawn_housekeeping`): a
    // heartbeat is state, not a record, and thousands a second must not each cost a commit.
    let before = state.hub.heartbeat(&signed.agent.machine.key_id, &devices, outbox_pending, now);
    let seat = signed.seat();
    device_faults(&state, &signed.agent, seat, &beat.devices, before.as_deref(), now).await?;
    failed_devices(&state, &signed.agent, seat, &beat.devices, before.as_deref(), now).await?;
    Ok(Json(HeartbeatResponse { seat: seat.to_owned(), server_time: Timestamp::from_unix_millis(now) }))
}

/// Raises an alert (and audits it) for each device that went missing since
/// the seat's previous heartbeat: the examiner sees a dead reader before the
/// candidate does.
async fn device_faults(
    state: &AppState,
    agent: &signed::Agent,
    seat: &str,
    now_devices: &[DeviceHealth],
    before: Option<&str>,
    now: i64,
) -> Result<(), AppError> {
    let before: Vec<DeviceHealth> = before.and_then(|b| serde_json::from_str(b).ok()).unwrap_or_default();
    let was_down = |id: &str| before.iter().any(|d| d.id == id && d.state == "disconnected");
    for d in now_devices.iter().filter(|d| d.state == "disconnected" && !was_down(&d.id)) {
        let message = format!("seat {seat}: the {} {} is disconnected", d.class, d.id);
        let alert = NewAlert {
            seat: Some(seat.to_owned()),
            key_id: Some(agent.machine.key_id.clone()),
            kind: "device".into(),
            message: message.clone(),
            at: now,
        };
        let entry = Entry::new(
            format!("agent:{}", agent.machine.key_id),
            Action::DeviceFault,
            format!("seat:{seat}"),
            &message,
        );
        state.store.raise_alert(alert, entry).await?;
        state.hub.notify(ConsoleEvent::Alert { seat: Some(seat.to_owned()), kind: "device".into(), message });
    }
    Ok(())
}

/// A seat's words for the console: printable, at most `max` characters.
fn seat_text(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// Raises a `device_fault` alert for each device the seat reports `failed`
/// (a vendor plugin its agent cannot load) that was not failed at its
/// previous heartbeat: one open per seat and device, raised and audited in
/// one transaction, so a seat repeating it every heartbeat, or reporting it
/// again after a server restart, raises no second one while it is open.
async fn failed_devices(
    state: &AppState,
    agent: &signed::Agent,
    seat: &str,
    now_devices: &[DeviceHealth],
    before: Option<&str>,
    now: i64,
) -> Result<(), AppError> {
    let before: Vec<DeviceHealth> = before.and_then(|b| serde_json::from_str(b).ok()).unwrap_or_default();
    let was_failed = |id: &str| before.iter().any(|d| d.id == id && d.state == "failed");
    for d in now_devices.iter().filter(|d| d.state == "failed" && !was_failed(&d.id)) {
        let about = format!("seat {seat}: the {} {} failed", seat_text(&d.class, 32), seat_text(&d.id, 200));
        let why = d.reason.as_deref().map(|r| seat_text(r, 300)).unwrap_or_else(|| "no reason given".into());
        let message = format!("{about}: {why}");
        let alert = NewAlert {
            seat: Some(seat.to_owned()),
            key_id: Some(agent.machine.key_id.clone()),
            kind: "device_fault".into(),
            message: message.clone(),
            at: now,
        };
        let actor = format!("agent:{}", agent.machine.key_id);
        let entry =
            Entry::new(actor, Action::DeviceFault, format!("seat:{seat}"), format!("alert device_fault: {message}"));
        if let Some(a) = state.store.raise_alert_once(alert, &about, entry).await? {
            tracing::warn!(%seat, "{}", a.message);
            state.hub.notify(ConsoleEvent::Alert { seat: a.seat, kind: a.kind, message: a.message });
        }
    }
    Ok(())
}

/// What is kept of a snapshot besides its file.
#[derive(serde::Serialize)]
struct SnapshotMeta<'a> {
    reason: &'a str,
    flags: &'a [String],
    sha256: &'a str,
    bytes: usize,
}

/// The `tamper` alert of a snapshot whose camera checks found something (the
/// agent's flags: dark, uniform, frozen, virtual_camera, camera_missing, slow,
/// capture_failed); `None` for a clean one.
fn tamper_alert(seat: &str, key_id: &str, reason: &str, flags: &[String], now: i64) -> Option<NewAlert> {
    if flags.is_empty() {
        return None;
    }
    // Flags are the agent's words; keep them short words in the message.
    let words: Vec<String> = flags
        .iter()
        .take(8)
        .map(|f| f.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(32).collect())
        .collect();
    let reason: String =
        reason.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':')).take(40).collect();
    Some(NewAlert {
        seat: Some(seat.to_owned()),
        key_id: Some(key_id.to_owned()),
        kind: "tamper".into(),
        message: format!("seat {seat}: a snapshot ({reason}) was flagged {}", words.join(", ")),
        at: now,
    })
}

/// `POST /agent/v1/deliveries`: one outbox item, stored once per idempotency key.
pub async fn deliver(State(state): State<AppState>, signed: Signed<Bound>) -> Result<Response, AppError> {
    let idempotency_key = signed
        .request
        .headers
        .get(headers::IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AppError::bad_request(format!("header {} is missing", headers::IDEMPOTENCY_KEY)))?
        .to_owned();
    check_id("idempotency key", &idempotency_key, 128)?;
    let d: Delivery = signed.json()?;
    signed.check_seat_claim(&state, d.seat.as_deref()).await?;
    check_id("exam", &d.exam, 64)?;
    let agent = &signed.agent;
    let binding = agent.binding.as_ref().ok_or_else(|| AppError::internal("a delivery without a seat"))?;
    let mut alert = None;
    let (kind, file_sha256, metadata) = match &d.item {
        DeliveryItem::Snapshot { reason, flags, jpeg, sha256 } => {
            let bytes = B64.decode(jpeg).map_err(|_| AppError::bad_request("jpeg is not standard base64"))?;
            if !is_sha256_hex(sha256) || sha256_hex(&bytes) != *sha256 {
                return Err(AppError::bad_request("sha256 is not the SHA-256 of jpeg (lower-case hex)"));
            }
            if !bytes.starts_with(&[0xFF, 0xD8]) {
                return Err(AppError::bad_request("jpeg is not a JPEG picture"));
            }
            // The file first: a delivery row never names a missing file. Its fsyncs
            // block, so they run off the runtime, where they would stall every request.
            let (files, hash, len) = (state.snapshots.clone(), sha256.clone(), bytes.len());
            tokio::task::spawn_blocking(move || files.put(&hash, &bytes))
                .await
                .map_err(|e| AppError::internal(e.to_string()))?
                .map_err(|e| AppError::internal(format!("cannot store the snapshot: {e}")))?;
            alert = tamper_alert(binding.seat.as_str(), &agent.machine.key_id, reason, flags, now_ms());
            let meta = SnapshotMeta { reason, flags, sha256, bytes: len };
            ("snapshot", Some(sha256.clone()), serde_json::to_string(&meta))
        }
        item @ DeliveryItem::Verification { .. } => ("verification", None, serde_json::to_string(item)),
        item @ DeliveryItem::Answers { .. } => ("answers", None, serde_json::to_string(item)),
        item @ (DeliveryItem::ExamAnswer { .. } | DeliveryItem::ExamSubmit { .. }) => {
            return super::exam::deliver(&state, &signed, item, idempotency_key).await;
        }
    };
    let metadata = metadata.map_err(|e| AppError::internal(e.to_string()))?;
    let new = NewDelivery {
        key_id: agent.machine.key_id.clone(),
        idempotency_key: idempotency_key.clone(),
        seat: binding.seat.clone(),
        exam: d.exam.clone(),
        kind: kind.to_owned(),
        body_sha256: sha256_hex(&signed.request.body),
        file_sha256,
        metadata,
        created_at: d.created_at.unix_millis(),
        received_at: now_ms(),
        alert,
    };
    let new_file = new.file_sha256.clone();
    let (status, stored, received_at) = match state.store.deliver(new).await? {
        DeliveryOutcome::New { received_at, alert } => {
            if let Some(sha256) = &new_file {
                state
                    .hub
                    .notify(ConsoleEvent::SnapshotStored { seat: binding.seat.to_string(), sha256: sha256.clone() });
            }
            if let Some(a) = alert {
                tracing::warn!(seat = %binding.seat, "{}", a.message);
                state.hub.notify(ConsoleEvent::Alert { seat: a.seat, kind: a.kind, message: a.message });
            }
            (StatusCode::CREATED, Stored::New, received_at)
        }
        DeliveryOutcome::Duplicate { received_at } => (StatusCode::OK, Stored::Duplicate, received_at),
        DeliveryOutcome::Conflict => {
            return Err(AppError::conflict(format!(
                "idempotency key {idempotency_key} was used before for a different item; nothing was stored"
            )));
        }
    };
    let receipt = DeliveryReceipt { idempotency_key, stored, received_at: Timestamp::from_unix_millis(received_at) };
    Ok((status, Json(receipt)).into_response())
}

/// `GET /agent/v1/push`: the WebSocket commands come down.
pub async fn push(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<PeerAddr>,
    method: Method,
    uri: Uri,
    h: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    let path = signed::path_and_query(&uri);
    let agent = signed::authenticate(&state, &method, path, &h, peer.ip(), b"", NeedsSeat::Yes).await?;
    let key_id = agent.machine.key_id.clone();
    let seat = agent.machine.seat.as_ref().map(|b| b.seat.as_str().to_owned()).unwrap_or_default();
    Ok(ws.on_upgrade(move |socket| run_push(state, key_id, seat, socket)))
}

/// How often a push socket re-reads its binding and pending commands, for
/// changes made by another server on the same database.
const RECHECK: Duration = Duration::from_secs(5);

async fn run_push(state: AppState, key_id: String, seat: String, mut socket: WebSocket) {
    let (conn, mut rx) = state.hub.connect(&key_id);
    let mut sent = HashSet::new();
    let mut recheck = tokio::time::interval(RECHECK);
    tracing::info!(key = %key_id, "push socket open");
    let reason = loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(ToAgent::Push(m)) => {
                    sent.insert(m.id.clone());
                    if send(&mut socket, &m).await.is_err() { break "send failed".to_owned() }
                }
                Some(ToAgent::Close(reason)) => {
                    let frame = axum::extract::ws::CloseFrame { code: 4001, reason: reason.clone().into() };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    break reason;
                }
                None => break "hub gone".to_owned(),
            },
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<PushAck>(&text) {
                    Ok(ack) => {
                        if let Err(e) = state.store.ack_command(&key_id, &ack.ack, now_ms()).await {
                            tracing::warn!(error = %e, "could not record an acknowledgement");
                        }
                    }
                    Err(e) => tracing::warn!(key = %key_id, "unreadable message on the push socket: {e}"),
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break "closed by the agent".to_owned(),
                Some(Ok(_)) => {}
            },
            _ = recheck.tick() => {
                match state.store.machine(&key_id).await {
                    Ok(Some(m)) if m.seat.is_some() => {}
                    Ok(_) => {
                        // The same words as the console's rebind sends through the hub:
                        // whichever path notices first, the agent hears one reason.
                        let reason = format!("seat {seat} was given to another PC");
                        let frame = axum::extract::ws::CloseFrame { code: 4001, reason: reason.into() };
                        let _ = socket.send(Message::Close(Some(frame))).await;
                        break "binding ended".to_owned();
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot re-read a binding"),
                }
                match state.store.pending_commands(&key_id).await {
                    Ok(rows) => {
                        for row in rows {
                            if !sent.insert(row.id.clone()) { continue }
                            let Ok(command) = serde_json::from_str::<Command>(&row.body) else { continue };
                            if send(&mut socket, &PushMessage { id: row.id, command }).await.is_err() { break }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read pending commands"),
                }
            }
        }
    };
    state.hub.disconnect(&key_id, conn);
    tracing::info!(key = %key_id, "push socket closed: {reason}");
}

async fn send(socket: &mut WebSocket, m: &PushMessage) -> Result<(), axum::Error> {
    let text = serde_json::to_string(m).expect("a push message serialises");
    socket.send(Message::Text(text.into())).await
}
