//! The console's roster endpoints: import a day's bookings, list them, show a
//! candidate's photo. All need an open console (examiner and invigilator).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use examgate_protocol::link::ServerError;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::console::{OpenSession, actor};
use crate::error::AppError;
use crate::now_ms;
use crate::roster::{self, ImportError, MapFiles, RosterFormat, RosterSource, RowError};
use crate::seal::aad;
use crate::store::{CandidateRow, candidate_state_str};

/// Largest roster import body (the roster with its photos, base64).
pub const IMPORT_BODY_LIMIT: usize = 64 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// `csv` or `json`.
    pub format: String,
    /// The file's name, kept with the import (`roster.csv`).
    pub name: String,
    /// The roster file's text.
    pub roster: String,
    /// The photo and template files the roster names, by the path it gives, base64.
    #[serde(default)]
    pub files: HashMap<String, String>,
}

#[derive(Serialize)]
pub struct ImportResponse {
    pub import_id: String,
    pub rows: u64,
    pub replaced: u64,
}

/// 422: the error and every bad row.
#[derive(Serialize)]
pub struct InvalidRoster {
    pub error: ServerError,
    pub rows: Vec<RowError>,
}

pub async fn import(
    State(state): State<AppState>,
    OpenSession(session): OpenSession,
    Json(req): Json<ImportRequest>,
) -> Result<Response, AppError> {
    let format: RosterFormat = req.format.parse().map_err(AppError::bad_request)?;
    let name = req.name.trim();
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(AppError::bad_request("name: the roster file's name, 1 to 255 characters"));
    }
    let mut files = HashMap::with_capacity(req.files.len());
    for (path, data) in req.files {
        let bytes = STANDARD
            .decode(data.as_bytes())
            .map_err(|e| AppError::bad_request(format!("files[{path:?}] is not base64: {e}")))?;
        files.insert(path, bytes);
    }
    let source = RosterSource {
        format,
        name: name.to_owned(),
        bytes: req.roster.into_bytes(),
        files: Box::new(MapFiles(files)),
    };
    match roster::import(state.store.as_ref(), &state.sealer, &state.config, source, &actor(&session), now_ms()).await {
        Ok(s) => {
            Ok(Json(ImportResponse { import_id: s.import_id, rows: s.rows, replaced: s.replaced }).into_response())
        }
        Err(ImportError::Invalid(rows)) => {
            let error = ServerError { kind: "invalid_roster".into(), message: roster::errors_summary(&rows) };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(InvalidRoster { error, rows })).into_response())
        }
        Err(ImportError::Store(e)) => Err(e.into()),
        Err(e @ ImportError::Seal(_)) => {
            tracing::error!(error = %e, "cannot seal the roster");
            Err(AppError::internal(format!("{e}")))
        }
        Err(e @ ImportError::Internal(_)) => Err(AppError::internal(e.to_string())),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterQuery {
    /// `YYYY-MM-DD`; default: today in the exam centre.
    pub date: Option<String>,
}

#[derive(Serialize)]
pub struct RosterView {
    pub date: String,
    pub candidates: Vec<CandidateView>,
}

#[derive(Serialize)]
pub struct CandidateView {
    pub booking_number: String,
    pub id_number: String,
    pub name: String,
    pub session: String,
    pub language: String,
    pub state: &'static str,
    pub mode: Option<String>,
    pub seat: Option<String>,
    pub failures: u32,
    pub has_photo: bool,
    /// How many enrolled templates the booking has.
    pub templates: u32,
}

impl From<CandidateRow> for CandidateView {
    fn from(c: CandidateRow) -> CandidateView {
        CandidateView {
            booking_number: c.booking_number,
            id_number: c.id_number,
            name: c.name,
            session: c.session,
            language: c.language,
            state: candidate_state_str(c.state),
            mode: c.mode,
            seat: c.seat_no,
            failures: c.failures,
            has_photo: c.has_photo,
            templates: c.template_count,
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    _: OpenSession,
    Query(q): Query<RosterQuery>,
) -> Result<Json<RosterView>, AppError> {
    let date = match q.date {
        Some(d) => d.parse::<roster::ExamDate>().map_err(|e| AppError::bad_request(format!("date: {e}")))?.to_string(),
        None => state.clock.today(&state.config),
    };
    let candidates = state.store.candidates(Some(&date)).await?.into_iter().map(CandidateView::from).collect();
    Ok(Json(RosterView { date, candidates }))
}

pub async fn photo(
    State(state): State<AppState>,
    _: OpenSession,
    Path(booking): Path<String>,
) -> Result<Response, AppError> {
    let candidate = state.store.candidate(&booking).await?.ok_or_else(|| AppError::not_found("no such booking"))?;
    let sealed = candidate.photo.ok_or_else(|| {
        AppError::new(StatusCode::NOT_FOUND, "purged", "the photo was purged after the exam, as the schedule says")
    })?;
    let sealer = state.sealer.clone();
    let opened = tokio::task::spawn_blocking(move || sealer.open(&aad::photo(&booking), &sealed))
        .await
        .map_err(|e| AppError::internal(e.to_string()))?;
    let bytes = opened.map_err(|e| {
        tracing::error!(error = %e, "a stored photo does not open");
        AppError::internal(format!("the stored photo does not open: {e}"))
    })?;
    let headers = [(header::CONTENT_TYPE, roster::photo_content_type(&bytes)), (header::CACHE_CONTROL, "no-store")];
    Ok((headers, bytes).into_response())
}
