//! [`AppError`]: every way an agent request can fail, with its wire kind,
//! HTTP status and whether a retry can help.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use examgate_device_sdk::{DeviceError, ErrorKind, Retry};
use examgate_protocol::{ApiError, ApiErrorKind, ErrorBody};

/// Why a request failed. The message (its `Display`) is for a person and is
/// also what the legacy `ErrorMessage` returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Device(#[from] DeviceError),
    #[error("no device {0:?}; GET /v1/devices lists the devices of this agent")]
    UnknownDevice(String),
    #[error("no such endpoint; GET /v1/openapi.json lists the API")]
    UnknownRoute,
    #[error("no {0} is configured; start the agent with --device SELECTOR (for example --device sim:fingerprint)")]
    NoDevice(&'static str),
    #[error("device {device} is not a {class}")]
    WrongClass { device: String, class: &'static str },
    #[error("device {device} did not answer within {} s; it is being reset, try again", waited.as_secs_f32().ceil())]
    NoAnswer { device: String, waited: Duration },
    #[error("device {0} is not simulated; only simulated devices take sim commands")]
    NotSimulated(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnknownFormat(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// The snapshot store's alarm: snapshots are no longer being kept.
    #[error("{0}")]
    StoreFull(String),
    #[error("internal error: {0}")]
    Internal(String),
}

fn device_kind(kind: ErrorKind) -> ApiErrorKind {
    match kind {
        ErrorKind::NotConnected => ApiErrorKind::NotConnected,
        ErrorKind::Busy => ApiErrorKind::Busy,
        ErrorKind::Timeout => ApiErrorKind::Timeout,
        ErrorKind::NoFinger => ApiErrorKind::NoFinger,
        ErrorKind::PoorQuality => ApiErrorKind::PoorQuality,
        ErrorKind::NoCard => ApiErrorKind::NoCard,
        ErrorKind::CardRemoved => ApiErrorKind::CardRemoved,
        ErrorKind::Protocol => ApiErrorKind::Protocol,
        ErrorKind::Driver => ApiErrorKind::Driver,
        ErrorKind::InvalidArgument => ApiErrorKind::InvalidArgument,
        ErrorKind::Unsupported => ApiErrorKind::Unsupported,
        ErrorKind::FormatMismatch => ApiErrorKind::FormatMismatch,
        ErrorKind::Panic => ApiErrorKind::Panic,
    }
}

impl AppError {
    pub fn kind(&self) -> ApiErrorKind {
        match self {
            AppError::Device(e) => device_kind(e.kind()),
            AppError::UnknownDevice(_) | AppError::NoDevice(_) | AppError::UnknownRoute => ApiErrorKind::NotFound,
            AppError::WrongClass { .. } | AppError::NotSimulated(_) => ApiErrorKind::Unsupported,
            AppError::NoAnswer { .. } => ApiErrorKind::Timeout,
            AppError::BadRequest(_) => ApiErrorKind::BadRequest,
            AppError::UnknownFormat(_) => ApiErrorKind::UnknownFormat,
            AppError::Unauthorized(_) => ApiErrorKind::Unauthorized,
            AppError::Forbidden(_) => ApiErrorKind::Forbidden,
            AppError::StoreFull(_) => ApiErrorKind::StoreFull,
            AppError::Internal(_) => ApiErrorKind::Internal,
        }
    }

    /// Whether the same request can succeed later.
    pub fn retry(&self) -> bool {
        match self {
            AppError::Device(e) => e.retry() == Retry::CanHelp,
            AppError::NoAnswer { .. } | AppError::StoreFull(_) => true,
            _ => false,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self.kind() {
            ApiErrorKind::NotConnected => StatusCode::SERVICE_UNAVAILABLE,
            ApiErrorKind::Busy => StatusCode::CONFLICT,
            ApiErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ApiErrorKind::NoFinger
            | ApiErrorKind::PoorQuality
            | ApiErrorKind::NoCard
            | ApiErrorKind::CardRemoved
            | ApiErrorKind::FormatMismatch
            | ApiErrorKind::UnknownFormat => StatusCode::UNPROCESSABLE_ENTITY,
            ApiErrorKind::Protocol | ApiErrorKind::Driver | ApiErrorKind::Panic => StatusCode::BAD_GATEWAY,
            ApiErrorKind::InvalidArgument | ApiErrorKind::BadRequest | ApiErrorKind::Unsupported => {
                StatusCode::BAD_REQUEST
            }
            ApiErrorKind::NotFound => StatusCode::NOT_FOUND,
            ApiErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ApiErrorKind::StoreFull => StatusCode::INSUFFICIENT_STORAGE,
            ApiErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body of this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody { error: ApiError { kind: self.kind(), message: self.to_string(), retry: self.retry() } }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(kind = ?self.kind(), "{self}");
        } else {
            tracing::debug!(kind = ?self.kind(), "{self}");
        }
        let mut response = (status, axum::Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_errors_map_to_status_codes_by_kind() {
        let cases = [
            (DeviceError::Busy("x".into()), StatusCode::CONFLICT, "busy", true),
            (DeviceError::NotConnected("x".into()), StatusCode::SERVICE_UNAVAILABLE, "not_connected", true),
            (DeviceError::NoFinger, StatusCode::UNPROCESSABLE_ENTITY, "no_finger", true),
            (DeviceError::PoorQuality("x".into()), StatusCode::UNPROCESSABLE_ENTITY, "poor_quality", true),
            (DeviceError::Timeout("x".into()), StatusCode::GATEWAY_TIMEOUT, "timeout", true),
            (DeviceError::FormatMismatch("x".into()), StatusCode::UNPROCESSABLE_ENTITY, "format_mismatch", false),
            (DeviceError::InvalidArgument("x".into()), StatusCode::BAD_REQUEST, "invalid_argument", false),
            (DeviceError::Panic("x".into()), StatusCode::BAD_GATEWAY, "panic", true),
            (DeviceError::Driver("x".into()), StatusCode::BAD_GATEWAY, "driver", false),
        ];
        for (device_error, status, kind, retry) in cases {
            let e = AppError::from(device_error);
            assert_eq!(e.status(), status, "{e}");
            let body = serde_json::to_value(e.body()).unwrap();
            assert_eq!(body["error"]["kind"], kind);
            assert_eq!(body["error"]["retry"], retry);
            assert_eq!(body["error"]["message"], e.to_string());
        }
    }

    #[test]
    fn agent_errors_have_their_own_kinds() {
        assert_eq!(AppError::UnknownDevice("x".into()).status(), StatusCode::NOT_FOUND);
        assert_eq!(AppError::NoDevice("fingerprint reader").kind(), ApiErrorKind::NotFound);
        assert_eq!(AppError::Forbidden("x".into()).status(), StatusCode::FORBIDDEN);
        assert_eq!(AppError::Unauthorized("x".into()).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(AppError::UnknownFormat("x".into()).status(), StatusCode::UNPROCESSABLE_ENTITY);
        let slow = AppError::NoAnswer { device: "fp".into(), waited: Duration::from_millis(17_500) };
        assert_eq!((slow.status(), slow.retry()), (StatusCode::GATEWAY_TIMEOUT, true));
        assert!(slow.to_string().contains("18 s"), "{slow}");
        let full = AppError::StoreFull("snapshot store full".into());
        assert_eq!((full.status(), full.retry()), (StatusCode::INSUFFICIENT_STORAGE, true));
    }

    #[test]
    fn unauthorized_says_how_to_authenticate() {
        let r = AppError::Unauthorized("token".into()).into_response();
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
