//! Webcam snapshots of the candidate at moments the page cannot predict,
//! each checked for tampering and stored durably before it counts.
//!
//! - [`Schedule::plan`] turns a [`SnapshotPolicy`] and the exam's secret
//!   [`ScheduleSeed`] into this seat's capture times (different for every
//!   seat and exam, the same after a restart).
//! - [`SnapshotService::take`] captures a frame from any camera (the
//!   webcam driver, the simulated camera, a plugin), runs the tamper checks
//!   ([`TamperFlag`]: dark, uniform, frozen, virtual camera, camera missing,
//!   slow, capture failed), encodes a JPEG and stores a [`SnapshotRecord`]
//!   in the [`SnapshotStore`] (SQLite, WAL, `synchronous=FULL`, 0600).
//!   [`SnapshotService::preview`] makes the seat page's small preview.
//! - The delivery queue reads [`SnapshotStore::pending`] and, once the
//!   server confirms, calls [`SnapshotStore::delete_acknowledged`].
//!
//! Everything here blocks (camera, encoder, fsync): call it from the
//! device's thread or `spawn_blocking`. The seed and the schedule never
//! leave the agent: they have no serialisation and print as `<secret>`.

mod record;
mod schedule;
mod service;
mod store;
mod tamper;
#[cfg(test)]
mod tests;

pub use record::{
    ExamId, ExamSeat, IdError, ReasonError, SeatNo, SnapshotId, SnapshotImage, SnapshotReason, SnapshotRecord,
    UNASSIGNED,
};
pub use schedule::{ExamWindow, MAX_SCHEDULED, PlanError, Schedule, ScheduleSeed, SeedError, SnapshotPolicy};
pub use service::{Preview, SnapshotConfig, SnapshotError, SnapshotService};
pub use store::{DB_FILE, NewSnapshot, SnapshotStore, StoreError, StoreLimits, Usage};
pub use tamper::{Flags, FrameHistory, FrameStats, TamperFlag, Thresholds, picture_flags, virtual_camera_marker};
