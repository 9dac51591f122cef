//! Storage behind one trait, [`Store`], with two implementations: an
//! embedded SQLite file ([`SqliteStore`], the default) and PostgreSQL
//! ([`PgStore`], several servers may share one). Both run the same
//! migrations (`server/migrations/`) and the same SQL, written once in
//! [`sql`](self) and instantiated for each database.
//!
//! Every state change that the audit chain covers is written in the same
//! transaction as its audit row, so the two cannot disagree.

pub mod bank;
pub mod exam;
pub mod exam_invigilation;
pub mod login;
mod login_sql;
mod postgres;
pub mod roster;
mod sql;
mod sqlite;
mod types;

use std::sync::Arc;

use async_trait::async_trait;

pub use bank::{BankImportOutcome, BankStore, BankVersionInfo, NewBankImport, NewMediaFile, StoredMedia};
pub use exam::{
    Admission, AnswerOutcome, CloseOutcome, ClosePaper, ExamStore, HeldAnswerRow, NewExamAnswer, NewPaper, PaperPlan,
    PaperProgress, PaperRow, PaperState, Scored, SeatSubmission,
};
pub use exam_invigilation::{ExamAction, ExtensionBasis, Invigilated, InvigilationStore, NewAction, Paused};
pub use login::{
    Assigned, Called, Claim, Claimed, Decided, ExaminerCall, ExaminerDecision, Finish, Finished, LoginError,
    LoginStore, NewVerification, Released, SeatAssignment, StoredVerdict, VerificationRow, Verified,
};
pub use postgres::PgStore;
pub use roster::{
    Candidate, CandidateRow, ImportSummary, NewCandidate, NewImport, PurgeSummary, RosterStore, candidate_state_str,
    parse_candidate_state, replace_refusal,
};
pub use sqlite::SqliteStore;
pub use types::*;

use crate::audit::{self, Entry};

/// The migrations both databases run, embedded in the binary.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/0001_init.sql")),
    (2, "login", include_str!("../../migrations/0002_login.sql")),
    (3, "bank", include_str!("../../migrations/0003_bank.sql")),
    (4, "exam", include_str!("../../migrations/0004_exam.sql")),
    (5, "invigilation", include_str!("../../migrations/0005_invigilation.sql")),
];

/// The schema version a database is at after [`MIGRATIONS`].
pub const SCHEMA_VERSION: i64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Opens the database a URL names: `sqlite:PATH` (created if missing) or
/// `postgres://…`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else if let Some(path) = url.strip_prefix("sqlite:") {
        Ok(Arc::new(SqliteStore::open(std::path::Path::new(path.trim_start_matches("//"))).await?))
    } else {
        Err(StoreError::Invalid(format!("unknown database URL {url:?}: use sqlite:PATH or postgres://USER@HOST/DB")))
    }
}

/// Everything the server keeps. Times are Unix milliseconds, given by the
/// caller so that tests control them.
#[async_trait]
pub trait Store: RosterStore + LoginStore + BankStore + ExamStore + InvigilationStore + Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn kind(&self) -> &'static str;

    // Machines and seats.
    /// Records an enrolment (or finds the same key enrolled before) and audits a new one.
    async fn enrol(&self, machine: NewMachine, now: i64) -> Result<Enrolled, StoreError>;
    async fn machine(&self, key_id: &str) -> Result<Option<Machine>, StoreError>;
    /// Binds a pending PC to a free seat.
    async fn approve(&self, approval: Approval, now: i64) -> Result<Machine, StoreError>;
    /// Gives a bound seat to another enrolled PC; the old one is `replaced` at once.
    async fn rebind(&self, rebind: Rebind, now: i64) -> Result<Rebound, StoreError>;
    async fn overview(&self) -> Result<Overview, StoreError>;

    // Signed requests.
    /// Records a nonce; a second use by the same key is a replay.
    async fn use_nonce(&self, key_id: &str, nonce: &str, at: i64) -> Result<NonceUse, StoreError>;
    async fn prune_nonces(&self, before: i64) -> Result<u64, StoreError>;
    /// Records the latest heartbeat of each PC, many in one transaction.
    async fn heartbeats(&self, beats: Vec<HeartbeatRecord>) -> Result<(), StoreError>;

    // Deliveries.
    /// Stores an item once per (key, idempotency key) and audits it.
    async fn deliver(&self, delivery: NewDelivery) -> Result<DeliveryOutcome, StoreError>;
    async fn deliveries(&self, seat: Option<&str>, limit: i64) -> Result<Vec<DeliveryRow>, StoreError>;
    async fn delivery_count(&self) -> Result<i64, StoreError>;

    // Alerts and audit.
    async fn raise_alert(&self, alert: NewAlert, audit: Entry) -> Result<Alert, StoreError>;
    /// Raises `alert` with its audit row in one transaction, unless its seat
    /// already has an open alert of its kind about the same thing (a message
    /// that begins with `about`): one open `device_fault` per seat and device.
    async fn raise_alert_once(&self, alert: NewAlert, about: &str, audit: Entry) -> Result<Option<Alert>, StoreError>;
    async fn alerts(&self, which: AlertFilter) -> Result<Vec<Alert>, StoreError>;
    async fn clear_alert(&self, id: &str, actor: &str, now: i64) -> Result<(), StoreError>;
    async fn audit(&self, entry: Entry, now: i64) -> Result<audit::Row, StoreError>;
    /// The whole chain in sequence order, and its head.
    async fn audit_chain(&self) -> Result<(Vec<audit::Row>, audit::Head), StoreError>;
    /// The newest `limit` rows, newest first.
    async fn audit_tail(&self, limit: i64) -> Result<Vec<audit::Row>, StoreError>;

    // Accounts and console sessions.
    async fn create_user(&self, user: NewUser, actor: &str, now: i64) -> Result<(), StoreError>;
    async fn user(&self, username: &str) -> Result<Option<User>, StoreError>;
    async fn users(&self) -> Result<Vec<User>, StoreError>;
    async fn set_password(&self, username: &str, password_hash: &str, actor: &str, now: i64) -> Result<(), StoreError>;
    async fn session(&self, token_hash: &str, now: i64) -> Result<Option<Session>, StoreError>;
    /// Adds a logged-in user to a session (creating it) and audits the login.
    async fn session_login(&self, login: SessionLogin, now: i64) -> Result<Session, StoreError>;
    async fn session_logout(&self, token_hash: &str, actor: &str, now: i64) -> Result<(), StoreError>;

    // Commands pushed to seats.
    async fn queue_command(&self, command: NewCommand, now: i64) -> Result<CommandRow, StoreError>;
    async fn pending_commands(&self, key_id: &str) -> Result<Vec<CommandRow>, StoreError>;
    async fn ack_command(&self, key_id: &str, id: &str, now: i64) -> Result<(), StoreError>;

    // Backup and restore.
    /// Every table a backup carries, read in one consistent snapshot.
    async fn dump(&self) -> Result<Vec<TableDump>, StoreError>;
    /// Loads a dump into this (empty) database in one transaction.
    async fn load(&self, tables: Vec<TableDump>) -> Result<(), StoreError>;
    /// Whether nothing but the empty audit head is stored.
    async fn is_empty(&self) -> Result<bool, StoreError>;
}
