//! The seeds' interface of the real agent, word for word.

use examgate_e2e::agent::Agent;
use reqwest::{Client, StatusCode};
use serde_json::json;

async fn text(request: reqwest::RequestBuilder) -> String {
    let r = request.send().await.expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    r.text().await.expect("body")
}

#[tokio::test]
async fn get_template_and_match_sample_template() {
    let agent = Agent::start(&["--device", "sim:fingerprint"]).await;
    let c = Client::new();
    let enrolled = text(c.post(agent.url("/legacy/GetTemplate"))).await;
    let probe = text(c.post(agent.url("/legacy/GetTemplate"))).await;
    assert_ne!(enrolled, "-1");
    assert!(enrolled.starts_with("RUdTRg"), "an examgate-sim template in base64: {enrolled}");

    let by_json = text(
        c.post(agent.url("/legacy/MatchSampleTemplate")).json(&json!({"Template": probe, "OldTemplate": enrolled})),
    )
    .await;
    let score: u32 = by_json.parse().unwrap_or_else(|_| panic!("not a score: {by_json:?}"));
    assert!((801..=1000).contains(&score), "{score}");
    let by_form = text(
        c.post(agent.url("/legacy/MatchSampleTemplate")).form(&[("Template", &probe), ("OldTemplate", &enrolled)]),
    )
    .await;
    assert_eq!(by_form, by_json);
    assert_eq!(text(c.get(agent.url("/legacy/Enabled"))).await, "true");
    assert_eq!(text(c.get(agent.url("/legacy/ErrorMessage"))).await, "");
}

#[tokio::test]
async fn a_failure_is_minus_one_and_error_message_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "capture_timeout_ms = 200\n").unwrap();
    let agent = Agent::start(&["--config", config.to_str().unwrap(), "--device", "sim:fingerprint?finger=none"]).await;
    let c = Client::new();
    let caller = |r: reqwest::RequestBuilder, id: &str| r.header("x-examgate-caller", id.to_owned());

    assert_eq!(text(caller(c.post(agent.url("/legacy/GetTemplate")), "desk-1")).await, "-1");
    let message = text(caller(c.get(agent.url("/legacy/ErrorMessage")), "desk-1")).await;
    assert!(message.contains("no finger on the sensor"), "{message}");
    // Another caller has its own, empty, message.
    assert_eq!(text(caller(c.get(agent.url("/legacy/ErrorMessage")), "desk-2")).await, "");

    let bad = c.post(agent.url("/legacy/MatchSampleTemplate")).form(&[("Template", "bm90IGEgdGVtcGxhdGU=")]);
    assert_eq!(text(caller(bad, "desk-1")).await, "-1");
    let message = text(caller(c.get(agent.url("/legacy/ErrorMessage")), "desk-1")).await;
    assert!(message.contains("OldTemplate"), "the next failure replaces the message: {message}");
}
