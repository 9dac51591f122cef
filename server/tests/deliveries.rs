//! Deliveries are stored once per idempotency key; snapshots become files
//! named by their SHA-256. Against both databases.

#[macro_use]
mod common;

use axum::http::StatusCode;
use common::{Harness, TestAgent, TestDb, answers_delivery, jpeg, snapshot_delivery};
use examgate_server::crypto::sha256_hex;
use serde_json::json;

async fn bound(db: TestDb) -> (Harness, TestAgent, String) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let agent = TestAgent::new("02:00:00:00:00:08", "10.0.0.8");
    h.bind(&agent, "8", &console).await;
    (h, agent, console)
}

async fn a_retried_delivery_is_stored_once(db: TestDb) {
    let (h, agent, console) = bound(db).await;
    let mut events = h.state.hub.subscribe();
    let d = snapshot_delivery(Some("8"), 42);
    let first = h.send(agent.delivery("snap-1", &d)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    assert_eq!(first.json()["stored"], "new");
    // Consoles waiting for the picture (the examiner's evidence view) are told it is there.
    let told = serde_json::to_value(events.try_recv().expect("an event for the new snapshot")).unwrap();
    assert_eq!(told, json!({"type": "snapshot_stored", "seat": "8", "sha256": sha256_hex(&jpeg(42))}));
    for _ in 0..3 {
        let again = h.send(agent.delivery("snap-1", &d)).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text());
        assert_eq!(again.json()["stored"], "duplicate");
        assert_eq!(again.json()["received_at"], first.json()["received_at"]);
    }
    assert!(events.try_recv().is_err(), "a duplicate stores nothing new and tells nobody");
    assert_eq!(h.db.store.delivery_count().await.unwrap(), 1);
    let hash = sha256_hex(&jpeg(42));
    assert_eq!(h.state.snapshots.list().unwrap(), vec![hash.clone()]);
    assert_eq!(h.state.snapshots.get(&hash).unwrap(), jpeg(42));
    let delivered: Vec<_> = h.audit_actions().await.into_iter().filter(|(a, _, _)| a == "deliver").collect();
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert!(delivered[0].2.contains(&hash));

    let list = h.get("/api/v1/deliveries?seat=8", &console).await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["file_sha256"], hash.as_str());
    let pic = h.get(&format!("/api/v1/snapshots/{hash}"), &console).await;
    assert_eq!((pic.status, pic.body), (StatusCode::OK, jpeg(42)));
}

async fn a_reused_key_with_other_bytes_is_refused(db: TestDb) {
    let (h, agent, _) = bound(db).await;
    assert_eq!(h.send(agent.delivery("a-1", &answers_delivery(None, "q1"))).await.status, StatusCode::CREATED);
    let r = h.send(agent.delivery("a-1", &answers_delivery(None, "q2"))).await;
    assert_eq!((r.status, r.kind().as_str()), (StatusCode::CONFLICT, "conflict"), "{}", r.text());
    assert_eq!(h.db.store.delivery_count().await.unwrap(), 1);
}

async fn the_same_picture_twice_is_one_file(db: TestDb) {
    let (h, agent, _) = bound(db).await;
    let d = snapshot_delivery(None, 7);
    assert_eq!(h.send(agent.delivery("s-1", &d)).await.status, StatusCode::CREATED);
    assert_eq!(h.send(agent.delivery("s-2", &d)).await.status, StatusCode::CREATED);
    assert_eq!(h.db.store.delivery_count().await.unwrap(), 2);
    assert_eq!(h.state.snapshots.list().unwrap().len(), 1);
}

async fn every_kind_of_item_is_kept_with_its_metadata(db: TestDb) {
    let (h, agent, _) = bound(db).await;
    let verification = json!({
        "exam": "k1", "created_at": "2026-11-25T08:55:00.000Z",
        "item": {"kind": "verification", "candidate": "5e1f", "method": "idcard+fingerprint", "score": 912, "passed": true}
    });
    assert_eq!(h.send(agent.delivery("v-1", &verification)).await.status, StatusCode::CREATED);
    assert_eq!(h.send(agent.delivery("a-1", &answers_delivery(None, "q7"))).await.status, StatusCode::CREATED);
    let rows = h.db.store.deliveries(Some("8"), 10).await.unwrap();
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    assert!(kinds.contains(&"verification") && kinds.contains(&"answers"), "{kinds:?}");
    let v = rows.iter().find(|r| r.kind == "verification").unwrap();
    let meta: serde_json::Value = serde_json::from_str(&v.metadata).unwrap();
    assert_eq!(meta["score"], 912);
    assert_eq!(v.seat, "8");
}

async fn open_tamper_alerts(h: &Harness) -> Vec<examgate_server::store::Alert> {
    let all = h.db.store.alerts(examgate_server::store::AlertFilter::Open).await.unwrap();
    all.into_iter().filter(|a| a.kind == "tamper").collect()
}

async fn a_flagged_snapshot_raises_one_tamper_alert_for_the_console(db: TestDb) {
    let (h, agent, console) = bound(db).await;
    let clean = snapshot_delivery(None, 1);
    assert_eq!(h.send(agent.delivery("t-1", &clean)).await.status, StatusCode::CREATED);
    assert!(open_tamper_alerts(&h).await.is_empty(), "a clean snapshot raises nothing");

    let mut dark = snapshot_delivery(None, 2);
    dark["item"]["flags"] = json!(["dark", "frozen"]);
    assert_eq!(h.send(agent.delivery("t-2", &dark)).await.status, StatusCode::CREATED);
    let alerts = open_tamper_alerts(&h).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].seat.as_deref(), Some("8"));
    assert!(alerts[0].message.contains("dark, frozen") && alerts[0].message.contains("scheduled"), "{alerts:?}");
    let listed = h.get("/api/v1/alerts", &console).await.json();
    assert!(listed.as_array().unwrap().iter().any(|a| a["kind"] == "tamper"), "{listed}");
    let audited = h.audit_actions().await;
    assert!(audited.iter().any(|(a, _, d)| a == "deliver" && d.contains("alert tamper")), "{audited:?}");

    // A retry of the same item, and more flagged snapshots while the alert is open: no second alert.
    assert_eq!(h.send(agent.delivery("t-2", &dark)).await.status, StatusCode::OK);
    let mut dark_again = snapshot_delivery(None, 3);
    dark_again["item"]["flags"] = json!(["dark"]);
    assert_eq!(h.send(agent.delivery("t-3", &dark_again)).await.status, StatusCode::CREATED);
    assert_eq!(open_tamper_alerts(&h).await.len(), 1);
    // Once the examiner has cleared it, the next flagged snapshot raises a new one.
    let id = alerts[0].id.clone();
    assert!(h.post(&format!("/api/v1/alerts/{id}/clear"), &console, json!({})).await.status.is_success());
    let mut virtual_camera = snapshot_delivery(None, 4);
    virtual_camera["item"]["flags"] = json!(["virtual_camera"]);
    assert_eq!(h.send(agent.delivery("t-4", &virtual_camera)).await.status, StatusCode::CREATED);
    let alerts = open_tamper_alerts(&h).await;
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].message.contains("virtual_camera"), "{alerts:?}");
}

both_databases!(
    a_flagged_snapshot_raises_one_tamper_alert_for_the_console,
    a_retried_delivery_is_stored_once,
    a_reused_key_with_other_bytes_is_refused,
    the_same_picture_twice_is_one_file,
    every_kind_of_item_is_kept_with_its_metadata,
);
