//! One device, one OS thread: the thread owns the open device, runs the
//! commands sent to it one at a time, polls it while idle to notice fingers,
//! cards and unplugging, and reopens it when it is lost.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use examgate_device_sdk::{
    CardRead, Device, DeviceClass, DeviceClasses, DeviceError, DeviceId, DriverFactory, ErrorKind, FingerprintReader,
    IdCardReader, Score, SimCommand, Template,
};
use examgate_protocol::{Event, Timestamp};
use tokio::sync::{broadcast, oneshot};

use super::CameraJob;
use crate::snapshot::TamperFlag;

/// Holds a device for one request; dropping it frees the device. It travels
/// with the command, so the device stays held until the thread is done with
/// it, even when the caller has gone away.
pub(crate) struct Lease {
    busy: Arc<AtomicBool>,
}

impl Lease {
    pub(crate) fn try_take(busy: &Arc<AtomicBool>) -> Option<Lease> {
        busy.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Lease { busy: Arc::clone(busy) })
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.busy.store(false, Ordering::Release);
    }
}

pub(crate) type Reply<T> = oneshot::Sender<Result<T, DeviceError>>;

pub(crate) enum Command {
    Capture {
        timeout: Duration,
        lease: Lease,
        reply: Reply<Template>,
    },
    Match {
        probe: Box<Template>,
        enrolled: Box<Template>,
        lease: Lease,
        reply: Reply<Score>,
    },
    ReadCard {
        timeout: Duration,
        lease: Lease,
        reply: Reply<CardRead>,
    },
    /// Camera work (a snapshot, a preview frame); it answers for itself.
    Camera(CameraJob),
    Sim {
        command: SimCommand,
        lease: Lease,
        reply: Reply<()>,
    },
    /// Look at the device now (after a simulator was scripted from outside).
    Poll,
}

/// What the thread last saw of its device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Observed {
    pub open: bool,
    pub enabled: bool,
    /// `None` when unknown or the device cannot tell.
    pub finger: Option<bool>,
    /// A card on the reader; `None` when unknown or the device cannot tell.
    pub card: Option<bool>,
}

impl Observed {
    pub fn attached(self) -> bool {
        self.open && self.enabled
    }
}

#[derive(Debug, Default)]
pub(crate) struct Status(Mutex<Observed>);

impl Status {
    pub fn get(&self) -> Observed {
        *self.lock()
    }
    fn lock(&self) -> MutexGuard<'_, Observed> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Errors after which the device is closed and reopened: it is gone, or its
/// driver crashed (a driver host has been restarted underneath it).
fn loses_device(e: &DeviceError) -> bool {
    matches!(e.kind(), ErrorKind::NotConnected | ErrorKind::Panic)
}

/// Run a driver call; a Rust panic in a built-in driver becomes an error
/// instead of ending the thread.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, DeviceError>) -> Result<T, DeviceError> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(DeviceError::Panic(format!("the driver panicked in {what}"))))
}

pub(crate) struct Worker {
    pub id: DeviceId,
    pub key: String,
    pub classes: DeviceClasses,
    pub factory: Arc<dyn DriverFactory>,
    pub status: Arc<Status>,
    pub events: broadcast::Sender<Event>,
    pub commands: mpsc::Receiver<Command>,
    pub poll_interval: Duration,
    pub reopen_interval: Duration,
    pub presence_interval: Duration,
    pub stop: Arc<AtomicBool>,
    /// Signalled once the first open attempt (and poll) is done.
    pub settled: Option<mpsc::Sender<()>>,
    /// Dropped when the thread ends; the manager waits for that at shutdown.
    pub done: mpsc::Sender<()>,
}

struct State {
    device: Option<Box<dyn Device>>,
    next_open: Instant,
    next_poll: Instant,
    /// When to look for a camera by discovery next.
    next_presence: Instant,
    finger_supported: bool,
    card_supported: bool,
    open_failures: u32,
}

impl Worker {
    pub fn run(mut self) {
        let now = Instant::now();
        let mut st = State {
            device: None,
            next_open: now,
            next_poll: now,
            next_presence: now + self.presence_interval,
            finger_supported: true,
            card_supported: true,
            open_failures: 0,
        };
        loop {
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            if st.device.is_none() && Instant::now() >= st.next_open {
                self.open(&mut st);
            }
            if st.device.is_some() && Instant::now() >= st.next_poll {
                self.poll(&mut st);
            }
            if let Some(s) = self.settled.take() {
                let _ = s.send(());
            }
            let wake =
                if st.device.is_some() { st.next_poll } else { st.next_open.min(Instant::now() + self.poll_interval) };
            match self.commands.recv_timeout(wake.saturating_duration_since(Instant::now())) {
                Ok(command) => self.execute(&mut st, command),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if let Some(device) = st.device.take() {
            let _ = catch_unwind(AssertUnwindSafe(|| drop(device)));
        }
        tracing::debug!(device = %self.key, "device thread ended");
        drop(self.done);
    }

    fn emit(&self, make: fn(String, Timestamp) -> Event) {
        // No subscriber is fine: nobody is watching.
        let _ = self.events.send(make(self.key.clone(), Timestamp::now()));
    }

    /// Record what was seen and announce what changed.
    fn observe(&self, new: Observed) {
        let old = std::mem::replace(&mut *self.status.lock(), new);
        if !old.attached() && new.attached() {
            tracing::info!(device = %self.key, "device attached");
            self.emit(|device, timestamp| Event::DeviceAttached { device, timestamp });
        }
        if old.attached() && !new.attached() {
            tracing::info!(device = %self.key, "device detached");
            self.emit(|device, timestamp| Event::DeviceDetached { device, timestamp });
            if self.classes.contains(DeviceClass::Camera) {
                let flag = TamperFlag::CameraMissing;
                let _ = self.events.send(Event::CameraFault {
                    device: self.key.clone(),
                    timestamp: Timestamp::now(),
                    flags: vec![flag.as_str().to_owned()],
                    message: flag.advice().to_owned(),
                    snapshot: None,
                });
            }
        }
        if new.finger == Some(true) && old.finger != Some(true) {
            self.emit(|device, timestamp| Event::FingerPlaced { device, timestamp });
        }
        if old.finger == Some(true) && new.finger == Some(false) {
            self.emit(|device, timestamp| Event::FingerLifted { device, timestamp });
        }
        if new.card == Some(true) && old.card != Some(true) {
            tracing::info!(device = %self.key, "card inserted");
            self.emit(|device, timestamp| Event::CardInserted { device, timestamp });
        }
        if old.card == Some(true) && new.card != Some(true) {
            tracing::info!(device = %self.key, "card removed");
            self.emit(|device, timestamp| Event::CardRemoved { device, timestamp });
        }
    }

    fn open(&self, st: &mut State) {
        match guarded("open", || self.factory.open(&self.id)) {
            Ok(device) => {
                tracing::debug!(device = %self.key, "opened");
                st.device = Some(device);
                st.finger_supported = true;
                st.card_supported = true;
                st.open_failures = 0;
                st.next_poll = Instant::now();
            }
            Err(e) => {
                st.open_failures += 1;
                if st.open_failures == 1 {
                    tracing::warn!(device = %self.key, "cannot open: {e}; retrying every {:?}", self.reopen_interval);
                } else {
                    tracing::debug!(device = %self.key, "cannot open: {e}");
                }
                st.next_open = Instant::now() + self.reopen_interval;
                self.observe(Observed::default());
            }
        }
    }

    fn close(&self, st: &mut State, why: &DeviceError) {
        tracing::warn!(device = %self.key, "closing the device to reopen it: {why}");
        if let Some(device) = st.device.take() {
            let _ = catch_unwind(AssertUnwindSafe(|| drop(device)));
        }
        // Try again at once: a restarted driver host is usually back already.
        st.next_open = Instant::now();
        self.observe(Observed::default());
    }

    fn poll(&self, st: &mut State) {
        st.next_poll = Instant::now() + self.poll_interval;
        let previous = self.status.get();
        let Some(device) = st.device.as_mut() else { return };
        let mut seen = Observed { open: true, enabled: true, finger: None, card: None };
        if let Some(fp) = device.as_fingerprint() {
            seen.enabled = match guarded("enabled", || fp.enabled()) {
                Ok(on) => on,
                Err(e) if loses_device(&e) => return self.close(st, &e),
                Err(e) => {
                    tracing::debug!(device = %self.key, "enabled() failed: {e}");
                    previous.enabled
                }
            };
            // Asked even when disabled: an unplugged reader says so here.
            if st.finger_supported {
                seen.finger = match guarded("finger_present", || fp.finger_present()) {
                    Ok(present) => Some(present),
                    Err(e) if e.kind() == ErrorKind::Unsupported => {
                        st.finger_supported = false;
                        None
                    }
                    Err(e) if loses_device(&e) => return self.close(st, &e),
                    Err(e) => {
                        tracing::debug!(device = %self.key, "finger_present() failed: {e}");
                        previous.finger
                    }
                };
            }
        }
        if st.card_supported
            && let Some(reader) = device.as_idcard()
        {
            seen.card = match guarded("card_present", || reader.card_present()) {
                Ok(present) => Some(present),
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    st.card_supported = false;
                    None
                }
                Err(e) if loses_device(&e) => return self.close(st, &e),
                Err(e) => {
                    tracing::debug!(device = %self.key, "card_present() failed: {e}");
                    previous.card
                }
            };
        }
        if device.as_camera().is_some() && Instant::now() >= st.next_presence {
            st.next_presence = Instant::now() + self.presence_interval;
            if let Err(e) = guarded("discover", || self.factory.find(&self.id))
                && e.kind() == ErrorKind::NotConnected
            {
                return self.close(st, &e);
            }
        }
        self.observe(seen);
    }

    /// Run `op` on the open device, opening it first if needed; a lost
    /// device is closed to be reopened.
    fn with_device<T>(
        &self,
        st: &mut State,
        what: &str,
        op: impl FnOnce(&mut dyn Device) -> Result<T, DeviceError>,
    ) -> Result<T, DeviceError> {
        if st.device.is_none() {
            self.open(st);
        }
        let Some(device) = st.device.as_mut() else {
            return Err(DeviceError::NotConnected(format!("{} is not attached", self.key)));
        };
        let result = guarded(what, || op(device.as_mut()));
        if let Err(e) = &result
            && loses_device(e)
        {
            self.close(st, e);
        }
        result
    }

    /// Run `op` on the open fingerprint reader, opening it first if needed.
    fn with_fingerprint<T>(
        &self,
        st: &mut State,
        what: &str,
        op: impl FnOnce(&mut dyn FingerprintReader) -> Result<T, DeviceError>,
    ) -> Result<T, DeviceError> {
        let key = &self.key;
        self.with_device(st, what, |device| match device.as_fingerprint() {
            Some(fp) => op(fp),
            None => Err(DeviceError::Unsupported(format!("{key} is not a fingerprint reader"))),
        })
    }

    /// Run `op` on the open ID card reader, opening it first if needed.
    fn with_idcard<T>(
        &self,
        st: &mut State,
        what: &str,
        op: impl FnOnce(&mut dyn IdCardReader) -> Result<T, DeviceError>,
    ) -> Result<T, DeviceError> {
        let key = &self.key;
        self.with_device(st, what, |device| match device.as_idcard() {
            Some(reader) => op(reader),
            None => Err(DeviceError::Unsupported(format!("{key} is not an ID card reader"))),
        })
    }

    fn execute(&self, st: &mut State, command: Command) {
        match command {
            Command::Poll => {
                st.next_poll = Instant::now();
                st.next_presence = Instant::now();
            }
            Command::Capture { timeout, lease, reply } => {
                let result = self.with_fingerprint(st, "get_template", |fp| fp.get_template(timeout));
                match &result {
                    Ok(t) => tracing::info!(device = %self.key, template = %t.log_tag(), "captured"),
                    Err(e) => tracing::info!(device = %self.key, "capture failed: {e}"),
                }
                // Free the device before answering, so the caller's next
                // request never finds it still busy with this one.
                drop(lease);
                let _ = reply.send(result);
            }
            Command::ReadCard { timeout, lease, reply } => {
                let result = self.with_idcard(st, "read_card", |r| r.read_card(timeout));
                // The card's contents are personal data: sizes only.
                match &result {
                    Ok(read) => tracing::info!(device = %self.key, read = ?read, "card read"),
                    Err(e) => tracing::info!(device = %self.key, "card read failed: {e}"),
                }
                drop(lease);
                let _ = reply.send(result);
                // Card presence may have changed during the read.
                st.next_poll = Instant::now();
            }
            Command::Camera(job) => {
                if st.device.is_none() {
                    self.open(st);
                }
                let camera = st.device.as_mut().map(|d| &mut **d as &mut dyn Device);
                let lost = catch_unwind(AssertUnwindSafe(|| job(camera)))
                    .unwrap_or_else(|_| Some(DeviceError::Panic("the camera driver panicked".into())));
                if let Some(e) = lost
                    && loses_device(&e)
                    && st.device.is_some()
                {
                    self.close(st, &e);
                }
            }
            Command::Match { probe, enrolled, lease, reply } => {
                let result = self.with_fingerprint(st, "match_templates", |fp| fp.match_templates(&probe, &enrolled));
                drop(lease);
                let _ = reply.send(result);
            }
            Command::Sim { command, lease, reply } => {
                if st.device.is_none() {
                    self.open(st);
                }
                let result = match st.device.as_mut() {
                    None => Err(DeviceError::NotConnected(format!("{} is not attached", self.key))),
                    Some(device) => match device.as_sim() {
                        None => Err(DeviceError::Unsupported(format!("{} has no simulation hooks", self.key))),
                        Some(sim) => guarded("sim control", || sim.control(&command)),
                    },
                };
                st.next_poll = Instant::now();
                drop(lease);
                let _ = reply.send(result);
            }
        }
    }
}
