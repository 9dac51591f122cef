//! Who may call the agent. A browser names the page's origin in `Origin`;
//! pages from origins not in the config get 403, and, when an API token is
//! configured, cross-origin pages must also send it. The agent's own origin
//! (the seat page it serves) is always allowed. The `Host` header is checked
//! too, so a DNS-rebinding page cannot pose as the agent's own origin.

use std::collections::HashSet;
use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::config::Origin;
use crate::error::AppError;

pub(super) struct Security {
    own: HashSet<Origin>,
    allowed: HashSet<Origin>,
    token: Option<String>,
    /// `Host` values accepted; `None` when the agent listens beyond loopback.
    hosts: Option<HashSet<String>>,
}

#[derive(Debug, PartialEq, Eq)]
enum Caller {
    /// No `Origin`: not a browser page (exam software, curl, the CLI).
    NoOrigin,
    /// The seat page this agent serves.
    Own,
    /// A page from an origin in `allowed_origins`.
    CrossOrigin(HeaderValue),
}

fn authority(host: &str, port: u16) -> String {
    if port == 80 { host.to_owned() } else { format!("{host}:{port}") }
}

impl Security {
    pub(super) fn new(listen: SocketAddr, allowed: &[Origin], token: Option<String>) -> Security {
        let port = listen.port();
        let mut names = vec!["127.0.0.1".to_owned(), "localhost".to_owned(), "[::1]".to_owned()];
        let ip = listen.ip();
        if !ip.is_loopback() && !ip.is_unspecified() {
            names.push(match ip {
                std::net::IpAddr::V4(v4) => v4.to_string(),
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            });
        }
        let own = names.iter().filter_map(|n| format!("http://{}", authority(n, port)).parse().ok()).collect();
        let hosts = ip.is_loopback().then(|| names.iter().map(|n| authority(n, port)).collect());
        Security { own, allowed: allowed.iter().cloned().collect(), token, hosts }
    }

    fn check_host(&self, headers: &HeaderMap) -> Result<(), AppError> {
        let (Some(hosts), Some(host)) = (&self.hosts, headers.get(header::HOST)) else { return Ok(()) };
        let host = host.to_str().unwrap_or("").to_ascii_lowercase();
        if hosts.contains(&host) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "host {host:?} is not this agent; call it as http://127.0.0.1 or http://localhost on its port"
            )))
        }
    }

    fn classify(&self, headers: &HeaderMap) -> Result<Caller, AppError> {
        let Some(value) = headers.get(header::ORIGIN) else { return Ok(Caller::NoOrigin) };
        let text = value.to_str().unwrap_or("");
        let forbidden = || {
            AppError::Forbidden(format!(
                "origin {text:?} may not use this agent; the exam centre adds trusted pages to allowed_origins in the agent's config"
            ))
        };
        let origin: Origin = text.parse().map_err(|_| forbidden())?;
        if self.own.contains(&origin) {
            Ok(Caller::Own)
        } else if self.allowed.contains(&origin) {
            Ok(Caller::CrossOrigin(value.clone()))
        } else {
            Err(forbidden())
        }
    }

    fn check_token(&self, headers: &HeaderMap, uri_query: Option<&str>, path: &str) -> Result<(), AppError> {
        let Some(token) = &self.token else { return Ok(()) };
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        // A browser cannot set headers on a WebSocket, so the event stream
        // also takes the token as `?token=`.
        let from_query = (path == "/v1/events")
            .then(|| uri_query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token="))))
            .flatten();
        match bearer.or(from_query) {
            Some(sent) if constant_time_eq(sent.as_bytes(), token.as_bytes()) => Ok(()),
            Some(_) => Err(AppError::Unauthorized("the API token is wrong".into())),
            None => Err(AppError::Unauthorized(
                "this agent needs an API token from cross-origin pages: send Authorization: Bearer TOKEN".into(),
            )),
        }
    }
}

pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn allow_origin(response: &mut Response, origin: &HeaderValue) {
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    h.append(header::VARY, HeaderValue::from_static("origin"));
}

fn preflight(request: &Request, origin: Option<&HeaderValue>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(origin) = origin {
        allow_origin(&mut response, origin);
    }
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, x-examgate-caller"),
    );
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    // Chrome's Private Network Access: a public page calling loopback asks first.
    if request.headers().get("access-control-request-private-network").is_some_and(|v| v == "true") {
        h.insert("access-control-allow-private-network", HeaderValue::from_static("true"));
    }
    response
}

/// The middleware in front of every route.
pub(super) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let security = &state.0.security;
    if let Err(e) = security.check_host(request.headers()) {
        return e.into_response();
    }
    let caller = match security.classify(request.headers()) {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    let is_preflight =
        request.method() == Method::OPTIONS && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    match caller {
        Caller::NoOrigin => next.run(request).await,
        Caller::Own if is_preflight => preflight(&request, None),
        Caller::Own => next.run(request).await,
        Caller::CrossOrigin(origin) if is_preflight => preflight(&request, Some(&origin)),
        Caller::CrossOrigin(origin) => {
            let checked = security.check_token(request.headers(), request.uri().query(), request.uri().path());
            let mut response = match checked {
                Ok(()) => next.run(request).await,
                Err(e) => e.into_response(),
            };
            // Also on errors, so the page can read why.
            allow_origin(&mut response, &origin);
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn security(token: Option<&str>) -> Security {
        let allowed = ["https://exam.example.cn".parse().unwrap()];
        Security::new("127.0.0.1:17480".parse().unwrap(), &allowed, token.map(str::to_owned))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn sorts_callers_by_origin() {
        let s = security(None);
        assert_eq!(s.classify(&headers(&[])).unwrap(), Caller::NoOrigin);
        for own in ["http://127.0.0.1:17480", "http://localhost:17480", "http://[::1]:17480"] {
            assert_eq!(s.classify(&headers(&[("origin", own)])).unwrap(), Caller::Own, "{own}");
        }
        assert!(matches!(s.classify(&headers(&[("origin", "https://exam.example.cn")])), Ok(Caller::CrossOrigin(_))));
        for evil in ["https://evil.example", "http://127.0.0.1:8080", "null", "https://exam.example.cn.evil.example"] {
            let e = s.classify(&headers(&[("origin", evil)])).unwrap_err();
            assert_eq!(e.status(), StatusCode::FORBIDDEN, "{evil}");
        }
    }

    #[test]
    fn refuses_hosts_other_than_loopback_names() {
        let s = security(None);
        assert!(s.check_host(&headers(&[])).is_ok());
        assert!(s.check_host(&headers(&[("host", "127.0.0.1:17480")])).is_ok());
        assert!(s.check_host(&headers(&[("host", "LOCALHOST:17480")])).is_ok());
        assert!(s.check_host(&headers(&[("host", "rebind.evil.example:17480")])).is_err());
        let open = Security::new("0.0.0.0:17480".parse().unwrap(), &[], None);
        assert!(open.check_host(&headers(&[("host", "seat-12.exam.lan:17480")])).is_ok());
    }

    #[test]
    fn checks_the_token_of_cross_origin_callers() {
        let s = security(Some("s3cret"));
        assert!(s.check_token(&headers(&[("authorization", "Bearer s3cret")]), None, "/v1/devices").is_ok());
        assert!(s.check_token(&headers(&[("authorization", "Bearer wrong")]), None, "/v1/devices").is_err());
        assert!(s.check_token(&headers(&[]), None, "/v1/devices").is_err());
        assert!(s.check_token(&headers(&[]), Some("token=s3cret"), "/v1/events").is_ok());
        assert!(s.check_token(&headers(&[]), Some("token=s3cret"), "/v1/devices").is_err());
        assert!(security(None).check_token(&headers(&[]), None, "/v1/devices").is_ok());
    }

    #[test]
    fn compares_tokens_without_early_exit() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
