//! Bad input and attack: each refused with a clear status and message,
//! nothing stored, and audited where it is an attack. Against both databases.

#[macro_use]
mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::{Bend, Harness, Reply, TestAgent, TestDb, answers_delivery, snapshot_delivery};
use examgate_protocol::link::paths;
use examgate_server::api::PeerAddr;

/// A harness with seat 3 bound to `agent`, and the audit length after that.
async fn bound(db: TestDb) -> (Harness, TestAgent, usize) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let agent = TestAgent::new("02:00:00:00:00:03", "10.0.0.3");
    h.bind(&agent, "3", &console).await;
    let n = h.audit_actions().await.len();
    (h, agent, n)
}

async fn nothing_stored(h: &Harness) {
    assert_eq!(h.db.store.delivery_count().await.unwrap(), 0, "a refused delivery was stored");
    assert!(h.state.snapshots.list().unwrap().is_empty(), "a refused snapshot left a file");
}

/// The refusal audited after `before`: (action, subject, detail).
async fn refusal_after(h: &Harness, before: usize) -> Option<(String, String, String)> {
    h.audit_actions().await.into_iter().skip(before).find(|(a, _, _)| a == "refuse")
}

fn expect(r: &Reply, status: StatusCode, kind: &str, words: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.kind(), kind, "{}", r.text());
    assert!(r.message().contains(words), "message {:?} lacks {words:?}", r.message());
}

async fn unsigned_requests_are_refused(db: TestDb) {
    let (h, _agent, before) = bound(db).await;
    let mut req = Request::post(paths::DELIVERIES)
        .header("content-type", "application/json")
        .header("idempotency-key", "k1")
        .body(Body::from(answers_delivery(None, "q1").to_string()))
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(PeerAddr("10.0.0.3:4000".parse().unwrap())));
    let r = h.send(req).await;
    expect(&r, StatusCode::UNAUTHORIZED, "unsigned", "must be signed");
    nothing_stored(&h).await;
    assert_eq!(h.audit_actions().await.len(), before, "noise without a key is not audited");
}

async fn badly_signed_requests_are_refused_and_audited(db: TestDb) {
    let (h, agent, before) = bound(db).await;
    // Signed over other bytes than those sent: the body was changed on the way.
    let bend = Bend { idempotency_key: Some("k1".into()), signed_body: Some(b"{}".to_vec()), ..Bend::default() };
    let body = answers_delivery(None, "q1").to_string().into_bytes();
    let (mut parts, body) = agent.request_parts("POST", paths::DELIVERIES, body, &bend);
    // Make the hash header honest for the sent body so only the signature is wrong.
    for (k, v) in parts.iter_mut() {
        if k == "x-examgate-content-sha256" {
            *v = examgate_server::crypto::sha256_hex(&body);
        }
    }
    let mut b = Request::post(paths::DELIVERIES);
    for (k, v) in &parts {
        b = b.header(k, v);
    }
    let mut req = b.body(Body::from(body)).unwrap();
    req.extensions_mut().insert(ConnectInfo(PeerAddr("10.0.0.3:4000".parse().unwrap())));
    let r = h.send(req).await;
    expect(&r, StatusCode::UNAUTHORIZED, "bad_signature", "does not verify");
    // Another PC's key id with this PC's signature.
    let other = TestAgent::new("02:00:00:00:00:04", "10.0.0.4");
    h.send(other.enrol_request()).await;
    let bend = Bend { key_id: Some(other.key_id.clone()), ..Bend::default() };
    let r =
        h.send(agent.request("POST", paths::HEARTBEAT, br#"{"devices":[],"outbox_pending":0}"#.to_vec(), &bend)).await;
    expect(&r, StatusCode::UNAUTHORIZED, "bad_signature", "does not verify");
    // A body hash header that does not match the body.
    let bend = Bend { signed_body: Some(b"other".to_vec()), ..Bend::default() };
    let r =
        h.send(agent.request("POST", paths::HEARTBEAT, br#"{"devices":[],"outbox_pending":0}"#.to_vec(), &bend)).await;
    expect(&r, StatusCode::UNAUTHORIZED, "bad_signature", "changed on the way");
    nothing_stored(&h).await;
    let (_, subject, detail) = refusal_after(&h, before).await.expect("a bad signature is audited");
    assert_eq!(subject, "seat:3");
    assert!(detail.contains("bad_signature"), "{detail}");
}

async fn replayed_requests_are_refused_and_audited(db: TestDb) {
    let (h, agent, before) = bound(db).await;
    let bend = Bend {
        nonce: Some("0123456789abcdef0123456789abcdef".into()),
        idempotency_key: Some("k1".into()),
        ..Bend::default()
    };
    let body = answers_delivery(None, "q1").to_string().into_bytes();
    let first = h.send(agent.request("POST", paths::DELIVERIES, body.clone(), &bend)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    // The same nonce again, as an eavesdropper would resend the captured request.
    let bend2 = Bend { idempotency_key: Some("k2".into()), ..bend.clone() };
    let r = h
        .send(agent.request("POST", paths::DELIVERIES, answers_delivery(None, "q2").to_string().into_bytes(), &bend2))
        .await;
    expect(&r, StatusCode::UNAUTHORIZED, "replayed", "replay");
    assert_eq!(h.db.store.delivery_count().await.unwrap(), 1);
    let (_, _, detail) = refusal_after(&h, before).await.expect("a replay is audited");
    assert!(detail.contains("replayed"), "{detail}");
}

async fn expired_requests_are_refused_and_audited(db: TestDb) {
    let (h, agent, before) = bound(db).await;
    for offset in [-5 * 60_000, 5 * 60_000] {
        let bend = Bend { clock_offset_ms: offset, idempotency_key: Some("k1".into()), ..Bend::default() };
        let r = h
            .send(agent.request(
                "POST",
                paths::DELIVERIES,
                answers_delivery(None, "q1").to_string().into_bytes(),
                &bend,
            ))
            .await;
        expect(&r, StatusCode::UNAUTHORIZED, "stale", "check the PC's clock");
    }
    nothing_stored(&h).await;
    assert!(refusal_after(&h, before).await.is_some());
}

async fn wrongly_bound_requests_are_refused_raised_and_audited(db: TestDb) {
    let (h, agent, before) = bound(db).await;
    // The right key from another IP: a copied key on another PC.
    let bend = Bend { from: Some("10.0.0.66".parse().unwrap()), idempotency_key: Some("k1".into()), ..Bend::default() };
    let r = h
        .send(agent.request("POST", paths::DELIVERIES, answers_delivery(None, "q1").to_string().into_bytes(), &bend))
        .await;
    expect(&r, StatusCode::FORBIDDEN, "binding_mismatch", "came from 10.0.0.66");
    // The right key and IP reporting another MAC.
    let bend = Bend { mac: Some("02:00:00:00:00:66".into()), idempotency_key: Some("k2".into()), ..Bend::default() };
    let r = h
        .send(agent.request("POST", paths::DELIVERIES, answers_delivery(None, "q1").to_string().into_bytes(), &bend))
        .await;
    expect(&r, StatusCode::FORBIDDEN, "binding_mismatch", "reports 02:00:00:00:00:66");
    nothing_stored(&h).await;
    let alerts = h.db.store.alerts(examgate_server::store::AlertFilter::Open).await.unwrap();
    assert_eq!(alerts.iter().filter(|a| a.kind == "binding_mismatch" && a.seat.as_deref() == Some("3")).count(), 2);
    assert!(refusal_after(&h, before).await.is_some());
}

async fn a_seat_claiming_another_seats_number_is_refused(db: TestDb) {
    let (h, agent, before) = bound(db).await;
    let r = h.send(agent.delivery("k1", &snapshot_delivery(Some("4"), 1))).await;
    expect(&r, StatusCode::FORBIDDEN, "wrong_seat", "claims to be seat 4");
    let r = h.send(agent.heartbeat(Some("4"))).await;
    expect(&r, StatusCode::FORBIDDEN, "wrong_seat", "holds seat 3");
    nothing_stored(&h).await;
    let (_, subject, _) = refusal_after(&h, before).await.expect("audited");
    assert_eq!(subject, "seat:3");
    // Its own number is fine.
    assert_eq!(h.send(agent.delivery("k1", &snapshot_delivery(Some("3"), 1))).await.status, StatusCode::CREATED);
}

async fn oversized_bodies_are_refused(db: TestDb) {
    let (h, agent, _) = bound(db).await;
    let limit = h.state.config.agents.max_body_bytes;
    let big = vec![b' '; limit + 1];
    let r = h
        .send(agent.request(
            "POST",
            paths::DELIVERIES,
            big,
            &Bend { idempotency_key: Some("k1".into()), ..Bend::default() },
        ))
        .await;
    expect(&r, StatusCode::PAYLOAD_TOO_LARGE, "too_large", "larger than");
    nothing_stored(&h).await;
}

async fn malformed_json_is_refused(db: TestDb) {
    let (h, agent, _) = bound(db).await;
    for body in [&b"{\"exam\": "[..], b"[]", br#"{"exam":"k1","created_at":"yesterday","item":{"kind":"answers"}}"#] {
        let bend = Bend { idempotency_key: Some("k1".into()), ..Bend::default() };
        let r = h.send(agent.request("POST", paths::DELIVERIES, body.to_vec(), &bend)).await;
        expect(&r, StatusCode::BAD_REQUEST, "bad_request", "not the expected JSON");
    }
    // A snapshot whose bytes do not match its hash, and one that is no JPEG.
    let mut d = snapshot_delivery(None, 1);
    d["item"]["sha256"] = "00".repeat(32).into();
    let r = h.send(agent.delivery("k2", &d)).await;
    expect(&r, StatusCode::BAD_REQUEST, "bad_request", "is not the SHA-256");
    let r = h.send(agent.delivery("bad key!", &answers_delivery(None, "q"))).await;
    expect(&r, StatusCode::BAD_REQUEST, "bad_request", "idempotency key");
    let r = h.send(agent.signed("POST", paths::DELIVERIES, answers_delivery(None, "q").to_string().into_bytes())).await;
    expect(&r, StatusCode::BAD_REQUEST, "bad_request", "idempotency-key is missing");
    nothing_stored(&h).await;
}

async fn unknown_keys_and_forged_enrolments_are_refused(db: TestDb) {
    let (h, _agent, before) = bound(db).await;
    let stranger = TestAgent::new("02:00:00:00:00:77", "10.0.0.77");
    let r = h.send(stranger.heartbeat(None)).await;
    expect(&r, StatusCode::UNAUTHORIZED, "unknown_key", "enrol first");
    assert!(refusal_after(&h, before).await.is_some(), "a stranger's signed request is audited");
    // An enrolment signed by another key than the one it carries.
    let thief = TestAgent::new("02:00:00:00:00:78", "10.0.0.78");
    let bend = Bend { key_id: Some(stranger.key_id.clone()), ..Bend::default() };
    let r = h.send(thief.request("POST", paths::ENROL, stranger.enrol_body(), &bend)).await;
    expect(&r, StatusCode::UNAUTHORIZED, "bad_signature", "does not verify");
    assert!(h.db.store.machine(&stranger.key_id).await.unwrap().is_none(), "a forged enrolment was stored");
}

async fn a_replay_after_a_server_restart_is_refused(db: TestDb) {
    let (h, agent, _) = bound(db).await;
    let body = br#"{"devices":[],"outbox_pending":0}"#.to_vec();
    let (parts, body) = agent.request_parts("POST", examgate_protocol::link::paths::HEARTBEAT, body, &Bend::default());
    let build = || {
        let mut b = Request::post(examgate_protocol::link::paths::HEARTBEAT);
        for (k, v) in &parts {
            b = b.header(k, v);
        }
        let mut req = b.body(Body::from(body.clone())).unwrap();
        req.extensions_mut().insert(ConnectInfo(PeerAddr("10.0.0.3:4000".parse().unwrap())));
        req
    };
    assert_eq!(h.send(build()).await.status, StatusCode::OK);
    // The server restarts: a new process opens the same database.
    let store = examgate_server::store::open(&h.db.url).await.unwrap();
    let db = TestDb { store, url: h.db.url.clone(), dir: tempfile::tempdir().unwrap() };
    let restarted = Harness { state: db.state(), db };
    let r = restarted.send(build()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    // SQLite keeps nonces in memory and refuses what was signed before it started;
    // PostgreSQL keeps them in the database, where the replay is found.
    let kind = if h.db.store.kind() == "sqlite" { "stale" } else { "replayed" };
    assert_eq!(r.kind(), kind, "{}", r.text());
}

both_databases!(
    a_replay_after_a_server_restart_is_refused,
    unsigned_requests_are_refused,
    badly_signed_requests_are_refused_and_audited,
    replayed_requests_are_refused_and_audited,
    expired_requests_are_refused_and_audited,
    wrongly_bound_requests_are_refused_raised_and_audited,
    a_seat_claiming_another_seats_number_is_refused,
    oversized_bodies_are_refused,
    malformed_json_is_refused,
    unknown_keys_and_forged_enrolments_are_refused,
);
