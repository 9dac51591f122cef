//! The seat page, served by the agent itself so the kiosk browser talks to
//! loopback from a loopback page. Plain files from `web/seat/`, no build step.

use axum::http::{HeaderName, header};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("../../../web/seat/index.html");
const SCRIPT: &str = include_str!("../../../web/seat/seat.js");
const STYLE: &str = include_str!("../../../web/seat/seat.css");

fn file(content_type: &'static str, body: &'static str) -> Response {
    let headers: [(HeaderName, &str); 4] = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // The capture button must not be clickable from inside another page.
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    (headers, body).into_response()
}

pub(super) async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX)
}

pub(super) async fn script() -> Response {
    file("text/javascript; charset=utf-8", SCRIPT)
}

pub(super) async fn style() -> Response {
    file("text/css; charset=utf-8", STYLE)
}
