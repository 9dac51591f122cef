//! Snapshots move from the agent's snapshot store into the outbox, each
//! exactly once: its outbox key comes from the snapshot itself (exam, seat,
//! id, picture hash), so a crash between queueing it and deleting it from
//! the store queues it again under the same key, which the outbox ignores.
//!
//! Call [`forward_snapshots`] in the process that owns the store (the
//! store keeps its fill level in memory), from a blocking context.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use examgate_protocol::Timestamp;
use examgate_protocol::link::{Delivery, DeliveryItem};
use sha2::{Digest, Sha256};

use super::outbox::Outbox;
use super::{LinkError, hex, now_ms};
use crate::snapshot::{SnapshotRecord, SnapshotStore};

/// The outbox key of a snapshot.
pub fn snapshot_key(r: &SnapshotRecord) -> String {
    let picture = r.image.as_ref().map(|i| i.sha256_hex()).unwrap_or_default();
    let id = format!("{}\n{}\n{}\n{picture}", r.exam, r.seat, r.id);
    format!("snapshot-{}", &hex(&Sha256::digest(id.as_bytes()))[..32])
}

/// The delivery a stored snapshot becomes; `None` for a failed capture,
/// which has no picture to deliver (it stays in the store, where the seat
/// page shows it). An agent whose config names no seat claims none: the
/// server files the snapshot under the seat the PC is bound to (claiming
/// `unassigned` would be refused as another seat's, again at every retry).
pub fn snapshot_delivery(r: &SnapshotRecord) -> Option<Delivery> {
    let image = r.image.as_ref()?;
    let taken = r.taken_at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    Some(Delivery {
        seat: (r.seat.as_str() != crate::snapshot::UNASSIGNED).then(|| r.seat.to_string()),
        exam: r.exam.to_string(),
        created_at: Timestamp::from_unix_millis(taken),
        item: DeliveryItem::Snapshot {
            reason: r.reason.to_string(),
            flags: r.flags.iter().map(|f| f.as_str().to_owned()).collect(),
            jpeg: B64.encode(&image.jpeg),
            sha256: image.sha256_hex(),
        },
    })
}

/// Moves up to `limit` stored snapshots with a picture into the outbox and
/// out of the store. Returns how many were queued anew.
pub fn forward_snapshots(store: &mut SnapshotStore, outbox: &Outbox, limit: usize) -> Result<usize, LinkError> {
    let pending = store.pending(limit).map_err(|e| LinkError::Outbox(e.to_string()))?;
    let mut queued = 0;
    let mut moved = Vec::new();
    for record in &pending {
        let Some(delivery) = snapshot_delivery(record) else { continue };
        let body = serde_json::to_vec(&delivery).expect("a delivery serialises");
        if outbox.enqueue_keyed(&snapshot_key(record), "snapshot", &body, now_ms())? {
            queued += 1;
        }
        moved.push(record.id);
    }
    store.delete_acknowledged(&moved).map_err(|e| LinkError::Outbox(e.to_string()))?;
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::snapshot::{ExamSeat, Flags, NewSnapshot, SnapshotImage, SnapshotReason, StoreLimits, TamperFlag};

    fn snapshot(n: u8) -> NewSnapshot {
        snapshot_at("7", n)
    }

    fn snapshot_at(seat: &str, n: u8) -> NewSnapshot {
        NewSnapshot {
            exam: ExamSeat { seat: seat.parse().unwrap(), exam: "k1".parse().unwrap() },
            taken_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            reason: SnapshotReason::Scheduled(n.into()),
            camera: "sim:camera".into(),
            flags: Flags::NONE.with(TamperFlag::Dark),
            detail: None,
            phash: None,
            capture_time: Duration::from_millis(30),
            image: Some(SnapshotImage::new(2, 2, vec![0xFF, 0xD8, n, 0xFF, 0xD9])),
        }
    }

    #[test]
    fn each_snapshot_is_queued_once_even_when_forwarding_is_repeated() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SnapshotStore::open(&dir.path().join("snapshots"), StoreLimits::default()).unwrap();
        let outbox = Outbox::open(&dir.path().join("link")).unwrap();
        let a = store.insert(&snapshot(1)).unwrap();
        store.insert(&snapshot(2)).unwrap();
        // As if an earlier run queued `a` and died before deleting it from the store.
        let body = serde_json::to_vec(&snapshot_delivery(&a).unwrap()).unwrap();
        assert!(outbox.enqueue_keyed(&snapshot_key(&a), "snapshot", &body, 0).unwrap());

        assert_eq!(forward_snapshots(&mut store, &outbox, 10).unwrap(), 1);
        assert!(store.pending(10).unwrap().is_empty());
        assert_eq!(outbox.counts().unwrap().pending, 2);
        let first = outbox.next_due(i64::MAX).unwrap().unwrap();
        let d: Delivery = serde_json::from_slice(&first.body).unwrap();
        assert_eq!((d.seat.as_deref(), d.exam.as_str()), (Some("7"), "k1"));
        let DeliveryItem::Snapshot { reason, flags, sha256, .. } = d.item else { panic!("not a snapshot") };
        assert_eq!(
            (reason.as_str(), flags, sha256),
            ("scheduled:1", vec!["dark".to_owned()], a.image.unwrap().sha256_hex())
        );
    }

    #[test]
    fn a_seat_the_config_does_not_name_is_left_to_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SnapshotStore::open(&dir.path().join("snapshots"), StoreLimits::default()).unwrap();
        let record = store.insert(&snapshot_at(crate::snapshot::UNASSIGNED, 1)).unwrap();
        assert_eq!(snapshot_delivery(&record).unwrap().seat, None);
    }
}
