//! Who is connected now: agents on the push WebSocket (commands go to them
//! at once) and consoles waiting for seat-map changes. In-process only; with
//! several servers on one PostgreSQL each agent socket also polls the
//! database for commands and for its binding.

use std::collections::HashMap;
use std::sync::Mutex;

use examgate_protocol::link::PushMessage;
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};

/// What an agent's socket task is told.
#[derive(Debug)]
pub enum ToAgent {
    Push(PushMessage),
    /// The binding ended (the seat was rebound): close the socket.
    Close(String),
}

/// What consoles are told; they refetch the seat map on any of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConsoleEvent {
    /// Something on the seat map changed (enrolment, binding, online, devices).
    SeatsChanged,
    /// A new alert.
    Alert { seat: Option<String>, kind: String, message: String },
    /// A candidate's login state changed (claimed, an attempt, assigned, admitted, refused, released).
    CandidateUpdated {
        booking_number: String,
        name: String,
        seat: Option<String>,
        state: examgate_protocol::login::CandidateState,
        failures: u32,
        mode: Option<String>,
    },
    /// The examiner read an ID card on the console PC.
    CardRead(Box<CardRead>),
    /// A seat's snapshot arrived (through its outbox, often a moment after the
    /// attempt it shows): `GET /api/v1/snapshots/{sha256}` has it now.
    SnapshotStored { seat: String, sha256: String },
    /// A seat's paper was drawn or an answer stored: `GET /api/v1/exam/progress` has the counts.
    ExamProgress { seat: String, booking_number: String, paper_id: String, answered: u32, total: u32 },
    /// A paper was submitted and scored (by the candidate, at the deadline, or forced).
    ExamSubmitted {
        seat: String,
        booking_number: String,
        paper_id: String,
        score: u32,
        max_score: u32,
        passed: Option<bool>,
        reason: String,
    },
    /// The console warned, paused, resumed or extended a paper, or the server reminded it:
    /// `GET /api/v1/exam/{booking}/actions` has it (and whether the seat acknowledged it).
    ExamInvigilation { seat: String, booking_number: String, paper_id: String, kind: String, deadline: i64 },
}

/// What the server made of a card read at the console, the card, and the
/// roster photo to show beside it (`/api/v1/roster/{booking}/photo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CardRead {
    pub check: examgate_protocol::login::CardCheck,
    pub card: crate::login::card::CardView,
    pub photo_url: Option<String>,
}

struct Presence {
    last_seen: i64,
    devices: String,
    outbox_pending: i64,
    online: bool,
    /// Not yet written to the database.
    dirty: bool,
}

/// A PC's last heartbeat as this server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub last_seen: i64,
    /// JSON list of device health.
    pub devices: String,
    pub outbox_pending: i64,
}

pub struct Hub {
    agents: Mutex<HashMap<String, (u64, mpsc::UnboundedSender<ToAgent>)>>,
    next_conn: Mutex<u64>,
    console: broadcast::Sender<ConsoleEvent>,
    /// Each PC's last heartbeat as this server saw it.
    presence: Mutex<HashMap<String, Presence>>,
}

impl Default for Hub {
    fn default() -> Hub {
        Hub {
            agents: Mutex::default(),
            next_conn: Mutex::new(0),
            console: broadcast::channel(256).0,
            presence: Mutex::default(),
        }
    }
}

impl Hub {
    /// Registers an agent's socket, replacing an older one of the same key.
    pub fn connect(&self, key_id: &str) -> (u64, mpsc::UnboundedReceiver<ToAgent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = {
            let mut n = self.next_conn.lock().expect("hub lock");
            *n += 1;
            *n
        };
        let old = self.agents.lock().expect("hub lock").insert(key_id.to_owned(), (id, tx));
        if let Some((_, old)) = old {
            let _ = old.send(ToAgent::Close("another connection of this PC replaced this one".into()));
        }
        (id, rx)
    }

    pub fn disconnect(&self, key_id: &str, conn: u64) {
        let mut agents = self.agents.lock().expect("hub lock");
        if agents.get(key_id).is_some_and(|(id, _)| *id == conn) {
            agents.remove(key_id);
        }
    }

    pub fn is_connected(&self, key_id: &str) -> bool {
        self.agents.lock().expect("hub lock").contains_key(key_id)
    }

    /// Sends to the agent if it is connected here; false if not.
    pub fn send(&self, key_id: &str, msg: ToAgent) -> bool {
        match self.agents.lock().expect("hub lock").get(key_id) {
            Some((_, tx)) => tx.send(msg).is_ok(),
            None => false,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ConsoleEvent> {
        self.console.subscribe()
    }

    pub fn notify(&self, event: ConsoleEvent) {
        let _ = self.console.send(event);
    }

    /// Records a heartbeat (the housekeeping task writes them to the database in
    /// batches, from [`Hub::take_unwritten`]); tells consoles when the seat came online or its devices changed.
    /// Returns the device report this one replaces (`None` for the first this server saw).
    pub fn heartbeat(&self, key_id: &str, devices: &str, outbox_pending: i64, now: i64) -> Option<String> {
        let (changed, before) = {
            let mut p = self.presence.lock().expect("hub lock");
            let changed = p.get(key_id).is_none_or(|e| !e.online || e.devices != devices);
            let entry =
                Presence { last_seen: now, devices: devices.to_owned(), outbox_pending, online: true, dirty: true };
            (changed, p.insert(key_id.to_owned(), entry).map(|e| e.devices))
        };
        if changed {
            self.notify(ConsoleEvent::SeatsChanged);
        }
        before
    }

    /// The heartbeats not yet written to the database, marked written.
    pub fn take_unwritten(&self) -> Vec<crate::store::HeartbeatRecord> {
        let mut p = self.presence.lock().expect("hub lock");
        p.iter_mut()
            .filter(|(_, e)| e.dirty)
            .map(|(key, e)| {
                e.dirty = false;
                crate::store::HeartbeatRecord {
                    key_id: key.clone(),
                    at: e.last_seen,
                    devices: e.devices.clone(),
                    outbox_pending: e.outbox_pending,
                }
            })
            .collect()
    }

    /// The last heartbeat this server saw from a PC.
    pub fn seen(&self, key_id: &str) -> Option<Seen> {
        self.presence.lock().expect("hub lock").get(key_id).map(|e| Seen {
            last_seen: e.last_seen,
            devices: e.devices.clone(),
            outbox_pending: e.outbox_pending,
        })
    }

    /// The PCs whose last heartbeat here is at most `offline_after` old.
    pub fn online_keys(&self, now: i64, offline_after: i64) -> Vec<String> {
        let p = self.presence.lock().expect("hub lock");
        p.iter().filter(|(_, e)| now - e.last_seen <= offline_after).map(|(k, _)| k.clone()).collect()
    }

    /// Marks seats silent for longer than `offline_after` as offline; tells consoles if any were.
    pub fn sweep(&self, now: i64, offline_after: i64) {
        let mut any = false;
        for p in self.presence.lock().expect("hub lock").values_mut() {
            if p.online && now - p.last_seen > offline_after {
                p.online = false;
                any = true;
            }
        }
        if any {
            self.notify(ConsoleEvent::SeatsChanged);
        }
    }
}
