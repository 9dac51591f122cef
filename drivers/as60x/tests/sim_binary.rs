//! End to end: the `examgate-sim as60x --pty --link PATH` binary in its own
//! process, the driver opening PATH as a serial port through its selector.
//! Each step awaits the simulator's acknowledgement; nothing sleeps.

use std::process::Command;
use std::time::Duration;

use examgate_as60x::{As60xFactory, ReaderOptions};
use examgate_device_sdk::{Device, DeviceError, DriverFactory, ErrorKind, Template};
use examgate_sim::as60x::As60xSimulator;
use examgate_sim::testing::{SimProcess, sim_binary};

const GUARD: Duration = Duration::from_secs(30);

fn open(selector: &str) -> Box<dyn Device> {
    let options = ReaderOptions { poll_interval: Duration::from_millis(5), ..ReaderOptions::default() };
    let factory = As60xFactory::with_options(selector.parse().unwrap(), options);
    let found = factory.discover().unwrap();
    assert_eq!(found.len(), 1, "the link is discovered");
    factory.open(&found[0].id).unwrap_or_else(|e| panic!("{e}"))
}

fn capture(device: &mut Box<dyn Device>, timeout: Duration) -> Result<Template, DeviceError> {
    device.as_fingerprint().unwrap().get_template(timeout)
}

fn error<T>(r: Result<T, DeviceError>) -> DeviceError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn captures_and_matches_through_the_simulator_binary() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyAS608");
    let mut sim = SimProcess::spawn(
        "as60x",
        &["--pty", "--link", link.to_str().unwrap(), "--finger", "1", "--packet-size", "64"],
    );
    let mut device = open(&format!("as60x:{}", link.display()));
    let library = As60xSimulator::default();

    let first = capture(&mut device, GUARD).unwrap();
    assert_eq!(first.data, library.template_for(1, 1), "the same people in both simulators");
    let second = capture(&mut device, GUARD).unwrap();
    sim.script("finger 2");
    let other = capture(&mut device, GUARD).unwrap();
    let fp = device.as_fingerprint().unwrap();
    assert!(fp.match_templates(&first, &second).unwrap().is_match());
    assert!(!fp.match_templates(&first, &other).unwrap().is_match());

    sim.script("lift");
    assert_eq!(error(capture(&mut device, Duration::from_millis(50))), DeviceError::NoFinger);
    sim.script("finger 1");
    sim.script("poor-quality 1 too-dry");
    let err = error(capture(&mut device, GUARD));
    assert_eq!(err.kind(), ErrorKind::PoorQuality);
    assert!(err.to_string().contains("too dry"), "{err}");
    capture(&mut device, GUARD).unwrap();

    sim.script("password 7");
    let err = error(capture(&mut device, GUARD));
    assert_eq!(err.kind(), ErrorKind::Driver);
    assert!(err.to_string().contains("wrong password"), "{err}");
    drop(device);
    let mut device = open(&format!("as60x:{}?password=7", link.display()));
    capture(&mut device, GUARD).unwrap();

    assert_eq!(sim.script("quit"), "ok quit");
    assert!(sim.wait().success());
    assert!(std::fs::symlink_metadata(&link).is_err(), "quit removes the link");
}

#[test]
fn unplug_and_plug_from_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyAS608");
    let mut sim = SimProcess::spawn("as60x", &["--pty", "--link", link.to_str().unwrap(), "--finger", "3"]);
    let mut device = open(&format!("as60x:{}", link.display()));
    capture(&mut device, GUARD).unwrap();

    sim.script("unplug");
    assert!(std::fs::symlink_metadata(&link).is_err(), "unplugged: the port is gone");
    assert_eq!(error(capture(&mut device, GUARD)).kind(), ErrorKind::NotConnected);
    assert!(!device.as_fingerprint().unwrap().enabled().unwrap());

    sim.script("plug");
    assert!(device.as_fingerprint().unwrap().enabled().unwrap());
    let t = capture(&mut device, GUARD).unwrap();
    assert_eq!(t.data, As60xSimulator::default().template_for(3, 2), "the module's second capture of finger 3");
}

#[test]
fn the_driver_reconnects_when_the_simulator_process_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyAS608");
    let args = ["--pty", "--link", link.to_str().unwrap(), "--finger", "1"];
    let sim = SimProcess::spawn("as60x", &args);
    let mut device = open(&format!("as60x:{}", link.display()));
    capture(&mut device, GUARD).unwrap();

    drop(sim); // killed: the pseudo-terminal hangs up, the stale link stays
    assert_eq!(error(capture(&mut device, GUARD)).kind(), ErrorKind::NotConnected);

    let _sim = SimProcess::spawn("as60x", &args); // a new pseudo-terminal behind the same link
    capture(&mut device, GUARD).unwrap();
}

#[test]
fn a_scenario_file_scripts_the_module() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyAS608");
    let scenario = dir.path().join("scenario.txt");
    std::fs::write(&scenario, "# a finger, then say so\nfinger 4\nstatus\n").unwrap();
    let sim = SimProcess::spawn(
        "as60x",
        &["--pty", "--link", link.to_str().unwrap(), "--scenario", scenario.to_str().unwrap()],
    );
    sim.expect("ok finger 4");
    sim.expect("status finger=4");
    let mut device = open(&format!("as60x:{}", link.display()));
    assert_eq!(capture(&mut device, GUARD).unwrap().data, As60xSimulator::default().template_for(4, 1));
}

#[test]
fn bad_arguments_get_one_clear_line() {
    let run = |args: &[&str]| {
        let out = Command::new(sim_binary()).arg("as60x").args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(run(&[]).contains("--pty"));
    assert!(run(&["--pty", "--bogus"]).contains("--bogus"));
    assert!(run(&["--pty", "--packet-size", "100"]).contains("packet size 100"));
    assert!(run(&["--pty", "--finger", "0"]).contains("--finger"));
}
