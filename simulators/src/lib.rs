//! Device simulators for tests, demos and vendors' conformance runs.
//!
//! - [`fingerprint`]: an in-process fingerprint reader whose fingers, timing,
//!   quality failures and unplugging are scripted; the agent's `sim:fingerprint`.

pub mod fingerprint;
pub mod vpcd;
mod rng;

pub use fingerprint::{SimFingerprintConfig, SimFingerprintFactory, SimFingerprintHandle};
