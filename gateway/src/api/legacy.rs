//! The seeds' interface under `/legacy/`, word for word, for existing exam
//! software: `GetTemplate`, `MatchSampleTemplate(Template, OldTemplate)`,
//! `ErrorMessage`, `Enabled`. Every answer is `text/plain`; every failure is
//! `-1`, and `ErrorMessage` then says why (per caller).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use examgate_protocol::LegacyMatchRequest;

use super::AppState;
use super::fingerprint::compare;
use crate::error::AppError;
use crate::templates::{self, FieldNames};

/// The header a legacy caller may send to keep its `ErrorMessage` apart
/// from other callers on the same machine.
pub const CALLER_HEADER: &str = "x-examgate-caller";

/// Who is asking, for `ErrorMessage`: the `X-Examgate-Caller` header, else
/// the `Origin`, else the peer's IP address (not its port: each legacy call
/// may come on a new connection).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Caller(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty());
        if let Some(id) = header(CALLER_HEADER) {
            return Ok(Caller(format!("caller {id}")));
        }
        if let Some(origin) = header(header::ORIGIN.as_str()) {
            return Ok(Caller(format!("origin {origin}")));
        }
        match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => Ok(Caller(format!("peer {}", peer.ip()))),
            None => Ok(Caller("local".to_owned())),
        }
    }
}

/// The last error of each caller, bounded so a stream of distinct callers
/// cannot grow it without end.
#[derive(Default)]
pub(super) struct LastErrors {
    inner: Mutex<LastErrorsInner>,
}

#[derive(Default)]
struct LastErrorsInner {
    next: u64,
    by_caller: HashMap<Caller, (u64, String)>,
}

const MAX_CALLERS: usize = 256;

impl LastErrors {
    fn record(&self, caller: Caller, message: String) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.by_caller.len() >= MAX_CALLERS
            && !inner.by_caller.contains_key(&caller)
            && let Some(oldest) = inner.by_caller.iter().min_by_key(|(_, (seq, _))| *seq).map(|(c, _)| c.clone())
        {
            inner.by_caller.remove(&oldest);
        }
        inner.next += 1;
        let seq = inner.next;
        inner.by_caller.insert(caller, (seq, message));
    }

    fn last(&self, caller: &Caller) -> String {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.by_caller.get(caller).map(|(_, m)| m.clone()).unwrap_or_default()
    }
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

fn failed(state: &AppState, caller: Caller, error: &AppError) -> Response {
    tracing::info!(caller = %caller.0, "legacy call failed: {error}");
    state.0.legacy.record(caller, error.to_string());
    text("-1".to_owned())
}

pub(super) async fn get_template(State(state): State<AppState>, caller: Caller) -> Response {
    match state.devices().capture(None, state.0.capture_timeout).await {
        Ok((_, template)) => {
            state.login().captured().remember(&template.data);
            text(templates::encode(&template.data))
        }
        Err(e) => failed(&state, caller, &e),
    }
}

/// The two templates of `MatchSampleTemplate`, from a JSON body, a
/// form-urlencoded body, or (when the body is empty) the query string.
fn legacy_match_fields(headers: &HeaderMap, query: Option<&str>, body: &Bytes) -> Result<LegacyMatchRequest, AppError> {
    let bad = |e: &dyn std::fmt::Display| {
        AppError::BadRequest(format!("MatchSampleTemplate needs the fields Template and OldTemplate: {e}"))
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let trimmed = body.trim_ascii();
    if content_type.starts_with("application/json") || (content_type.is_empty() && trimmed.starts_with(b"{")) {
        return serde_json::from_slice(trimmed).map_err(|e| bad(&e));
    }
    let form: &[u8] = if trimmed.is_empty() { query.unwrap_or("").as_bytes() } else { trimmed };
    serde_urlencoded::from_bytes(form).map_err(|e| bad(&e))
}

pub(super) async fn match_sample_template(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let result = async {
        let fields = legacy_match_fields(&headers, query.as_deref(), &body)?;
        let probe = templates::parse(&fields.template, "Template")?;
        let enrolled = templates::parse(&fields.old_template, "OldTemplate")?;
        compare(&state, probe, enrolled, None, FieldNames::LEGACY).await
    }
    .await;
    match result {
        Ok(score) => text(score.get().to_string()),
        Err(e) => failed(&state, caller, &e),
    }
}

pub(super) async fn error_message(State(state): State<AppState>, caller: Caller) -> Response {
    text(state.0.legacy.last(&caller))
}

pub(super) async fn enabled(State(state): State<AppState>) -> Response {
    let on = state.devices().fingerprint_enabled(None).unwrap_or(false);
    text(on.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn fields(content_type: Option<&str>, query: Option<&str>, body: &str) -> Result<(String, String), String> {
        let mut headers = HeaderMap::new();
        if let Some(ct) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        legacy_match_fields(&headers, query, &Bytes::from(body.to_owned()))
            .map(|r| (r.template, r.old_template))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn reads_the_fields_from_json_form_or_query() {
        let want = Ok(("a+b=".to_owned(), "c/d=".to_owned()));
        assert_eq!(fields(Some("application/json"), None, r#"{"Template":"a+b=","OldTemplate":"c/d="}"#), want);
        assert_eq!(fields(None, None, r#" {"Template":"a+b=","OldTemplate":"c/d="}"#), want);
        assert_eq!(
            fields(Some("application/x-www-form-urlencoded"), None, "Template=a%2Bb%3D&OldTemplate=c%2Fd%3D"),
            want
        );
        assert_eq!(fields(None, Some("Template=a%2Bb%3D&OldTemplate=c/d%3D"), ""), want);
    }

    #[test]
    fn says_which_field_is_missing() {
        let e = fields(Some("application/json"), None, r#"{"Template":"a"}"#).unwrap_err();
        assert!(e.contains("OldTemplate"), "{e}");
        let e = fields(Some("application/x-www-form-urlencoded"), None, "OldTemplate=a").unwrap_err();
        assert!(e.contains("Template"), "{e}");
    }

    #[test]
    fn keeps_each_callers_last_error_apart_and_bounded() {
        let errors = LastErrors::default();
        let (a, b) = (Caller("a".into()), Caller("b".into()));
        assert_eq!(errors.last(&a), "");
        errors.record(a.clone(), "first".into());
        errors.record(a.clone(), "second".into());
        assert_eq!(errors.last(&a), "second");
        assert_eq!(errors.last(&b), "");
        for n in 0..MAX_CALLERS + 10 {
            errors.record(Caller(format!("c{n}")), "x".into());
        }
        assert_eq!(errors.inner.lock().unwrap().by_caller.len(), MAX_CALLERS);
        assert_eq!(errors.last(&a), "", "the oldest callers are forgotten first");
    }
}
