//! [`AppError`]: every way a request to the server can fail, with its HTTP
//! status, a machine-readable kind and a message for a person.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use examgate_protocol::link::{ServerError, ServerErrorBody};

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    pub status: StatusCode,
    /// `unsigned`, `bad_signature`, `stale`, `replayed`, `unknown_key`,
    /// `not_bound`, `replaced`, `binding_mismatch`, `wrong_seat`,
    /// `too_large`, `bad_request`, `conflict`, `not_found`, `unauthorized`,
    /// `console_closed`, `forbidden`, `internal`.
    pub kind: &'static str,
    pub message: String,
}

impl AppError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> AppError {
        AppError { status, kind, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn not_found(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn conflict(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::CONFLICT, "conflict", message)
    }
    pub fn unauthorized(kind: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, kind, message)
    }
    pub fn forbidden(kind: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::FORBIDDEN, kind, message)
    }
    pub fn too_large(limit: usize) -> AppError {
        AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("the body is larger than {limit} bytes"))
    }
    pub fn internal(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status.as_u16(), self.kind, self.message)
    }
}

impl std::error::Error for AppError {}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        match e {
            StoreError::NotFound(m) => AppError::not_found(m),
            StoreError::Conflict(m) => AppError::conflict(m),
            StoreError::Invalid(m) => AppError::bad_request(m),
            other => {
                tracing::error!(error = %other, "storage failed");
                AppError::new(StatusCode::SERVICE_UNAVAILABLE, "storage", format!("{other}; try again"))
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ServerErrorBody { error: ServerError { kind: self.kind.to_owned(), message: self.message } };
        (self.status, axum::Json(body)).into_response()
    }
}
