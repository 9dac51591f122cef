//! `GET /v1/events`: a WebSocket carrying one JSON [`Event`] per text message.

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use examgate_protocol::Event;
use tokio::sync::{broadcast, watch};

use super::AppState;

pub(super) async fn events(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    // Subscribe before answering: once the client sees the upgrade, it will
    // get every event that follows.
    let events = state.devices().subscribe();
    let shutdown = state.0.shutdown.subscribe();
    upgrade.on_upgrade(move |socket| stream(socket, events, shutdown))
}

async fn stream(mut socket: WebSocket, mut events: broadcast::Receiver<Event>, mut shutdown: watch::Receiver<bool>) {
    tracing::debug!("event stream opened");
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let text = match serde_json::to_string(&event) {
                        Ok(text) => text,
                        Err(e) => {
                            tracing::error!("cannot serialise an event: {e}");
                            continue;
                        }
                    };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "an event stream fell behind; events were dropped for it");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                // Pings are answered by the WebSocket layer; text from the client means nothing.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            // Drop the watch guard inside: it must not live across an await.
            _ = async { shutdown.wait_for(|stopping| *stopping).await.is_ok() } => {
                let frame = CloseFrame { code: close_code::AWAY, reason: "the agent is shutting down".into() };
                let _ = socket.send(Message::Close(Some(frame))).await;
                break;
            }
        }
    }
    tracing::debug!("event stream closed");
}
