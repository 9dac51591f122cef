//! A device a seat's heartbeat reports `failed` (a vendor plugin its agent
//! cannot load) becomes one `device_fault` alert per seat and device, raised
//! with its audit row, however often the seat repeats it and across a server
//! restart; once the examiner clears it, the next failure raises a new one.
//! Every test runs against SQLite and PostgreSQL.

#[macro_use]
mod common;

use axum::http::StatusCode;
use common::{Harness, TestAgent, TestDb};
use examgate_protocol::link::paths;
use serde_json::{Value, json};

const PLUGIN: &str = "plugin:/opt/acme/libfp.so";
const OTHER: &str = "plugin:/opt/acme/libcam.so";

fn failed(id: &str, reason: &str) -> Value {
    json!({"id": id, "class": "plugin", "state": "failed", "reason": reason})
}

async fn beat(h: &Harness, agent: &TestAgent, devices: Value) {
    let body = json!({"devices": devices, "outbox_pending": 0});
    let r = h.send(agent.signed("POST", paths::HEARTBEAT, body.to_string().into_bytes())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

/// The open `device_fault` alerts, as the console lists them.
async fn faults(h: &Harness, console: &str) -> Vec<Value> {
    let alerts = h.get("/api/v1/alerts", console).await.json();
    alerts.as_array().unwrap().iter().filter(|a| a["kind"] == "device_fault").cloned().collect()
}

async fn one_open_fault_per_seat_and_device(db: TestDb) {
    let mut h = Harness::new(db).await;
    let console = h.console().await;
    let agent = TestAgent::new("02:00:00:00:01:12", "10.0.1.12");
    h.bind(&agent, "12", &console).await;
    let abi = "plugin libfp.so: ABI version 999, this agent speaks 1";

    for _ in 0..3 {
        beat(&h, &agent, json!([{"id": "sim-fp-0", "class": "fingerprint", "state": "ready"}, failed(PLUGIN, abi)]))
            .await;
    }
    let open = faults(&h, &console).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["seat"], "12");
    assert_eq!(open[0]["message"], format!("seat 12: the plugin {PLUGIN} failed: {abi}"));
    let audited = h.audit_actions().await;
    let rows: Vec<_> =
        audited.iter().filter(|(a, s, d)| a == "device_fault" && s == "seat:12" && d.contains(PLUGIN)).collect();
    assert_eq!(rows.len(), 1, "{audited:?}");

    // Another device of the seat has its own alert; a new reason for the first raises none.
    beat(&h, &agent, json!([failed(PLUGIN, "plugin libfp.so: cannot load: no such file"), failed(OTHER, "crashed")]))
        .await;
    assert_eq!(faults(&h, &console).await.len(), 2);

    // A restarted server (no heartbeat in memory) finds them open and raises none.
    h.state = h.db.state();
    beat(&h, &agent, json!([failed(PLUGIN, abi), failed(OTHER, "crashed")])).await;
    assert_eq!(faults(&h, &console).await.len(), 2);

    // Cleared by the examiner: the plugin that loads and fails again is raised anew.
    let id = faults(&h, &console).await.iter().find(|a| a["message"].as_str().unwrap().contains(PLUGIN)).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = h.post(&format!("/api/v1/alerts/{id}/clear"), &console, json!({})).await;
    assert!(r.status.is_success(), "{}", r.text());
    beat(&h, &agent, json!([{"id": "sim-fp-0", "class": "fingerprint", "state": "ready"}])).await;
    beat(&h, &agent, json!([failed(PLUGIN, abi)])).await;
    let open = faults(&h, &console).await;
    assert_eq!(open.len(), 2, "{open:?}");
    assert_ne!(open.iter().find(|a| a["message"].as_str().unwrap().contains(PLUGIN)).unwrap()["id"], id.as_str());
}

both_databases!(one_open_fault_per_seat_and_device);

async fn a_seats_words_reach_the_alert_printable_and_bounded(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let agent = TestAgent::new("02:00:00:00:01:13", "10.0.1.13");
    h.bind(&agent, "13", &console).await;
    let long = format!("line one\nline two\u{7}{}", "x".repeat(1000));
    beat(&h, &agent, json!([failed(PLUGIN, &long)])).await;
    let open = faults(&h, &console).await;
    let message = open[0]["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("seat 13: the plugin {PLUGIN} failed: line oneline two")), "{message}");
    assert!(!message.chars().any(char::is_control) && message.len() < 400, "{message}");
}

both_databases!(a_seats_words_reach_the_alert_printable_and_bounded);
