//! Plugins in a driver-host child process: conformance through the host,
//! and broken plugins (crash, abort, exit, panic, hang, wrong ABI) survived.

use std::path::Path;
use std::time::Duration;

use examgate_agent::host::{HostOptions, HostedPlugin};
use examgate_device_sdk::conformance::{self, Options};
use examgate_device_sdk::{DeviceId, DriverFactory, ErrorKind};
use examgate_test_plugins::Broken;

fn options() -> HostOptions {
    HostOptions { grace: Duration::from_millis(700), agent_exe: Some(examgate_e2e::agent_binary()) }
}

fn spawn(path: &Path) -> HostedPlugin {
    HostedPlugin::spawn(path, options()).unwrap_or_else(|e| panic!("spawn driver host for {}: {e}", path.display()))
}

#[test]
fn rust_plugin_passes_conformance_through_the_driver_host() {
    let plugin = spawn(&examgate_e2e::rust_plugin());
    conformance::run(&plugin, &Options::default()).assert_all_passed();
    assert_eq!(plugin.restarts(), 0);
}

#[test]
fn c_plugin_passes_conformance_through_the_driver_host() {
    let plugin = spawn(&examgate_c_example::plugin_path());
    conformance::run(&plugin, &Options::default()).assert_all_passed();
    assert_eq!(plugin.restarts(), 0);
}

#[test]
fn wrong_abi_is_refused_with_one_clear_line() {
    let err = HostedPlugin::spawn(&Broken::WrongAbi.path(), options()).err().expect("must be refused");
    let file = Broken::WrongAbi.path().file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(err.to_string(), format!("plugin {file}: ABI version 999, this agent speaks 1"));
}

#[test]
fn short_descriptor_and_missing_entry_are_refused() {
    for broken in [Broken::ShortStruct, Broken::NoEntry, Broken::NullDescriptor, Broken::MissingOps] {
        let err = HostedPlugin::spawn(&broken.path(), options()).err().unwrap_or_else(|| panic!("{broken:?} accepted"));
        let line = err.to_string();
        assert!(line.starts_with("plugin "), "{broken:?}: {line}");
        assert!(!line.contains('\n'), "{broken:?}: {line}");
    }
}

/// A plugin that dies or hangs in get_template costs that call one error;
/// the host is back at once and the device answers again.
fn survives(broken: Broken, expected: ErrorKind, needle: &str) {
    let plugin = spawn(&broken.path());
    let id = DeviceId::new(plugin.discover().unwrap()[0].id.to_string()).unwrap();
    let mut device = plugin.open(&id).unwrap();
    let pid_before = plugin.host_pid().unwrap();

    let err = device.as_fingerprint().unwrap().get_template(Duration::from_millis(300)).unwrap_err();
    assert_eq!(err.kind(), expected, "{broken:?}: {err}");
    assert!(err.to_string().contains(needle), "{broken:?}: {err}");

    assert_eq!(plugin.restarts(), 1, "{broken:?}: host restarted once");
    let pid_after = plugin.host_pid().expect("a new host runs");
    assert_ne!(pid_before, pid_after);
    // The same device object works again: it reopened itself in the new host.
    assert!(device.as_fingerprint().unwrap().enabled().unwrap(), "{broken:?}: device back");
}

#[test]
fn segfault_costs_one_error() {
    survives(Broken::Segfault, ErrorKind::Panic, "SIGSEGV");
}

#[test]
fn abort_costs_one_error() {
    survives(Broken::Abort, ErrorKind::Panic, "SIGABRT");
}

#[test]
fn exit_costs_one_error() {
    survives(Broken::Exit, ErrorKind::Panic, "exited with status 3");
}

#[test]
fn hang_costs_one_timeout() {
    survives(Broken::Hang, ErrorKind::Timeout, "did not answer get_template");
}

#[test]
fn panic_is_caught_at_the_boundary_and_the_device_reopened() {
    let plugin = spawn(&examgate_e2e::panicking_plugin());
    let id = DeviceId::new(plugin.discover().unwrap()[0].id.to_string()).unwrap();
    let mut device = plugin.open(&id).unwrap();
    let err = device.as_fingerprint().unwrap().get_template(Duration::from_millis(300)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panic);
    assert!(err.to_string().contains("deliberate panic"), "{err}");
    // export_plugin! caught it: the host did not die.
    assert_eq!(plugin.restarts(), 0);
    // The device is poisoned until reopened; a fresh open works.
    drop(device);
    let mut again = plugin.open(&id).unwrap();
    assert!(again.as_fingerprint().unwrap().enabled().unwrap());
}

#[test]
fn bad_score_is_a_driver_error_not_a_score() {
    let plugin = spawn(&Broken::BadScore.path());
    let id = DeviceId::new(plugin.discover().unwrap()[0].id.to_string()).unwrap();
    let mut device = plugin.open(&id).unwrap();
    let fp = device.as_fingerprint().unwrap();
    let t = fp.get_template(Duration::from_millis(300)).unwrap();
    let err = fp.match_templates(&t, &t).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Driver, "{err}");
}
