//! Plugins loaded in-process through the real C ABI pass the conformance suite.

use examgate_device_sdk::conformance::{self, Options};
use examgate_device_sdk::loader::PluginLibrary;

#[test]
fn rust_plugin_passes_conformance_through_the_abi() {
    let lib = PluginLibrary::load(&examgate_e2e::rust_plugin()).expect("load the Rust example plugin");
    assert_eq!(lib.meta().name, "sim-fingerprint");
    assert_eq!(lib.meta().abi_version, 1);
    conformance::run(&lib, &Options::default()).assert_all_passed();
}
