//! The agent with deliberately broken plugins in driver hosts: a plugin
//! that crashes or hangs costs the caller one error (`-1` and an
//! ErrorMessage in the legacy API), its device comes back, and the agent and
//! its other devices keep serving. A plugin with the wrong ABI is refused by
//! `plugin check` with one clear line.

use std::process::Command;
use std::time::{Duration, Instant};

use examgate_e2e::agent::Agent;
use examgate_test_plugins::Broken;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn text(request: reqwest::RequestBuilder) -> String {
    let r = request.send().await.expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.expect("body")
}

async fn devices(agent: &Agent) -> Value {
    Client::new().get(agent.url("/v1/devices")).send().await.unwrap().json().await.unwrap()
}

/// Poll the device list (with a deadline) until `id` is ready again.
async fn wait_ready(agent: &Agent, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let list = devices(agent).await;
        let state = list["devices"].as_array().unwrap().iter().find(|d| d["id"] == id).map(|d| d["state"].clone());
        if state == Some(json!("ready")) {
            return;
        }
        assert!(Instant::now() < deadline, "{id} did not come back: {list}\n{}", agent.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn survives(broken: Broken, expected_message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "capture_timeout_ms = 300\nhost_grace_ms = 500\n").unwrap();
    let plugin = format!("plugin:{}", broken.path().display());
    let agent =
        Agent::start(&["--config", config.to_str().unwrap(), "--device", &plugin, "--device", "sim:fingerprint"]).await;
    wait_ready(&agent, "broken-0").await;
    let c = Client::new();

    // The broken reader is the default one: the legacy caller gets -1 and why.
    assert_eq!(text(c.post(agent.url("/legacy/GetTemplate"))).await, "-1", "{broken}");
    let message = text(c.get(agent.url("/legacy/ErrorMessage"))).await;
    assert!(message.contains(expected_message), "{broken}: {message}");

    // The agent serves on, the device comes back, the other reader works.
    wait_ready(&agent, "broken-0").await;
    let health: Value = c.get(agent.url("/v1/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let r = c.post(agent.url("/v1/fingerprint/template")).json(&json!({"device": "sim-fp-0"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{broken}");
    // And it fails again the same way, rather than hanging the agent.
    assert_eq!(text(c.post(agent.url("/legacy/GetTemplate"))).await, "-1", "{broken}");
}

#[tokio::test]
async fn a_segfaulting_plugin_costs_one_error() {
    survives(Broken::Segfault, "crashed").await;
}

#[tokio::test]
async fn an_aborting_plugin_costs_one_error() {
    survives(Broken::Abort, "crashed").await;
}

#[tokio::test]
async fn an_exiting_plugin_costs_one_error() {
    survives(Broken::Exit, "crashed").await;
}

#[tokio::test]
async fn a_hanging_plugin_costs_one_error() {
    survives(Broken::Hang, "timed out").await;
}

/// The seat serves around a plugin it cannot load (agent_plugin_failed_at_start.rs);
/// the integrator's check refuses it, with one clear line.
#[test]
fn a_plugin_with_the_wrong_abi_is_refused_by_plugin_check_with_one_line() {
    let out = Command::new(examgate_e2e::agent_binary())
        .args(["plugin", "check"])
        .arg(Broken::WrongAbi.path())
        .env("RUST_LOG", "off")
        .output()
        .expect("run examgate-agent plugin check");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(said.trim(), "plugin libbroken_wrong_abi.so: ABI version 999, this agent speaks 1");
}
