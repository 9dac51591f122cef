//! `POST /v1/camera/snapshot` and `GET /v1/camera/preview`.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use examgate_protocol::camera::{OnDemandReason, SnapshotRequest, SnapshotResponse};
use serde::Deserialize;

use super::{AppState, parse_json_or_default};
use crate::camera;
use crate::error::AppError;
use crate::snapshot::{Preview, SnapshotReason};

/// The header carrying what the tamper checks see in a preview frame.
const FLAGS_HEADER: HeaderName = HeaderName::from_static("x-examgate-flags");
/// Separates the frames of the MJPEG stream.
const BOUNDARY: &str = "examgate-frame";

pub(super) async fn snapshot(State(state): State<AppState>, body: Bytes) -> Result<Json<SnapshotResponse>, AppError> {
    let request: SnapshotRequest = parse_json_or_default(&body)?;
    let reason = match request.reason {
        OnDemandReason::IdentityVerification => SnapshotReason::IdentityVerification,
        OnDemandReason::ExaminerRequest => SnapshotReason::ExaminerRequest,
    };
    let record = camera::take(state.devices(), state.snapshots(), request.device.as_deref(), reason).await?;
    Ok(Json(SnapshotResponse {
        jpeg: record.image.as_ref().map(|i| STANDARD.encode(&i.jpeg)),
        record: camera::info(&record),
    }))
}

/// How the preview comes.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum PreviewFormat {
    /// One JPEG.
    #[default]
    Jpeg,
    /// A `multipart/x-mixed-replace` stream of JPEGs, for an `<img>`.
    Mjpeg,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PreviewQuery {
    device: Option<String>,
    #[serde(default)]
    format: PreviewFormat,
    /// Frames a second of the stream, 1..=5.
    fps: Option<u32>,
}

/// Frames a second of a preview stream unless asked otherwise.
const DEFAULT_FPS: u32 = 2;
const MAX_FPS: u32 = 5;

fn flags_value(preview: &Preview) -> HeaderValue {
    HeaderValue::from_str(&preview.flags.to_string()).unwrap_or(HeaderValue::from_static(""))
}

pub(super) async fn preview(
    State(state): State<AppState>,
    query: Result<Query<PreviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query.map_err(|e| AppError::BadRequest(format!("query: {e}")))?;
    let fps = query.fps.unwrap_or(DEFAULT_FPS);
    if !(1..=MAX_FPS).contains(&fps) {
        return Err(AppError::BadRequest(format!("fps = {fps} is outside 1..={MAX_FPS}")));
    }
    // The first frame is taken before answering, so a missing camera is an
    // error status rather than an empty stream.
    let first = camera::preview(state.devices(), state.snapshots(), query.device.as_deref()).await?;
    if query.format == PreviewFormat::Jpeg {
        let headers = [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (FLAGS_HEADER, flags_value(&first)),
        ];
        return Ok((headers, first.jpeg.bytes).into_response());
    }
    let period = Duration::from_millis(1000 / u64::from(fps));
    let stream = futures_util::stream::unfold(
        (Some(first), state.clone(), query.device, state.stopping(), tokio::time::Instant::now()),
        move |(ready, state, device, mut stop, next)| async move {
            let preview = match ready {
                Some(preview) => preview,
                None => {
                    tokio::select! {
                        () = tokio::time::sleep_until(next) => {}
                        _ = async { stop.wait_for(|s| *s).await.is_ok() } => return None,
                    }
                    match camera::preview(state.devices(), state.snapshots(), device.as_deref()).await {
                        Ok(preview) => preview,
                        Err(e) => {
                            tracing::info!("preview stream ends: {e}");
                            return None;
                        }
                    }
                }
            };
            let part = multipart_part(&preview);
            Some((Ok::<Bytes, Infallible>(part), (None, state, device, stop, next + period)))
        },
    );
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_str(&format!("multipart/x-mixed-replace; boundary={BOUNDARY}")).expect("ASCII"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    Ok((headers, Body::from_stream(stream)).into_response())
}

/// One frame of the MJPEG stream.
fn multipart_part(preview: &Preview) -> Bytes {
    let jpeg = &preview.jpeg.bytes;
    let mut part = format!(
        "--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Examgate-Flags: {}\r\n\r\n",
        jpeg.len(),
        preview.flags
    )
    .into_bytes();
    part.extend_from_slice(jpeg);
    part.extend_from_slice(b"\r\n");
    Bytes::from(part)
}
