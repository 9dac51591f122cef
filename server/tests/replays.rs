//! Replay protection as the load asks for it (issue 17): nonces written in
//! batches must refuse a replay exactly as one statement per request did,
//! on whichever server sees it, while a seat's own concurrent requests
//! (heartbeat, outbox, login share one key and may carry the same
//! millisecond) all pass.

#[macro_use]
mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::{Bend, Harness, TestAgent, TestDb};
use examgate_protocol::link::paths;
use examgate_server::api::PeerAddr;

const BEAT: &[u8] = br#"{"devices":[],"outbox_pending":0}"#;

/// A harness with seat 3 bound to a test agent.
async fn bound(db: TestDb) -> (Harness, TestAgent) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let agent = TestAgent::new("02:00:00:00:00:03", "10.0.0.3");
    h.bind(&agent, "3", &console).await;
    (h, agent)
}

/// A signed heartbeat that can be sent again byte for byte, as a replay is.
fn replayable(agent: &TestAgent, nonce: &str) -> impl Fn() -> Request<Body> + Send + Sync + use<> {
    let bend = Bend { nonce: Some(nonce.into()), ..Bend::default() };
    let (parts, body) = agent.request_parts("POST", paths::HEARTBEAT, BEAT.to_vec(), &bend);
    move || {
        let mut b = Request::post(paths::HEARTBEAT);
        for (k, v) in &parts {
            b = b.header(k, v);
        }
        let mut req = b.body(Body::from(body.clone())).unwrap();
        req.extensions_mut().insert(ConnectInfo(PeerAddr("10.0.0.3:4000".parse().unwrap())));
        req
    }
}

/// A seat's requests sent at once, many in one batch: every one passes
/// (no per-key ordering refuses a request that overtook another); then
/// each again, all at once too: every one is a replay.
async fn concurrent_requests_of_one_seat_pass_and_their_replays_do_not(db: TestDb) {
    let (h, agent) = bound(db).await;
    let h = std::sync::Arc::new(h);
    let requests: Vec<_> = (0..40).map(|i| replayable(&agent, &format!("{i:032x}"))).collect();
    let requests = std::sync::Arc::new(requests);
    for (round, expected) in [(0, StatusCode::OK), (1, StatusCode::UNAUTHORIZED)] {
        let mut tasks = Vec::new();
        for i in 0..requests.len() {
            let (h, requests) = (h.clone(), requests.clone());
            tasks.push(tokio::spawn(async move { h.send(requests[i]()).await }));
        }
        for t in tasks {
            let r = t.await.unwrap();
            assert_eq!(r.status, expected, "round {round}: {}", r.text());
            if round == 1 {
                assert_eq!(r.kind(), "replayed", "{}", r.text());
            }
        }
    }
}

/// The same request twice at the same moment (both land in one batch): one passes, one is a replay.
async fn a_request_and_its_replay_at_once_pass_once(db: TestDb) {
    let (h, agent) = bound(db).await;
    let h = std::sync::Arc::new(h);
    let build = std::sync::Arc::new(replayable(&agent, "0123456789abcdef0123456789abcdef"));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (h, build) = (h.clone(), build.clone());
            tokio::spawn(async move { h.send(build()).await })
        })
        .collect();
    let mut passed = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            StatusCode::OK => passed += 1,
            s => {
                assert_eq!(s, StatusCode::UNAUTHORIZED, "{}", r.text());
                assert_eq!(r.kind(), "replayed", "{}", r.text());
            }
        }
    }
    assert_eq!(passed, 1, "exactly one of eight identical requests passes");
}

/// Two servers on one PostgreSQL, each with its own batches: a request
/// that passed on the first is a replay on the second, and the other way
/// round, and the second's own fresh requests pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_replayed_to_a_second_server_on_the_same_postgres_is_refused() {
    let (first, agent) = bound(TestDb::postgres().await).await;
    let store = examgate_server::store::open(&first.db.url).await.unwrap();
    let db = TestDb { store, url: first.db.url.clone(), dir: tempfile::tempdir().unwrap() };
    let second = Harness { state: db.state(), db };

    let one = replayable(&agent, "11111111111111111111111111111111");
    assert_eq!(first.send(one()).await.status, StatusCode::OK);
    let r = second.send(one()).await;
    assert_eq!((r.status, r.kind().as_str()), (StatusCode::UNAUTHORIZED, "replayed"), "{}", r.text());

    let two = replayable(&agent, "22222222222222222222222222222222");
    assert_eq!(second.send(two()).await.status, StatusCode::OK);
    let r = first.send(two()).await;
    assert_eq!((r.status, r.kind().as_str()), (StatusCode::UNAUTHORIZED, "replayed"), "{}", r.text());

    // Both at once, one to each server: exactly one passes.
    let three = replayable(&agent, "33333333333333333333333333333333");
    let (a, b) = tokio::join!(first.send(three()), second.send(three()));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::UNAUTHORIZED], "{} / {}", a.text(), b.text());
}

both_databases!(
    concurrent_requests_of_one_seat_pass_and_their_replays_do_not,
    a_request_and_its_replay_at_once_pass_once,
);
