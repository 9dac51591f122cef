//! The real agent process over HTTP: health, devices, capture and match,
//! busy on a concurrent capture, origins, plugins through the driver host.

use std::time::{Duration, Instant};

use examgate_e2e::agent::Agent;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn get(agent: &Agent, path: &str) -> (StatusCode, Value) {
    let r = Client::new().get(agent.url(path)).send().await.expect("GET");
    let status = r.status();
    (status, r.json().await.expect("JSON body"))
}

async fn post(agent: &Agent, path: &str, body: Value) -> (StatusCode, Value) {
    let r = Client::new().post(agent.url(path)).json(&body).send().await.expect("POST");
    let status = r.status();
    let text = r.text().await.expect("body");
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") })
}

async fn capture(agent: &Agent, device: Option<&str>) -> String {
    let body = device.map_or(json!({}), |d| json!({ "device": d }));
    let (status, v) = post(agent, "/v1/fingerprint/template", body).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["quality"].is_u64(), "{v}");
    v["template"].as_str().expect("template").to_owned()
}

async fn sim(agent: &Agent, device: &str, command: &str) {
    let (status, v) = post(agent, &format!("/v1/sim/{device}/command"), json!({ "command": command })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{v}");
}

async fn score(agent: &Agent, template: &str, enrolled: &str) -> (u64, bool) {
    let (status, v) = post(agent, "/v1/fingerprint/match", json!({"template": template, "enrolled": enrolled})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    (v["score"].as_u64().expect("score"), v["match"].as_bool().expect("match"))
}

#[tokio::test]
async fn reports_health_and_devices() {
    let agent = Agent::start(&["--device", "sim:fingerprint"]).await;
    let (status, health) = get(&agent, "/v1/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["api_version"], 1);
    assert_eq!(health["devices"], 1);
    let (_, devices) = get(&agent, "/v1/devices").await;
    let d = &devices["devices"][0];
    assert_eq!((d["id"].as_str(), d["selector"].as_str()), (Some("sim-fp-0"), Some("sim:fingerprint")));
    assert_eq!((d["driver"].as_str(), d["state"].as_str()), (Some("sim-fingerprint"), Some("ready")));
    assert_eq!(d["classes"], json!(["fingerprint"]));
    let (status, doc) = get(&agent, "/v1/openapi.json").await;
    assert_eq!((status, doc["openapi"].as_str()), (StatusCode::OK, Some("3.1.0")));
}

#[tokio::test]
async fn the_same_finger_matches_and_another_does_not() {
    let agent = Agent::start(&["--device", "sim:fingerprint"]).await;
    let enrolled = capture(&agent, None).await;
    let again = capture(&agent, Some("sim-fp-0")).await;
    let (s, m) = score(&agent, &again, &enrolled).await;
    assert!(s > 800 && m, "the same finger scored {s}");
    sim(&agent, "sim-fp-0", "finger 2").await;
    let other = capture(&agent, None).await;
    let (s, m) = score(&agent, &other, &enrolled).await;
    assert!(s <= 800 && !m, "another finger scored {s}");
    // Templates are personal data: the log shows tags, never the template.
    let log = agent.log();
    assert!(log.contains("captured"), "{log}");
    for t in [&enrolled, &again, &other] {
        assert!(!log.contains(t.as_str()), "a template reached the log");
    }
}

#[tokio::test]
async fn a_concurrent_capture_is_refused_as_busy() {
    let agent = Agent::start(&["--device", "sim:fingerprint?delay_ms=500"]).await;
    let first = {
        let url = agent.url("/v1/fingerprint/template");
        tokio::spawn(async move { Client::new().post(url).json(&json!({})).send().await.expect("POST").status() })
    };
    // Wait until the first capture holds the reader (its state says so).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, devices) = get(&agent, "/v1/devices").await;
        if devices["devices"][0]["state"] == "busy" {
            break;
        }
        assert!(Instant::now() < deadline, "the first capture never held the reader");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (status, v) = post(&agent, "/v1/fingerprint/template", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["kind"], "busy");
    assert_eq!(v["error"]["retry"], true);
    assert!(v["error"]["message"].as_str().unwrap().contains("busy"), "{v}");
    assert_eq!(first.await.unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn pages_from_unlisted_origins_get_403() {
    let agent = Agent::start(&["--device", "sim:fingerprint"]).await;
    let client = Client::new();
    let r = client.get(agent.url("/v1/devices")).header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["kind"], "forbidden");
    let r =
        client.post(agent.url("/legacy/GetTemplate")).header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The agent's own seat page may call it.
    let own = format!("http://127.0.0.1:{}", agent.port());
    let r = client.get(agent.url("/v1/devices")).header("origin", own).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = client.get(agent.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    // The seat page: its language screen comes first.
    assert!(page.text().await.unwrap().contains(r#"id="screen-language""#));
}

#[tokio::test]
async fn listed_origins_need_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "allowed_origins = [\"https://exam.example.cn\"]\napi_token = \"s3cret\"\n").unwrap();
    let agent = Agent::start(&["--config", config.to_str().unwrap(), "--device", "sim:fingerprint"]).await;
    let client = Client::new();
    let origin = "https://exam.example.cn";
    let r = client.get(agent.url("/v1/devices")).header("origin", origin).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = client.get(agent.url("/v1/devices")).header("origin", origin).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["access-control-allow-origin"], origin);
}

#[tokio::test]
async fn a_plugin_in_a_driver_host_serves_like_a_built_in_reader() {
    let plugin = format!("plugin:{}", examgate_e2e::rust_plugin().display());
    let agent = Agent::start(&["--device", &plugin]).await;
    let (_, devices) = get(&agent, "/v1/devices").await;
    assert_eq!(devices["devices"][0]["state"], "ready", "{devices}");
    let id = devices["devices"][0]["id"].as_str().unwrap().to_owned();
    // The example plugin starts with no finger; its simulation hooks place one.
    sim(&agent, &id, "finger 1").await;
    let enrolled = capture(&agent, Some(&id)).await;
    let probe = capture(&agent, Some(&id)).await;
    let (status, v) =
        post(&agent, "/v1/fingerprint/match", json!({"template": probe, "enrolled": enrolled, "device": id})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["score"].as_u64().unwrap() > 800, "{v}");
}
