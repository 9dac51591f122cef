//! Helpers for examgate's end-to-end tests: where the built binaries and
//! plugins are, and processes that clean up after themselves.

use std::path::PathBuf;

/// The cargo profile directory the tests were built into (`target/debug`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test-binary>
    exe.parent().and_then(|deps| deps.parent()).expect("test binary lives in target/<profile>/deps").to_owned()
}

/// A workspace artifact that `make test` builds before the tests run.
pub fn artifact(file: &str) -> PathBuf {
    let path = profile_dir().join(file);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (`cargo build --workspace`, which `make test` does)",
        path.display()
    );
    path
}

/// The Rust example plugin.
pub fn rust_plugin() -> PathBuf {
    artifact("libexamgate_example_plugin.so")
}

/// The Rust plugin whose `get_template` panics (`examgate-panicking-plugin`);
/// a cdylib, so `cargo build -p examgate-panicking-plugin` (or the workspace)
/// must have run before the tests.
pub fn panicking_plugin() -> PathBuf {
    artifact("libexamgate_panicking_plugin.so")
}

/// The seat agent binary, `examgate-agent`.
pub fn agent_binary() -> PathBuf {
    artifact("examgate-agent")
}

pub mod agent;
pub mod centre;
pub mod pcscd;
pub mod sim;
