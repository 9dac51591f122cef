//! Checking a signed agent request: headers, body hash, key, signature,
//! clock, nonce, then the binding (seat, IP, MAC). Every refusal says why;
//! the ones that look like an attack are audited, and raise an alert when
//! they concern a seat.
//!
//! Handlers take the checks as an extractor: [`Signed<C>`] (the caller `C`
//! says what the PC must be: [`Enrolled`], [`Bound`], [`ExamSeat`],
//! [`ConsolePc`]), or [`AgentRequest`] for enrolment, which checks the
//! signature with the key its body carries.

use std::marker::PhantomData;
use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use examgate_protocol::link::{BindingState, headers, signing_string};
use serde::de::DeserializeOwned;

use crate::api::{AppState, PeerAddr};
use crate::audit::{Action, Entry};
use crate::crypto::{ed25519_valid, sha256_hex};
use crate::error::AppError;
use crate::hub::ConsoleEvent;
use crate::now_ms;
use crate::store::{Binding, Machine, MachineRole, NewAlert, NonceUse};

/// The signature headers of a request, parsed.
#[derive(Clone, Debug)]
pub struct Signature {
    pub key_id: String,
    pub timestamp: i64,
    pub nonce: String,
    pub mac: String,
    pub body_sha256: String,
    pub signature: Vec<u8>,
}

/// Whether a request needs its PC to hold a seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeedsSeat {
    Yes,
    /// `GET /agent/v1/status`: any enrolled PC may ask where it stands.
    No,
}

/// A request that passed every check.
#[derive(Clone, Debug)]
pub struct Agent {
    pub machine: Machine,
    /// Present when the request needed a seat.
    pub binding: Option<Binding>,
    /// The signature headers it was checked by.
    pub signature: Signature,
}

impl Agent {
    pub fn seat(&self) -> Option<&str> {
        self.binding.as_ref().map(|b| b.seat.as_str())
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Result<&'a str, AppError> {
    let v = h.get(name).ok_or_else(|| {
        AppError::unauthorized(
            "unsigned",
            format!("unsigned request: header {name} is missing; agent requests must be signed"),
        )
    })?;
    v.to_str().map_err(|_| AppError::unauthorized("unsigned", format!("header {name} is not text")))
}

/// Normalises a MAC address to `aa:bb:cc:dd:ee:ff`, or `None` if it is not one.
pub fn normalise_mac(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 || !parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit())) {
        return None;
    }
    Some(parts.join(":").to_ascii_lowercase())
}

pub fn parse_signature(h: &HeaderMap) -> Result<Signature, AppError> {
    let bad = |m: String| AppError::unauthorized("bad_signature", m);
    let key_id = header(h, headers::KEY)?.to_owned();
    let timestamp = header(h, headers::TIMESTAMP)?
        .parse()
        .map_err(|_| bad(format!("{} is not milliseconds since 1970", headers::TIMESTAMP)))?;
    let nonce = header(h, headers::NONCE)?.to_owned();
    if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(format!("{} must be 16 random bytes in hex", headers::NONCE)));
    }
    let mac = normalise_mac(header(h, headers::MAC)?)
        .ok_or_else(|| bad(format!("{} is not a MAC address like aa:bb:cc:dd:ee:ff", headers::MAC)))?;
    let body_sha256 = header(h, headers::CONTENT_SHA256)?.to_ascii_lowercase();
    let signature =
        B64.decode(header(h, headers::SIGNATURE)?).map_err(|_| bad(format!("{} is not base64", headers::SIGNATURE)))?;
    Ok(Signature { key_id, timestamp, nonce, mac, body_sha256, signature })
}

/// What a refusal concerns, for its audit row and alert.
pub struct Refusal<'a> {
    pub key_id: Option<&'a str>,
    pub seat: Option<&'a str>,
    pub ip: IpAddr,
}

/// Audits a refused request (and raises an alert when it concerns a seat or
/// the alert kind asks for one), then returns the error to send.
pub async fn refuse(state: &AppState, err: AppError, about: Refusal<'_>, alert: Option<&str>) -> AppError {
    let actor = match about.key_id {
        Some(k) => format!("agent:{k}"),
        None => format!("ip:{}", about.ip),
    };
    let subject = match (about.seat, about.key_id) {
        (Some(s), _) => format!("seat:{s}"),
        (None, Some(k)) => format!("key:{k}"),
        (None, None) => format!("ip:{}", about.ip),
    };
    let detail = format!("refused {} from {}: {}", err.kind, about.ip, err.message);
    let entry = Entry::new(actor, Action::Refuse, subject, detail);
    let now = now_ms();
    let written = match alert {
        Some(kind) => {
            let a = NewAlert {
                seat: about.seat.map(str::to_owned),
                key_id: about.key_id.map(str::to_owned),
                kind: kind.to_owned(),
                message: err.message.clone(),
                at: now,
            };
            let r = state.store.raise_alert(a, entry).await.map(drop);
            if r.is_ok() {
                state.hub.notify(ConsoleEvent::Alert {
                    seat: about.seat.map(str::to_owned),
                    kind: kind.to_owned(),
                    message: err.message.clone(),
                });
            }
            r
        }
        None => state.store.audit(entry, now).await.map(drop),
    };
    if let Err(e) = written {
        tracing::error!(error = %e, "could not audit a refused request");
    }
    tracing::warn!(kind = err.kind, ip = %about.ip, "refused an agent request: {}", err.message);
    err
}

/// Checks the signature of a request that was signed with `public_key`.
pub async fn check_signature(
    state: &AppState,
    method: &Method,
    path_and_query: &str,
    sig: &Signature,
    public_key: &[u8],
    body: &[u8],
    about: Refusal<'_>,
) -> Result<(), AppError> {
    if sha256_hex(body) != sig.body_sha256 {
        let err = AppError::unauthorized(
            "bad_signature",
            format!("the body does not match {}: it was changed on the way", headers::CONTENT_SHA256),
        );
        return Err(refuse(state, err, about, Some("bad_signature")).await);
    }
    let message =
        signing_string(method.as_str(), path_and_query, sig.timestamp, &sig.nonce, &sig.mac, &sig.body_sha256);
    if !ed25519_valid(public_key, message.as_bytes(), &sig.signature) {
        let err = AppError::unauthorized("bad_signature", "the signature does not verify with this PC's key");
        return Err(refuse(state, err, about, Some("bad_signature")).await);
    }
    let now = now_ms();
    let window = state.config.agents.signature_window_ms;
    if (now - sig.timestamp).abs() > window {
        let err = AppError::unauthorized(
            "stale",
            format!(
                "the request was signed {} s from the server's time; at most {} s is accepted: check the PC's clock",
                (now - sig.timestamp) / 1000,
                window / 1000
            ),
        );
        return Err(refuse(state, err, about, None).await);
    }
    match state.store.use_nonce(&sig.key_id, &sig.nonce, sig.timestamp).await? {
        NonceUse::Fresh => {}
        NonceUse::Replayed => {
            let err = AppError::unauthorized("replayed", "this request was sent before: a replay is refused");
            return Err(refuse(state, err, about, Some("replayed")).await);
        }
        // An agent's retry is signed anew, so only a replay stays refused.
        NonceUse::BeforeStart => {
            return Err(AppError::unauthorized(
                "stale",
                "the request was signed before the server started: sign it anew",
            ));
        }
    }
    Ok(())
}

/// Every check of a signed agent request after enrolment.
pub async fn authenticate(
    state: &AppState,
    method: &Method,
    path_and_query: &str,
    h: &HeaderMap,
    ip: IpAddr,
    body: &[u8],
    needs: NeedsSeat,
) -> Result<Agent, AppError> {
    let sig = parse_signature(h)?;
    let Some(machine) = state.store.machine(&sig.key_id).await? else {
        let err = AppError::unauthorized("unknown_key", "no PC has enrolled with this key: enrol first");
        return Err(refuse(state, err, Refusal { key_id: None, seat: None, ip }, None).await);
    };
    let public_key =
        B64.decode(&machine.public_key).map_err(|_| AppError::internal("a stored public key is not base64"))?;
    let seat = machine.seat.as_ref().map(|b| b.seat.to_string());
    let about = || Refusal { key_id: Some(&machine.key_id), seat: seat.as_deref(), ip };
    check_signature(state, method, path_and_query, &sig, &public_key, body, about()).await?;
    if needs == NeedsSeat::No {
        return Ok(Agent { binding: None, signature: sig, machine });
    }
    let binding = match (machine.state, &machine.seat) {
        (BindingState::Bound, Some(b)) => b.clone(),
        (BindingState::Replaced, _) => {
            let err = AppError::forbidden(
                "replaced",
                "this PC no longer holds a seat: it was given to another PC; an examiner may approve this one again",
            );
            return Err(refuse(state, err, about(), Some("replaced_pc")).await);
        }
        _ => {
            return Err(AppError::forbidden("not_bound", "this PC waits for an examiner to approve it as a seat"));
        }
    };
    let ip_ok = binding.ip.parse::<IpAddr>().is_ok_and(|bound| canonical(bound) == canonical(ip));
    if !ip_ok {
        let err = AppError::forbidden(
            "binding_mismatch",
            format!("seat {} is bound to IP {}, but this request came from {ip}", binding.seat, binding.ip),
        );
        return Err(refuse(state, err, about(), Some("binding_mismatch")).await);
    }
    if !machine.macs.contains(&sig.mac) {
        let err = AppError::forbidden(
            "binding_mismatch",
            format!(
                "seat {} is bound to MAC {}, but this request reports {}",
                binding.seat,
                machine.macs.join(" "),
                sig.mac
            ),
        );
        return Err(refuse(state, err, about(), Some("binding_mismatch")).await);
    }
    Ok(Agent { binding: Some(binding), signature: sig, machine })
}

/// IPv4-mapped IPv6 addresses compare as the IPv4 address they carry.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The path and query of a request, as agents sign it.
pub(super) fn path_and_query(uri: &Uri) -> &str {
    uri.path_and_query().map_or("/", |p| p.as_str())
}

/// The body, or 413 when it is over the limit.
fn body(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, AppError> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::too_large(state.config.agents.max_body_bytes),
        _ => AppError::bad_request(e.body_text()),
    })
}

/// `bytes` as JSON of `T`, or 400.
fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(bytes).map_err(|e| AppError::bad_request(format!("the body is not the expected JSON: {e}")))
}

/// An agent request as it arrived, nothing checked yet but the body's size
/// (413 over `[agents] max_body_bytes`).
pub struct AgentRequest {
    /// The peer's address ([`PeerAddr::ip`]).
    pub ip: IpAddr,
    pub method: Method,
    /// Path and query, as signed.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl AgentRequest {
    /// The body as JSON of `T`, or 400.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, AppError> {
        json(&self.body)
    }
}

impl FromRequest<AppState> for AgentRequest {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<AgentRequest, Response> {
        let (mut parts, raw) = req.into_parts();
        let ConnectInfo(peer) = ConnectInfo::<PeerAddr>::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let (method, path, headers) =
            (parts.method.clone(), path_and_query(&parts.uri).to_owned(), parts.headers.clone());
        let raw = Bytes::from_request(Request::from_parts(parts, raw), state).await;
        let body = body(state, raw).map_err(IntoResponse::into_response)?;
        Ok(AgentRequest { ip: peer.ip(), method, path, headers, body })
    }
}

/// What a PC must be for a [`Signed`] request to pass.
pub trait Caller: Send + 'static {
    const NEEDS: NeedsSeat;
    /// The role it must have been approved with, if any.
    const ROLE: Option<MachineRole>;
}

/// Any enrolled PC, bound or not.
pub enum Enrolled {}
/// A PC bound to a seat, in either role.
pub enum Bound {}
/// A PC bound to a seat with role `seat`: where candidates log in.
pub enum ExamSeat {}
/// A PC bound with role `console`: the examiner's.
pub enum ConsolePc {}

impl Caller for Enrolled {
    const NEEDS: NeedsSeat = NeedsSeat::No;
    const ROLE: Option<MachineRole> = None;
}
impl Caller for Bound {
    const NEEDS: NeedsSeat = NeedsSeat::Yes;
    const ROLE: Option<MachineRole> = None;
}
impl Caller for ExamSeat {
    const NEEDS: NeedsSeat = NeedsSeat::Yes;
    const ROLE: Option<MachineRole> = Some(MachineRole::Seat);
}
impl Caller for ConsolePc {
    const NEEDS: NeedsSeat = NeedsSeat::Yes;
    const ROLE: Option<MachineRole> = Some(MachineRole::Console);
}

/// A request that passed [`authenticate`] (and the role check `C` asks for),
/// with the request it came in.
pub struct Signed<C: Caller> {
    pub agent: Agent,
    pub request: AgentRequest,
    caller: PhantomData<fn() -> C>,
}

/// A signed request from an exam seat.
pub type SignedSeat = Signed<ExamSeat>;
/// A signed request from the examiner's console PC.
pub type SignedConsole = Signed<ConsolePc>;

impl<C: Caller> Signed<C> {
    /// The seat the PC holds; empty for [`Enrolled`].
    pub fn seat(&self) -> &str {
        self.agent.seat().unwrap_or_default()
    }

    /// The body as JSON of `T`, or 400.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, AppError> {
        json(&self.request.body)
    }

    /// Refuses the request if its body names a seat other than the one its PC holds.
    pub async fn check_seat_claim(&self, state: &AppState, claimed: Option<&str>) -> Result<(), AppError> {
        let (Some(claimed), Some(held)) = (claimed, self.agent.seat()) else { return Ok(()) };
        if claimed == held {
            return Ok(());
        }
        let err =
            AppError::forbidden("wrong_seat", format!("this PC holds seat {held} but claims to be seat {claimed}"));
        let about = Refusal { key_id: Some(&self.agent.machine.key_id), seat: Some(held), ip: self.request.ip };
        Err(refuse(state, err, about, Some("wrong_seat")).await)
    }
}

impl<C: Caller> FromRequest<AppState> for Signed<C> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Signed<C>, Response> {
        let request = AgentRequest::from_request(req, state).await?;
        let r = &request;
        let checked = async {
            let agent = authenticate(state, &r.method, &r.path, &r.headers, r.ip, &r.body, C::NEEDS).await?;
            if let Some(role) = C::ROLE {
                check_role(state, &agent, role, r.ip).await?;
            }
            Ok::<_, AppError>(agent)
        };
        let agent = checked.await.map_err(IntoResponse::into_response)?;
        Ok(Signed { agent, request, caller: PhantomData })
    }
}

/// Refuses (and audits) a request from a PC approved in another role.
async fn check_role(state: &AppState, agent: &Agent, role: MachineRole, ip: IpAddr) -> Result<(), AppError> {
    if agent.machine.role == role {
        return Ok(());
    }
    let seat = agent.seat().unwrap_or_default();
    let err = match role {
        MachineRole::Seat => AppError::forbidden(
            "not_a_seat",
            format!("seat {seat} is the examiner's console: candidates log in at exam seats"),
        ),
        MachineRole::Console => AppError::forbidden(
            "not_a_console",
            format!("seat {seat} is an exam seat: only the examiner's console PC may send cards for assignment"),
        ),
    };
    let about = Refusal { key_id: Some(&agent.machine.key_id), seat: Some(seat), ip };
    Err(refuse(state, err, about, None).await)
}
