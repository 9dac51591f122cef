//! The example plugin written in C (`example.c`), for Rust tests and tools.
//!
//! The build script compiles `example.c` with the system C compiler, as a
//! vendor's build would, into a shared library that only the C ABI of
//! `examgate_plugin.h` connects to the agent. This crate contains no Rust
//! binding to it: load it like any vendor plugin.
//!
//! ```no_run
//! use examgate_device_sdk::loader::PluginLibrary;
//! let plugin = PluginLibrary::load(&examgate_c_example::plugin_path())?;
//! assert_eq!(plugin.meta().name, "c-example");
//! # Ok::<(), examgate_device_sdk::loader::LoadError>(())
//! ```

use std::path::{Path, PathBuf};

/// The plugin's name, which is also the vendor format name of its templates.
pub const NAME: &str = "c-example";
/// The id of the one reader the plugin reports.
pub const DEVICE_ID: &str = "c-fp-0";
/// Length of a `c-example` template (8-byte header, 256 feature bits).
pub const TEMPLATE_LEN: usize = 40;

/// Where the build script put `libexamgate_c_example.so`.
pub fn plugin_path() -> PathBuf {
    Path::new(env!("OUT_DIR")).join("libexamgate_c_example.so")
}
