//! Broken plugins loaded in-process: the loader refuses a malformed plugin
//! before calling any of its functions, and a plugin's bad answers or panics
//! become typed errors.
//!
//! The plugins that crash or hang in `get_template`
//! ([`Broken::is_fatal_in_process`]) would take this test process with
//! them; `driver_host.rs` tests those through the driver host.

use std::time::Duration;

use examgate_device_sdk::loader::{LoadError, PluginLibrary};
use examgate_device_sdk::{DeviceId, DriverFactory, ErrorKind};
use examgate_sim::SimFingerprintFactory;
use examgate_test_plugins::{Broken, CallCounter};

/// Load a plugin that must be refused, and check that nothing but its entry
/// point ran.
fn refused(broken: Broken) -> LoadError {
    assert!(!broken.is_fatal_in_process());
    let counter = CallCounter::attach(broken).expect("map the plugin to count its calls");
    let err = match PluginLibrary::load(&broken.path()) {
        Ok(lib) => panic!("{broken} was accepted as {}", lib.meta()),
        Err(e) => e,
    };
    assert_eq!(counter.calls(), 0, "{broken}: the loader called into a plugin it refused");
    err
}

fn first_device(lib: &PluginLibrary) -> DeviceId {
    lib.discover().expect("discover").into_iter().next().expect("one device").id
}

#[test]
fn wrong_abi_version_is_refused_naming_both_versions() {
    let err = refused(Broken::WrongAbi);
    assert!(matches!(err, LoadError::AbiVersion { found: 999, .. }), "{err:?}");
    assert_eq!(err.to_string(), "plugin libbroken_wrong_abi.so: ABI version 999, this agent speaks 1");
}

#[test]
fn short_descriptor_is_refused() {
    let err = refused(Broken::ShortStruct);
    assert!(matches!(err, LoadError::StructSize { found: 8, .. }), "{err:?}");
    assert!(err.to_string().contains("descriptor struct_size 8"), "{err}");
}

#[test]
fn library_without_the_entry_symbol_is_refused() {
    let err = refused(Broken::NoEntry);
    assert!(matches!(err, LoadError::NoEntry { .. }), "{err:?}");
    assert!(err.to_string().contains("examgate_plugin_entry"), "{err}");
}

#[test]
fn null_descriptor_is_refused() {
    let err = refused(Broken::NullDescriptor);
    assert!(matches!(err, LoadError::NullDescriptor { .. }), "{err:?}");
}

#[test]
fn fingerprint_class_without_its_table_is_refused() {
    let err = refused(Broken::MissingOps);
    assert!(matches!(&err, LoadError::Invalid { what, .. } if what.contains("no fingerprint table")), "{err:?}");
}

#[test]
fn every_refusal_is_one_line_naming_the_file() {
    for broken in [Broken::WrongAbi, Broken::ShortStruct, Broken::NoEntry, Broken::NullDescriptor, Broken::MissingOps] {
        let line = refused(broken).to_string();
        assert!(line.starts_with(&format!("plugin {}: ", broken.file_name())), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
}

#[test]
fn score_off_the_scale_is_a_driver_error_not_a_score() {
    let lib = PluginLibrary::load(&Broken::BadScore.path()).expect("bad_score loads: its defect is in match");
    let mut device = lib.open(&first_device(&lib)).expect("open");
    let fp = device.as_fingerprint().expect("a fingerprint reader");
    let t = fp.get_template(Duration::from_millis(300)).expect("capture works");
    let err = fp.match_templates(&t, &t).expect_err("5000 is no score");
    assert_eq!(err.kind(), ErrorKind::Driver, "{err}");
    assert!(err.to_string().contains("5000"), "{err}");
}

#[test]
fn panic_is_caught_poisons_the_device_and_a_reopen_recovers() {
    let lib = PluginLibrary::load(&examgate_e2e::panicking_plugin()).expect("load the panicking plugin");
    let id = first_device(&lib);
    let mut device = lib.open(&id).expect("open");
    let fp = device.as_fingerprint().expect("a fingerprint reader");

    let err = fp.get_template(Duration::from_millis(300)).expect_err("get_template panics");
    assert_eq!(err.kind(), ErrorKind::Panic, "{err}");
    assert!(err.to_string().contains("deliberate panic in get_template"), "{err}");

    // The device's state is unknown after a panic: every call now fails.
    let err = fp.enabled().expect_err("a poisoned device refuses");
    assert_eq!(err.kind(), ErrorKind::Panic, "{err}");
    assert!(err.to_string().contains("earlier panic"), "{err}");
    drop(device);

    let mut again = lib.open(&id).expect("reopen");
    let fp = again.as_fingerprint().expect("a fingerprint reader");
    assert!(fp.enabled().expect("a reopened device works"));
    let sim = SimFingerprintFactory::default();
    let score = fp.match_templates(&sim.template_for(1, 1), &sim.template_for(1, 2)).expect("match works");
    assert!(score.is_match(), "{score}");
}
