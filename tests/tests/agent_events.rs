//! `/v1/events` of the real agent: a WebSocket client sees fingers and
//! unplugging as the simulator is scripted.

use std::time::Duration;

use examgate_e2e::agent::Agent;
use futures_util::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn sim(agent: &Agent, command: &str) {
    let r = Client::new()
        .post(agent.url("/v1/sim/sim-fp-0/command"))
        .json(&json!({ "command": command }))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

/// The next event of type `kind`, skipping others.
async fn next_event(socket: &mut Socket, kind: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.next().await.expect("the stream stays open").expect("a message") {
                Message::Text(text) => {
                    let event: Value = serde_json::from_str(&text).expect("JSON event");
                    if event["type"] == kind {
                        return event;
                    }
                }
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected message {other:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} event"))
}

#[tokio::test]
async fn fingers_and_unplugging_arrive_as_events() {
    let agent = Agent::start(&["--device", "sim:fingerprint"]).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(agent.ws_url("/v1/events")).await.expect("connect");

    sim(&agent, "lift").await;
    let lifted = next_event(&mut socket, "finger_lifted").await;
    assert_eq!(lifted["device"], "sim-fp-0");
    assert!(lifted["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{lifted}");

    sim(&agent, "finger 2").await;
    assert_eq!(next_event(&mut socket, "finger_placed").await["device"], "sim-fp-0");

    sim(&agent, "unplug").await;
    assert_eq!(next_event(&mut socket, "device_detached").await["device"], "sim-fp-0");
    sim(&agent, "plug").await;
    assert_eq!(next_event(&mut socket, "device_attached").await["device"], "sim-fp-0");
}

#[tokio::test]
async fn pages_from_unlisted_origins_cannot_open_the_stream() {
    let agent = Agent::start(&["--device", "sim:fingerprint"]).await;
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(agent.ws_url("/v1/events")).unwrap();
    request.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        Err(e) => panic!("expected 403, got {e}"),
        Ok(_) => panic!("a page from an unlisted origin opened the event stream"),
    }
}
