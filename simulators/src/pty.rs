//! A simulated module on a pseudo-terminal, shared by [`crate::sam`] and
//! [`crate::as60x`]: the pseudo-terminal and the thread serving it, the read
//! loop that waits out a host that has not opened it yet, and the `--link`
//! symlink a host opens instead of the pty's ever-changing name. What goes
//! over the line is each simulator's own.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serialport::{SerialPort, TTYPort};

/// A simulator serving a pseudo-terminal from its own thread; stops when dropped.
#[derive(Debug)]
pub struct Pty {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
    what: &'static str,
}

impl Pty {
    /// Open a new pseudo-terminal and run `serve` on its master from a thread
    /// named after `what` (`"SAM"`: `sam-sim`) until [`Pty::stop`].
    pub(crate) fn spawn<F>(what: &'static str, serve: F) -> io::Result<Pty>
    where
        F: FnOnce(&mut TTYPort, &AtomicBool) -> io::Result<()> + Send + 'static,
    {
        let (mut master, slave) = TTYPort::pair().map_err(io::Error::from)?;
        let path = PathBuf::from(slave.name().ok_or_else(|| io::Error::other("pseudo-terminal has no name"))?);
        // Closed here so that the host's exclusive open is the only one.
        drop(slave);
        master.set_timeout(Duration::from_millis(50)).map_err(io::Error::from)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("{}-sim", what.to_lowercase()))
            .spawn(move || serve(&mut master, &flag))?;
        Ok(Pty { path, stop, thread: Some(thread), what })
    }

    /// The slave side, to open as a serial port.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stop serving; the serving thread's outcome.
    pub fn stop(mut self) -> io::Result<()> {
        self.halt()
    }

    fn halt(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other(format!("the {} simulator thread panicked", self.what))),
            None => Ok(()),
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

/// What a serving loop hears from its port.
pub(crate) enum Heard<'a> {
    /// Bytes from the host (none after a read that returned 0).
    Bytes(&'a [u8]),
    /// A read timed out: a frame that has begun has stalled.
    Quiet,
    /// No one has the pseudo-terminal open; the loop waits for the host.
    HungUp,
}

/// Read `port` until `stop` is set or it fails for good, telling `on` what
/// was heard. `port` should time out its reads (so `stop` is seen).
pub(crate) fn serve<P: Read + Write>(
    port: &mut P,
    stop: &AtomicBool,
    mut on: impl FnMut(&mut P, Heard<'_>),
) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match port.read(&mut buf) {
            Ok(n) => {
                if n == 0 {
                    std::thread::sleep(Duration::from_millis(10));
                }
                on(port, Heard::Bytes(&buf[..n]));
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => on(port, Heard::Quiet),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // EIO: the slave side is closed.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe || e.raw_os_error() == Some(5) => {
                on(port, Heard::HungUp);
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Point `link` at `target` atomically, replacing an older symlink (never a file).
pub fn make_link(target: &Path, link: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(link) {
        Ok(m) if !m.file_type().is_symlink() => {
            return Err(io::Error::other(format!("{} exists and is not a symlink; not replacing it", link.display())));
        }
        _ => {}
    }
    let mut tmp = link.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)
}

/// Remove `link`; one already gone is no error.
pub fn remove_link(link: &Path) -> io::Result<()> {
    match std::fs::remove_file(link) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
