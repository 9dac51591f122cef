//! `/v1/fingerprint/*` and `/v1/sim/{device}/command`.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use examgate_device_sdk::{DeviceError, Score, Template};
use examgate_protocol::{
    EnabledResponse, MatchRequest, MatchResponse, SimCommandRequest, TemplateRequest, TemplateResponse,
};
use serde::Deserialize;

use super::{AppState, parse_json, parse_json_or_default};
use crate::error::AppError;
use crate::templates::{self, FieldNames};

/// Longest capture a caller may ask for.
const MAX_CAPTURE_TIMEOUT: Duration = Duration::from_secs(600);

pub(super) async fn template(State(state): State<AppState>, body: Bytes) -> Result<Json<TemplateResponse>, AppError> {
    let request: TemplateRequest = parse_json_or_default(&body)?;
    let timeout = match request.timeout_ms {
        None => state.0.capture_timeout,
        Some(ms) if ms > 0 && Duration::from_millis(ms) <= MAX_CAPTURE_TIMEOUT => Duration::from_millis(ms),
        Some(ms) => return Err(AppError::BadRequest(format!("timeout_ms = {ms} is outside 1..=600000"))),
    };
    let (device, template) = state.devices().capture(request.device.as_deref(), timeout).await?;
    // Login accepts only templates this agent's readers produced (POST /v1/login/verify).
    state.login().captured().remember(&template.data);
    Ok(Json(TemplateResponse {
        template: templates::encode(&template.data),
        format: template.format.to_string(),
        device,
        quality: template.quality,
    }))
}

/// Compare two templates: with the named device's matcher; else with the
/// one built into the agent for their formats (minutiae records, simulator
/// templates); else with the first fingerprint reader's (a reader's own
/// format). A pair no matcher here can compare is a `format_mismatch`.
pub(super) async fn compare(
    state: &AppState,
    probe: Template,
    enrolled: Template,
    device: Option<&str>,
    names: FieldNames<'_>,
) -> Result<Score, AppError> {
    templates::comparable(&probe, &enrolled, names)?;
    let (probe_tag, enrolled_tag) = (probe.log_tag(), enrolled.log_tag());
    let score = match device {
        Some(device) => state.devices().match_on(Some(device), probe, enrolled).await?,
        None => match templates::builtin_match(&probe, &enrolled, names) {
            Some(result) => result?,
            None if !state.devices().has_fingerprint_reader() => {
                return Err(AppError::Device(DeviceError::FormatMismatch(format!(
                    "{} templates are a reader's own format and no fingerprint reader is configured to compare them",
                    probe.format
                ))));
            }
            None => state.devices().match_on(None, probe, enrolled).await?,
        },
    };
    tracing::info!(probe = %probe_tag, enrolled = %enrolled_tag, score = score.get(), "matched");
    Ok(score)
}

pub(super) async fn match_templates(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<MatchResponse>, AppError> {
    let request: MatchRequest = parse_json(&body)?;
    let probe = templates::parse(&request.template, "template")?;
    let enrolled = templates::parse(&request.enrolled, "enrolled")?;
    let score = compare(&state, probe, enrolled, request.device.as_deref(), FieldNames::REST).await?;
    Ok(Json(MatchResponse { score: score.get(), is_match: score.is_match() }))
}

#[derive(Deserialize)]
pub(super) struct DeviceQuery {
    device: Option<String>,
}

pub(super) async fn enabled(
    State(state): State<AppState>,
    Query(query): Query<DeviceQuery>,
) -> Result<Json<EnabledResponse>, AppError> {
    Ok(Json(EnabledResponse { enabled: state.devices().fingerprint_enabled(query.device.as_deref())? }))
}

pub(super) async fn sim_command(
    State(state): State<AppState>,
    Path(device): Path<String>,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    let request: SimCommandRequest = parse_json(&body)?;
    state.devices().sim_command(&device, &request.command).await?;
    Ok(StatusCode::NO_CONTENT)
}
