//! A pcscd of the test's own, with vsmartcard's vpcd readers
//! (`Virtual PCD 00 00` on TCP 15963, `Virtual PCD 00 01` on 15964: below Linux's ephemeral
//! port range, so that no client connection of another test can hold them; Debian's own
//! reader.conf puts them at 35963/35964, inside it).
//!
//! There is one pcscd per machine (its socket path is fixed), so every test
//! using it takes [`Pcscd::start`]'s lock for its whole run: a mutex within
//! this process and `flock` on [`MACHINE_LOCK`] across processes (the browser
//! tests in web/tests take the same file lock).

use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use examgate_device_sdk::DriverFactory;
use examgate_pcsc_idcard::PcscIdCardFactory;

pub const SLOT0: &str = "Virtual PCD 00 00";
pub const SLOT1: &str = "Virtual PCD 00 01";
pub const SLOT0_ADDR: &str = "127.0.0.1:15963";
pub const SLOT1_ADDR: &str = "127.0.0.1:15964";

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The lock file every test process that starts a pcscd holds (`flock`, exclusive).
pub const MACHINE_LOCK: &str = "/tmp/examgate-test-pcscd.lock";

/// A running pcscd, stopped on drop (before the locks are released).
pub struct Pcscd {
    child: Option<Child>,
    _machine: std::fs::File,
    _lock: MutexGuard<'static, ()>,
}

/// Waits for the machine-wide lock; the kernel drops it when the file closes or the process dies.
fn lock_machine() -> std::fs::File {
    use std::os::fd::AsRawFd;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(MACHINE_LOCK)
        .unwrap_or_else(|e| panic!("open {MACHINE_LOCK}: {e}"));
    // SAFETY: flock on a descriptor this function owns; no memory is shared with the call.
    while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        let e = std::io::Error::last_os_error();
        assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "flock {MACHINE_LOCK}: {e}");
    }
    file
}

fn stop_any_pcscd() {
    let _ = Command::new("pkill").args(["-x", "pcscd"]).status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let running = Command::new("pgrep").args(["-x", "pcscd"]).stdout(Stdio::null()).status().map(|s| s.success());
        if !matches!(running, Ok(true)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("pkill").args(["-9", "-x", "pcscd"]).status();
}

fn spawn_pcscd() -> Child {
    // vpcd's channel id is its first port (0x3E5B = 15963; slot 1 takes the next).
    let conf = std::env::temp_dir().join("examgate-test-reader.conf");
    std::fs::write(
        &conf,
        "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:0x3E5B\n\
         LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID 0x3E5B\n",
    )
    .expect("write the test reader.conf");
    let mut child = Command::new("pcscd")
        .args(["-f", "-i", "-c"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pcscd (installed by `make test`: apt-get install pcscd vsmartcard-vpcd)");
    // Ready when both virtual readers are listed (a guard against a pcscd
    // that never comes up, generous for a loaded machine).
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(readers) = PcscIdCardFactory::new(None).discover()
            && readers.iter().any(|r| r.name == SLOT0)
            && readers.iter().any(|r| r.name == SLOT1)
        {
            return child;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("pcscd did not list the vpcd readers within 30 s");
}

impl Pcscd {
    /// Stop whatever pcscd runs and start ours.
    pub fn start() -> Pcscd {
        let lock = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let machine = lock_machine();
        stop_any_pcscd();
        Pcscd { child: Some(spawn_pcscd()), _machine: machine, _lock: lock }
    }

    /// Kill pcscd (SIGKILL, as a crash would) and start it again.
    pub fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        stop_any_pcscd();
        let _ = std::fs::remove_file("/run/pcscd/pcscd.comm");
        self.child = Some(spawn_pcscd());
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
