//! The plugins that kill or block their caller really do, at get_template
//! and not before: each runs in a child process (this test binary again,
//! with `EXAMGATE_BROKEN_CHILD=<kind>`), which loads the plugin, opens its
//! device, prints a mark and calls get_template.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use examgate_device_sdk::DriverFactory;
use examgate_device_sdk::loader::PluginLibrary;
use examgate_test_plugins::Broken;

const CHILD_ENV: &str = "EXAMGATE_BROKEN_CHILD";
const MARK: &str = "child: calling get_template";

/// Runs only in a child started by `run_child`; a no-op in a normal run.
#[test]
fn child_calls_get_template() {
    let Ok(kind) = std::env::var(CHILD_ENV) else { return };
    let broken = Broken::ALL.into_iter().find(|b| b.as_str() == kind).expect("a known kind");
    let lib = PluginLibrary::load(&broken.path()).expect("the plugin loads");
    let id = lib.discover().expect("discover").into_iter().next().expect("one device").id;
    let mut device = lib.open(&id).expect("open");
    let fp = device.as_fingerprint().expect("a fingerprint reader");
    assert!(fp.enabled().expect("enabled works"));
    println!("{MARK}");
    let result = fp.get_template(Duration::from_millis(300));
    println!("child: get_template returned {result:?}");
}

enum Ended {
    With(ExitStatus),
    NotWithin(Duration),
}

/// What the child's output tells the parent.
enum Heard {
    /// The mark: the child is about to call get_template.
    Mark,
    /// End of output, with the output after the mark: the child has ended.
    End(String),
}

/// Start the child and wait, once it reached get_template, up to `limit`
/// for it to end.
fn run_child(broken: Broken, limit: Duration) -> Ended {
    const STARTUP: Duration = Duration::from_secs(30);
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args(["--exact", "child_calls_get_template", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, broken.as_str())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child");
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    // The child's stdout closes when it ends: that is the event to wait for.
    let (heard_tx, heard) = mpsc::channel();
    std::thread::spawn(move || {
        let mut after_mark = None;
        for line in stdout.lines().map_while(Result::ok) {
            match &mut after_mark {
                None if line.contains(MARK) => {
                    after_mark = Some(String::new());
                    let _ = heard_tx.send(Heard::Mark);
                }
                None => {}
                Some(text) => text.push_str(&line),
            }
        }
        let _ = heard_tx.send(Heard::End(after_mark.unwrap_or_default()));
    });
    let mut kill = |why: String| -> ! {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{broken}: {why}");
    };
    match heard.recv_timeout(STARTUP) {
        Ok(Heard::Mark) => {}
        Ok(Heard::End(_)) => kill("the child ended before calling get_template".into()),
        Err(_) => kill(format!("the child did not reach get_template within {STARTUP:?}")),
    }
    match heard.recv_timeout(limit) {
        Ok(Heard::End(rest)) => {
            assert!(!rest.contains("get_template returned"), "{broken}: get_template returned: {rest}");
            Ended::With(child.wait().expect("wait for the child"))
        }
        Ok(Heard::Mark) => unreachable!("the mark is sent once"),
        Err(_) => {
            child.kill().expect("kill the hung child");
            child.wait().expect("reap the child");
            Ended::NotWithin(limit)
        }
    }
}

fn ended(broken: Broken) -> ExitStatus {
    match run_child(broken, Duration::from_secs(20)) {
        Ended::With(status) => status,
        Ended::NotWithin(limit) => panic!("{broken}: still running {limit:?} after get_template"),
    }
}

#[test]
fn segfault_dies_of_sigsegv_in_get_template() {
    assert_eq!(ended(Broken::Segfault).signal(), Some(11));
}

#[test]
fn abort_dies_of_sigabrt_in_get_template() {
    assert_eq!(ended(Broken::Abort).signal(), Some(6));
}

#[test]
fn exit_exits_with_status_3_in_get_template() {
    assert_eq!(ended(Broken::Exit).code(), Some(3));
}

#[test]
fn hang_never_returns_from_get_template() {
    match run_child(Broken::Hang, Duration::from_secs(1)) {
        Ended::NotWithin(_) => {}
        Ended::With(status) => panic!("hang ended: {status}"),
    }
}
