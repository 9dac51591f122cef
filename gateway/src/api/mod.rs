//! The agent's HTTP API: REST under `/v1/`, the `/v1/events` WebSocket, the
//! seeds' interface under `/legacy/`, the OpenAPI document and the seat page.
//!
//! `app(state)` builds the whole router, so tests drive it with
//! `tower::ServiceExt::oneshot` and no socket.

mod camera;
mod events;
mod exam;
mod fingerprint;
mod idcard;
mod legacy;
mod login;
mod openapi;
mod seat;
mod security;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Method;
use axum::middleware;
use axum::routing::{MethodRouter, get, post, put};
use examgate_protocol::{API_VERSION, DeviceList, DeviceState, Health, HealthStatus};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::camera::{SnapshotSettings, Snapshots};
use crate::config::{Config, Origin};
use crate::devices::DeviceManager;
use crate::error::AppError;

pub use legacy::Caller;
pub use login::console_cards;
pub use openapi::OPENAPI_JSON;

/// What the API needs to know beyond the devices.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The address the agent serves on; its own origin is always allowed.
    pub listen: SocketAddr,
    pub allowed_origins: Vec<Origin>,
    pub api_token: Option<String>,
    pub capture_timeout: Duration,
    pub snapshots: SnapshotSettings,
    pub wlt_decoder: Option<std::path::PathBuf>,
    /// The link to the server for login, and the machine's role.
    pub login: crate::login::LoginSettings,
    /// The exam of this seat (`run --link-dir`); `None` without an enrolment.
    pub exam: Option<Arc<crate::exam::Exam>>,
}

impl Settings {
    pub fn from_config(config: &Config) -> Settings {
        Settings {
            listen: config.listen,
            allowed_origins: config.allowed_origins.clone(),
            api_token: config.api_token.clone(),
            capture_timeout: config.capture_timeout,
            snapshots: config.snapshots.clone(),
            wlt_decoder: config.wlt_decoder.clone(),
            login: crate::login::LoginSettings { server: None, outbox: None, role: config.link.role },
            exam: None,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::from_config(&Config::default())
    }
}

struct StateInner {
    devices: DeviceManager,
    security: security::Security,
    legacy: legacy::LastErrors,
    capture_timeout: Duration,
    snapshots: Arc<Snapshots>,
    wlt_decoder: Option<std::path::PathBuf>,
    login: crate::login::Login,
    exam: Option<Arc<crate::exam::Exam>>,
    shutdown: watch::Sender<bool>,
}

/// Shared state of every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<StateInner>);

impl AppState {
    pub fn new(devices: DeviceManager, settings: Settings) -> AppState {
        let security = security::Security::new(settings.listen, &settings.allowed_origins, settings.api_token);
        AppState(Arc::new(StateInner {
            devices,
            security,
            legacy: legacy::LastErrors::default(),
            capture_timeout: settings.capture_timeout,
            snapshots: Arc::new(Snapshots::new(settings.snapshots)),
            wlt_decoder: settings.wlt_decoder,
            login: crate::login::Login::new(settings.login),
            exam: settings.exam,
            shutdown: watch::Sender::new(false),
        }))
    }

    pub fn devices(&self) -> &DeviceManager {
        &self.0.devices
    }

    /// The configured WLT photo decoder plugin, if any.
    pub fn wlt_decoder(&self) -> Option<&std::path::Path> {
        self.0.wlt_decoder.as_deref()
    }

    /// The current login, the link to the server for it, recent captures.
    pub fn login(&self) -> &crate::login::Login {
        &self.0.login
    }

    /// The exam of this seat, with an enrolment.
    pub fn exam(&self) -> Option<&Arc<crate::exam::Exam>> {
        self.0.exam.as_ref()
    }

    /// This seat's snapshots (store, settings, schedule).
    pub fn snapshots(&self) -> &Arc<Snapshots> {
        &self.0.snapshots
    }

    /// Tell long-lived connections (event streams, previews) and the
    /// snapshot scheduler to stop.
    pub fn begin_shutdown(&self) {
        self.0.shutdown.send_replace(true);
    }

    /// Turns true when the agent begins to shut down.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.0.shutdown.subscribe()
    }
}

/// One route of the API: the OpenAPI document must list exactly these.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    handler: MethodRouter<AppState>,
}

fn route(method: Method, path: &'static str, handler: MethodRouter<AppState>) -> Route {
    Route { method, path, handler }
}

/// Every route the agent serves.
pub fn routes() -> Vec<Route> {
    vec![
        route(Method::GET, "/", get(seat::file)),
        route(Method::GET, "/seat.js", get(seat::file)),
        route(Method::GET, "/seat.css", get(seat::file)),
        route(Method::GET, "/lib/{module}", get(seat::file)),
        route(Method::GET, "/i18n/{messages}", get(seat::file)),
        route(Method::GET, "/v1/health", get(health)),
        route(Method::GET, "/v1/devices", get(devices)),
        route(Method::POST, "/v1/fingerprint/template", post(fingerprint::template)),
        route(Method::POST, "/v1/fingerprint/match", post(fingerprint::match_templates)),
        route(Method::GET, "/v1/fingerprint/enabled", get(fingerprint::enabled)),
        route(Method::POST, "/v1/idcard/read", post(idcard::read)),
        route(Method::POST, "/v1/camera/snapshot", post(camera::snapshot)),
        route(Method::GET, "/v1/camera/preview", get(camera::preview)),
        route(Method::POST, "/v1/sim/{device}/command", post(fingerprint::sim_command)),
        route(Method::GET, "/v1/events", get(events::events)),
        route(Method::GET, "/v1/openapi.json", get(openapi::document)),
        route(Method::POST, "/v1/login/lookup", post(login::lookup)),
        route(Method::POST, "/v1/login/verify", post(login::verify)),
        route(Method::POST, "/v1/login/ask-examiner", post(login::ask_examiner)),
        route(Method::POST, "/v1/login/finish", post(login::finish)),
        route(Method::GET, "/v1/login/state", get(login::login_state)),
        route(Method::POST, "/v1/link/commands", post(login::link_command)),
        route(Method::POST, "/v1/console/card", post(login::console_card)),
        route(Method::GET, "/v1/exam", get(exam::status)),
        route(Method::GET, "/v1/exam/paper", get(exam::paper)),
        route(Method::GET, "/v1/exam/media/{*path}", get(exam::media)),
        route(Method::POST, "/v1/exam/start", post(exam::start)),
        route(Method::PUT, "/v1/exam/answers/{item}", put(exam::answer)),
        route(Method::PUT, "/v1/exam/flags/{item}", put(exam::flag)),
        route(Method::PUT, "/v1/exam/position", put(exam::position)),
        route(Method::POST, "/v1/exam/submit", post(exam::submit)),
        route(Method::POST, "/legacy/GetTemplate", post(legacy::get_template)),
        route(Method::POST, "/legacy/MatchSampleTemplate", post(legacy::match_sample_template)),
        route(Method::GET, "/legacy/ErrorMessage", get(legacy::error_message)),
        route(Method::GET, "/legacy/Enabled", get(legacy::enabled)),
    ]
}

/// The agent's router.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new();
    for r in routes() {
        router = router.route(r.path, r.handler);
    }
    router.fallback(not_found).layer(middleware::from_fn_with_state(state.clone(), security::guard)).with_state(state)
}

async fn not_found() -> AppError {
    AppError::UnknownRoute
}

/// Always 200 while the agent serves: a seat missing a device is
/// `degraded` (and says what is missing), not down, so a load balancer keeps it.
async fn health(State(state): State<AppState>) -> Json<Health> {
    let devices = state.devices().list();
    let ready = devices.iter().filter(|d| matches!(d.state, DeviceState::Ready | DeviceState::Busy)).count();
    let missing = state.devices().missing();
    Json(Health {
        status: if ready == devices.len() && missing.is_empty() { HealthStatus::Ok } else { HealthStatus::Degraded },
        api_version: API_VERSION,
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        devices: devices.len() as u32,
        devices_ready: ready as u32,
        missing,
    })
}

async fn devices(State(state): State<AppState>) -> Json<DeviceList> {
    Json(state.devices().device_list())
}

/// A JSON request body, with errors in the API's error format.
fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|e| AppError::BadRequest(format!("request body: {e}")))
}

/// As [`parse_json`], but an empty body means all defaults.
fn parse_json_or_default<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) { Ok(T::default()) } else { parse_json(body) }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_camera;
