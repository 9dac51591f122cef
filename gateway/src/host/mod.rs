//! The driver host: vendor plugins run in a child process (this binary in
//! `driver-host` mode) so that a plugin that crashes or hangs costs one
//! error, not the agent.
//!
//! - The agent makes a Unix socket pair and hands one end to the child as
//!   its stdin (so a plugin printing to stdout cannot corrupt the stream).
//! - The child loads the plugin (the loader checks `abi_version` and
//!   `struct_size` before anything else), then sends `Ready` or `LoadFailed`.
//! - Requests and responses are length-prefixed postcard frames, strictly
//!   one at a time per host.
//! - A host that crashes (EOF) or overstays an operation's timeout plus a
//!   grace period is killed and restarted at once; devices opened in the
//!   old host reopen themselves on their next call.

mod child;
mod client;
mod wire;

pub use child::driver_host_main;
pub use client::{HostError, HostOptions, HostedPlugin};
