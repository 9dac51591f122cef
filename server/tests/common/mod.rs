//! What the server's tests share: a database of either kind, a test agent
//! that signs like the real one, and a logged-in console.
#![allow(dead_code)]

pub mod exam;
pub mod postgres;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use examgate_protocol::link::{EnrolRequest, headers, paths, signing_string};
use examgate_server::api::{AppState, PeerAddr, app};
use examgate_server::config::Config;
use examgate_server::crypto::{key_id, sha256_hex};
use examgate_server::passwords::{self, Cost};
use examgate_server::store::{self, NewUser, Role, Store};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::Value;
use tower::ServiceExt;

/// Runs an async test body once against SQLite and once against PostgreSQL.
macro_rules! both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::common::TestDb::sqlite().await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::common::TestDb::postgres().await).await
            }
        }
    )*};
}

/// A fresh database and data directory.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("examgate.db").display());
        TestDb { store: store::open(&url).await.unwrap(), url, dir }
    }

    pub async fn postgres() -> TestDb {
        let url = postgres::fresh_database().await;
        TestDb { store: store::open(&url).await.unwrap(), url, dir: tempfile::tempdir().unwrap() }
    }

    /// Another store of the same kind, empty.
    pub async fn fresh_like(&self) -> TestDb {
        if self.store.kind() == "postgres" { TestDb::postgres().await } else { TestDb::sqlite().await }
    }

    pub fn config(&self) -> Config {
        let mut c = Config::with_data_dir(self.dir.path());
        c.database = self.url.clone();
        c.tls.enabled = false;
        c
    }

    pub fn state(&self) -> AppState {
        AppState::new(self.store.clone(), self.config())
    }
}

pub const EXAMINER: (&str, &str) = ("examiner1", "examiner-password");
pub const INVIGILATOR: (&str, &str) = ("invigilator1", "invigilator-password");

/// A test harness around one app state.
pub struct Harness {
    pub db: TestDb,
    pub state: AppState,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The error kind of a `{"error": {"kind", "message"}}` body.
    pub fn kind(&self) -> String {
        self.json()["error"]["kind"].as_str().unwrap_or_default().to_owned()
    }
    pub fn message(&self) -> String {
        self.json()["error"]["message"].as_str().unwrap_or_default().to_owned()
    }
}

impl Harness {
    pub async fn new(db: TestDb) -> Harness {
        for (name, role, password) in
            [(EXAMINER.0, Role::Examiner, EXAMINER.1), (INVIGILATOR.0, Role::Invigilator, INVIGILATOR.1)]
        {
            let user = NewUser { username: name.into(), role, password_hash: passwords::hash(password, Cost::Cheap) };
            db.store.create_user(user, "test", examgate_server::now_ms()).await.unwrap();
        }
        let mut state = db.state();
        // The exam centre's day stays the one the test started on: a test that runs
        // across midnight does not find its bookings become yesterday's.
        state.clock = examgate_server::roster::Clock::Fixed(examgate_server::now_ms());
        Harness { db, state }
    }

    pub fn app(&self) -> Router {
        app(self.state.clone())
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.app().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap().to_vec();
        Reply { status, headers, body }
    }

    /// A console with the examiner and the invigilator logged in: its cookie.
    pub async fn console(&self) -> String {
        let mut cookie = String::new();
        for (user, password) in [EXAMINER, INVIGILATOR] {
            let body = serde_json::json!({"username": user, "password": password}).to_string();
            let r = self.send(console_request("POST", "/api/v1/session/login", &cookie, Some(body))).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            let set = r.headers[header::SET_COOKIE].to_str().unwrap();
            cookie = set.split(';').next().unwrap().to_owned();
        }
        cookie
    }

    pub async fn get(&self, path: &str, cookie: &str) -> Reply {
        self.send(console_request("GET", path, cookie, None)).await
    }

    pub async fn post(&self, path: &str, cookie: &str, body: Value) -> Reply {
        self.send(console_request("POST", path, cookie, Some(body.to_string()))).await
    }

    /// Enrols `agent` and approves it as `seat` from the console.
    pub async fn bind(&self, agent: &TestAgent, seat: &str, cookie: &str) {
        let r = self.send(agent.enrol_request()).await;
        assert!(r.status.is_success(), "enrol: {}", r.text());
        let r = self
            .post(&format!("/api/v1/seats/{seat}/approve"), cookie, serde_json::json!({"key_id": agent.key_id}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "approve: {}", r.text());
    }

    pub async fn audit_actions(&self) -> Vec<(String, String, String)> {
        let (rows, _) = self.db.store.audit_chain().await.unwrap();
        rows.into_iter().map(|r| (r.action, r.subject, r.detail)).collect()
    }
}

pub fn console_request(method: &str, path: &str, cookie: &str, body: Option<String>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    if !cookie.is_empty() {
        b = b.header(header::COOKIE, cookie);
    }
    if body.is_some() {
        b = b.header(header::CONTENT_TYPE, "application/json");
    }
    let mut req = b.body(body.map(Body::from).unwrap_or_else(Body::empty)).unwrap();
    req.extensions_mut().insert(ConnectInfo(PeerAddr("10.0.0.1:50000".parse().unwrap())));
    req
}

/// A seat agent as the server sees it: a key pair, a MAC and an IP.
pub struct TestAgent {
    pair: Ed25519KeyPair,
    pub key_id: String,
    pub public_key: String,
    pub mac: String,
    pub ip: IpAddr,
}

/// How a test bends a signed request.
#[derive(Clone, Debug, Default)]
pub struct Bend {
    /// Milliseconds added to the signing time.
    pub clock_offset_ms: i64,
    pub nonce: Option<String>,
    pub mac: Option<String>,
    pub from: Option<IpAddr>,
    /// Sign these bytes but send the real body.
    pub signed_body: Option<Vec<u8>>,
    /// Sign with this agent's key but claim `key_id`.
    pub key_id: Option<String>,
    pub idempotency_key: Option<String>,
}

impl TestAgent {
    pub fn new(mac: &str, ip: &str) -> TestAgent {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let pk = pair.public_key().as_ref().to_vec();
        TestAgent { key_id: key_id(&pk), public_key: B64.encode(&pk), pair, mac: mac.into(), ip: ip.parse().unwrap() }
    }

    pub fn enrol_body(&self) -> Vec<u8> {
        serde_json::to_vec(&EnrolRequest {
            public_key: self.public_key.clone(),
            macs: vec![self.mac.clone()],
            ip: self.ip.to_string(),
            host_name: format!("seat-pc-{}", &self.key_id[..6]),
            agent_version: "0.1.0".into(),
        })
        .unwrap()
    }

    pub fn enrol_request(&self) -> Request<Body> {
        self.request("POST", paths::ENROL, self.enrol_body(), &Bend::default())
    }

    pub fn signed(&self, method: &str, path: &str, body: Vec<u8>) -> Request<Body> {
        self.request(method, path, body, &Bend::default())
    }

    pub fn request(&self, method: &str, path: &str, body: Vec<u8>, bend: &Bend) -> Request<Body> {
        let (parts, body) = self.request_parts(method, path, body, bend);
        let mut b = Request::builder().method(method).uri(path);
        for (k, v) in parts {
            b = b.header(k, v);
        }
        let mut req = b.body(Body::from(body)).unwrap();
        let from = bend.from.unwrap_or(self.ip);
        req.extensions_mut().insert(ConnectInfo(PeerAddr(SocketAddr::new(from, 40000))));
        req
    }

    /// The signature headers for a request, and its body.
    pub fn request_parts(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        bend: &Bend,
    ) -> (Vec<(String, String)>, Vec<u8>) {
        let ts = examgate_server::now_ms() + bend.clock_offset_ms;
        let nonce = bend.nonce.clone().unwrap_or_else(|| examgate_server::ids::random_hex(16));
        let mac = bend.mac.clone().unwrap_or_else(|| self.mac.clone());
        let body_hash = sha256_hex(bend.signed_body.as_deref().unwrap_or(&body));
        let msg = signing_string(method, path, ts, &nonce, &mac, &body_hash);
        let sig = B64.encode(self.pair.sign(msg.as_bytes()).as_ref());
        let mut h = vec![
            (headers::KEY.to_owned(), bend.key_id.clone().unwrap_or_else(|| self.key_id.clone())),
            (headers::TIMESTAMP.to_owned(), ts.to_string()),
            (headers::NONCE.to_owned(), nonce),
            (headers::MAC.to_owned(), mac),
            (headers::CONTENT_SHA256.to_owned(), body_hash),
            (headers::SIGNATURE.to_owned(), sig),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        if let Some(k) = &bend.idempotency_key {
            h.push((headers::IDEMPOTENCY_KEY.to_owned(), k.clone()));
        }
        (h, body)
    }

    pub fn heartbeat(&self, seat: Option<&str>) -> Request<Body> {
        let body = serde_json::json!({
            "seat": seat,
            "devices": [{"id": "sim-fp-0", "class": "fingerprint", "state": "ready"}],
            "outbox_pending": 0
        });
        let mut body = body;
        if seat.is_none() {
            body.as_object_mut().unwrap().remove("seat");
        }
        self.signed("POST", paths::HEARTBEAT, body.to_string().into_bytes())
    }

    pub fn delivery(&self, idempotency_key: &str, body: &Value) -> Request<Body> {
        let bend = Bend { idempotency_key: Some(idempotency_key.into()), ..Bend::default() };
        self.request("POST", paths::DELIVERIES, body.to_string().into_bytes(), &bend)
    }
}

/// A tiny valid-looking JPEG (the server checks the magic bytes and the hash).
pub fn jpeg(seed: u8) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend(std::iter::repeat_n(seed, 64));
    v.extend([0xFF, 0xD9]);
    v
}

pub fn snapshot_delivery(seat: Option<&str>, seed: u8) -> Value {
    let bytes = jpeg(seed);
    let mut v = serde_json::json!({
        "exam": "2026-11-25-am-k1",
        "created_at": "2026-11-25T09:00:00.000Z",
        "item": {"kind": "snapshot", "reason": "scheduled", "flags": [], "jpeg": B64.encode(&bytes), "sha256": sha256_hex(&bytes)}
    });
    if let Some(s) = seat {
        v["seat"] = s.into();
    }
    v
}

pub fn answers_delivery(seat: Option<&str>, question: &str) -> Value {
    let mut v = serde_json::json!({
        "exam": "2026-11-25-am-k1",
        "created_at": "2026-11-25T09:10:00.000Z",
        "item": {"kind": "answers", "candidate": "c0ffee", "answers": [{"question": question, "choice": "A"}]}
    });
    if let Some(s) = seat {
        v["seat"] = s.into();
    }
    v
}
