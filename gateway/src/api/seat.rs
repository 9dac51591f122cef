//! The seat page, served by the agent itself so the kiosk browser talks to
//! loopback from a loopback page. Plain files from `web/seat/`, no build step:
//! the page, its ES modules under `/lib/` and one message file per exam
//! language under `/i18n/`. Only the files in [`FILES`] are served; a test
//! checks that it lists every file in `web/seat/`.

use axum::http::{HeaderName, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

macro_rules! web_seat {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../web/seat", $path)))),*]
    };
}

/// Every file of the page by its URL path, which is its path under `web/seat/`.
const FILES: &[(&str, &str)] = web_seat![
    "/index.html",
    "/seat.js",
    "/seat.css",
    "/lib/agent.js",
    "/lib/camera.js",
    "/lib/exam.js",
    "/lib/examscreen.js",
    "/lib/i18n.js",
    "/lib/identity.js",
    "/lib/keys.js",
    "/lib/server.js",
    "/i18n/languages.json",
    "/i18n/zh-CN.json",
    "/i18n/en.json",
    "/i18n/fr.json",
    "/i18n/de.json",
    "/i18n/ru.json",
    "/i18n/es.json",
    "/i18n/ar.json",
    "/i18n/ja.json",
    "/i18n/ko.json",
    "/i18n/mn-Mong.json",
    "/i18n/ug.json",
    "/i18n/kk-Arab.json",
];

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// `GET /`, `/seat.js`, `/seat.css`, `/lib/{module}` and `/i18n/{messages}`.
pub(super) async fn file(uri: Uri) -> Response {
    let path = if uri.path() == "/" { "/index.html" } else { uri.path() };
    let Some((_, body)) = FILES.iter().find(|(p, _)| *p == path) else { return AppError::UnknownRoute.into_response() };
    let headers: [(HeaderName, &str); 4] = [
        (header::CONTENT_TYPE, content_type(path)),
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // The page's buttons must not be clickable from inside another page.
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    (headers, *body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { walk(&path, out) } else { out.push(path) }
        }
    }

    #[test]
    fn every_file_of_the_seat_page_is_served() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/seat");
        let mut found = Vec::new();
        walk(&root, &mut found);
        let mut on_disk: Vec<String> = found
            .iter()
            .map(|p| format!("/{}", p.strip_prefix(&root).unwrap().to_str().unwrap().replace('\\', "/")))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = FILES.iter().map(|(p, _)| (*p).to_owned()).collect();
        listed.sort();
        assert_eq!(listed, on_disk, "gateway/src/api/seat.rs FILES must list exactly the files in web/seat/");
        for (path, _) in FILES {
            assert_ne!(content_type(path), "application/octet-stream", "{path}");
        }
    }
}
