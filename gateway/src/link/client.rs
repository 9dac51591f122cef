//! Signed requests to the exam-centre server over pinned TLS: enrolment,
//! status, heartbeats, deliveries, the push WebSocket, and the login calls
//! (lookup, verification evidence, ask-examiner, finish, state, console card)
//! and the exam's (paper manifest, package, held answers, result).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use examgate_protocol::exam::{self, ExamResult, HeldAnswers, PaperManifest};
use examgate_protocol::link::{
    DeliveryReceipt, EnrolRequest, EnrolResponse, Heartbeat, HeartbeatResponse, ServerErrorBody, headers, paths,
    signing_string,
};
use examgate_protocol::login::{
    self, AskExaminer, CardCheck, ConsoleCard, FinishLogin, LookupRequest, LookupResponse, SeatLoginState,
    VerifyEvidence, VerifyResponse,
};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::identity::Identity;
use super::tls::{Pin, client_config};
use super::{LinkError, hex, now_ms};

/// Why a request did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// No answer, or the server could not serve now (5xx): try again later.
    #[error("the server is unreachable: {0}")]
    Unreachable(String),
    /// The server answered with a refusal.
    #[error("the server refused ({status} {kind}): {message}")]
    Refused { status: u16, kind: String, message: String },
}

impl Failure {
    /// Whether sending the same item again later can succeed. A malformed
    /// item or a reused idempotency key never will; a PC waiting for
    /// approval, a clock off, a rebinding in progress may.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Failure::Refused { status: 400 | 409 | 413 | 422, .. })
    }
}

pub type PushSocket = WebSocketStream<TlsStream<TcpStream>>;

/// The agent's side of the link: who it is, where the server is.
pub struct LinkClient {
    http: reqwest::Client,
    base: reqwest::Url,
    identity: Arc<Identity>,
    mac: String,
    tls: Arc<ClientConfig>,
}

impl std::fmt::Debug for LinkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkClient")
            .field("server", &self.base.as_str())
            .field("mac", &self.mac)
            .finish_non_exhaustive()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

impl LinkClient {
    /// `server` is `https://HOST:PORT`; `mac` is the MAC this PC reports.
    pub fn new(server: &str, pin: Pin, identity: Arc<Identity>, mac: String) -> Result<LinkClient, LinkError> {
        let base = reqwest::Url::parse(server).map_err(|e| LinkError::Config(format!("server URL {server:?}: {e}")))?;
        if base.scheme() != "https" || base.host_str().is_none() {
            return Err(LinkError::Config(format!("server URL {server:?} must be https://HOST[:PORT]")));
        }
        let tls = Arc::new(client_config(pin)?);
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(|e| LinkError::Config(format!("HTTP client: {e}")))?;
        Ok(LinkClient { http, base, identity, mac, tls })
    }

    /// Another seat's client over this one's HTTP connections (the load tool's many seats).
    pub fn sharing(&self, identity: Arc<Identity>, mac: String) -> LinkClient {
        LinkClient { http: self.http.clone(), base: self.base.clone(), identity, mac, tls: self.tls.clone() }
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn server(&self) -> &str {
        self.base.as_str()
    }

    /// The signature headers for a request.
    fn sign(&self, method: &str, path: &str, body: &[u8]) -> Vec<(&'static str, String)> {
        let timestamp = now_ms();
        let nonce = {
            use ring::rand::SecureRandom;
            let mut n = [0u8; 16];
            ring::rand::SystemRandom::new().fill(&mut n).expect("the system random number generator failed");
            hex(&n)
        };
        let body_sha256 = sha256_hex(body);
        let message = signing_string(method, path, timestamp, &nonce, &self.mac, &body_sha256);
        let signature = B64.encode(self.identity.sign(message.as_bytes()));
        vec![
            (headers::KEY, self.identity.key_id().to_owned()),
            (headers::TIMESTAMP, timestamp.to_string()),
            (headers::NONCE, nonce),
            (headers::MAC, self.mac.clone()),
            (headers::CONTENT_SHA256, body_sha256),
            (headers::SIGNATURE, signature),
        ]
    }

    /// A signed request, sent; the raw response (any status).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
        extra: &[(&'static str, &str)],
    ) -> Result<reqwest::Response, Failure> {
        let url = self.base.join(path).map_err(|e| Failure::Unreachable(e.to_string()))?;
        let mut req = self.http.request(method.clone(), url);
        for (k, v) in self.sign(method.as_str(), path, &body) {
            req = req.header(k, v);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if !body.is_empty() {
            req = req.header("content-type", "application/json").body(body);
        }
        req.send().await.map_err(|e| Failure::Unreachable(describe(&e)))
    }

    async fn request<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
        extra: &[(&'static str, &str)],
    ) -> Result<T, Failure> {
        let resp = self.send(method, path, body, extra).await?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| Failure::Unreachable(describe(&e)))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| Failure::Unreachable(format!("the server's answer is not the expected JSON: {e}")));
        }
        Err(refusal(status, &bytes))
    }

    pub async fn enrol(&self, req: &EnrolRequest) -> Result<EnrolResponse, Failure> {
        let body = serde_json::to_vec(req).expect("an enrolment serialises");
        self.request(reqwest::Method::POST, paths::ENROL, body, &[]).await
    }

    pub async fn status(&self) -> Result<EnrolResponse, Failure> {
        self.request(reqwest::Method::GET, paths::STATUS, Vec::new(), &[]).await
    }

    pub async fn heartbeat(&self, beat: &Heartbeat) -> Result<HeartbeatResponse, Failure> {
        let body = serde_json::to_vec(beat).expect("a heartbeat serialises");
        self.request(reqwest::Method::POST, paths::HEARTBEAT, body, &[]).await
    }

    /// Delivers one outbox item; the same key and bytes may be sent any number of times.
    pub async fn deliver(&self, idempotency_key: &str, body: &[u8]) -> Result<DeliveryReceipt, Failure> {
        self.request(
            reqwest::Method::POST,
            paths::DELIVERIES,
            body.to_vec(),
            &[(headers::IDEMPOTENCY_KEY, idempotency_key)],
        )
        .await
    }

    /// A signed `POST` of `body` as JSON.
    async fn post<B: serde::Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, Failure> {
        let body = serde_json::to_vec(body).expect("a login request serialises");
        self.request(reqwest::Method::POST, path, body, &[]).await
    }

    /// Login mode (b): find today's booking and claim the candidate for this seat.
    pub async fn lookup(&self, req: &LookupRequest) -> Result<LookupResponse, Failure> {
        self.post(login::paths::LOOKUP, req).await
    }

    /// One fingerprint attempt's signed evidence. The server's `409 score_disagrees`
    /// comes back as [`Failure::Refused`].
    pub async fn verify(&self, evidence: &VerifyEvidence) -> Result<VerifyResponse, Failure> {
        self.post(login::paths::VERIFY, evidence).await
    }

    pub async fn ask_examiner(&self, req: &AskExaminer) -> Result<SeatLoginState, Failure> {
        self.post(login::paths::ASK_EXAMINER, req).await
    }

    pub async fn finish(&self, req: &FinishLogin) -> Result<SeatLoginState, Failure> {
        self.post(login::paths::FINISH, req).await
    }

    /// Who is at this seat now, as the server sees it.
    pub async fn login_state(&self) -> Result<SeatLoginState, Failure> {
        self.request(reqwest::Method::GET, login::paths::STATE, Vec::new(), &[]).await
    }

    /// Login mode (a), console PCs only: the card the examiner read.
    pub async fn console_card(&self, card: &ConsoleCard) -> Result<CardCheck, Failure> {
        self.post(login::paths::CONSOLE_CARD, card).await
    }

    /// The exam paper of this seat's candidate (`paper_id` `None`), signed by the server.
    pub async fn exam_paper(&self, paper_id: Option<&str>) -> Result<PaperManifest, Failure> {
        self.request(reqwest::Method::GET, &with_paper(exam::paths::PAPER, paper_id), Vec::new(), &[]).await
    }

    /// The answers the server holds for a paper (a spare PC continues from them).
    pub async fn exam_answers(&self, paper_id: &str) -> Result<HeldAnswers, Failure> {
        self.request(reqwest::Method::GET, &with_paper(exam::paths::ANSWERS, Some(paper_id)), Vec::new(), &[]).await
    }

    pub async fn exam_result(&self, paper_id: &str) -> Result<ExamResult, Failure> {
        self.request(reqwest::Method::GET, &with_paper(exam::paths::RESULT, Some(paper_id)), Vec::new(), &[]).await
    }

    /// The paper package from byte `from` on (`Range: bytes=N-` when not 0): the
    /// response, once its status says the body is the package (200, or 206 from `from`).
    pub async fn exam_package(&self, paper_id: &str, from: u64) -> Result<reqwest::Response, Failure> {
        let range = format!("bytes={from}-");
        let extra: &[(&'static str, &str)] = if from > 0 { &[("range", range.as_str())] } else { &[] };
        let resp = self
            .send(reqwest::Method::GET, &with_paper(exam::paths::PACKAGE, Some(paper_id)), Vec::new(), extra)
            .await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let bytes = resp.bytes().await.map_err(|e| Failure::Unreachable(describe(&e)))?;
        Err(refusal(status, &bytes))
    }

    /// Opens the push WebSocket (signed like any request).
    pub async fn push_socket(&self) -> Result<PushSocket, Failure> {
        let host = self.base.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = self.base.port_or_known_default().unwrap_or(443);
        let tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| Failure::Unreachable(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(host.clone()).map_err(|e| Failure::Unreachable(e.to_string()))?;
        let tls = TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| Failure::Unreachable(format!("TLS: {e}")))?;
        let mut url = self.base.join(paths::PUSH).map_err(|e| Failure::Unreachable(e.to_string()))?;
        let _ = url.set_scheme("wss");
        let mut req = url.as_str().into_client_request().map_err(|e| Failure::Unreachable(e.to_string()))?;
        for (k, v) in self.sign("GET", paths::PUSH, b"") {
            req.headers_mut().insert(k, v.parse().map_err(|_| Failure::Unreachable("bad header".into()))?);
        }
        match tokio_tungstenite::client_async(req, tls).await {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                let status = resp.status().as_u16();
                let body = resp.body().as_deref().unwrap_or_default();
                let (kind, message) = match serde_json::from_slice::<ServerErrorBody>(body) {
                    Ok(b) => (b.error.kind, b.error.message),
                    Err(_) => ("unknown".into(), String::from_utf8_lossy(body).into_owned()),
                };
                if status >= 500 {
                    Err(Failure::Unreachable(format!("the server answered {status}")))
                } else {
                    Err(Failure::Refused { status, kind, message })
                }
            }
            Err(e) => Err(Failure::Unreachable(e.to_string())),
        }
    }
}

/// `path?paper_id=ID` (the id URL-encoded), or `path`.
fn with_paper(path: &str, paper_id: Option<&str>) -> String {
    match paper_id {
        Some(id) => format!("{path}?{}", serde_urlencoded::to_string([("paper_id", id)]).unwrap_or_default()),
        None => path.to_owned(),
    }
}

/// A response that is not a success, as a [`Failure`]: 5xx means try later.
fn refusal(status: reqwest::StatusCode, bytes: &[u8]) -> Failure {
    if status.is_server_error() {
        return Failure::Unreachable(format!("the server answered {status}"));
    }
    let (kind, message) = match serde_json::from_slice::<ServerErrorBody>(bytes) {
        Ok(b) => (b.error.kind, b.error.message),
        Err(_) => ("unknown".into(), String::from_utf8_lossy(bytes).into_owned()),
    };
    Failure::Refused { status: status.as_u16(), kind, message }
}

/// reqwest's error with its causes (the TLS pin mismatch is a cause).
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
