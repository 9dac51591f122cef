//! An `examgate-sim` subcommand in its own process, scripted line by line:
//! it prints `ready` when serving and acknowledges every script line with
//! `ok LINE`, so tests await those lines instead of sleeping. Killed when
//! dropped.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

/// How long the simulator may take to get ready or to acknowledge a line.
const WAIT: Duration = Duration::from_secs(20);

pub struct SimProcess {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl SimProcess {
    /// Start `examgate-sim ARGS...` and wait for its `ready` line.
    pub fn spawn<I, S>(args: I) -> SimProcess
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = Command::new(crate::agent::sim_binary())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start examgate-sim");
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
        loop {
            match sim.lines.recv_timeout(WAIT) {
                Ok(line) if line == "ready" => return sim,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!("examgate-sim did not get ready within {WAIT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("examgate-sim exited before it was ready"),
            }
        }
    }

    /// Send a script line and await its acknowledgement.
    pub fn script(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write a script line");
        self.stdin.flush().expect("flush the script line");
        loop {
            let answer = self.lines.recv_timeout(WAIT).expect("an acknowledgement");
            assert!(!answer.starts_with("error"), "{line}: {answer}");
            if answer.starts_with("ok") {
                return;
            }
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
