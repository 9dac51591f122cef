//! For the drivers' tests and benches (feature `testing`): the `examgate-sim`
//! binary in its own process, scripted line by line, and the benches' timing
//! tables. These helpers panic on failure, as a test should.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// How long the simulator may take to get ready or to answer a line.
const GUARD: Duration = Duration::from_secs(30);

/// The simulator binary, built if it is missing or stale: `cargo test -p
/// examgate-sam` builds no other package's binaries (a no-op when fresh).
pub fn sim_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    // target/<profile>/deps/<test>
    let profile = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>").to_owned();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args(["build", "--quiet", "-p", "examgate-sim", "--bin", "examgate-sim"]).current_dir(workspace);
    if profile.ends_with("release") {
        cargo.arg("--release");
    }
    assert!(cargo.status().expect("cargo runs").success(), "building examgate-sim failed");
    profile.join("examgate-sim")
}

/// `examgate-sim SUBCOMMAND ARGS...` running, with its script on stdin and
/// its answers awaited on stdout; killed when dropped.
#[derive(Debug)]
pub struct SimProcess {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl SimProcess {
    /// Start the simulator and wait for its `ready` line.
    pub fn spawn(subcommand: &str, args: &[&str]) -> SimProcess {
        let mut child = Command::new(sim_binary())
            .arg(subcommand)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("examgate-sim starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let sim = SimProcess { child, stdin, lines };
        sim.expect("ready");
        sim
    }

    /// Wait for the next line but `pty PATH`; it must start with `prefix`.
    pub fn expect(&self, prefix: &str) -> String {
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

    /// Send a script line and await its answer, which must not be an error.
    pub fn script(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").expect("write a script line");
        self.stdin.flush().expect("flush the script line");
        let ack = self.lines.recv_timeout(GUARD).expect("an acknowledgement");
        assert!(!ack.starts_with("error"), "{line}: {ack}");
        ack
    }

    /// Wait for the process to exit (after `quit`).
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().expect("wait for examgate-sim")
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Timed rounds in [`rate`].
pub const ROUNDS: usize = 7;
/// The length of one round in [`rate`].
pub const ROUND_TIME: Duration = Duration::from_millis(300);

/// p50, p90, p99 and max, as Markdown table cells.
pub fn percentiles(times: impl Iterator<Item = Duration>) -> String {
    let mut t: Vec<Duration> = times.collect();
    t.sort();
    let at = |p: f64| t[((t.len() as f64 * p) as usize).min(t.len() - 1)];
    format!("{:.0?} | {:.0?} | {:.0?} | {:.0?}", at(0.50), at(0.90), at(0.99), t[t.len() - 1])
}

/// Calls a second of `f`, the median of [`ROUNDS`] rounds of [`ROUND_TIME`].
pub fn rate(mut f: impl FnMut()) -> f64 {
    let mut rates: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < ROUND_TIME {
                for _ in 0..256 {
                    f();
                }
                n += 256;
            }
            n as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[ROUNDS / 2]
}
