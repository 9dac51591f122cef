use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use examgate_sim::SimFingerprintFactory;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::devices::{Driver, ManagerOptions};
use crate::selector::DeviceSelector;

struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
    fn error_kind(&self) -> String {
        self.json()["error"]["kind"].as_str().unwrap().to_owned()
    }
}

fn sim_state(options: &str, settings: Settings) -> AppState {
    let selector: DeviceSelector = format!("sim:fingerprint?{options}").parse().unwrap();
    let DeviceSelector::SimFingerprint { config, .. } = &selector else { unreachable!() };
    let driver = Driver::simulated(selector.clone(), Arc::new(SimFingerprintFactory::new(config.clone())));
    let options = ManagerOptions { poll_interval: Duration::from_millis(20), ..ManagerOptions::default() };
    AppState::new(DeviceManager::start(vec![driver], options), settings)
}

fn sim_app() -> Router {
    app(sim_state("", Settings::default()))
}

async fn send(app: &Router, request: Request<Body>) -> Response {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    Response { status, headers, body }
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post_json(uri: &str, body: Value) -> Request<Body> {
    Request::post(uri).header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())).unwrap()
}

async fn capture(app: &Router) -> String {
    let r = send(app, post_json("/v1/fingerprint/template", json!({}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["template"].as_str().unwrap().to_owned()
}

async fn sim(app: &Router, command: &str) {
    let r = send(app, post_json("/v1/sim/sim-fp-0/command", json!({ "command": command }))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
}

async fn score(app: &Router, template: &str, enrolled: &str) -> (u64, bool) {
    let r = send(app, post_json("/v1/fingerprint/match", json!({"template": template, "enrolled": enrolled}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    (v["score"].as_u64().unwrap(), v["match"].as_bool().unwrap())
}

#[tokio::test]
async fn health_reports_the_api_version_and_devices() {
    let r = send(&sim_app(), get("/v1/health")).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["api_version"], 1);
    assert_eq!(v["status"], "ok");
    assert_eq!((v["devices"].as_u64(), v["devices_ready"].as_u64()), (Some(1), Some(1)));
}

#[tokio::test]
async fn lists_devices_with_selector_driver_and_state() {
    let r = send(&sim_app(), get("/v1/devices")).await;
    assert_eq!(
        r.json(),
        json!({"devices": [{
            "selector": "sim:fingerprint",
            "id": "sim-fp-0",
            "name": "examgate simulated fingerprint reader sim-fp-0",
            "driver": "sim-fingerprint",
            "classes": ["fingerprint"],
            "state": "ready",
        }], "selectors": [{
            "selector": "sim:fingerprint",
            "state": "ready",
            "failures": 0,
            "devices": ["sim-fp-0"],
        }]})
    );
}

#[tokio::test]
async fn a_plugin_that_cannot_be_loaded_is_listed_failed_and_the_seat_serves_degraded() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("plugin:{}?isolation=in-process", dir.path().join("libvendor.so").display());
    let plugin = crate::drivers::open(&missing.parse().unwrap(), &Default::default()).unwrap();
    let reader = crate::drivers::open(&"sim:fingerprint".parse().unwrap(), &Default::default()).unwrap();
    let state =
        AppState::new(DeviceManager::start(vec![plugin, reader], ManagerOptions::default()), Settings::default());
    let app = app(state);

    let health = send(&app, get("/v1/health")).await;
    assert_eq!(health.status, StatusCode::OK);
    let health = health.json();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!((health["devices"].as_u64(), health["devices_ready"].as_u64()), (Some(1), Some(1)));
    assert_eq!(health["missing"].as_array().unwrap().len(), 1, "{health}");
    assert_eq!(health["missing"][0]["selector"], missing.as_str());
    assert_eq!(health["missing"][0]["state"], "failed");
    assert!(health["missing"][0]["reason"].as_str().unwrap().starts_with("plugin libvendor.so: cannot load: "));

    let list = send(&app, get("/v1/devices")).await.json();
    assert_eq!(list["devices"].as_array().unwrap().len(), 1, "{list}");
    let failed = &list["selectors"][0];
    assert_eq!((failed["selector"].as_str(), failed["state"].as_str()), (Some(missing.as_str()), Some("failed")));
    assert!(failed["reason"].as_str().unwrap().contains("No such file"), "{failed}");
    assert_eq!((failed["failures"].as_u64(), failed["devices"].clone()), (Some(1), json!([])));
    let next: examgate_protocol::Timestamp = serde_json::from_value(failed["next_retry"].clone()).unwrap();
    assert!(next > examgate_protocol::Timestamp::from_unix_millis(0));
    assert_eq!(list["selectors"][1]["state"], "ready");

    // The simulated reader beside it works.
    let r = send(&app, post_json("/v1/fingerprint/template", json!({"timeout_ms": 1000}))).await;
    assert_eq!((r.status, r.json()["device"].as_str()), (StatusCode::OK, Some("sim-fp-0")));
}

#[tokio::test]
async fn the_same_finger_matches_and_another_does_not() {
    let app = sim_app();
    let enrolled = capture(&app).await;
    let r = send(&app, post_json("/v1/fingerprint/template", json!({"device": "sim-fp-0", "timeout_ms": 1000}))).await;
    assert_eq!(r.json()["format"], "vendor:examgate-sim");
    assert_eq!(r.json()["device"], "sim-fp-0");
    let same = r.json()["template"].as_str().unwrap().to_owned();
    let (s, m) = score(&app, &same, &enrolled).await;
    assert!(s > 800 && m, "same finger scored {s}");
    sim(&app, "finger 2").await;
    let other = capture(&app).await;
    let (s, m) = score(&app, &other, &enrolled).await;
    assert!(s <= 800 && !m, "another finger scored {s}");
}

#[tokio::test]
async fn capture_without_a_finger_says_so() {
    let app = app(sim_state("finger=none", Settings::default()));
    let r = send(&app, post_json("/v1/fingerprint/template", json!({"timeout_ms": 50}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_kind(), "no_finger");
    assert_eq!(r.json()["error"]["retry"], true);
}

#[tokio::test]
async fn a_second_capture_gets_busy_instead_of_queueing() {
    let app = app(sim_state("finger=none", Settings::default()));
    let mut first = Box::pin(send(&app, post_json("/v1/fingerprint/template", json!({"timeout_ms": 30000}))));
    // One poll takes the first request through to the device thread.
    tokio::select! {
        biased;
        _ = &mut first => panic!("the first capture cannot finish without a finger"),
        _ = std::future::ready(()) => {}
    }
    let second = send(&app, post_json("/v1/fingerprint/template", json!({}))).await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.text());
    assert_eq!(second.error_kind(), "busy");
    let devices = send(&app, get("/v1/devices")).await;
    assert_eq!(devices.json()["devices"][0]["state"], "busy");
    sim(&app, "finger 4").await;
    assert_eq!(first.await.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let app = sim_app();
    let good = capture(&app).await;
    let cases = [
        ("/v1/fingerprint/template", json!({"devcie": "x"}), StatusCode::BAD_REQUEST, "bad_request"),
        ("/v1/fingerprint/template", json!({"device": "nope"}), StatusCode::NOT_FOUND, "not_found"),
        ("/v1/fingerprint/template", json!({"timeout_ms": 0}), StatusCode::BAD_REQUEST, "bad_request"),
        ("/v1/fingerprint/match", json!({"template": good}), StatusCode::BAD_REQUEST, "bad_request"),
        ("/v1/fingerprint/match", json!({"template": "***", "enrolled": good}), StatusCode::BAD_REQUEST, "bad_request"),
        (
            "/v1/fingerprint/match",
            json!({"template": "aGVsbG8gd29ybGQ=", "enrolled": good}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_format",
        ),
        ("/v1/sim/sim-fp-0/command", json!({"command": "explode"}), StatusCode::BAD_REQUEST, "bad_request"),
        ("/v1/sim/nope/command", json!({"command": "lift"}), StatusCode::NOT_FOUND, "not_found"),
    ];
    for (uri, body, status, kind) in cases {
        let r = send(&app, post_json(uri, body.clone())).await;
        assert_eq!((r.status, r.error_kind().as_str()), (status, kind), "{uri} {body}: {}", r.text());
    }
    let r = send(&app, Request::post("/v1/fingerprint/match").body(Body::from("{not json")).unwrap()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = send(&app, get("/v1/nothing/here")).await;
    assert_eq!((r.status, r.error_kind().as_str()), (StatusCode::NOT_FOUND, "not_found"));
}

fn minutiae_sample(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../drivers/minutiae/tests/data").join(name);
    crate::templates::encode(&std::fs::read(path).unwrap())
}

#[tokio::test]
async fn iso_and_ansi_templates_are_matched_by_the_agent_and_a_mix_it_cannot_compare_is_refused() {
    let app = sim_app();
    let iso1 = minutiae_sample("finger1_impression1.iso.fmr");
    let ansi1 = minutiae_sample("finger1_impression2.ansi.fmr");
    let iso2 = minutiae_sample("finger2_impression1.iso.fmr");
    let (s, m) = score(&app, &iso1, &ansi1).await;
    assert!(s > 800 && m, "ISO against ANSI of the same finger scored {s}");
    let (s, m) = score(&app, &iso2, &iso1).await;
    assert!(s <= 800 && !m, "another finger scored {s}");

    let sim = capture(&app).await;
    let r = send(&app, post_json("/v1/fingerprint/match", json!({"template": iso1, "enrolled": sim}))).await;
    assert_eq!((r.status, r.error_kind().as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "format_mismatch"));
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("cannot compare"), "{message}");

    let form = serde_urlencoded::to_string([("Template", &iso1), ("OldTemplate", &sim)]).unwrap();
    let r =
        send(&app, legacy_post("/legacy/MatchSampleTemplate", "f", "application/x-www-form-urlencoded", form)).await;
    assert_eq!(r.text(), "-1");
    let error = send(&app, legacy_get("/legacy/ErrorMessage", "f")).await;
    assert!(error.text().contains("Template is iso19794-2 but OldTemplate is vendor:examgate-sim"), "{}", error.text());
}

#[tokio::test]
async fn enabled_follows_the_reader() {
    let state = sim_state("", Settings::default());
    let app = app(state.clone());
    assert_eq!(send(&app, get("/v1/fingerprint/enabled")).await.json(), json!({"enabled": true}));
    assert_eq!(send(&app, get("/v1/fingerprint/enabled?device=sim-fp-0")).await.json(), json!({"enabled": true}));
    assert_eq!(send(&app, get("/legacy/Enabled")).await.text(), "true");
    let mut events = state.devices().subscribe();
    sim(&app, "unplug").await;
    wait_for(&mut events, "device_detached").await;
    assert_eq!(send(&app, get("/v1/fingerprint/enabled")).await.json(), json!({"enabled": false}));
    assert_eq!(send(&app, get("/legacy/Enabled")).await.text(), "false");
    assert_eq!(send(&app, get("/v1/health")).await.json()["status"], "degraded");
}

fn card_state() -> (AppState, crate::fakes::FakeCardReader) {
    let reader = crate::fakes::FakeCardReader::default();
    let driver = Driver::new("pcsc-idcard".parse().unwrap(), Arc::new(reader.clone()));
    let options = ManagerOptions { poll_interval: Duration::from_millis(20), ..ManagerOptions::default() };
    (AppState::new(DeviceManager::start(vec![driver], options), Settings::default()), reader)
}

#[tokio::test]
async fn reads_an_id_card_as_the_documented_json() {
    let (state, reader) = card_state();
    let app = app(state.clone());
    let r = send(&app, post_json("/v1/idcard/read", json!({"timeout_ms": 30}))).await;
    assert_eq!((r.status, r.error_kind().as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "no_card"));
    assert_eq!(r.json()["error"]["retry"], true);

    let mut events = state.devices().subscribe();
    reader.insert(crate::fakes::resident_read());
    wait_for(&mut events, "card_inserted").await;
    let r = send(&app, Request::post("/v1/idcard/read").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let card = r.json();
    assert_eq!(card["card_type"], "resident");
    assert_eq!(card["name"], "张伟");
    assert_eq!(card["sex"], json!({"code": "1", "label": "男"}));
    assert_eq!(card["nation"], json!({"code": "01", "label": "汉"}));
    assert_eq!(card["birth_date"], "1990-03-07");
    assert_eq!(card["id_number"], "110105199003071239");
    assert_eq!(card["id_number_valid"], true);
    assert_eq!(card["valid_until"], "2040-05-01");
    assert_eq!(card["chip_serial"], "10e4100102030405");
    assert_eq!(card["source"], "pcsc-decoded");

    reader.remove();
    wait_for(&mut events, "card_removed").await;
    let cases = [
        (json!({"device": "nope"}), StatusCode::NOT_FOUND, "not_found"),
        (json!({"timeout_ms": 0}), StatusCode::BAD_REQUEST, "bad_request"),
        (json!({"timeout": 5}), StatusCode::BAD_REQUEST, "bad_request"),
    ];
    for (body, status, kind) in cases {
        let r = send(&app, post_json("/v1/idcard/read", body.clone())).await;
        assert_eq!((r.status, r.error_kind().as_str()), (status, kind), "{body}: {}", r.text());
    }
    let r = send(&sim_app(), post_json("/v1/idcard/read", json!({}))).await;
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("no ID card reader is configured"), "{}", r.text());
}

async fn wait_for(rx: &mut tokio::sync::broadcast::Receiver<examgate_protocol::Event>, kind: &str) {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let e = rx.recv().await.unwrap();
            if serde_json::to_value(&e).unwrap()["type"] == kind {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} event"));
}

fn legacy_post(uri: &str, caller: &str, content_type: &str, body: String) -> Request<Body> {
    Request::post(uri)
        .header("x-examgate-caller", caller)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap()
}

fn legacy_get(uri: &str, caller: &str) -> Request<Body> {
    Request::get(uri).header("x-examgate-caller", caller).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn legacy_interface_answers_in_plain_text() {
    let app = sim_app();
    let r = send(&app, legacy_post("/legacy/GetTemplate", "a", "text/plain", String::new())).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    let enrolled = r.text().to_owned();
    assert!(crate::templates::decode(&enrolled, "t").unwrap().starts_with(b"EGSF"));
    let probe =
        send(&app, legacy_post("/legacy/GetTemplate", "a", "text/plain", String::new())).await.text().to_owned();

    let as_json = json!({"Template": probe, "OldTemplate": enrolled}).to_string();
    let r = send(&app, legacy_post("/legacy/MatchSampleTemplate", "a", "application/json", as_json)).await;
    let json_score: u32 = r.text().parse().unwrap_or_else(|_| panic!("not a score: {:?}", r.text()));
    assert!(json_score > 800, "{json_score}");

    let form = serde_urlencoded::to_string([("Template", &probe), ("OldTemplate", &enrolled)]).unwrap();
    let r =
        send(&app, legacy_post("/legacy/MatchSampleTemplate", "a", "application/x-www-form-urlencoded", form)).await;
    assert_eq!(r.text(), json_score.to_string());
    assert_eq!(send(&app, legacy_get("/legacy/ErrorMessage", "a")).await.text(), "");
}

#[tokio::test]
async fn legacy_failures_are_minus_one_and_each_caller_reads_its_own_error() {
    let app =
        app(sim_state("finger=none", Settings { capture_timeout: Duration::from_millis(50), ..Settings::default() }));
    let r = send(&app, legacy_post("/legacy/GetTemplate", "desk-1", "text/plain", String::new())).await;
    assert_eq!((r.status, r.text()), (StatusCode::OK, "-1"));
    let message = send(&app, legacy_get("/legacy/ErrorMessage", "desk-1")).await;
    assert!(message.text().contains("no finger on the sensor"), "{}", message.text());
    assert_eq!(send(&app, legacy_get("/legacy/ErrorMessage", "desk-2")).await.text(), "");

    let body = json!({"Template": "AAAA"}).to_string();
    let r = send(&app, legacy_post("/legacy/MatchSampleTemplate", "desk-1", "application/json", body)).await;
    assert_eq!(r.text(), "-1");
    let message = send(&app, legacy_get("/legacy/ErrorMessage", "desk-1")).await;
    assert!(message.text().contains("OldTemplate"), "the next failure replaces the message: {}", message.text());
}

fn with_origin(mut request: Request<Body>, origin: &str) -> Request<Body> {
    request.headers_mut().insert(header::ORIGIN, origin.parse().unwrap());
    request
}

fn guarded_settings(token: Option<&str>) -> Settings {
    Settings {
        allowed_origins: vec!["https://exam.example.cn".parse().unwrap()],
        api_token: token.map(str::to_owned),
        ..Settings::default()
    }
}

#[tokio::test]
async fn pages_from_other_origins_get_403() {
    let app = app(sim_state("", guarded_settings(None)));
    let r = send(&app, with_origin(get("/v1/devices"), "https://evil.example")).await;
    assert_eq!((r.status, r.error_kind().as_str()), (StatusCode::FORBIDDEN, "forbidden"));
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("allowed_origins"));
    let r = send(&app, with_origin(legacy_post("/legacy/GetTemplate", "x", "text/plain", String::new()), "null")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The agent's own seat page, and listed origins, are served.
    let r = send(&app, with_origin(get("/v1/devices"), "http://127.0.0.1:17480")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    let r = send(&app, with_origin(get("/v1/devices"), "https://exam.example.cn")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://exam.example.cn");

    // A DNS-rebinding page is refused by its Host.
    let rebound = Request::get("/v1/devices").header(header::HOST, "rebind.evil.example:17480").body(Body::empty());
    assert_eq!(send(&app, rebound.unwrap()).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn answers_cors_preflight_for_allowed_origins_only() {
    let app = app(sim_state("", guarded_settings(Some("s3cret"))));
    let preflight = |origin: &str| {
        Request::options("/v1/fingerprint/template")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization, content-type")
            .header("access-control-request-private-network", "true")
            .body(Body::empty())
            .unwrap()
    };
    let r = send(&app, preflight("https://exam.example.cn")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://exam.example.cn");
    assert!(r.headers[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap().contains("authorization"));
    assert_eq!(r.headers["access-control-allow-private-network"], "true");
    assert_eq!(send(&app, preflight("https://evil.example")).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn cross_origin_callers_need_the_token_when_one_is_set() {
    let app = app(sim_state("", guarded_settings(Some("s3cret"))));
    let origin = "https://exam.example.cn";
    let r = send(&app, with_origin(get("/v1/devices"), origin)).await;
    assert_eq!((r.status, r.error_kind().as_str()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    assert_eq!(r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], origin, "the page can read why");
    let mut request = with_origin(get("/v1/devices"), origin);
    request.headers_mut().insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
    assert_eq!(send(&app, request).await.status, StatusCode::OK);
    // Same-origin and non-browser callers need no token.
    assert_eq!(send(&app, with_origin(get("/v1/devices"), "http://localhost:17480")).await.status, StatusCode::OK);
    assert_eq!(send(&app, get("/v1/devices")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn serves_the_seat_page() {
    let app = sim_app();
    let page = send(&app, get("/")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(page.text().contains("/seat.js"));
    let script = send(&app, get("/seat.js")).await;
    assert_eq!(script.headers[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert!(script.text().contains("/v1/events"));
    assert_eq!(send(&app, get("/seat.css")).await.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    let module = send(&app, get("/lib/server.js")).await;
    assert_eq!(module.headers[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert!(module.text().contains("verifyWithServer"));
    let messages = send(&app, get("/i18n/zh-CN.json")).await;
    assert_eq!(messages.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(messages.json()["meta"]["lang"], "zh-CN");
    assert_eq!(send(&app, get("/lib/missing.js")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, get("/index.html")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn openapi_lists_exactly_the_routes_of_the_router() {
    let doc: Value = serde_json::from_str(OPENAPI_JSON).expect("openapi.json is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    let routes = routes();
    for r in &routes {
        let method = r.method.as_str().to_ascii_lowercase();
        assert!(
            paths.get(r.path).and_then(|p| p.get(&method)).is_some(),
            "{} {} is not in openapi.json",
            r.method,
            r.path
        );
    }
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let listed = routes.iter().any(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(method));
            assert!(listed, "openapi.json documents {method} {path}, which the router does not serve");
        }
    }
    // Every listed route is really routed (not 404 / 405).
    let app = sim_app();
    for r in &routes {
        let uri =
            r.path.replace("{device}", "sim-fp-0").replace("{module}", "server.js").replace("{messages}", "en.json");
        let request = Request::builder().method(r.method.clone()).uri(&uri).body(Body::empty()).unwrap();
        // A 404 for a device class this app lacks is fine; an unknown endpoint's is not.
        let response = send(&app, request).await;
        let unknown = response.status == StatusCode::NOT_FOUND
            && serde_json::from_slice::<Value>(&response.body)
                .is_ok_and(|v| v["error"]["message"].as_str().is_some_and(|m| m.starts_with("no such endpoint")));
        assert!(
            response.status != StatusCode::METHOD_NOT_ALLOWED && !unknown,
            "{} {uri}: {}",
            r.method,
            response.status
        );
    }
    let served = send(&app, get("/v1/openapi.json")).await;
    assert_eq!(served.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(served.json(), doc);
}
