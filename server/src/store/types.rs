//! What the store keeps and returns.

use std::fmt;
use std::str::FromStr;

use examgate_protocol::link::BindingState;
use serde::{Deserialize, Serialize};

use crate::audit::Entry;

/// A seat number as the centre assigns it (`7`, `A-017`): 1 to 16 of
/// `A-Z a-z 0-9 -`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SeatNo(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seat number {0:?} is not 1 to 16 characters of A-Z, a-z, 0-9 and '-'")]
pub struct SeatNoError(String);

impl SeatNo {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SeatNo {
    type Err = SeatNoError;
    fn from_str(s: &str) -> Result<SeatNo, SeatNoError> {
        if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(SeatNoError(s.to_owned()));
        }
        Ok(SeatNo(s.to_owned()))
    }
}

impl TryFrom<String> for SeatNo {
    type Error = SeatNoError;
    fn try_from(s: String) -> Result<SeatNo, SeatNoError> {
        s.parse()
    }
}

impl From<SeatNo> for String {
    fn from(s: SeatNo) -> String {
        s.0
    }
}

impl fmt::Display for SeatNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an enrolled PC is for: an exam PC, or the examiner's console PC
/// (whose agent reads ID cards for login mode (a) and is never given candidates).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MachineRole {
    #[default]
    Seat,
    Console,
}

impl MachineRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MachineRole::Seat => "seat",
            MachineRole::Console => "console",
        }
    }
}

impl FromStr for MachineRole {
    type Err = String;
    fn from_str(s: &str) -> Result<MachineRole, String> {
        match s {
            "seat" => Ok(MachineRole::Seat),
            "console" => Ok(MachineRole::Console),
            _ => Err(format!("unknown machine role {s:?}: seat or console")),
        }
    }
}

pub fn state_str(state: BindingState) -> &'static str {
    match state {
        BindingState::Pending => "pending",
        BindingState::Bound => "bound",
        BindingState::Replaced => "replaced",
    }
}

pub fn parse_state(s: &str) -> BindingState {
    match s {
        "bound" => BindingState::Bound,
        "replaced" => BindingState::Replaced,
        _ => BindingState::Pending,
    }
}

/// An enrolment as the server checked it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMachine {
    pub key_id: String,
    /// Standard base64 of the 32-byte Ed25519 key.
    pub public_key: String,
    pub macs: Vec<String>,
    pub reported_ip: String,
    /// The address the server saw the enrolment come from.
    pub source_ip: String,
    pub host_name: String,
    pub agent_version: String,
}

/// An enrolled PC and, if it holds one, its seat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Machine {
    pub key_id: String,
    #[serde(skip)]
    pub public_key: String,
    pub macs: Vec<String>,
    pub reported_ip: String,
    pub source_ip: String,
    pub host_name: String,
    pub agent_version: String,
    pub state: BindingState,
    pub enrolled_at: i64,
    pub seat: Option<Binding>,
    /// `seat` unless approved as the examiner's console.
    pub role: MachineRole,
}

/// Seat number ↔ PC ↔ IP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Binding {
    pub seat: SeatNo,
    pub ip: String,
    pub bound_at: i64,
    pub bound_by: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrolled {
    pub machine: Machine,
    /// Whether this enrolment created the record (else the key had enrolled before).
    pub created: bool,
}

/// An examiner binds a pending PC to a seat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    pub key_id: String,
    pub seat: SeatNo,
    /// The IP to bind; default: the one the enrolment came from.
    pub ip: Option<String>,
    pub actor: String,
    pub role: MachineRole,
}

/// An examiner gives a seat to another enrolled PC (spare-PC takeover).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rebind {
    pub seat: SeatNo,
    pub key_id: String,
    pub ip: Option<String>,
    pub actor: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rebound {
    /// The PC that held the seat and now holds nothing.
    pub old_key_id: String,
    pub machine: Machine,
}

/// The seat map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Overview {
    pub seats: Vec<SeatRow>,
    /// PCs waiting for approval, and PCs that lost their seat to a spare.
    pub unbound: Vec<Machine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SeatRow {
    pub seat: SeatNo,
    pub machine: Machine,
    pub last_seen: Option<i64>,
    /// JSON list of [`DeviceHealth`](examgate_protocol::link::DeviceHealth), as last reported.
    pub devices: Option<String>,
    pub outbox_pending: Option<i64>,
    pub open_alerts: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceUse {
    Fresh,
    Replayed,
    /// Signed before this server process started, when its replay memory was empty: sign anew.
    BeforeStart,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeartbeatRecord {
    pub key_id: String,
    pub at: i64,
    /// JSON list of device health, as the agent sent it.
    pub devices: String,
    pub outbox_pending: i64,
}

/// An item to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    pub key_id: String,
    pub idempotency_key: String,
    pub seat: SeatNo,
    pub exam: String,
    /// `snapshot`, `verification` or `answers`.
    pub kind: String,
    /// SHA-256 of the request body: a retry must send the same bytes.
    pub body_sha256: String,
    /// The stored file (a snapshot's JPEG), by SHA-256.
    pub file_sha256: Option<String>,
    /// JSON of the item without its file.
    pub metadata: String,
    pub created_at: i64,
    pub received_at: i64,
    /// An alert the item raises if it is new (a snapshot with tamper flags), stored in
    /// the same transaction; skipped while the seat has an open alert of the same kind.
    pub alert: Option<NewAlert>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    New {
        received_at: i64,
        /// The alert the item raised, if any.
        alert: Option<Alert>,
    },
    /// Stored before, from the same bytes.
    Duplicate { received_at: i64 },
    /// The key was used before for different bytes.
    Conflict,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeliveryRow {
    pub key_id: String,
    pub idempotency_key: String,
    pub seat: String,
    pub exam: String,
    pub kind: String,
    pub file_sha256: Option<String>,
    pub metadata: String,
    pub created_at: i64,
    pub received_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAlert {
    pub seat: Option<String>,
    pub key_id: Option<String>,
    /// `binding_mismatch`, `wrong_seat`, `replaced_pc`, `device`, …
    pub kind: String,
    pub message: String,
    pub at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub id: String,
    pub at: i64,
    pub seat: Option<String>,
    pub key_id: Option<String>,
    pub kind: String,
    pub message: String,
    pub cleared_at: Option<i64>,
    pub cleared_by: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertFilter {
    Open,
    All,
}

/// A console account's role. A console opens once one of each has logged in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Examiner,
    Invigilator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Examiner => "examiner",
            Role::Invigilator => "invigilator",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "examiner" => Ok(Role::Examiner),
            "invigilator" => Ok(Role::Invigilator),
            _ => Err(format!("unknown role {s:?}: examiner or invigilator")),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub role: Role,
    pub password_hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub username: String,
    pub role: Role,
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Session {
    pub examiner: Option<String>,
    pub invigilator: Option<String>,
    pub expires_at: i64,
    /// The last thing a person did on the console (login, a POST, `session/activity`).
    pub last_active: i64,
}

impl Session {
    /// Both an examiner and an invigilator are logged in.
    pub fn is_open(&self) -> bool {
        self.examiner.is_some() && self.invigilator.is_some()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionLogin {
    pub token_hash: String,
    pub username: String,
    pub role: Role,
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCommand {
    pub id: String,
    pub seat: SeatNo,
    /// JSON of the [`Command`](examgate_protocol::link::Command).
    pub body: String,
    pub actor: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommandRow {
    pub id: String,
    pub seat: String,
    pub key_id: String,
    pub body: String,
    pub created_at: i64,
    pub acked_at: Option<i64>,
}

/// A column value in a backup: the schema has only text and integers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

/// One table of a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDump {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    Int,
    Text,
}

/// The tables a backup carries, in an order that satisfies foreign keys,
/// with their columns. Nonces and console sessions are left out: they are
/// short-lived and mean nothing on another server.
pub const BACKUP_TABLES: &[(&str, &[(&str, ColumnType)])] = {
    use ColumnType::{Int, Text};
    &[
        (
            "machines",
            &[
                ("key_id", Text),
                ("public_key", Text),
                ("macs", Text),
                ("reported_ip", Text),
                ("source_ip", Text),
                ("host_name", Text),
                ("agent_version", Text),
                ("state", Text),
                ("enrolled_at", Int),
                ("role", Text),
            ],
        ),
        ("seats", &[("seat_no", Text), ("key_id", Text), ("ip", Text), ("bound_at", Int), ("bound_by", Text)]),
        ("seat_health", &[("key_id", Text), ("last_seen", Int), ("devices", Text), ("outbox_pending", Int)]),
        (
            "deliveries",
            &[
                ("key_id", Text),
                ("idempotency_key", Text),
                ("seat_no", Text),
                ("exam", Text),
                ("kind", Text),
                ("body_sha256", Text),
                ("file_sha256", Text),
                ("metadata", Text),
                ("created_at", Int),
                ("received_at", Int),
            ],
        ),
        (
            "alerts",
            &[
                ("id", Text),
                ("at", Int),
                ("seat_no", Text),
                ("key_id", Text),
                ("kind", Text),
                ("message", Text),
                ("cleared_at", Int),
                ("cleared_by", Text),
            ],
        ),
        ("users", &[("username", Text), ("role", Text), ("password_hash", Text), ("created_at", Int)]),
        (
            "commands",
            &[
                ("id", Text),
                ("seat_no", Text),
                ("key_id", Text),
                ("body", Text),
                ("created_at", Int),
                ("acked_at", Int),
            ],
        ),
        (
            "audit",
            &[
                ("seq", Int),
                ("at", Int),
                ("actor", Text),
                ("action", Text),
                ("subject", Text),
                ("detail", Text),
                ("prev_hash", Text),
                ("hash", Text),
            ],
        ),
        ("audit_head", &[("id", Int), ("seq", Int), ("hash", Text)]),
        (
            "roster_imports",
            &[("id", Text), ("at", Int), ("actor", Text), ("source", Text), ("sha256", Text), ("rows", Int)],
        ),
        (
            "candidates",
            &[
                ("booking_number", Text),
                ("id_number", Text),
                ("name", Text),
                ("session", Text),
                ("exam_date", Text),
                ("language", Text),
                ("photo", Text),
                ("templates", Text),
                ("template_count", Int),
                ("import_id", Text),
                ("purge_at", Int),
                ("purged_at", Int),
                ("state", Text),
                ("mode", Text),
                ("seat_no", Text),
                ("failures", Int),
                ("updated_at", Int),
                ("exam", Text),
            ],
        ),
        (
            "verifications",
            &[
                ("id", Text),
                ("booking_number", Text),
                ("seat_no", Text),
                ("key_id", Text),
                ("attempt", Int),
                ("live_format", Text),
                ("enrolled_index", Int),
                ("score", Int),
                ("server_score", Int),
                ("verdict", Text),
                ("snapshot_sha256", Text),
                ("body", Text),
                ("body_sha256", Text),
                ("signature", Text),
                ("captured_at", Int),
                ("received_at", Int),
            ],
        ),
        // The question bank (0003_bank.sql).
        ("bank_items", &[("sha256", Text), ("item_id", Text), ("category", Text), ("kind", Text), ("body", Text)]),
        ("bank_media", &[("sha256", Text), ("mime", Text), ("size", Int), ("data", Text)]),
        ("bank_versions", &[("version", Text), ("created_at", Int), ("items", Int)]),
        ("bank_version_items", &[("version", Text), ("item_id", Text), ("item_sha256", Text)]),
        (
            "bank_imports",
            &[
                ("seq", Int),
                ("at", Int),
                ("actor", Text),
                ("source", Text),
                ("source_sha256", Text),
                ("version", Text),
                ("previous", Text),
            ],
        ),
        (
            "exam_defs",
            &[("seq", Int), ("exam_id", Text), ("sha256", Text), ("body", Text), ("source", Text), ("created_at", Int)],
        ),
        // The exam (0004_exam.sql).
        (
            "exam_papers",
            &[
                ("paper_id", Text),
                ("booking_number", Text),
                ("seat_no", Text),
                ("exam_id", Text),
                ("exam_def", Text),
                ("exam_name", Text),
                ("minutes", Int),
                ("pass_score", Int),
                ("max_score", Int),
                ("bank_version", Text),
                ("seed", Text),
                ("paper_sha256", Text),
                ("items", Text),
                ("item_count", Int),
                ("language", Text),
                ("drawn_at", Int),
                ("deadline", Int),
                ("state", Text),
                ("submitted_at", Int),
                ("reason", Text),
                ("score", Int),
                ("passed", Int),
                ("answered", Int),
            ],
        ),
        (
            "exam_answers",
            &[
                ("paper_id", Text),
                ("item_id", Text),
                ("choices", Text),
                ("seq", Int),
                ("answered_at", Int),
                ("received_at", Int),
                ("idempotency_key", Text),
            ],
        ),
        (
            "exam_answer_log",
            &[
                ("paper_id", Text),
                ("idempotency_key", Text),
                ("item_id", Text),
                ("choices", Text),
                ("seq", Int),
                ("answered_at", Int),
                ("received_at", Int),
                ("key_id", Text),
                ("body_sha256", Text),
                ("applied", Int),
            ],
        ),
        (
            "exam_submissions",
            &[
                ("paper_id", Text),
                ("idempotency_key", Text),
                ("seq", Int),
                ("reason", Text),
                ("received_at", Int),
                ("key_id", Text),
                ("body_sha256", Text),
            ],
        ),
        ("exam_exposure", &[("item_id", Text), ("drawn", Int), ("last_drawn", Int)]),
        // Invigilation (0005_invigilation.sql).
        (
            "exam_actions",
            &[
                ("id", Text),
                ("paper_id", Text),
                ("booking_number", Text),
                ("seat_no", Text),
                ("kind", Text),
                ("reason", Text),
                ("note", Text),
                ("count", Int),
                ("moved_ms", Int),
                ("deadline", Int),
                ("command_id", Text),
                ("actor", Text),
                ("at", Int),
            ],
        ),
        ("exam_pauses", &[("paper_id", Text), ("paused_at", Int), ("reason", Text), ("actor", Text)]),
    ]
};

/// An audit entry about a subject, for the store's own appends.
pub(crate) fn entry(actor: &str, action: crate::audit::Action, subject: String, detail: String) -> Entry {
    Entry { actor: actor.to_owned(), action, subject, detail }
}
