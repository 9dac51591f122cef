//! Plugins loaded in-process through the real C ABI pass the conformance suite.

use examgate_device_sdk::DeviceClass;
use examgate_device_sdk::conformance::{self, Options};
use examgate_device_sdk::loader::PluginLibrary;

#[test]
fn rust_plugin_passes_conformance_through_the_abi() {
    let lib = PluginLibrary::load(&examgate_e2e::rust_plugin()).expect("load the Rust example plugin");
    assert_eq!(lib.meta().name, "sim-fingerprint");
    assert_eq!(lib.meta().abi_version, 1);
    conformance::run(&lib, &Options::default()).assert_all_passed();
}

#[test]
fn c_plugin_passes_conformance_through_the_abi() {
    let lib = PluginLibrary::load(&examgate_c_example::plugin_path()).expect("load the C example plugin");
    let meta = lib.meta();
    assert_eq!(meta.name, examgate_c_example::NAME);
    assert_eq!(meta.vendor, "examgate example vendor");
    assert_eq!(meta.version, "1.0.0");
    assert_eq!(meta.abi_version, 1);
    assert_eq!(meta.classes, DeviceClass::Fingerprint.into());
    conformance::run(&lib, &Options::default()).assert_all_passed();
}
