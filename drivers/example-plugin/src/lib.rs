//! An examgate driver plugin written in Rust.
//!
//! It exports the simulated fingerprint reader through the C ABI, exactly
//! as a vendor exports a real one: implement `DriverFactory` (and the
//! device traits), then call `export_plugin!` once. Build it with
//! `cargo build -p examgate-example-plugin`; the result is
//! `target/debug/libexamgate_example_plugin.so`.
//!
//! Its devices start with no finger on the sensor; the conformance suite
//! places fingers through the simulation hooks.

use examgate_sim::{SimFingerprintConfig, SimFingerprintFactory};

examgate_device_sdk::export_plugin! {
    factory: SimFingerprintFactory = SimFingerprintFactory::new(SimFingerprintConfig { finger: None, ..Default::default() }),
    vendor: "examgate example",
    version: env!("CARGO_PKG_VERSION"),
}
