//! Snapshots in the running agent: the [`snapshot`](crate::snapshot)
//! library (store, tamper checks, schedule) wired to the device manager's
//! camera threads and the event stream.
//!
//! - [`Snapshots`] holds this seat's settings and the snapshot service,
//!   whose store is opened on first use (or at start, by `run`).
//! - [`take`] captures on a camera's own thread, stores the record durably,
//!   then announces `snapshot_taken`, and `camera_fault` when a check
//!   flagged it. [`preview`] makes the seat page's small picture.
//! - [`info`] is the record as the API and the events show it. The
//!   schedule's seed and times never leave the agent: a scheduled snapshot
//!   shows as `scheduled`, without its number.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, UNIX_EPOCH};

use examgate_device_sdk::DeviceError;
use examgate_protocol::camera::SnapshotInfo;
use examgate_protocol::{Event, Timestamp};

use crate::devices::DeviceManager;
use crate::error::AppError;
use crate::snapshot::{
    ExamSeat, ExamWindow, Preview, ScheduleSeed, SnapshotConfig, SnapshotError, SnapshotPolicy, SnapshotReason,
    SnapshotRecord, SnapshotService, SnapshotStore, StoreError, StoreLimits, TamperFlag,
};

/// Where this seat's snapshots go and how they are taken.
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotSettings {
    /// The store's directory (0700; the database in it 0600).
    pub dir: PathBuf,
    pub limits: StoreLimits,
    /// The seat and exam every snapshot is recorded under.
    pub exam: ExamSeat,
    pub service: SnapshotConfig,
    /// The scheduled snapshots of the exam, when configured.
    pub schedule: Option<ScheduleSettings>,
}

/// The exam's secret schedule. Its `Debug` never shows the seed.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleSettings {
    pub seed: ScheduleSeed,
    pub window: ExamWindow,
    pub policy: SnapshotPolicy,
}

/// The directory snapshots go to unless the config says otherwise:
/// systemd's `$STATE_DIRECTORY`, else `$XDG_STATE_HOME/examgate/snapshots`,
/// else `~/.local/state/examgate/snapshots`.
pub fn default_snapshot_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(state) = std::env::var("STATE_DIRECTORY").ok().and_then(|v| v.split(':').next().map(PathBuf::from))
        && !state.as_os_str().is_empty()
    {
        return state.join("snapshots");
    }
    if let Some(xdg) = var("XDG_STATE_HOME") {
        return xdg.join("examgate/snapshots");
    }
    match var("HOME") {
        Some(home) => home.join(".local/state/examgate/snapshots"),
        None => PathBuf::from("examgate-snapshots"),
    }
}

impl Default for SnapshotSettings {
    fn default() -> Self {
        SnapshotSettings {
            dir: default_snapshot_dir(),
            limits: StoreLimits::default(),
            exam: ExamSeat {
                seat: crate::snapshot::UNASSIGNED.parse().expect("a valid seat number"),
                exam: crate::snapshot::UNASSIGNED.parse().expect("a valid exam id"),
            },
            service: SnapshotConfig::default(),
            schedule: None,
        }
    }
}

/// This seat's snapshot service, shared by the API, the scheduler and the
/// camera threads. The service (and its SQLite store) is used from one
/// thread at a time.
pub struct Snapshots {
    settings: SnapshotSettings,
    service: Mutex<Option<SnapshotService>>,
}

impl Snapshots {
    pub fn new(settings: SnapshotSettings) -> Snapshots {
        Snapshots { settings, service: Mutex::new(None) }
    }

    pub fn settings(&self) -> &SnapshotSettings {
        &self.settings
    }

    fn lock(&self) -> MutexGuard<'_, Option<SnapshotService>> {
        self.service.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open the store now, so that a directory that cannot be used is
    /// reported at start rather than at the first snapshot. Blocking.
    pub fn open(&self) -> Result<(), StoreError> {
        let mut service = self.lock();
        if service.is_none() {
            let store = SnapshotStore::open(&self.settings.dir, self.settings.limits)?;
            tracing::info!(dir = %self.settings.dir.display(), "snapshot store open");
            *service = Some(SnapshotService::new(store, self.settings.service.clone()));
        }
        Ok(())
    }

    /// Run `f` with the service, opening the store first if needed. Blocking.
    pub fn with_service<T>(
        &self,
        f: impl FnOnce(&mut SnapshotService) -> Result<T, SnapshotError>,
    ) -> Result<T, SnapshotError> {
        self.open()?;
        let mut service = self.lock();
        f(service.as_mut().expect("opened above"))
    }

    /// The scheduled snapshots of this seat's exam already stored. Blocking.
    pub fn scheduled_taken(&self) -> Result<BTreeSet<u32>, SnapshotError> {
        let exam = self.settings.exam.clone();
        self.with_service(|s| Ok(s.store().scheduled_taken(&exam)?))
    }
}

/// A snapshot failure as an API error; the store-full alarm is its own kind.
fn app_error(e: SnapshotError) -> AppError {
    match e {
        e if e.is_store_full() => {
            tracing::error!("ALARM: {e}");
            AppError::StoreFull(e.to_string())
        }
        SnapshotError::Camera(e) => AppError::Device(e),
        SnapshotError::NotACamera(device) => AppError::WrongClass { device, class: "camera" },
        SnapshotError::Store(e) => AppError::Internal(e.to_string()),
    }
}

/// Longest a camera job may take beyond the capture timeout: encoding and
/// the store's fsync.
const STORE_SLACK: Duration = Duration::from_secs(10);

/// Take a snapshot with a camera (the named one, else the first that can
/// serve), store it, and announce it. Camera trouble is recorded as flags
/// on a stored record, not an error; only a store failure is, and then the
/// snapshot does not count.
pub async fn take(
    devices: &DeviceManager,
    snapshots: &Arc<Snapshots>,
    device: Option<&str>,
    reason: SnapshotReason,
) -> Result<SnapshotRecord, AppError> {
    let shared = Arc::clone(snapshots);
    let exam = snapshots.settings.exam.clone();
    let wait = snapshots.settings.service.capture_timeout + STORE_SLACK;
    let (camera, result) = devices
        .on_camera(device, wait, move |camera| {
            let result = shared.with_service(|s| s.take(camera, &exam, reason));
            // A camera that did not answer is closed and looked for again.
            let lost = match &result {
                Ok(r) if r.flags.contains(TamperFlag::CameraMissing) => Some(DeviceError::NotConnected(
                    r.detail.clone().unwrap_or_else(|| "the camera did not answer".into()),
                )),
                _ => None,
            };
            (result, lost)
        })
        .await?;
    let record = result.map_err(app_error)?;
    let device = camera.unwrap_or_default();
    let snapshot = info(&record);
    if !record.flags.is_empty() {
        let message = record.flags.iter().map(TamperFlag::advice).collect::<Vec<_>>().join("; ");
        devices.emit(Event::CameraFault {
            device: device.clone(),
            timestamp: Timestamp::now(),
            flags: snapshot.flags.clone(),
            message,
            snapshot: Some(record.id.0),
        });
    }
    devices.emit(Event::SnapshotTaken { device, timestamp: Timestamp::now(), snapshot });
    Ok(record)
}

/// A small picture for the seat page, with what the checks see in it. Not
/// stored.
pub async fn preview(
    devices: &DeviceManager,
    snapshots: &Arc<Snapshots>,
    device: Option<&str>,
) -> Result<Preview, AppError> {
    if device.is_none() && !devices.has_camera() {
        return Err(AppError::NoDevice("camera"));
    }
    let shared = Arc::clone(snapshots);
    let wait = snapshots.settings.service.capture_timeout + STORE_SLACK;
    let (_, result) = devices
        .on_camera(device, wait, move |camera| {
            let result = match camera {
                None => Err(SnapshotError::Camera(DeviceError::NotConnected("the camera is not attached".into()))),
                Some(camera) => shared.with_service(|s| s.preview(camera)),
            };
            let lost = match &result {
                Err(SnapshotError::Camera(e)) => Some(e.clone()),
                _ => None,
            };
            (result, lost)
        })
        .await?;
    result.map_err(app_error)
}

/// A record as the API and the events show it (without the picture).
pub fn info(record: &SnapshotRecord) -> SnapshotInfo {
    let millis = record.taken_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    SnapshotInfo {
        id: record.id.0,
        seat: record.seat.to_string(),
        exam: record.exam.to_string(),
        time: Timestamp::from_unix_millis(i64::try_from(millis).unwrap_or(i64::MAX)),
        reason: match record.reason {
            // Which of the exam's scheduled snapshots this was stays in the agent.
            SnapshotReason::Scheduled(_) => "scheduled".to_owned(),
            other => other.to_string(),
        },
        camera: record.camera.clone(),
        sha256: record.image.as_ref().map(|i| i.sha256_hex()),
        width: record.image.as_ref().map(|i| i.width),
        height: record.image.as_ref().map(|i| i.height),
        flags: record.flags.iter().map(|f| f.as_str().to_owned()).collect(),
        detail: record.detail.clone(),
        capture_ms: u64::try_from(record.capture_time.as_millis()).unwrap_or(u64::MAX),
    }
}
