//! End to end: the `examgate-sim sam --pty --link PATH` binary in its own
//! process, the driver opening PATH as a serial port through its selector.
//! Each step awaits the simulator's acknowledgement; nothing sleeps.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use examgate_device_sdk::idcard::{CardSource, IdentityCard};
use examgate_device_sdk::{Device, DeviceError, DriverFactory, ErrorKind};
use examgate_sam::{ReadOptions, SamFactory, Timing};
use examgate_sim::card_file::CardFile;

const GUARD: Duration = Duration::from_secs(30);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn card(name: &str) -> PathBuf {
    workspace().join("simulators/cards").join(name)
}

/// The simulator binary, built if it is missing or stale: `cargo test -p
/// examgate-sam` builds no other package's binaries (a no-op when fresh).
fn sim_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test>
    let profile = exe.parent().and_then(Path::parent).unwrap().to_owned();
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args(["build", "--quiet", "-p", "examgate-sim", "--bin", "examgate-sim"]).current_dir(workspace());
    if profile.ends_with("release") {
        cargo.arg("--release");
    }
    let status = cargo.status().expect("cargo runs");
    assert!(status.success(), "building examgate-sim failed");
    profile.join("examgate-sim")
}

/// A running simulator; killed when dropped.
struct Sim {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Sim {
    fn spawn(args: &[&str]) -> Sim {
        let mut child = Command::new(sim_binary())
            .arg("sam")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let sim = Sim { child, stdin, lines };
        sim.expect("ready");
        sim
    }

    /// Wait for the next line; it must start with `prefix`.
    fn expect(&self, prefix: &str) -> String {
        loop {
            match self.lines.recv_timeout(GUARD) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(line) if line.starts_with("pty ") => continue,
                Ok(line) => panic!("simulator said {line:?}, expected {prefix:?}"),
                Err(RecvTimeoutError::Timeout) => panic!("simulator silent, expected {prefix:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("simulator exited, expected {prefix:?}"),
            }
        }
    }

    /// Send a script line and await its acknowledgement.
    fn script(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let ack = self.lines.recv_timeout(GUARD).expect("an acknowledgement");
        assert!(!ack.starts_with("error"), "{line}: {ack}");
        ack
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let mut sim = Sim::spawn(&[
        "--pty",
        "--link",
        link.to_str().unwrap(),
        "--card",
        resident.to_str().unwrap(),
        "--card",
        hk.to_str().unwrap(),
    ]);
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
    assert!(sim.child.wait().unwrap().success());
    assert!(std::fs::symlink_metadata(&link).is_err(), "quit removes the link");
}

#[test]
fn the_driver_reconnects_when_the_simulator_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("sam0");
    let resident = card("resident.toml");
    let args = ["--pty", "--link", link.to_str().unwrap(), "--card", resident.to_str().unwrap()];
    let sim = Sim::spawn(&args);
    let mut device = open(&link);
    read(&mut device, GUARD).unwrap();

    drop(sim); // killed: the pseudo-terminal hangs up
    let err = error(read(&mut device, GUARD));
    assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");

    let _sim = Sim::spawn(&args); // a new pseudo-terminal behind the same link
    read(&mut device, GUARD).unwrap();
}

#[test]
fn a_scenario_file_scripts_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("sam0");
    let scenario = dir.path().join("scenario.txt");
    std::fs::write(&scenario, "# take the card off, then say so\nremove\nstatus\n").unwrap();
    let resident = card("resident.toml");
    let sim = Sim::spawn(&[
        "--pty",
        "--link",
        link.to_str().unwrap(),
        "--card",
        resident.to_str().unwrap(),
        "--scenario",
        scenario.to_str().unwrap(),
    ]);
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
