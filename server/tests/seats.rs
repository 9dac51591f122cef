//! Seat binding: enrolment, approval, the binding checks, spare-PC takeover.
//! Every test runs against SQLite and PostgreSQL.

#[macro_use]
mod common;

use axum::http::StatusCode;
use common::{Harness, TestAgent, TestDb};
use examgate_protocol::link::paths;
use serde_json::json;

async fn enrolment_waits_pending_until_approved(db: TestDb) {
    let h = Harness::new(db).await;
    let agent = TestAgent::new("02:00:00:00:00:07", "10.0.0.7");
    let r = h.send(agent.enrol_request()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // The server's signing key comes with it, for the agent to pin beside the certificate.
    let body = r.json();
    let server_key = body["server_key"].as_str().expect("the server's signing key").to_owned();
    assert_eq!(server_key.len(), 44, "32 bytes, standard base64: {server_key}");
    assert_eq!(body, json!({"key_id": agent.key_id, "state": "pending", "seat": null, "server_key": server_key}));
    // Enrolling again with the same key is not a second PC.
    let r = h.send(agent.enrol_request()).await;
    assert_eq!(r.status, StatusCode::OK);

    let r = h.send(agent.heartbeat(None)).await;
    assert_eq!((r.status, r.kind().as_str()), (StatusCode::FORBIDDEN, "not_bound"), "{}", r.text());
    let r = h.send(agent.signed("GET", paths::STATUS, vec![])).await;
    assert_eq!(r.json()["state"], "pending");

    let console = h.console().await;
    let map = h.get("/api/v1/seats", &console).await.json();
    assert_eq!(map["unbound"][0]["key_id"], agent.key_id.as_str());
    assert_eq!(map["unbound"][0]["macs"], json!(["02:00:00:00:00:07"]));
    assert_eq!(map["unbound"][0]["source_ip"], "10.0.0.7");

    let r = h.post("/api/v1/seats/7/approve", &console, json!({"key_id": agent.key_id})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = h.send(agent.signed("GET", paths::STATUS, vec![])).await;
    assert_eq!(r.json(), json!({"key_id": agent.key_id, "state": "bound", "seat": "7", "server_key": server_key}));
    let r = h.send(agent.heartbeat(Some("7"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["seat"], "7");

    let map = h.get("/api/v1/seats", &console).await.json();
    assert_eq!(map["unbound"], json!([]));
    let seat = &map["seats"][0];
    assert_eq!((seat["seat"].as_str(), seat["online"].as_bool()), (Some("7"), Some(true)));
    assert_eq!(seat["devices"][0]["state"], "ready");
    assert_eq!(seat["ip"], "10.0.0.7");

    let actions: Vec<String> = h.audit_actions().await.into_iter().map(|(a, s, _)| format!("{a} {s}")).collect();
    let enrol = format!("enrol key:{}", agent.key_id);
    assert!(actions.contains(&enrol), "{actions:?}");
    assert!(actions.contains(&"approve seat:7".to_owned()), "{actions:?}");
    assert!(actions.contains(&"login console".to_owned()), "{actions:?}");
}

async fn a_seat_cannot_be_approved_twice(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let a = TestAgent::new("02:00:00:00:00:01", "10.0.0.11");
    let b = TestAgent::new("02:00:00:00:00:02", "10.0.0.12");
    h.bind(&a, "1", &console).await;
    h.send(b.enrol_request()).await;
    let r = h.post("/api/v1/seats/1/approve", &console, json!({"key_id": b.key_id})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.message().contains("rebind"), "{}", r.message());
    let r = h.post("/api/v1/seats/2/approve", &console, json!({"key_id": a.key_id})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let r = h.post("/api/v1/seats/3/approve", &console, json!({"key_id": "nope"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h.post("/api/v1/seats/bad%20seat/approve", &console, json!({"key_id": b.key_id})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
}

async fn spare_pc_takes_over_and_the_old_binding_stops_at_once(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let crashed = TestAgent::new("02:00:00:00:00:05", "10.0.0.5");
    let spare = TestAgent::new("02:00:00:00:00:99", "10.0.0.99");
    h.bind(&crashed, "5", &console).await;
    assert_eq!(h.send(crashed.heartbeat(Some("5"))).await.status, StatusCode::OK);
    h.send(spare.enrol_request()).await;

    let r = h.post("/api/v1/seats/5/rebind", &console, json!({"key_id": spare.key_id})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["seat"]["seat"], "5");

    let r = h.send(crashed.heartbeat(Some("5"))).await;
    assert_eq!((r.status, r.kind().as_str()), (StatusCode::FORBIDDEN, "replaced"), "{}", r.text());
    let r = h.send(spare.heartbeat(Some("5"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = h.send(crashed.signed("GET", paths::STATUS, vec![])).await;
    assert_eq!(r.json()["state"], "replaced");

    let map = h.get("/api/v1/seats", &console).await.json();
    assert_eq!(map["seats"][0]["key_id"], spare.key_id.as_str());
    assert_eq!(map["seats"][0]["ip"], "10.0.0.99");
    assert_eq!(map["unbound"][0]["state"], "replaced");

    let rebind = h.audit_actions().await.into_iter().find(|(a, _, _)| a == "rebind").expect("rebind audited");
    assert_eq!(rebind.1, "seat:5");
    assert!(rebind.2.contains(&crashed.key_id) && rebind.2.contains(&spare.key_id), "{}", rebind.2);
    // The old PC talking again is refused, audited and raised.
    assert!(map["alerts"].as_array().unwrap().iter().any(|a| a["kind"] == "replaced_pc"), "{}", map["alerts"]);
}

async fn rebinding_needs_a_bound_seat_and_a_free_pc(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let a = TestAgent::new("02:00:00:00:00:01", "10.0.0.1");
    let b = TestAgent::new("02:00:00:00:00:02", "10.0.0.2");
    h.bind(&a, "1", &console).await;
    h.bind(&b, "2", &console).await;
    let r = h.post("/api/v1/seats/9/rebind", &console, json!({"key_id": b.key_id})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let r = h.post("/api/v1/seats/1/rebind", &console, json!({"key_id": b.key_id})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(r.message().contains("holds seat 2"), "{}", r.message());
}

async fn the_console_opens_only_with_examiner_and_invigilator(db: TestDb) {
    let h = Harness::new(db).await;
    let r = h.get("/api/v1/seats", "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let login = |user: &str, password: &str| json!({"username": user, "password": password});
    let r = h.post("/api/v1/session/login", "", login(common::EXAMINER.0, common::EXAMINER.1)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["open"], false);
    let cookie = r.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let r = h.get("/api/v1/seats", &cookie).await;
    assert_eq!((r.status, r.kind().as_str()), (StatusCode::FORBIDDEN, "console_closed"));
    let r = h.post("/api/v1/session/login", &cookie, login(common::INVIGILATOR.0, "wrong password")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = h.post("/api/v1/session/login", &cookie, login(common::INVIGILATOR.0, common::INVIGILATOR.1)).await;
    let v = r.json();
    assert_eq!(
        (&v["examiner"], &v["invigilator"], &v["open"]),
        (&json!("examiner1"), &json!("invigilator1"), &json!(true))
    );
    assert_eq!(h.get("/api/v1/seats", &cookie).await.status, StatusCode::OK);
    let r = h.post("/api/v1/session/logout", &cookie, json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(h.get("/api/v1/seats", &cookie).await.status, StatusCode::UNAUTHORIZED);
    let actions: Vec<String> = h.audit_actions().await.into_iter().map(|(a, _, _)| a).collect();
    for a in ["login", "login_failed", "logout"] {
        assert!(actions.contains(&a.to_owned()), "{a} not audited: {actions:?}");
    }
}

both_databases!(
    enrolment_waits_pending_until_approved,
    a_seat_cannot_be_approved_twice,
    spare_pc_takes_over_and_the_old_binding_stops_at_once,
    rebinding_needs_a_bound_seat_and_a_free_pc,
    the_console_opens_only_with_examiner_and_invigilator,
);

async fn heartbeats_reach_the_database_in_batches(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let agents: Vec<TestAgent> =
        (1..=3).map(|n| TestAgent::new(&format!("02:00:00:00:01:0{n}"), &format!("10.0.1.{n}"))).collect();
    for (n, a) in agents.iter().enumerate() {
        h.bind(a, &format!("{}", n + 1), &console).await;
        assert_eq!(h.send(a.heartbeat(None)).await.status, StatusCode::OK);
    }
    let beats = h.state.hub.take_unwritten();
    assert_eq!(beats.len(), 3);
    assert!(h.state.hub.take_unwritten().is_empty(), "each heartbeat is written once");
    h.db.store.heartbeats(beats).await.unwrap();
    let overview = h.db.store.overview().await.unwrap();
    assert!(overview.seats.iter().all(|s| s.last_seen.is_some() && s.devices.as_deref().unwrap().contains("sim-fp-0")));
}

both_databases!(heartbeats_reach_the_database_in_batches);

async fn a_device_going_missing_raises_one_alert(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let agent = TestAgent::new("02:00:00:00:01:11", "10.0.1.11");
    h.bind(&agent, "11", &console).await;
    let beat = |state: &str| {
        let body = json!({"devices": [{"id": "pcsc-0", "class": "idcard", "state": state}], "outbox_pending": 0});
        agent.signed("POST", paths::HEARTBEAT, body.to_string().into_bytes())
    };
    assert_eq!(h.send(beat("ready")).await.status, StatusCode::OK);
    for _ in 0..2 {
        assert_eq!(h.send(beat("disconnected")).await.status, StatusCode::OK);
    }
    let map = h.get("/api/v1/seats", &console).await.json();
    let device: Vec<_> = map["alerts"].as_array().unwrap().iter().filter(|a| a["kind"] == "device").collect();
    assert_eq!(device.len(), 1, "{}", map["alerts"]);
    assert_eq!(device[0]["message"], "seat 11: the idcard pcsc-0 is disconnected");
    assert_eq!(map["seats"][0]["open_alerts"], 1);
    assert!(h.audit_actions().await.iter().any(|(a, s, _)| a == "device_fault" && s == "seat:11"));
}

both_databases!(a_device_going_missing_raises_one_alert);

/// The seeds bind the examiner's console to its IP: `console.allowed_ips`.
async fn the_console_answers_only_its_own_ip(db: TestDb) {
    let mut h = Harness::new(db).await;
    let mut config = h.db.config();
    config.console.allowed_ips = vec!["10.0.0.2".parse().unwrap()];
    h.state = examgate_server::api::AppState::new(h.db.store.clone(), config);
    // The harness's console speaks from 10.0.0.1.
    let r = h
        .post("/api/v1/session/login", "", json!({"username": common::EXAMINER.0, "password": common::EXAMINER.1}))
        .await;
    assert_eq!((r.status, r.kind().as_str()), (StatusCode::FORBIDDEN, "forbidden"), "{}", r.text());
    assert!(r.message().contains("10.0.0.1"), "{}", r.message());
    assert_eq!(h.get("/api/v1/seats", "").await.status, StatusCode::FORBIDDEN);
}

both_databases!(the_console_answers_only_its_own_ip);
