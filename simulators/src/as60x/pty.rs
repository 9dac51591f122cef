//! The simulated module on a pseudo-terminal that can be unplugged (the
//! pseudo-terminal closes, the host sees a hang-up) and plugged in again (a
//! new one, behind the same link).

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use examgate_device_sdk::{DeviceError, SimCommand, SimControl};

use super::wire::Inbox;
use super::{As60xScript, As60xSimulator, PoorReason};
use crate::pty::{self, Heard, Pty};

impl As60xSimulator {
    /// Serve the protocol on `port` until `stop` is set or the port fails
    /// for good. `port` should time out its reads (so `stop` is seen); a
    /// pseudo-terminal master whose slave is closed is waited on.
    pub fn serve<P: Read + Write>(&self, port: &mut P, stop: &AtomicBool) -> io::Result<()> {
        let mut inbox = Inbox::default();
        pty::serve(port, stop, |port, heard| match heard {
            Heard::Bytes(bytes) => {
                inbox.buf.extend_from_slice(bytes);
                while let Some(incoming) = inbox.next() {
                    let reply = self.respond(incoming);
                    // The host may have gone; it will ask again.
                    if !reply.is_empty() && port.write_all(&reply).is_err() {
                        break;
                    }
                }
            }
            // A packet that stopped arriving: the module's byte timeout drops it.
            Heard::Quiet if inbox.stalled() => inbox.buf.clear(),
            Heard::Quiet => {}
            Heard::HungUp => inbox.buf.clear(),
        })
    }

    /// Serve on a new pseudo-terminal from a thread. With `link`, that path
    /// becomes a symlink to it (replacing an older symlink, never a file),
    /// removed while the module is unplugged, as a USB device node is.
    pub fn spawn_pty(&self, link: Option<PathBuf>) -> io::Result<As60xSimHandle> {
        let mut handle = As60xSimHandle { sim: self.clone(), link, pty: None };
        handle.plug()?;
        Ok(handle)
    }
}

/// A simulated module serving a pseudo-terminal: its scripting handle.
/// Stops (and removes its link) when dropped.
#[derive(Debug)]
pub struct As60xSimHandle {
    sim: As60xSimulator,
    link: Option<PathBuf>,
    pty: Option<Pty>,
}

impl As60xSimHandle {
    /// The module, to script fingers and faults.
    pub fn simulator(&self) -> &As60xSimulator {
        &self.sim
    }

    /// The pseudo-terminal's slave side; `None` while unplugged.
    pub fn pty_path(&self) -> Option<&Path> {
        self.pty.as_ref().map(Pty::path)
    }

    /// What a host opens: the link if there is one, else the pseudo-terminal
    /// (whose name changes with every plug).
    pub fn port(&self) -> Option<PathBuf> {
        self.link.clone().or_else(|| self.pty_path().map(Path::to_owned))
    }

    pub fn is_plugged(&self) -> bool {
        self.pty.is_some()
    }

    /// Pull the cable: the link goes, then the pseudo-terminal closes and a
    /// host that has it open sees a hang-up. Returns once it is closed.
    pub fn unplug(&mut self) -> io::Result<()> {
        if let Some(link) = &self.link {
            pty::remove_link(link)?;
        }
        match self.pty.take() {
            Some(pty) => pty.stop(),
            None => Ok(()),
        }
    }

    /// Plug it in again: the module powers up (its buffers empty, its
    /// library kept) on a new pseudo-terminal, and the link points to it.
    pub fn plug(&mut self) -> io::Result<()> {
        if self.pty.is_some() {
            return Ok(());
        }
        self.sim.power_on();
        let sim = self.sim.clone();
        let pty = Pty::spawn("AS60x", move |master, stop| sim.serve(master, stop))?;
        if let Some(link) = &self.link {
            // Dropping `pty` stops it.
            pty::make_link(pty.path(), link)?;
        }
        self.pty = Some(pty);
        Ok(())
    }

    /// Carry out a script line (all but `wait` and `quit`, which are the
    /// caller's); the acknowledgement to print.
    pub fn apply(&mut self, command: &As60xScript) -> Result<String, String> {
        match command {
            As60xScript::Unplug => self.unplug().map_err(|e| format!("unplug failed: {e}"))?,
            As60xScript::Plug => self.plug().map_err(|e| format!("plug failed: {e}"))?,
            other => return self.sim.apply(other),
        }
        Ok(format!("ok {command}"))
    }

    /// Stop serving and remove the link; the serving thread's outcome.
    pub fn stop(mut self) -> io::Result<()> {
        self.unplug()
    }
}

impl Drop for As60xSimHandle {
    fn drop(&mut self) {
        let _ = self.unplug();
    }
}

/// The SDK's simulation hooks, so that the conformance suite can place
/// fingers and pull the cable.
impl SimControl for As60xSimHandle {
    fn control(&mut self, command: &SimCommand) -> Result<(), DeviceError> {
        let failed = |e: io::Error| DeviceError::Driver(format!("simulator `{command}` failed: {e}"));
        match command {
            SimCommand::PlaceFinger(n) => self.sim.place_finger(*n).map_err(DeviceError::InvalidArgument),
            SimCommand::LiftFinger => {
                self.sim.lift();
                Ok(())
            }
            SimCommand::Unplug => self.unplug().map_err(failed),
            SimCommand::Plug => self.plug().map_err(failed),
            SimCommand::PoorQuality(n) => {
                self.sim.poor_quality(*n, PoorReason::default());
                Ok(())
            }
            other => Err(DeviceError::Unsupported(format!("a fingerprint module cannot `{other}`"))),
        }
    }
}
