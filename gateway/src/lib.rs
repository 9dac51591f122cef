//! The examgate seat agent as a library: the binary (`main.rs`) is a thin
//! CLI over these modules, and tests and benches use them directly.
//!
//! - [`config`]: the TOML config; [`selector`]: device selectors.
//! - [`drivers`]: a selector becomes a driver (built-in or plugin).
//! - [`devices`]: the device manager (a thread per device, leases, events).
//! - [`snapshot`]: the snapshot library (schedule, tamper checks, store);
//!   [`camera`]: snapshots in the running agent; [`scheduler`]: the
//!   scheduled ones.
//! - [`api`]: the HTTP API (`/v1/`, `/legacy/`, `/v1/events`, the seat page).
//! - [`templates`]: base64 and format detection at the edge, built-in matchers.
//! - [`idcard`]: a reader's read becomes the card JSON of the API and the CLI.
//! - [`host`]: the driver host for plugins; [`plugin_check`]: `plugin check`.
//! - [`link`]: the link to the exam-centre server; [`login`]: identity
//!   verification at login (the current candidate, recent captures).
//! - [`exam`]: the exam at the seat (the signed paper package, durable
//!   answers, submission and result).
//! - [`commands`]: what each CLI subcommand does; [`cli`]: its arguments.

pub mod api;
pub mod camera;
pub mod cli;
pub mod commands;
pub mod config;
pub mod devices;
pub mod drivers;
pub mod error;
pub mod exam;
#[cfg(test)]
pub(crate) mod fakes;
pub mod host;
pub mod idcard;
pub mod link;
pub mod login;
pub mod photo;
pub mod plugin_check;
pub mod scheduler;
pub mod selector;
pub mod snapshot;
pub mod templates;
