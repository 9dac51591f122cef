//! The examgate seat agent as a library: the binary (`main.rs`) is a thin
//! CLI over these modules, and tests and benches use them directly.
//!
//! NOTE for whoever builds the rest of the agent: keep modules here (`pub mod
//! ...`) and keep `main.rs` thin, so that integration tests in
//! `gateway/tests/` and benches in `gateway/benches/` can reach them.

pub mod host;
pub mod plugin_check;
