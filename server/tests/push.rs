//! The push WebSocket and the console's live events, over a real socket.
//! Against both databases.

#[macro_use]
mod common;

use std::net::SocketAddr;

use axum::http::StatusCode;
use common::{Harness, TestAgent, TestDb};
use examgate_protocol::link::{PushMessage, paths};
use examgate_server::api::{PeerAddr, app};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Serves the harness's app on a loopback port.
async fn serve(h: &Harness) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(h.state.clone()).into_make_service_with_connect_info::<PeerAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect_agent(addr: SocketAddr, agent: &TestAgent) -> Socket {
    let (headers, _) = agent.request_parts("GET", paths::PUSH, vec![], &common::Bend::default());
    let mut req = format!("ws://{addr}{}", paths::PUSH).into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(axum::http::HeaderName::try_from(k).unwrap(), v.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.expect("push socket").0
}

async fn next_text(ws: &mut Socket) -> String {
    loop {
        match ws.next().await.expect("socket open").expect("frame") {
            Message::Text(t) => return t.to_string(),
            Message::Close(f) => panic!("closed: {f:?}"),
            _ => {}
        }
    }
}

async fn commands_reach_the_seat_and_are_acknowledged(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    // Over loopback the agent's IP is 127.0.0.1.
    let agent = TestAgent::new("02:00:00:00:00:21", "127.0.0.1");
    h.bind(&agent, "21", &console).await;
    // A command queued while the seat is away arrives when it connects.
    let r = h
        .post(
            "/api/v1/seats/21/commands",
            &console,
            json!({"type": "warning", "text": "keep your eyes on your own screen"}),
        )
        .await;
    assert_eq!((r.status, r.json()["sent_now"].as_bool()), (StatusCode::CREATED, Some(false)), "{}", r.text());
    let addr = serve(&h).await;
    let mut ws = connect_agent(addr, &agent).await;
    let first: PushMessage = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(
        serde_json::to_value(&first.command).unwrap(),
        json!({"type": "warning", "text": "keep your eyes on your own screen"})
    );
    ws.send(Message::Text(json!({"ack": first.id}).to_string().into())).await.unwrap();

    // One sent while it is connected arrives at once.
    let r = h.post("/api/v1/seats/21/commands", &console, json!({"type": "snapshot_now"})).await;
    assert_eq!(r.json()["sent_now"], true, "{}", r.text());
    let second: PushMessage = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(serde_json::to_value(&second.command).unwrap(), json!({"type": "snapshot_now"}));
    ws.send(Message::Text(json!({"ack": second.id}).to_string().into())).await.unwrap();
    // The socket task reads frames in order: once it has answered our close,
    // both acknowledgements are recorded.
    ws.send(Message::Close(None)).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}
    assert_eq!(h.db.store.pending_commands(&agent.key_id).await.unwrap(), vec![]);
    let commands: Vec<_> = h.audit_actions().await.into_iter().filter(|(a, _, _)| a == "command").collect();
    assert_eq!(commands.len(), 2);
}

async fn rebinding_closes_the_old_pcs_socket_at_once(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let old = TestAgent::new("02:00:00:00:00:31", "127.0.0.1");
    let spare = TestAgent::new("02:00:00:00:00:32", "127.0.0.1");
    h.bind(&old, "31", &console).await;
    h.send(spare.enrol_request()).await;
    let addr = serve(&h).await;
    let mut ws = connect_agent(addr, &old).await;
    let mut events = console_events(addr, &console).await;
    let r = h.post("/api/v1/seats/31/rebind", &console, json!({"key_id": spare.key_id})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let close = loop {
        match ws.next().await {
            Some(Ok(Message::Close(f))) => break f,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let close = close.expect("a close frame with a reason");
    assert_eq!(u16::from(close.code), 4001);
    assert!(close.reason.contains("seat 31 was given to another PC"), "{}", close.reason);
    // The console hears of it.
    let ev = loop {
        match events.next().await.unwrap().unwrap() {
            Message::Text(t) => break t.to_string(),
            _ => continue,
        }
    };
    assert_eq!(ev, r#"{"type":"seats_changed"}"#);
    // And the old PC cannot come back on the socket.
    let (headers, _) = old.request_parts("GET", paths::PUSH, vec![], &common::Bend::default());
    let mut req = format!("ws://{addr}{}", paths::PUSH).into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(axum::http::HeaderName::try_from(k).unwrap(), v.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), StatusCode::FORBIDDEN),
        other => panic!("a replaced PC was let in: {other:?}"),
    }
}

async fn console_events(addr: SocketAddr, cookie: &str) -> Socket {
    let mut req = format!("ws://{addr}/api/v1/events").into_client_request().unwrap();
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    tokio_tungstenite::connect_async(req).await.expect("events socket").0
}

async fn the_console_hears_of_enrolments_and_alerts(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let addr = serve(&h).await;
    let mut events = console_events(addr, &console).await;
    let agent = TestAgent::new("02:00:00:00:00:41", "10.0.0.41");
    assert_eq!(h.send(agent.enrol_request()).await.status, StatusCode::CREATED);
    let next = async |events: &mut Socket| loop {
        if let Message::Text(t) = events.next().await.unwrap().unwrap() {
            break serde_json::from_str::<serde_json::Value>(&t).unwrap();
        }
    };
    assert_eq!(next(&mut events).await, json!({"type": "seats_changed"}));
    h.post("/api/v1/seats/41/approve", &console, json!({"key_id": agent.key_id})).await;
    assert_eq!(next(&mut events).await, json!({"type": "seats_changed"}));
    let r = h.send(agent.heartbeat(Some("40"))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let ev = next(&mut events).await;
    assert_eq!(
        (ev["type"].as_str(), ev["kind"].as_str(), ev["seat"].as_str()),
        (Some("alert"), Some("wrong_seat"), Some("41"))
    );
}

both_databases!(
    commands_reach_the_seat_and_are_acknowledged,
    rebinding_closes_the_old_pcs_socket_at_once,
    the_console_hears_of_enrolments_and_alerts,
);
