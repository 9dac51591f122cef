//! End to end: the `examgate-sim sam --pty --link PATH` binary in its own
//! process, the driver opening PATH as a serial port through its selector.
//! Each step awaits the simulator's acknowledgement; nothing sleeps.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use examgate_device_sdk::idcard::{CardSource, IdentityCard};
use examgate_device_sdk::{Device, DeviceError, DriverFactory, ErrorKind};
use examgate_sam::{ReadOptions, SamFactory, Timing};
use examgate_sim::card_file::CardFile;
use examgate_sim::testing::{SimProcess, sim_binary};

const GUARD: Duration = Duration::from_secs(30);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn card(name: &str) -> PathBuf {
    workspace().join("simulators/cards").join(name)
}

fn open(link: &Path) -> Box<dyn Device> {
    let options = ReadOptions {
        timing: Timing { answer: Duration::from_secs(5), ..Timing::default() },
        ..ReadOptions::default()
    };
    let factory = SamFactory::new(format!("sam:serial:{}", link.display()).parse().unwrap(), options);
    let found = factory.discover().unwrap();
    assert_eq!(found.len(), 1, "the link is discovered");
    factory.open(&found[0].id).unwrap_or_else(|e| panic!("{e}"))
}

fn read(device: &mut Box<dyn Device>, timeout: Duration) -> Result<IdentityCard, DeviceError> {
    let read = device.as_idcard().unwrap().read_card(timeout)?;
    Ok(IdentityCard::from_read(&read, CardSource::Sam).unwrap())
}

fn error<T>(r: Result<T, DeviceError>) -> DeviceError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn reads_cards_through_the_simulator_binary() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("sam0");
    let (resident, hk) = (card("resident.toml"), card("hk-mo-tw.toml"));
    let mut sim = SimProcess::spawn(
        "sam",
        &[
            "--pty",
            "--link",
            link.to_str().unwrap(),
            "--card",
            resident.to_str().unwrap(),
            "--card",
            hk.to_str().unwrap(),
        ],
    );
    let mut device = open(&link);

    let card = read(&mut device, GUARD).unwrap();
    let file = CardFile::load(&resident).unwrap();
    assert_eq!(card.fields.as_ref(), Some(&file.fields));
    assert_eq!(card.chip_serial, file.chip_serial);
    assert_eq!(card.photo_wlt, file.photo);

    sim.script("insert 2");
    let card = read(&mut device, GUARD).unwrap();
    assert_eq!(card.fields, Some(CardFile::load(&hk).unwrap().fields));

    sim.script("remove");
    assert_eq!(error(read(&mut device, Duration::ZERO)), DeviceError::NoCard);
    sim.script("insert 1");
    sim.script("fail 66 30 01");
    let err = error(read(&mut device, GUARD));
    assert_eq!(err.kind(), ErrorKind::Driver);
    assert!(err.to_string().contains("not authorised"), "{err}");

    assert_eq!(sim.script("quit"), "ok quit");
    assert!(sim.wait().success());
    assert!(std::fs::symlink_metadata(&link).is_err(), "quit removes the link");
}

#[test]
fn the_driver_reconnects_when_the_simulator_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("sam0");
    let resident = card("resident.toml");
    let args = ["--pty", "--link", link.to_str().unwrap(), "--card", resident.to_str().unwrap()];
    let sim = SimProcess::spawn("sam", &args);
    let mut device = open(&link);
    read(&mut device, GUARD).unwrap();

    drop(sim); // killed: the pseudo-terminal hangs up
    let err = error(read(&mut device, GUARD));
    assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");

    let _sim = SimProcess::spawn("sam", &args); // a new pseudo-terminal behind the same link
    read(&mut device, GUARD).unwrap();
}

#[test]
fn a_scenario_file_scripts_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("sam0");
    let scenario = dir.path().join("scenario.txt");
    std::fs::write(&scenario, "# take the card off, then say so\nremove\nstatus\n").unwrap();
    let resident = card("resident.toml");
    let sim = SimProcess::spawn(
        "sam",
        &[
            "--pty",
            "--link",
            link.to_str().unwrap(),
            "--card",
            resident.to_str().unwrap(),
            "--scenario",
            scenario.to_str().unwrap(),
        ],
    );
    sim.expect("ok remove");
    sim.expect("status card=none");
    let mut device = open(&link);
    assert_eq!(error(read(&mut device, Duration::ZERO)), DeviceError::NoCard);
}

#[test]
fn bad_arguments_get_one_clear_line() {
    let run = |args: &[&str]| {
        let out = Command::new(sim_binary()).arg("sam").args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(run(&[]).contains("--pty"));
    assert!(run(&["--pty", "--card", "/nonexistent/card.toml"]).contains("/nonexistent/card.toml"));
    assert!(run(&["--pty", "--bogus"]).contains("--bogus"));
}
