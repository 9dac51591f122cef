//! The server's HTTP surface: `app(state)` builds the whole router, so tests
//! drive it with `oneshot` and `main` serves it over TLS.
//!
//! - `/agent/v1/…`: what seat agents call, signed ([`agent`], [`signed`]).
//! - `/api/v1/…`: the console's admin API ([`console`]), described by
//!   `/api/v1/openapi.json`.
//! - `/console/`: the console's pages (`web/console/`, built in).

pub mod agent;
pub mod console;
pub mod exam;
pub mod invigilation;
pub mod login;
pub mod roster;
pub mod signed;
pub mod verify;
mod web;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::connect_info::Connected;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use examgate_protocol::exam::paths as exam_paths;
use examgate_protocol::link::paths;
use examgate_protocol::login::paths as login_paths;

use crate::config::Config;
use crate::error::AppError;
use crate::hub::Hub;
use crate::seal::Sealer;
use crate::snapshots::SnapshotFiles;
use crate::store::Store;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub hub: Arc<Hub>,
    pub snapshots: SnapshotFiles,
    /// Seals and opens roster photos, templates and verification evidence.
    pub sealer: Arc<Sealer>,
    /// Signs paper manifests; agents pin its public half at enrolment.
    pub server_key: Arc<crate::exam::key::ServerKey>,
    /// Bank versions in memory: papers are drawn, packaged and scored from them.
    pub banks: Arc<crate::exam::runtime::Banks>,
    /// The exam centre's day: which bookings are today's, card validity, the purge.
    pub clock: crate::roster::Clock,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config) -> AppState {
        let snapshots = SnapshotFiles::new(config.snapshot_dir());
        let sealer = Arc::new(Sealer::with_key_file(config.roster.key_file.clone()));
        let server_key = Arc::new(crate::exam::key::ServerKey::with_key_file(config.server_key_file()));
        AppState {
            store,
            config: Arc::new(config),
            hub: Arc::new(Hub::default()),
            snapshots,
            sealer,
            server_key,
            banks: Arc::default(),
            clock: crate::roster::Clock::System,
        }
    }
}

/// The address a connection came from: what seat bindings check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

impl PeerAddr {
    pub fn ip(&self) -> IpAddr {
        signed::canonical(self.0.ip())
    }
}

impl Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>> for PeerAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> PeerAddr {
        PeerAddr(*stream.remote_addr())
    }
}

impl Connected<axum::serve::IncomingStream<'_, crate::tls::TlsListener>> for PeerAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, crate::tls::TlsListener>) -> PeerAddr {
        PeerAddr(*stream.remote_addr())
    }
}

/// The OpenAPI document of `/api/v1/` and `/agent/v1/`.
pub const OPENAPI: &str = include_str!("openapi.json");

pub fn app(state: AppState) -> Router {
    let limit = state.config.agents.max_body_bytes;
    let agent = Router::new()
        .route(paths::ENROL, post(agent::enrol))
        .route(paths::STATUS, get(agent::status))
        .route(paths::HEARTBEAT, post(agent::heartbeat))
        .route(paths::DELIVERIES, post(agent::deliver))
        .route(paths::PUSH, get(agent::push))
        .route(login_paths::LOOKUP, post(login::lookup))
        .route(login_paths::VERIFY, post(login::verify))
        .route(login_paths::ASK_EXAMINER, post(login::ask_examiner))
        .route(login_paths::FINISH, post(login::finish))
        .route(login_paths::STATE, get(login::seat_login_state))
        .route(login_paths::CONSOLE_CARD, post(login::console_card))
        .route(exam_paths::PAPER, get(exam::paper))
        .route(exam_paths::PACKAGE, get(exam::package))
        .route(exam_paths::ANSWERS, get(exam::answers))
        .route(exam_paths::RESULT, get(exam::result))
        .layer(DefaultBodyLimit::max(limit));
    let api = Router::new()
        .route("/api/v1/session/login", post(console::login))
        .route("/api/v1/session/logout", post(console::logout))
        .route("/api/v1/session", get(console::session))
        .route("/api/v1/session/activity", post(verify::activity))
        .route("/api/v1/roster/{booking}/admit", post(verify::admit))
        .route("/api/v1/roster/{booking}/refuse", post(verify::refuse))
        .route("/api/v1/roster/{booking}/release", post(verify::release))
        .route("/api/v1/roster/{booking}/evidence", get(verify::evidence))
        .route("/api/v1/seats", get(console::seats))
        .route("/api/v1/seats/{seat}/approve", post(console::approve))
        .route("/api/v1/seats/{seat}/rebind", post(console::rebind))
        .route("/api/v1/seats/{seat}/commands", post(console::command))
        .route("/api/v1/alerts", get(console::alerts))
        .route("/api/v1/alerts/{id}/clear", post(console::clear_alert))
        .route("/api/v1/deliveries", get(console::deliveries))
        .route("/api/v1/snapshots/{sha256}", get(console::snapshot))
        .route("/api/v1/audit", get(console::audit_rows))
        .route("/api/v1/audit/verify", get(console::audit_verify))
        .route("/api/v1/events", get(console::events))
        .route("/api/v1/roster/import", post(roster::import).layer(DefaultBodyLimit::max(roster::IMPORT_BODY_LIMIT)))
        .route("/api/v1/roster", get(roster::list))
        .route("/api/v1/roster/{booking}/photo", get(roster::photo))
        .route("/api/v1/exam/progress", get(exam::progress))
        .route("/api/v1/exam/summary", get(exam::summary))
        .route("/api/v1/exam/exposure", get(exam::exposure))
        .route("/api/v1/exam/pause", post(invigilation::pause))
        .route("/api/v1/exam/resume", post(invigilation::resume))
        .route("/api/v1/exam/extend", post(invigilation::extend_room))
        .route("/api/v1/exam/{booking}/warn", post(invigilation::warn))
        .route("/api/v1/exam/{booking}/force-submit", post(invigilation::force_submit))
        .route("/api/v1/exam/{booking}/extend", post(invigilation::extend))
        .route("/api/v1/exam/{booking}/extension-proposal", get(invigilation::extension_proposal))
        .route("/api/v1/exam/{booking}/actions", get(invigilation::actions))
        .route("/api/v1/openapi.json", get(|| async { ([("content-type", "application/json")], OPENAPI) }))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(state.clone(), console::count_activity));
    Router::new()
        .merge(agent)
        .merge(api)
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(web::index))
        .route("/console/{*path}", get(web::file))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|| async {
            AppError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint; /api/v1/openapi.json lists the API")
                .into_response()
        })
        .with_state(state)
}

/// Every route of [`app`], for the test that keeps the OpenAPI document honest.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", paths::ENROL),
    ("get", paths::STATUS),
    ("post", paths::HEARTBEAT),
    ("post", paths::DELIVERIES),
    ("get", paths::PUSH),
    ("post", login_paths::LOOKUP),
    ("post", login_paths::VERIFY),
    ("post", login_paths::ASK_EXAMINER),
    ("post", login_paths::FINISH),
    ("get", login_paths::STATE),
    ("post", login_paths::CONSOLE_CARD),
    ("get", exam_paths::PAPER),
    ("get", exam_paths::PACKAGE),
    ("get", exam_paths::ANSWERS),
    ("get", exam_paths::RESULT),
    ("post", "/api/v1/session/login"),
    ("post", "/api/v1/session/logout"),
    ("get", "/api/v1/session"),
    ("post", "/api/v1/session/activity"),
    ("post", "/api/v1/roster/{booking}/admit"),
    ("post", "/api/v1/roster/{booking}/refuse"),
    ("post", "/api/v1/roster/{booking}/release"),
    ("get", "/api/v1/roster/{booking}/evidence"),
    ("get", "/api/v1/seats"),
    ("post", "/api/v1/seats/{seat}/approve"),
    ("post", "/api/v1/seats/{seat}/rebind"),
    ("post", "/api/v1/seats/{seat}/commands"),
    ("get", "/api/v1/alerts"),
    ("post", "/api/v1/alerts/{id}/clear"),
    ("get", "/api/v1/deliveries"),
    ("get", "/api/v1/snapshots/{sha256}"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/audit/verify"),
    ("get", "/api/v1/events"),
    ("post", "/api/v1/roster/import"),
    ("get", "/api/v1/roster"),
    ("get", "/api/v1/roster/{booking}/photo"),
    ("get", "/api/v1/exam/progress"),
    ("get", "/api/v1/exam/summary"),
    ("get", "/api/v1/exam/exposure"),
    ("post", "/api/v1/exam/pause"),
    ("post", "/api/v1/exam/resume"),
    ("post", "/api/v1/exam/extend"),
    ("post", "/api/v1/exam/{booking}/warn"),
    ("post", "/api/v1/exam/{booking}/force-submit"),
    ("post", "/api/v1/exam/{booking}/extend"),
    ("get", "/api/v1/exam/{booking}/extension-proposal"),
    ("get", "/api/v1/exam/{booking}/actions"),
    ("get", "/api/v1/openapi.json"),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    #[test]
    fn the_openapi_document_lists_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).expect("openapi.json is JSON");
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
            .collect();
        let served: BTreeSet<(String, String)> =
            super::ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
        assert_eq!(documented, served);
    }
}
