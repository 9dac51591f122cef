//! The console's files (`web/console/`), built into the binary so that a
//! server is one file to install.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

const FILES: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("../../../web/console/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../../web/console/app.js")),
    ("style.css", "text/css; charset=utf-8", include_str!("../../../web/console/style.css")),
];

fn serve(name: &str) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => (
            [(header::CONTENT_TYPE, *mime), (header::CACHE_CONTROL, "no-cache")],
            [(header::HeaderName::from_static("content-security-policy"), "default-src 'self'; img-src 'self' data:")],
            *body,
        )
            .into_response(),
        None => AppError::not_found(format!("no console file {name:?}")).into_response(),
    }
}

pub async fn index() -> Response {
    serve("index.html")
}

pub async fn file(Path(name): Path<String>) -> Response {
    serve(&name)
}
