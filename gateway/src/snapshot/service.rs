//! Taking a snapshot: capture, check, encode, store.

use std::time::{Duration, Instant, SystemTime};

use examgate_device_sdk::{Device, DeviceError, ErrorKind};
use examgate_webcam::convert::{self, ConvertError, Jpeg, JpegOptions};

use super::record::{ExamSeat, SnapshotImage, SnapshotReason, SnapshotRecord};
use super::store::{NewSnapshot, SnapshotStore, StoreError};
use super::tamper::{Flags, FrameHistory, FrameStats, TamperFlag, Thresholds, picture_flags, virtual_camera_marker};

/// How snapshots are taken.
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotConfig {
    /// Size and quality of stored snapshots.
    pub jpeg: JpegOptions,
    /// Size and quality of the seat page's preview.
    pub preview: JpegOptions,
    /// How long a capture may take before it fails.
    pub capture_timeout: Duration,
    /// A capture slower than this is flagged `slow` (but kept).
    pub slow_after: Duration,
    pub thresholds: Thresholds,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig {
            jpeg: JpegOptions::default(),
            preview: JpegOptions { max_width: 320, max_height: 240, quality: 60 },
            capture_timeout: Duration::from_secs(5),
            slow_after: Duration::from_secs(2),
            thresholds: Thresholds::default(),
        }
    }
}

/// Why a snapshot could not be kept, or a preview not made.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The snapshot was taken but could not be stored: it does not count.
    /// [`StoreError::Full`] is the alarm the agent must raise.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// (Preview only: a snapshot records camera failures as flags.)
    #[error("camera: {0}")]
    Camera(#[from] DeviceError),
    #[error("the device {0} is not a camera")]
    NotACamera(String),
}

impl SnapshotError {
    /// True for the store-full alarm.
    pub fn is_store_full(&self) -> bool {
        matches!(self, SnapshotError::Store(StoreError::Full { .. }))
    }
}

/// A preview picture for the seat page, with what the checks see in it (so
/// the page can say "uncover the camera" before the exam starts). Never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preview {
    pub jpeg: Jpeg,
    pub flags: Flags,
}

/// Takes snapshots and keeps them in the store.
///
/// ```no_run
/// # fn demo(camera: &mut dyn examgate_device_sdk::Device) -> Result<(), Box<dyn std::error::Error>> {
/// use examgate_agent::snapshot::*;
/// let store = SnapshotStore::open("/var/lib/examgate/snapshots".as_ref(), StoreLimits::default())?;
/// let mut service = SnapshotService::new(store, SnapshotConfig::default());
/// let exam = ExamSeat { seat: "A-017".parse()?, exam: "k1-am".parse()? };
/// let record = service.take(Some(camera), &exam, SnapshotReason::IdentityVerification)?;
/// if !record.flags.is_empty() {
///     eprintln!("{}: {}", record.log_tag(), record.flags);
/// }
/// # Ok(()) }
/// ```
pub struct SnapshotService {
    store: SnapshotStore,
    config: SnapshotConfig,
    history: FrameHistory,
}

/// What a capture gave: a checked picture, or flags saying why there is none.
struct Captured {
    flags: Flags,
    detail: Option<String>,
    phash: Option<u64>,
    capture_time: Duration,
    image: Option<SnapshotImage>,
}

impl SnapshotService {
    pub fn new(store: SnapshotStore, config: SnapshotConfig) -> SnapshotService {
        SnapshotService { store, config, history: FrameHistory::default() }
    }

    pub fn config(&self) -> &SnapshotConfig {
        &self.config
    }

    pub fn store(&self) -> &SnapshotStore {
        &self.store
    }

    /// The store, to list pending snapshots and delete acknowledged ones.
    pub fn store_mut(&mut self) -> &mut SnapshotStore {
        &mut self.store
    }

    /// Take a snapshot with `camera` (`None`: the seat has no camera now),
    /// check it, and store it durably. Camera trouble does not fail the
    /// call: it comes back as a stored record with flags (`camera_missing`,
    /// `slow`, `capture_failed`) and no image. Only a store failure is an
    /// error, and then the snapshot does not count.
    pub fn take(
        &mut self,
        camera: Option<&mut dyn Device>,
        exam: &ExamSeat,
        reason: SnapshotReason,
    ) -> Result<SnapshotRecord, SnapshotError> {
        let taken_at = SystemTime::now();
        let (camera_name, captured) = match camera {
            None => (String::new(), Captured::missing("no camera is attached to this seat".into())),
            Some(device) => (device.info().name.clone(), self.capture(device)),
        };
        let record = self.store.insert(&NewSnapshot {
            exam: exam.clone(),
            taken_at,
            reason,
            camera: camera_name,
            flags: captured.flags,
            detail: captured.detail,
            phash: captured.phash,
            capture_time: captured.capture_time,
            image: captured.image,
        })?;
        if record.flags.is_empty() {
            tracing::info!(seat = %exam.seat, exam = %exam.exam, %reason, "{} taken", record.log_tag());
        } else {
            tracing::warn!(seat = %exam.seat, exam = %exam.exam, %reason, flags = %record.flags, "{} taken", record.log_tag());
        }
        Ok(record)
    }

    fn capture(&mut self, device: &mut dyn Device) -> Captured {
        let info = device.info().clone();
        let mut flags = Flags::NONE;
        let mut notes = Vec::new();
        if let Some(marker) = virtual_camera_marker(&info.name) {
            flags.insert(TamperFlag::VirtualCamera);
            notes.push(format!("camera name {:?} contains {marker:?}", info.name));
        }
        let Some(camera) = device.as_camera() else {
            let mut c = Captured::missing(format!("device {} is not a camera", info.id));
            c.flags = c.flags.union(flags);
            return c;
        };
        let start = Instant::now();
        let result = camera.capture(self.config.capture_timeout);
        let capture_time = start.elapsed();
        if capture_time > self.config.slow_after {
            flags.insert(TamperFlag::Slow);
            notes.push(format!("the camera took {} ms", capture_time.as_millis()));
        }
        let frame = match result {
            Ok(frame) => frame,
            Err(e) => {
                match e.kind() {
                    ErrorKind::NotConnected => flags.insert(TamperFlag::CameraMissing),
                    ErrorKind::Timeout => flags = flags.with(TamperFlag::Slow).with(TamperFlag::CaptureFailed),
                    _ => flags.insert(TamperFlag::CaptureFailed),
                }
                notes.push(e.to_string());
                return Captured { flags, detail: Some(notes.join("; ")), phash: None, capture_time, image: None };
            }
        };
        let checked = convert::to_rgb(&frame).and_then(|rgb| {
            let stats = FrameStats::of(&rgb);
            let jpeg = convert::encode_jpeg(&rgb, &self.config.jpeg)?;
            Ok::<_, ConvertError>((stats, jpeg))
        });
        let (stats, jpeg) = match checked {
            Ok(v) => v,
            Err(e) => {
                flags.insert(TamperFlag::CaptureFailed);
                notes.push(format!("unusable frame: {e}"));
                return Captured { flags, detail: Some(notes.join("; ")), phash: None, capture_time, image: None };
            }
        };
        flags = flags.union(picture_flags(&stats, &self.config.thresholds));
        if self.history.check_frozen(&info.id, &stats, &self.config.thresholds) {
            flags.insert(TamperFlag::Frozen);
        }
        Captured {
            flags,
            detail: (!notes.is_empty()).then(|| notes.join("; ")),
            phash: Some(stats.phash),
            capture_time,
            image: Some(SnapshotImage::new(jpeg.width, jpeg.height, jpeg.bytes)),
        }
    }

    /// A small JPEG for the seat page's "look at the camera" step; not
    /// stored. Its frames join the frozen-feed history.
    pub fn preview(&mut self, device: &mut dyn Device) -> Result<Preview, SnapshotError> {
        let info = device.info().clone();
        let camera = device.as_camera().ok_or_else(|| SnapshotError::NotACamera(info.id.to_string()))?;
        let frame = camera.capture(self.config.capture_timeout)?;
        let rgb = convert::to_rgb(&frame).map_err(DeviceError::from)?;
        let stats = FrameStats::of(&rgb);
        let mut flags = picture_flags(&stats, &self.config.thresholds);
        if self.history.check_frozen(&info.id, &stats, &self.config.thresholds) {
            flags.insert(TamperFlag::Frozen);
        }
        if virtual_camera_marker(&info.name).is_some() {
            flags.insert(TamperFlag::VirtualCamera);
        }
        let jpeg = convert::encode_jpeg(&rgb, &self.config.preview).map_err(DeviceError::from)?;
        Ok(Preview { jpeg, flags })
    }
}

impl Captured {
    fn missing(detail: String) -> Captured {
        Captured {
            flags: Flags::NONE.with(TamperFlag::CameraMissing),
            detail: Some(detail),
            phash: None,
            capture_time: Duration::ZERO,
            image: None,
        }
    }
}
