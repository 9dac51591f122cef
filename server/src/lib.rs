//! The examgate exam-centre server as a library: `main.rs` is a thin CLI over
//! these modules, and tests use them directly.
//!
//! - [`store`]: storage behind one trait, SQLite or PostgreSQL.
//! - [`audit`]: the hash chain and its verifier.
//! - [`api`]: `app(state)`, the agent endpoints (signed) and the console's API.
//! - [`tls`]: the self-made certificate and the TLS listener.
//! - [`exam`]: the question bank, exam definitions, papers drawn and scored.
//! - [`backup`]: whole-centre backup and restore across databases.
//! - [`sheet`]: the signed score sheet (PDF) of a finished exam and its check.
//! - [`config`], [`cli`], [`commands`]: the binary's settings and subcommands.

pub mod api;
pub mod audit;
pub mod backup;
pub mod cli;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod error;
pub mod exam;
pub mod hub;
pub mod ids;
pub mod login;
pub mod passwords;
pub mod roster;
pub mod seal;
pub mod sheet;
pub mod snapshots;
pub mod store;
pub mod tls;

/// Milliseconds since the Unix epoch, as every stored time is.
pub fn now_ms() -> i64 {
    examgate_protocol::Timestamp::now().unix_millis()
}
