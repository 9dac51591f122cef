//! `GET /v1/openapi.json`: the hand-written OpenAPI 3.1 document, kept next
//! to the code; a test checks it lists exactly the router's routes.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The OpenAPI document of the agent's API.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

pub(super) async fn document() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}
