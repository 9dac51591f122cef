//! Every tamper check against the simulated camera's scripted faults, and
//! snapshots end to end: capture, check, JPEG, durable record.

use std::time::Duration;

use examgate_device_sdk::{Device, DeviceId, DriverFactory, Frame, PixelFormat};
use examgate_sim::camera::{CameraCommand, Scene};
use examgate_sim::{SimCameraConfig, SimCameraFactory, SimCameraHandle};
use examgate_webcam::convert::to_rgb;

use super::*;

struct Seat {
    _dir: tempfile::TempDir,
    service: SnapshotService,
    camera: Box<dyn Device>,
    handle: SimCameraHandle,
    exam: ExamSeat,
}

fn seat_with(config: SimCameraConfig, snapshot: SnapshotConfig, limits: StoreLimits) -> Seat {
    let dir = tempfile::tempdir().unwrap();
    let store = SnapshotStore::open(dir.path(), limits).unwrap();
    let factory = SimCameraFactory::new(config);
    let handle = factory.handle("sim-cam-0").unwrap();
    let camera = factory.open(&DeviceId::new("sim-cam-0").unwrap()).unwrap();
    let exam = ExamSeat { seat: "A-017".parse().unwrap(), exam: "k1-am".parse().unwrap() };
    Seat { _dir: dir, service: SnapshotService::new(store, snapshot), camera, handle, exam }
}

fn small() -> SimCameraConfig {
    SimCameraConfig { width: 320, height: 240, ..Default::default() }
}

fn seat() -> Seat {
    seat_with(small(), SnapshotConfig::default(), StoreLimits::default())
}

impl Seat {
    fn take(&mut self) -> SnapshotRecord {
        self.service.take(Some(&mut *self.camera), &self.exam, SnapshotReason::ExaminerRequest).unwrap()
    }
}

fn decode(image: &SnapshotImage) -> (u32, u32) {
    let frame =
        Frame { width: image.width, height: image.height, format: PixelFormat::Mjpeg, data: image.jpeg.clone() };
    to_rgb(&frame).expect("a valid JPEG").dimensions()
}

#[test]
fn a_normal_snapshot_is_a_valid_jpeg_stored_with_no_flags() {
    let mut s = seat();
    let record = s.take();
    assert_eq!(record.flags, Flags::NONE, "{:?}", record.detail);
    assert_eq!(record.camera, "examgate simulated camera");
    let image = record.image.as_ref().unwrap();
    assert_eq!(decode(image), (320, 240));
    assert_eq!(image.sha256_hex().len(), 64);
    assert!(record.phash.is_some());
    let stored = s.service.store().get(record.id).unwrap().unwrap();
    assert_eq!(stored, record);
}

#[test]
fn a_live_camera_is_never_taken_for_a_frozen_one() {
    // An empty room is a still scene: only sensor noise changes.
    let mut s = seat_with(
        SimCameraConfig { scene: Scene::Empty, ..small() },
        SnapshotConfig::default(),
        StoreLimits::default(),
    );
    for _ in 0..6 {
        let r = s.take();
        assert!(!r.flags.contains(TamperFlag::Frozen), "{:?}", r.flags);
    }
}

#[test]
fn a_covered_lens_is_dark() {
    let mut s = seat();
    s.handle.apply(CameraCommand::Scene(Scene::Covered));
    let r = s.take();
    assert!(r.flags.contains(TamperFlag::Dark), "{:?}", r.flags);
    assert!(r.image.is_some(), "the dark picture is kept as evidence");
    s.handle.apply(CameraCommand::Scene(Scene::Subject));
    assert!(!s.take().flags.contains(TamperFlag::Dark));
}

#[test]
fn a_blank_picture_is_uniform_but_not_dark() {
    let mut s = seat();
    s.handle.apply(CameraCommand::Scene(Scene::Uniform));
    let r = s.take();
    assert!(r.flags.contains(TamperFlag::Uniform), "{:?}", r.flags);
    assert!(!r.flags.contains(TamperFlag::Dark));
}

#[test]
fn a_frozen_feed_is_caught() {
    let mut s = seat();
    assert!(s.take().flags.is_empty());
    s.handle.apply(CameraCommand::Freeze);
    let r = s.take();
    assert!(r.flags.contains(TamperFlag::Frozen), "{:?}", r.flags);
    s.handle.apply(CameraCommand::Unfreeze);
    assert!(!s.take().flags.contains(TamperFlag::Frozen));
}

#[test]
fn virtual_cameras_are_named_as_such() {
    for name in ["OBS Virtual Camera", "Dummy video device (0x0000) [v4l2 loopback]"] {
        let mut s = seat_with(
            SimCameraConfig { name: name.into(), ..small() },
            SnapshotConfig::default(),
            StoreLimits::default(),
        );
        let r = s.take();
        assert!(r.flags.contains(TamperFlag::VirtualCamera), "{name}: {:?}", r.flags);
        assert!(r.detail.as_deref().unwrap_or("").contains(name), "{:?}", r.detail);
    }
}

#[test]
fn an_unplugged_camera_is_recorded_as_missing() {
    let mut s = seat();
    s.handle.apply(CameraCommand::Unplug);
    let r = s.take();
    assert!(r.flags.contains(TamperFlag::CameraMissing), "{:?}", r.flags);
    assert_eq!(r.image, None);
    assert!(r.detail.as_deref().unwrap_or("").contains("unplugged"), "{:?}", r.detail);
    assert!(s.service.store().get(r.id).unwrap().is_some(), "a missing snapshot is still recorded");
    s.handle.apply(CameraCommand::Plug);
    assert!(s.take().flags.is_empty());
}

#[test]
fn no_camera_at_all_is_recorded_as_missing() {
    let mut s = seat();
    let r = s.service.take(None, &s.exam, SnapshotReason::Scheduled(0)).unwrap();
    assert_eq!(r.flags, Flags::NONE.with(TamperFlag::CameraMissing));
    assert_eq!(s.service.store().scheduled_taken(&s.exam).unwrap(), [0].into());
}

#[test]
fn a_slow_camera_is_flagged_and_a_stuck_one_fails() {
    let config = SnapshotConfig {
        slow_after: Duration::from_millis(50),
        capture_timeout: Duration::from_millis(300),
        ..SnapshotConfig::default()
    };
    let mut s = seat_with(small(), config, StoreLimits::default());
    s.handle.apply(CameraCommand::Slow(Duration::from_millis(120)));
    let slow = s.take();
    assert!(slow.flags.contains(TamperFlag::Slow), "{:?}", slow.flags);
    assert!(slow.image.is_some() && slow.capture_time >= Duration::from_millis(120));
    s.handle.apply(CameraCommand::Slow(Duration::from_secs(5)));
    let stuck = s.take();
    assert!(
        stuck.flags.contains(TamperFlag::Slow) && stuck.flags.contains(TamperFlag::CaptureFailed),
        "{:?}",
        stuck.flags
    );
    assert_eq!(stuck.image, None);
}

#[test]
fn every_pixel_format_makes_a_snapshot() {
    for format in [PixelFormat::Mjpeg, PixelFormat::Yuyv, PixelFormat::Nv12, PixelFormat::Rgb24] {
        let mut s = seat_with(SimCameraConfig { format, ..small() }, SnapshotConfig::default(), StoreLimits::default());
        let r = s.take();
        assert!(r.flags.is_empty(), "{format:?}: {:?}", r.flags);
        assert_eq!(decode(r.image.as_ref().unwrap()), (320, 240));
    }
}

#[test]
fn large_frames_are_scaled_to_the_configured_size() {
    let config = SimCameraConfig { width: 1280, height: 720, format: PixelFormat::Mjpeg, ..Default::default() };
    let mut s = seat_with(config, SnapshotConfig::default(), StoreLimits::default());
    let image = s.take().image.unwrap();
    assert_eq!((image.width, image.height), (640, 360));
    assert_eq!(decode(&image), (640, 360));
}

#[test]
fn a_full_store_fails_the_snapshot_with_the_alarm() {
    let mut s = seat_with(small(), SnapshotConfig::default(), StoreLimits { max_bytes: 1 << 30, max_records: 2 });
    s.take();
    s.take();
    let err = s.service.take(Some(&mut *s.camera), &s.exam, SnapshotReason::Scheduled(9)).unwrap_err();
    assert!(err.is_store_full(), "{err}");
    assert!(!s.service.store().scheduled_taken(&s.exam).unwrap().contains(&9), "it does not count as taken");
}

#[test]
fn the_preview_is_small_and_says_what_is_wrong() {
    let mut s = seat();
    let p = s.service.preview(&mut *s.camera).unwrap();
    assert_eq!((p.jpeg.width, p.jpeg.height), (320, 240));
    assert!(p.flags.is_empty());
    s.handle.apply(CameraCommand::Scene(Scene::Covered));
    assert!(s.service.preview(&mut *s.camera).unwrap().flags.contains(TamperFlag::Dark));
    s.handle.apply(CameraCommand::Unplug);
    assert!(matches!(s.service.preview(&mut *s.camera), Err(SnapshotError::Camera(_))));
    assert_eq!(s.service.store().usage().records, 0, "previews are never stored");
}
