//! The link at work: the delivery loop draining the outbox (with backoff
//! while the server is away), heartbeats with device health, and the push
//! socket whose commands are handed to the caller and acknowledged.

use std::sync::Arc;
use std::time::Duration;

use examgate_protocol::link::{Command, DeviceHealth, Heartbeat, PushAck, PushMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

use super::client::{Failure, LinkClient};
use super::outbox::{Item, Outbox};
use super::{LinkError, now_ms};

/// How the loops pace themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pacing {
    pub heartbeat: Duration,
    /// The first wait after a failure; it doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Pacing {
    fn default() -> Pacing {
        Pacing {
            heartbeat: Duration::from_secs(5),
            min_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// The backoff after `failures` failures in a row, with ±25 % jitter so
/// that a room of seats does not retry in step after a server restart.
pub fn backoff(p: &Pacing, failures: u32) -> Duration {
    let base = p.min_backoff.saturating_mul(1u32 << failures.min(16)).min(p.max_backoff);
    let mut b = [0u8; 2];
    use ring::rand::SecureRandom;
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    let jitter = f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) * 0.5 + 0.75;
    base.mul_f64(jitter)
}

/// What the delivery loop reports, for logs and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivered {
    Stored { idempotency_key: String, duplicate: bool },
    Rejected { idempotency_key: String, reason: String },
}

pub struct Link {
    pub client: Arc<LinkClient>,
    pub outbox: Outbox,
    pub pacing: Pacing,
    /// Poked when an item is queued, so the delivery loop need not wait out its backoff.
    pub queued: Arc<Notify>,
    /// Poked after every confirmed or rejected item.
    pub progress: Arc<Notify>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, LinkError> + Send + 'static,
) -> Result<T, LinkError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| LinkError::Outbox(format!("outbox task failed: {e}")))?
}

impl Link {
    pub fn new(client: Arc<LinkClient>, outbox: Outbox, pacing: Pacing) -> Link {
        Link { client, outbox, pacing, queued: Arc::new(Notify::new()), progress: Arc::new(Notify::new()) }
    }

    /// Queues an item durably and wakes the delivery loop.
    pub async fn enqueue(&self, kind: &str, body: Vec<u8>) -> Result<String, LinkError> {
        let outbox = self.outbox.clone();
        let kind = kind.to_owned();
        let key = blocking(move || outbox.enqueue(&kind, &body, now_ms())).await?;
        self.queued.notify_one();
        Ok(key)
    }

    /// Delivers queued items forever, oldest due first; `report` hears of each.
    pub async fn deliver_forever(&self, mut report: impl FnMut(Delivered)) -> Result<(), LinkError> {
        let mut failures = 0u32;
        loop {
            let outbox = self.outbox.clone();
            let next = blocking(move || outbox.next_due(now_ms())).await?;
            let item = match next {
                Ok(item) => item,
                Err(next_at) => {
                    let wait = next_at.map_or(Duration::from_secs(3600), |t| {
                        Duration::from_millis(u64::try_from(t - now_ms()).unwrap_or(0))
                    });
                    tokio::select! {
                        _ = self.queued.notified() => {}
                        _ = tokio::time::sleep(wait) => {}
                    }
                    continue;
                }
            };
            match self.deliver_one(&item).await? {
                Ok(done) => {
                    failures = 0;
                    report(done);
                    self.progress.notify_waiters();
                }
                Err(failure) => {
                    // The server is away or not taking this seat now: everything waits.
                    failures = failures.saturating_add(1);
                    let wait = backoff(&self.pacing, failures - 1);
                    tracing::warn!(key = %item.idempotency_key, "delivery failed, retrying in {wait:?}: {failure}");
                    let outbox = self.outbox.clone();
                    let (id, msg) = (item.id, failure.to_string());
                    let retry_at = now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
                    blocking(move || outbox.postpone(id, retry_at, &msg)).await?;
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// One attempt: `Ok(Ok)` when the item left the outbox (stored, or refused for good).
    async fn deliver_one(&self, item: &Item) -> Result<Result<Delivered, Failure>, LinkError> {
        let outbox = self.outbox.clone();
        let id = item.id;
        match self.client.deliver(&item.idempotency_key, &item.body).await {
            Ok(receipt) => {
                blocking(move || outbox.delivered(id)).await?;
                let duplicate = receipt.stored == examgate_protocol::link::Stored::Duplicate;
                Ok(Ok(Delivered::Stored { idempotency_key: item.idempotency_key.clone(), duplicate }))
            }
            Err(f) if f.is_permanent() => {
                let reason = f.to_string();
                tracing::error!(key = %item.idempotency_key, "the server refused an item for good; kept aside: {reason}");
                let r = reason.clone();
                blocking(move || outbox.reject(id, &r)).await?;
                Ok(Ok(Delivered::Rejected { idempotency_key: item.idempotency_key.clone(), reason }))
            }
            Err(f) => Ok(Err(f)),
        }
    }

    /// Waits until no item is pending.
    pub async fn drained(&self) -> Result<(), LinkError> {
        loop {
            let progress = self.progress.notified();
            let outbox = self.outbox.clone();
            if blocking(move || outbox.counts()).await?.pending == 0 {
                return Ok(());
            }
            progress.await;
        }
    }

    /// Sends a heartbeat every `pacing.heartbeat` with what `devices` reports.
    pub async fn heartbeat_forever<F, Fut>(&self, seat: Option<String>, mut devices: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Vec<DeviceHealth>>,
    {
        let mut tick = tokio::time::interval(self.pacing.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let outbox = self.outbox.clone();
            let pending = blocking(move || outbox.counts()).await.map(|c| c.pending).unwrap_or(0);
            let beat = Heartbeat { seat: seat.clone(), devices: devices().await, outbox_pending: pending };
            if let Err(e) = self.client.heartbeat(&beat).await {
                tracing::warn!("heartbeat: {e}");
            }
        }
    }

    /// Keeps the push socket open, reconnecting with backoff; each command
    /// goes to `on_command`, then is acknowledged.
    pub async fn push_forever<F, Fut>(&self, mut on_command: F)
    where
        F: FnMut(PushMessage) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let mut failures = 0u32;
        loop {
            match self.client.push_socket().await {
                Ok(mut ws) => {
                    failures = 0;
                    tracing::info!("push socket open");
                    while let Some(frame) = ws.next().await {
                        match frame {
                            Ok(Message::Text(text)) => match serde_json::from_str::<PushMessage>(&text) {
                                Ok(msg) => {
                                    let ack = PushAck { ack: msg.id.clone() };
                                    on_command(msg).await;
                                    let ack = serde_json::to_string(&ack).expect("an ack serialises");
                                    if ws.send(Message::Text(ack.into())).await.is_err() {
                                        break;
                                    }
                                }
                                Err(e) => tracing::warn!("unreadable push message: {e}"),
                            },
                            Ok(Message::Close(frame)) => {
                                tracing::warn!("the server closed the push socket: {frame:?}");
                                break;
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!("push socket: {e}");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!("push socket: {e}"),
            }
            let wait = backoff(&self.pacing, failures);
            failures = failures.saturating_add(1);
            tokio::time::sleep(wait).await;
        }
    }
}

/// A command as one line for a person or a script.
pub fn describe_command(c: &Command) -> String {
    match c {
        Command::SnapshotNow => "snapshot now".into(),
        Command::Warning { text } => format!("warning: {text}"),
        Command::CandidateAssigned { booking_number, .. } => format!("candidate {booking_number} assigned here"),
        Command::LoginDecision { booking_number, decision } => format!("candidate {booking_number}: {decision:?}"),
        Command::CandidateReleased { booking_number } => format!("candidate {booking_number} released from here"),
        Command::ExamReady { booking_number, paper_id } => format!("paper {paper_id} of {booking_number} is ready"),
        Command::ExamResult { booking_number, paper_id } => {
            format!("paper {paper_id} of {booking_number} has a result")
        }
        Command::ExamWarning { paper_id, count, reason, .. } => {
            format!("paper {paper_id}: warning {count} ({})", reason.as_str())
        }
        Command::ExamPaused { paper_id, reason, .. } => format!("paper {paper_id}: paused ({})", reason.as_str()),
        Command::ExamResumed { paper_id, deadline, .. } => format!("paper {paper_id}: resumed, deadline {deadline}"),
        Command::ExamDeadline { paper_id, deadline, reason, .. } => {
            format!("paper {paper_id}: deadline {deadline} ({})", reason.as_str())
        }
        Command::ExamReminder { paper_id, minutes, .. } => format!("paper {paper_id}: {minutes} minutes left"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling_with_jitter() {
        let p = Pacing {
            heartbeat: Duration::from_secs(5),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        };
        for (failures, base) in [(0, 100), (1, 200), (3, 800), (10, 2000)] {
            let b = backoff(&p, failures).as_millis() as u64;
            assert!((base * 3 / 4..=base * 5 / 4).contains(&b), "{failures} failures: {b} ms, base {base}");
        }
    }
}
