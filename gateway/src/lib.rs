//! The examgate seat agent as a library: the binary (`main.rs`) is a thin
//! CLI over these modules, and tests and benches use them directly.
//!
//! - [`config`]: the TOML config; [`selector`]: device selectors.
//! - [`drivers`]: a selector becomes a driver (built-in or plugin).
//! - [`devices`]: the device manager (a thread per device, leases, events).
//! - [`templates`]: base64 and format detection at the edge, built-in matchers.
//! - [`host`]: the driver host for plugins; [`plugin_check`]: `plugin check`.

pub mod config;
pub mod devices;
pub mod drivers;
pub mod error;
pub mod host;
pub mod plugin_check;
pub mod selector;
pub mod templates;
