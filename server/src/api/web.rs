//! The console's files (`web/console/`), built into the binary so that a
//! server is one file to install. A file's URL is `/console/` + its path
//! under `web/console/` (`/console/lib/i18n.js`, `/console/i18n/zh-CN.json`).

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

macro_rules! console_files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../web/console/", $path)))),*]
    };
}

/// Every file of `web/console/`, by its path there (a test checks none is missing).
const FILES: &[(&str, &str)] = console_files![
    "index.html",
    "app.js",
    "style.css",
    "i18n/en.json",
    "i18n/zh-CN.json",
    "lib/actions.js",
    "lib/alerts.js",
    "lib/api.js",
    "lib/card.js",
    "lib/dom.js",
    "lib/evidence.js",
    "lib/exam.js",
    "lib/i18n.js",
    "lib/live.js",
    "lib/roster.js",
    "lib/seats.js",
    "lib/session.js",
    "lib/words.js",
];

/// The content type of a console file, by its extension.
fn content_type(path: &str) -> Option<&'static str> {
    match path.rsplit_once('.')?.1 {
        "html" => Some("text/html; charset=utf-8"),
        "js" => Some("text/javascript; charset=utf-8"),
        "css" => Some("text/css; charset=utf-8"),
        "json" => Some("application/json"),
        _ => None,
    }
}

fn serve(path: &str) -> Response {
    let found = FILES.iter().find(|(p, _)| *p == path).and_then(|(p, body)| Some((content_type(p)?, *body)));
    match found {
        Some((mime, body)) => (
            [(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "no-cache")],
            [(header::HeaderName::from_static("content-security-policy"), "default-src 'self'; img-src 'self' data:")],
            body,
        )
            .into_response(),
        None => AppError::not_found(format!("no console file {path:?}")).into_response(),
    }
}

pub async fn index() -> Response {
    serve("index.html")
}

/// `/console/{*path}`: only the files listed above, so no path reaches the file system.
pub async fn file(Path(path): Path<String>) -> Response {
    serve(&path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;
    use axum::http::StatusCode;
    use std::path::{Path as FsPath, PathBuf};

    fn files_on_disk(dir: &FsPath, base: &FsPath, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("web/console is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                files_on_disk(&path, base, out);
            } else {
                out.push(path.strip_prefix(base).expect("under web/console").to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_file_of_web_console_is_built_in_with_a_content_type() {
        let base: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "web", "console"].iter().collect();
        let mut on_disk = Vec::new();
        files_on_disk(&base, &base, &mut on_disk);
        on_disk.sort();
        let mut built_in: Vec<String> = FILES.iter().map(|(p, _)| (*p).to_owned()).collect();
        built_in.sort();
        assert_eq!(built_in, on_disk, "list every file of web/console in FILES");
        for (path, _) in FILES {
            assert!(content_type(path).is_some(), "{path} has no content type");
        }
    }

    async fn get(path: &str) -> (StatusCode, String, String) {
        let resp = file(Path(path.to_owned())).await;
        let status = resp.status();
        let mime =
            resp.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("").to_owned()).unwrap_or_default();
        let body = to_bytes(resp.into_body(), 1 << 20).await.expect("a body");
        (status, mime, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn files_in_subdirectories_are_served_with_their_content_type() {
        let (status, mime, body) = get("lib/i18n.js").await;
        assert_eq!((status, mime.as_str()), (StatusCode::OK, "text/javascript; charset=utf-8"));
        assert!(body.contains("export function t("));
        let (status, mime, body) = get("i18n/zh-CN.json").await;
        assert_eq!((status, mime.as_str()), (StatusCode::OK, "application/json"));
        assert!(body.contains("\"lang\": \"zh-CN\""));
    }

    #[tokio::test]
    async fn paths_outside_the_list_are_not_found() {
        for path in ["../Cargo.toml", "lib/../app.js", "lib", "i18n/", "/etc/passwd", "nothing.js"] {
            assert_eq!(get(path).await.0, StatusCode::NOT_FOUND, "{path}");
        }
    }
}
