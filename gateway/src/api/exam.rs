//! `/v1/exam*`: the exam as the seat page sees it (see [`crate::exam`]).
//! Every change is durable in the agent's exam store and queued in the
//! outbox before the page gets its answer. Times are the server's clock
//! (ms since the epoch); the page shows `deadline - (Date.now() + server_offset_ms)`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use examgate_protocol::exam::SubmitReason;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{AppState, parse_json, parse_json_or_default};
use crate::error::AppError;
use crate::exam::{Exam, ExamError, ExamStatus, Saved, Submitted};
use crate::link::now_ms;

/// How long `POST /v1/exam/submit` waits for the server's result before answering without it.
const RESULT_WAIT: Duration = Duration::from_secs(3);

/// Why an exam request failed, in the API's error format.
#[derive(Debug, thiserror::Error)]
pub(super) enum ExamApiError {
    #[error(
        "this agent has no enrolment with an exam-centre server, so no exam; enrol it (examgate-agent enrol) and start it with --link-dir DIR"
    )]
    NoServer,
    #[error(transparent)]
    Exam(#[from] ExamError),
    #[error(transparent)]
    App(#[from] AppError),
}

impl IntoResponse for ExamApiError {
    fn into_response(self) -> Response {
        let (status, kind, retry) = match &self {
            ExamApiError::App(_) => {
                let ExamApiError::App(e) = self else { unreachable!() };
                return e.into_response();
            }
            ExamApiError::NoServer => (StatusCode::SERVICE_UNAVAILABLE, "no_server", false),
            ExamApiError::Exam(e) => match e {
                ExamError::NoPaper => (StatusCode::CONFLICT, "no_paper", false),
                ExamError::NotReady => (StatusCode::CONFLICT, "not_ready", true),
                ExamError::Submitted => (StatusCode::CONFLICT, "submitted", false),
                ExamError::UnknownItem(_) => (StatusCode::NOT_FOUND, "unknown_item", false),
                ExamError::NoMedia(_) => (StatusCode::NOT_FOUND, "not_found", false),
                ExamError::BadChoices(_) => (StatusCode::BAD_REQUEST, "bad_request", false),
                ExamError::PastDeadline => (StatusCode::GONE, "deadline_passed", false),
                ExamError::Store(_) | ExamError::Package(_) | ExamError::Io { .. } => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "internal", true)
                }
            },
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

fn exam(state: &AppState) -> Result<Arc<Exam>, ExamApiError> {
    state.exam().cloned().ok_or(ExamApiError::NoServer)
}

/// Runs a blocking exam call (SQLite with fsync) off the runtime.
async fn blocking<T: Send + 'static>(
    exam: Arc<Exam>,
    f: impl FnOnce(&Exam) -> Result<T, ExamError> + Send + 'static,
) -> Result<T, ExamApiError> {
    tokio::task::spawn_blocking(move || f(&exam))
        .await
        .map_err(|e| ExamApiError::App(AppError::Internal(format!("exam task failed: {e}"))))?
        .map_err(ExamApiError::from)
}

/// `GET /v1/exam`: where the exam stands (`state: none` without an enrolment).
pub(super) async fn status(State(state): State<AppState>) -> Result<Json<ExamStatus>, ExamApiError> {
    let Some(exam) = state.exam().cloned() else {
        let none = blocking_none();
        return Ok(Json(none));
    };
    Ok(Json(blocking(exam, |e| e.status(now_ms())).await?))
}

/// The status of a seat that has no exam at all.
fn blocking_none() -> ExamStatus {
    ExamStatus {
        state: "none",
        paper_id: None,
        booking_number: None,
        exam: None,
        language: None,
        dir: None,
        deadline: None,
        server_offset_ms: None,
        server_now: None,
        started_at: None,
        current: None,
        answers: Default::default(),
        flagged: Vec::new(),
        total: None,
        submitted_at: None,
        submit_reason: None,
        result: None,
        pending_outbox: 0,
        download: None,
    }
}

/// `GET /v1/exam/paper`: `paper.json` from the agent's disk.
pub(super) async fn paper(State(state): State<AppState>) -> Result<Response, ExamApiError> {
    let bytes = blocking(exam(&state)?, |e| e.paper_json()).await?;
    Ok(([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], bytes).into_response())
}

/// `GET /v1/exam/media/{path}`: a picture or video the signed manifest names.
pub(super) async fn media(State(state): State<AppState>, Path(path): Path<String>) -> Result<Response, ExamApiError> {
    let (bytes, mime) = blocking(exam(&state)?, move |e| e.media(&path)).await?;
    let headers = [
        (header::CONTENT_TYPE, mime),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        // An SVG opened on its own runs no script in the agent's origin.
        (header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'; img-src 'self'; media-src 'self'".to_owned()),
    ];
    Ok((headers, bytes).into_response())
}

/// `POST /v1/exam/start`: the candidate read the instructions; the deadline does not move.
pub(super) async fn start(State(state): State<AppState>) -> Result<Json<ExamStatus>, ExamApiError> {
    let status = blocking(exam(&state)?, |e| {
        e.start(now_ms())?;
        e.status(now_ms())
    })
    .await?;
    Ok(Json(status))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AnswerRequest {
    /// The item's own choice identifiers; empty clears the answer.
    choices: Vec<String>,
}

/// `PUT /v1/exam/answers/{item}`: durable and queued before this answers.
pub(super) async fn answer(
    State(state): State<AppState>,
    Path(item): Path<String>,
    body: Bytes,
) -> Result<Json<Saved>, ExamApiError> {
    let request: AnswerRequest = parse_json(&body)?;
    Ok(Json(blocking(exam(&state)?, move |e| e.answer(&item, request.choices, now_ms())).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FlagRequest {
    flagged: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct FlagAnswer {
    item: String,
    flagged: bool,
}

/// `PUT /v1/exam/flags/{item}`.
pub(super) async fn flag(
    State(state): State<AppState>,
    Path(item): Path<String>,
    body: Bytes,
) -> Result<Json<FlagAnswer>, ExamApiError> {
    let request: FlagRequest = parse_json(&body)?;
    let flagged = request.flagged;
    let item = blocking(exam(&state)?, move |e| e.flag(&item, flagged).map(|()| item)).await?;
    Ok(Json(FlagAnswer { item, flagged }))
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PositionRequest {
    item: String,
}

/// `PUT /v1/exam/position`: where the candidate is, so a reload comes back there.
pub(super) async fn position(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<PositionRequest>, ExamApiError> {
    let request: PositionRequest = parse_json(&body)?;
    let item = blocking(exam(&state)?, move |e| e.position(&request.item).map(|()| request.item)).await?;
    Ok(Json(PositionRequest { item }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SubmitRequest {}

/// `POST /v1/exam/submit`: the submission is durable and queued; the result
/// comes with the answer if the server gives it within a few seconds, else
/// later as `exam_result` (and in `GET /v1/exam`).
pub(super) async fn submit(State(state): State<AppState>, body: Bytes) -> Result<Json<Submitted>, ExamApiError> {
    let SubmitRequest {} = parse_json_or_default(&body)?;
    let exam = exam(&state)?;
    let mut done = blocking(exam.clone(), |e| e.submit(SubmitReason::Candidate, now_ms())).await?;
    if done.result.is_none() && exam.server().is_some() {
        done.result = exam.await_result(RESULT_WAIT).await;
    }
    Ok(Json(done))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use axum::body::Body;
    use axum::http::Request;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::api::{Settings, app};
    use crate::devices::{DeviceManager, ManagerOptions};
    use crate::exam::manifest::testing::Signer;
    use crate::exam::tests::{DEADLINE, NOW, OFFSET, paper as signed_paper};
    use crate::link::outbox::Outbox;

    /// An agent whose exam has paper `p1` installed (no server: nothing fetches).
    fn exam_state() -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let devices = DeviceManager::start(Vec::new(), ManagerOptions::default());
        let outbox = Outbox::open(dir.path()).unwrap();
        let emitter = devices.clone();
        let exam = Exam::open(dir.path(), None, outbox, move |e| emitter.emit(e)).unwrap();
        let signer = Signer::new();
        let (m, bytes) = signed_paper(&signer, "p1");
        // The agent's clock is the real one here: the deadline must lie ahead of it.
        let shift = now_ms() - NOW;
        let mut m = m;
        m.deadline += shift;
        signer.sign(&mut m);
        exam.accept_manifest(&m, OFFSET, now_ms()).unwrap();
        exam.partial("p1").append_from(0).unwrap().write_all(&bytes).unwrap();
        exam.install("p1").unwrap();
        let settings = Settings { exam: Some(Arc::new(exam)), ..Settings::default() };
        (AppState::new(devices, settings), dir)
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
    async fn without_an_enrolment_there_is_no_exam() {
        let state = AppState::new(DeviceManager::start(Vec::new(), ManagerOptions::default()), Settings::default());
        let (status, body) = call(&state, "GET", "/v1/exam", Value::Null).await;
        assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("none")));
        let (status, body) = call(&state, "PUT", "/v1/exam/answers/q1", json!({"choices": ["A"]})).await;
        assert_eq!((status, body["error"]["kind"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("no_server")));
    }

    #[tokio::test]
    async fn the_page_answers_flags_moves_and_submits_through_http() {
        let (state, _dir) = exam_state();
        let (status, body) = call(&state, "GET", "/v1/exam", Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!((body["state"].as_str(), body["total"].as_u64()), (Some("ready"), Some(3)));
        assert_eq!(body["server_offset_ms"], OFFSET);
        let left = body["deadline"].as_i64().unwrap() - body["server_now"].as_i64().unwrap();
        assert!(left > DEADLINE - NOW - OFFSET - 60_000, "about 45 minutes left: {body}");
        let (status, paper) = call(&state, "GET", "/v1/exam/paper", Value::Null).await;
        assert_eq!((status, paper["items"][0]["id"].as_str()), (StatusCode::OK, Some("q1")));
        let media = Request::get("/v1/exam/media/ab.png").body(Body::empty()).unwrap();
        let response = app(state.clone()).oneshot(media).await.unwrap();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "image/png");

        let (status, body) = call(&state, "POST", "/v1/exam/start", Value::Null).await;
        assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("in_progress")));
        let (status, saved) = call(&state, "PUT", "/v1/exam/answers/q3", json!({"choices": ["A", "B"]})).await;
        assert_eq!(status, StatusCode::OK, "{saved}");
        assert_eq!((saved["item"].as_str(), saved["seq"].as_u64()), (Some("q3"), Some(1)));
        assert_eq!(saved["choices"], json!(["A", "B"]));
        let cases = [
            ("/v1/exam/answers/q9", json!({"choices": ["A"]}), StatusCode::NOT_FOUND, "unknown_item"),
            ("/v1/exam/answers/q2", json!({"choices": ["Z"]}), StatusCode::BAD_REQUEST, "bad_request"),
            ("/v1/exam/answers/q2", json!({"choice": "A"}), StatusCode::BAD_REQUEST, "bad_request"),
        ];
        for (uri, body, want, kind) in cases {
            let (status, answer) = call(&state, "PUT", uri, body).await;
            assert_eq!((status, answer["error"]["kind"].as_str()), (want, Some(kind)), "{uri}: {answer}");
        }
        let (status, body) = call(&state, "PUT", "/v1/exam/flags/q2", json!({"flagged": true})).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"item": "q2", "flagged": true})));
        let (status, _) = call(&state, "PUT", "/v1/exam/position", json!({"item": "q2"})).await;
        assert_eq!(status, StatusCode::OK);
        let (_, body) = call(&state, "GET", "/v1/exam", Value::Null).await;
        assert_eq!((body["answers"].clone(), body["flagged"].clone()), (json!({"q3": ["A", "B"]}), json!(["q2"])));
        assert_eq!((body["current"].as_str(), body["pending_outbox"].as_u64()), (Some("q2"), Some(1)));

        let (status, done) = call(&state, "POST", "/v1/exam/submit", Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!((done["reason"].as_str(), &done["result"]), (Some("candidate"), &Value::Null));
        let (status, body) = call(&state, "PUT", "/v1/exam/answers/q2", json!({"choices": ["A"]})).await;
        assert_eq!((status, body["error"]["kind"].as_str()), (StatusCode::CONFLICT, Some("submitted")));
        let (_, body) = call(&state, "GET", "/v1/exam", Value::Null).await;
        assert_eq!(
            (body["state"].as_str(), body["submitted_at"].clone()),
            (Some("submitted"), done["submitted_at"].clone())
        );
    }
}
