//! The webcam driver: a [`DriverFactory`] over a [`VideoBackend`], and the
//! opened camera, which streams on a thread of its own.
//!
//! Why a thread: V4L2 reads block with no timeout nokhwa lets us set, and a
//! nokhwa camera is not `Send`. The thread owns the stream; `capture` asks
//! it for a frame and waits at most its timeout. A camera that stops
//! delivering costs a `Timeout`, not the caller's thread.
//!
//! Unplug and replug: when a read fails the stream is dropped and the
//! camera looked up again by its [`DeviceId`] (derived from its name, not its
//! index, which may change on replug). If it is gone the error is
//! `NotConnected`; the next capture finds it again when it is back.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use examgate_device_sdk::{
    Camera, Device, DeviceClass, DeviceClasses, DeviceError, DeviceId, DeviceInfo, DriverFactory, Frame,
};

use crate::backend::{CameraDescription, VideoBackend, VideoStream};
use crate::{Mode, ModeRequest, WebcamSelector};

/// How long `open` waits for the camera to start streaming.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// A listed camera with the id the driver gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraListing {
    pub id: DeviceId,
    pub description: CameraDescription,
}

/// Device id for the `nth` (0-based) camera of this name: the name while it
/// fits the ABI's 63 bytes, else a prefix and a hash; ` #2`, ` #3`… for
/// identical cameras. Stable across replugs, unlike the index.
pub fn device_id_for(name: &str, nth: usize) -> DeviceId {
    let clean: String = name.chars().filter(|c| !c.is_control()).collect();
    let clean = if clean.trim().is_empty() { "camera".to_owned() } else { clean };
    let suffix = if nth == 0 { String::new() } else { format!(" #{}", nth + 1) };
    if let Ok(id) = DeviceId::new(format!("{clean}{suffix}")) {
        return id;
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in clean.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    let mut end = 44.min(clean.len());
    while !clean.is_char_boundary(end) {
        end -= 1;
    }
    DeviceId::new(format!("{}~{h:08x}{suffix}", &clean[..end])).expect("fits by construction")
}

/// The name a device shows: the card name and, when known, its kernel
/// driver, which is where a loopback camera gives itself away.
fn display_name(d: &CameraDescription) -> String {
    if d.driver.is_empty() { d.name.clone() } else { format!("{} [{}]", d.name, d.driver) }
}

/// Lists and opens cameras of one backend that a selector picks.
pub struct WebcamFactory {
    backend: Arc<dyn VideoBackend>,
    selector: WebcamSelector,
}

impl WebcamFactory {
    /// Real cameras through V4L2.
    #[cfg(feature = "v4l2")]
    pub fn v4l2(selector: WebcamSelector) -> WebcamFactory {
        WebcamFactory::with_backend(Arc::new(crate::v4l2::V4l2Backend), selector)
    }

    /// Cameras of any backend (tests hand in a simulated one).
    pub fn with_backend(backend: Arc<dyn VideoBackend>, selector: WebcamSelector) -> WebcamFactory {
        WebcamFactory { backend, selector }
    }

    pub fn selector(&self) -> &WebcamSelector {
        &self.selector
    }

    /// The cameras the selector picks, with their modes.
    pub fn cameras(&self) -> Result<Vec<CameraListing>, DeviceError> {
        Ok(list(&*self.backend)?
            .into_iter()
            .filter(|c| self.selector.camera.matches(c.description.index, &c.description.name))
            .collect())
    }

    /// The mode this factory would choose for a listed camera.
    pub fn negotiate(&self, camera: &CameraDescription) -> Option<Mode> {
        self.selector.request.negotiate(&camera.modes)
    }
}

/// Every camera of a backend, with ids numbered by name.
fn list(backend: &dyn VideoBackend) -> Result<Vec<CameraListing>, DeviceError> {
    let mut cameras = backend.list()?;
    cameras.sort_by_key(|c| c.index);
    let mut seen: Vec<&str> = Vec::new();
    let mut ids = Vec::with_capacity(cameras.len());
    for c in &cameras {
        let nth = seen.iter().filter(|n| **n == c.name).count();
        seen.push(&c.name);
        ids.push(device_id_for(&c.name, nth));
    }
    Ok(ids.into_iter().zip(cameras).map(|(id, description)| CameraListing { id, description }).collect())
}

impl DriverFactory for WebcamFactory {
    fn name(&self) -> &str {
        "webcam"
    }

    fn classes(&self) -> DeviceClasses {
        DeviceClass::Camera.into()
    }

    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        Ok(self
            .cameras()?
            .into_iter()
            .map(|c| DeviceInfo { id: c.id, name: display_name(&c.description), classes: DeviceClass::Camera.into() })
            .collect())
    }

    fn open(&self, id: &DeviceId) -> Result<Box<dyn Device>, DeviceError> {
        let camera = self
            .cameras()?
            .into_iter()
            .find(|c| &c.id == id)
            .ok_or_else(|| DeviceError::NotConnected(format!("no camera {id}")))?;
        Ok(Box::new(Webcam::start(Arc::clone(&self.backend), camera, self.selector.request.clone())?))
    }
}

type Reply = SyncSender<Result<Frame, DeviceError>>;

/// An opened camera.
pub struct Webcam {
    info: DeviceInfo,
    backend: Arc<dyn VideoBackend>,
    request: ModeRequest,
    jobs: Option<mpsc::Sender<Reply>>,
    /// A capture that outlived its caller's timeout; its frame is stale when it comes.
    pending: Option<Receiver<Result<Frame, DeviceError>>>,
}

impl Webcam {
    fn start(
        backend: Arc<dyn VideoBackend>,
        camera: CameraListing,
        request: ModeRequest,
    ) -> Result<Webcam, DeviceError> {
        let info = DeviceInfo {
            id: camera.id.clone(),
            name: display_name(&camera.description),
            classes: DeviceClass::Camera.into(),
        };
        let mut webcam = Webcam { info, backend, request, jobs: None, pending: None };
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        webcam.spawn_worker(Some(ready_tx))?;
        match ready_rx.recv_timeout(OPEN_TIMEOUT) {
            Ok(Ok(driver)) => {
                if !driver.is_empty() && camera.description.driver.is_empty() {
                    webcam.info.name = format!("{} [{driver}]", camera.description.name);
                }
                Ok(webcam)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(DeviceError::Timeout(format!(
                "camera {} did not start streaming within {OPEN_TIMEOUT:?}",
                camera.id
            ))),
        }
    }

    fn spawn_worker(&mut self, ready: Option<SyncSender<Result<String, DeviceError>>>) -> Result<(), DeviceError> {
        let (jobs_tx, jobs_rx) = mpsc::channel::<Reply>();
        let (backend, id, request) = (Arc::clone(&self.backend), self.info.id.clone(), self.request.clone());
        std::thread::Builder::new()
            .name(format!("webcam {}", self.info.id))
            .spawn(move || {
                // Built here: the stream it will hold need not be `Send`.
                let mut worker = Worker { backend, id, request, stream: None, lost: false };
                if let Some(ready) = ready {
                    let started = worker
                        .guarded(|w| w.connect().map(|()| w.stream.as_ref().map(|s| s.driver()).unwrap_or_default()));
                    let failed = started.is_err();
                    let _ = ready.send(started);
                    if failed {
                        return;
                    }
                }
                for reply in jobs_rx {
                    let result = worker.guarded(Worker::capture);
                    // The caller may have given up waiting; the frame is then dropped.
                    let _ = reply.send(result);
                }
            })
            .map_err(|e| DeviceError::Driver(format!("cannot start the capture thread: {e}")))?;
        self.jobs = Some(jobs_tx);
        Ok(())
    }

    fn timed_out(&self, timeout: Duration) -> DeviceError {
        DeviceError::Timeout(format!("no frame from camera {} within {} ms", self.info.id, timeout.as_millis()))
    }
}

impl Device for Webcam {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn as_camera(&mut self) -> Option<&mut dyn Camera> {
        Some(self)
    }
}

impl Camera for Webcam {
    fn capture(&mut self, timeout: Duration) -> Result<Frame, DeviceError> {
        let deadline = Instant::now() + timeout;
        if let Some(pending) = self.pending.take() {
            // The camera is still busy with a frame nobody waits for any more.
            match pending.recv_timeout(timeout) {
                Ok(_stale) => {}
                Err(RecvTimeoutError::Timeout) => {
                    self.pending = Some(pending);
                    return Err(self.timed_out(timeout));
                }
                Err(RecvTimeoutError::Disconnected) => self.jobs = None,
            }
        }
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(reply_tx.clone()).is_ok());
        if sent != Some(true) {
            // The capture thread is gone (it panicked past its guard): start another.
            self.spawn_worker(None)?;
            self.jobs.as_ref().expect("just spawned").send(reply_tx).map_err(|_| {
                DeviceError::Driver(format!("the capture thread of camera {} ended at once", self.info.id))
            })?;
        }
        match reply_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                self.pending = Some(reply_rx);
                Err(self.timed_out(timeout))
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.jobs = None;
                Err(DeviceError::Panic(format!("the capture thread of camera {} ended", self.info.id)))
            }
        }
    }
}

/// The capture thread's state.
struct Worker {
    backend: Arc<dyn VideoBackend>,
    id: DeviceId,
    request: ModeRequest,
    stream: Option<Box<dyn VideoStream>>,
    /// The camera went away; say so in the log when it is back.
    lost: bool,
}

impl Worker {
    /// Run `f`, turning a panic in the backend into an error and a fresh stream.
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Worker) -> Result<T, DeviceError>) -> Result<T, DeviceError> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(result) => result,
            Err(_) => {
                self.stream = None;
                Err(DeviceError::Panic(format!("the camera backend panicked while serving {}", self.id)))
            }
        }
    }

    fn find(&self) -> Result<Option<CameraDescription>, DeviceError> {
        Ok(list(&*self.backend)?.into_iter().find(|c| c.id == self.id).map(|c| c.description))
    }

    fn unplugged(&self) -> DeviceError {
        DeviceError::NotConnected(format!("camera {} is unplugged", self.id))
    }

    fn connect(&mut self) -> Result<(), DeviceError> {
        let camera = self.find()?.ok_or_else(|| self.unplugged())?;
        let mode = self.request.negotiate(&camera.modes).ok_or_else(|| {
            let offered: Vec<String> = camera.modes.iter().map(Mode::to_string).collect();
            DeviceError::Unsupported(format!(
                "camera {} offers no mode in {}: it offers [{}]",
                self.id,
                self.request,
                offered.join(", ")
            ))
        })?;
        let stream = self.backend.open(&camera, mode)?;
        tracing::info!(camera = %self.id, mode = %stream.mode(), index = camera.index, "camera streaming");
        if self.lost {
            tracing::info!(camera = %self.id, "camera is back");
            self.lost = false;
        }
        self.stream = Some(stream);
        Ok(())
    }

    fn capture(&mut self) -> Result<Frame, DeviceError> {
        if self.stream.is_none() {
            self.connect()?;
        }
        let stream = self.stream.as_mut().expect("connected above");
        match stream.next_frame() {
            Ok(frame) => Ok(frame),
            Err(e) => {
                // Reopen on the next capture; tell an unplug from a bad frame.
                self.stream = None;
                match self.find() {
                    Ok(None) => {
                        tracing::warn!(camera = %self.id, error = %e, "camera unplugged");
                        self.lost = true;
                        Err(self.unplugged())
                    }
                    _ => Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_names_and_fit_the_abi() {
        assert_eq!(device_id_for("HD Pro Webcam C920", 0).as_str(), "HD Pro Webcam C920");
        assert_eq!(device_id_for("HD Pro Webcam C920", 1).as_str(), "HD Pro Webcam C920 #2");
        assert_eq!(device_id_for("", 0).as_str(), "camera");
        assert_eq!(device_id_for("bad\nname", 0).as_str(), "badname");
        let long = "A very long camera name that a vendor thought was a good idea to ship".repeat(2);
        let a = device_id_for(&long, 0);
        assert!(a.as_str().len() <= 63);
        assert_eq!(a, device_id_for(&long, 0), "stable");
        assert_ne!(a, device_id_for(&long, 1));
        assert_ne!(a, device_id_for(&format!("{long}!"), 0));
        let wide = "摄像头".repeat(30);
        assert!(device_id_for(&wide, 3).as_str().len() <= 63);
    }
}
