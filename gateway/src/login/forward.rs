//! Snapshots reach the server: the agent (`run`) owns the snapshot store, so
//! it is the one that moves each stored snapshot into its enrolment's outbox
//! ([`forward_snapshots`]: each exactly once), at start and after every
//! `snapshot_taken`; `link run` delivers the outbox. The verification
//! snapshot a login attempt names by SHA-256 travels this way.

use std::sync::Arc;

use examgate_protocol::Event;
use tokio::sync::{broadcast, watch};

use crate::camera::Snapshots;
use crate::devices::DeviceManager;
use crate::link::forward::forward_snapshots;
use crate::link::outbox::Outbox;

/// Snapshots moved per wake-up (more wait for the next snapshot).
const BATCH: usize = 256;

/// Moves stored snapshots into `outbox`; how many were queued anew.
fn drain(snapshots: &Snapshots, outbox: &Outbox) -> Result<usize, String> {
    snapshots
        .with_service(|s| Ok(forward_snapshots(s.store_mut(), outbox, BATCH)))
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Forwards at start and after each snapshot, until `stopping` turns true.
pub async fn forward_forever(
    devices: DeviceManager,
    snapshots: Arc<Snapshots>,
    outbox: Outbox,
    mut stopping: watch::Receiver<bool>,
) {
    let mut events = devices.subscribe();
    loop {
        let (s, o) = (Arc::clone(&snapshots), outbox.clone());
        match tokio::task::spawn_blocking(move || drain(&s, &o)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(snapshots = n, "snapshots queued for the server"),
            Ok(Err(e)) => tracing::warn!("snapshots not queued for the server: {e}"),
            Err(e) => tracing::warn!("the snapshot forwarding task failed: {e}"),
        }
        // Wait for the next snapshot.
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                _ = async { stopping.wait_for(|s| *s).await.is_ok() } => return,
            };
            match event {
                Ok(Event::SnapshotTaken { .. }) | Err(broadcast::error::RecvError::Lagged(_)) => break,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use examgate_protocol::Timestamp;

    use super::*;
    use crate::camera::{SnapshotSettings, info};
    use crate::devices::ManagerOptions;
    use crate::snapshot::{ExamSeat, Flags, NewSnapshot, SnapshotImage, SnapshotReason};

    fn verification(n: u8) -> NewSnapshot {
        NewSnapshot {
            exam: ExamSeat { seat: "7".parse().unwrap(), exam: "k1".parse().unwrap() },
            taken_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            reason: SnapshotReason::IdentityVerification,
            camera: "sim:camera".into(),
            flags: Flags::NONE,
            detail: None,
            phash: None,
            capture_time: Duration::from_millis(30),
            image: Some(SnapshotImage::new(2, 2, vec![0xFF, 0xD8, n, 0xFF, 0xD9])),
        }
    }

    async fn await_pending(outbox: &Outbox, n: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while outbox.counts().unwrap().pending != n {
            assert!(tokio::time::Instant::now() < deadline, "the outbox never held {n} items");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn stored_snapshots_move_to_the_outbox_at_start_and_after_each_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let settings = SnapshotSettings { dir: dir.path().join("snapshots"), ..SnapshotSettings::default() };
        let snapshots = Arc::new(Snapshots::new(settings));
        let outbox = Outbox::open(&dir.path().join("link")).unwrap();
        let devices = DeviceManager::start(Vec::new(), ManagerOptions::default());
        snapshots.with_service(|s| Ok(s.store_mut().insert(&verification(1)).unwrap())).unwrap();
        let (stop, stopping) = watch::channel(false);
        let task = tokio::spawn(forward_forever(devices.clone(), Arc::clone(&snapshots), outbox.clone(), stopping));
        await_pending(&outbox, 1).await;

        let record = snapshots.with_service(|s| Ok(s.store_mut().insert(&verification(2)).unwrap())).unwrap();
        devices.emit(Event::SnapshotTaken {
            device: "sim-cam-0".into(),
            timestamp: Timestamp::now(),
            snapshot: info(&record),
        });
        await_pending(&outbox, 2).await;
        assert!(snapshots.with_service(|s| Ok(s.store().pending(10).unwrap())).unwrap().is_empty());
        stop.send_replace(true);
        task.await.unwrap();
    }
}
