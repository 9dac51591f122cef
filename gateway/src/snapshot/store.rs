//! The durable local store of snapshots: one SQLite file in WAL mode with
//! `synchronous = FULL`, so a snapshot whose insert returned survives a
//! killed agent and a power cut. Rows stay until the server confirms it has
//! them ([`SnapshotStore::delete_acknowledged`]).
//!
//! Photos are personal data: the directory is 0700 and the database (and
//! SQLite's `-wal` and `-shm` files, which take its mode) 0600, and deleted
//! rows are overwritten (`secure_delete`).
//!
//! The store is bounded: when the photos waiting for the server would pass
//! [`StoreLimits::max_bytes`] or [`StoreLimits::max_records`], an insert fails
//! with [`StoreError::Full`], which the agent must raise as an alarm: the
//! server link is down or too slow, and snapshots are no longer being kept.

use std::collections::BTreeSet;
use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::record::{ExamId, ExamSeat, SeatNo, SnapshotId, SnapshotImage, SnapshotReason, SnapshotRecord};
use super::tamper::Flags;

/// The database file inside the store's directory.
pub const DB_FILE: &str = "snapshots.sqlite";
const SCHEMA_VERSION: i64 = 1;
/// What a row costs besides its JPEG, for the size bound.
const ROW_OVERHEAD: u64 = 256;

/// How much the store may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Bytes of photos (plus a small overhead per row) not yet confirmed by the server.
    pub max_bytes: u64,
    pub max_records: u64,
}

impl Default for StoreLimits {
    /// 256 MiB and 10,000 snapshots: a full day of exams at one snapshot a
    /// minute with the server unreachable.
    fn default() -> Self {
        StoreLimits { max_bytes: 256 << 20, max_records: 10_000 }
    }
}

/// What the store holds now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub records: u64,
    pub bytes: u64,
    pub limits: StoreLimits,
}

impl Usage {
    /// The larger of the byte and record fill ratios, 0.0..=1.0 (or above, if the limits were lowered).
    pub fn fill(&self) -> f64 {
        let bytes = self.bytes as f64 / self.limits.max_bytes.max(1) as f64;
        let records = self.records as f64 / self.limits.max_records.max(1) as f64;
        bytes.max(records)
    }

    /// 80% full or more: warn before snapshots are lost.
    pub fn nearly_full(&self) -> bool {
        self.fill() >= 0.8
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "snapshot store full: {records} snapshots ({bytes} bytes) await the server, the limit is {} snapshots \
         or {} bytes; new snapshots are NOT being kept. Check the link to the exam server.",
        limits.max_records,
        limits.max_bytes
    )]
    Full { records: u64, bytes: u64, limits: StoreLimits },
    #[error("snapshot store {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("snapshot store {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error(
        "snapshot store {path}: schema version {found} is newer than this agent's {SCHEMA_VERSION}; upgrade the agent"
    )]
    NewerSchema { path: PathBuf, found: i64 },
    #[error("snapshot store {path}: row {id} is corrupt: {why}")]
    Corrupt { path: PathBuf, id: i64, why: String },
}

/// A snapshot about to be stored (a [`SnapshotRecord`] without its id).
#[derive(Clone, Debug)]
pub struct NewSnapshot {
    pub exam: ExamSeat,
    pub taken_at: SystemTime,
    pub reason: SnapshotReason,
    pub camera: String,
    pub flags: Flags,
    pub detail: Option<String>,
    pub phash: Option<u64>,
    pub capture_time: Duration,
    pub image: Option<SnapshotImage>,
}

impl NewSnapshot {
    fn cost(&self) -> u64 {
        ROW_OVERHEAD + self.image.as_ref().map_or(0, |i| i.jpeg.len() as u64)
    }
}

/// The snapshot store. Blocking: call it from a device thread or
/// `spawn_blocking`, never on the async runtime.
pub struct SnapshotStore {
    conn: Connection,
    path: PathBuf,
    limits: StoreLimits,
    records: u64,
    bytes: u64,
}

fn tighten(path: &Path, mode: u32) -> Result<(), StoreError> {
    let io = |source| StoreError::Io { path: path.to_owned(), source };
    let current = fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
    if current & !mode != 0 {
        tracing::warn!(path = %path.display(), from = format!("{current:o}"), to = format!("{mode:o}"), "tightening permissions of the snapshot store");
        fs::set_permissions(path, Permissions::from_mode(mode)).map_err(io)?;
    }
    Ok(())
}

impl SnapshotStore {
    /// Open (or create) the store in `dir`.
    pub fn open(dir: &Path, limits: StoreLimits) -> Result<SnapshotStore, StoreError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Io { path, source }
        };
        DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io(dir))?;
        tighten(dir, 0o700)?;
        let path = dir.join(DB_FILE);
        // Create the file ourselves so it is 0600 from its first byte; SQLite
        // gives its -wal and -shm files the database file's mode.
        OpenOptions::new().create(true).append(true).mode(0o600).open(&path).map_err(io(&path))?;
        tighten(&path, 0o600)?;
        for suffix in ["-wal", "-shm"] {
            let side = dir.join(format!("{DB_FILE}{suffix}"));
            if side.exists() {
                tighten(&side, 0o600)?;
            }
        }
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let conn = Connection::open(&path).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        conn.pragma_update(None, "secure_delete", "ON").map_err(sql)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { path, found: version });
        }
        if version < 1 {
            conn.execute_batch(
                "BEGIN;
                 CREATE TABLE IF NOT EXISTS snapshots (
                     id INTEGER PRIMARY KEY AUTOINCREMENT,
                     seat TEXT NOT NULL,
                     exam TEXT NOT NULL,
                     taken_at_ms INTEGER NOT NULL,
                     reason TEXT NOT NULL,
                     schedule_index INTEGER,
                     camera TEXT NOT NULL,
                     flags INTEGER NOT NULL,
                     detail TEXT,
                     phash INTEGER,
                     capture_us INTEGER NOT NULL,
                     width INTEGER,
                     height INTEGER,
                     sha256 BLOB,
                     jpeg BLOB,
                     cost INTEGER NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS snapshots_by_exam ON snapshots (exam, seat, schedule_index);
                 PRAGMA user_version = 1;
                 COMMIT;",
            )
            .map_err(sql)?;
        }
        let (records, bytes): (i64, i64) = conn
            .query_row("SELECT COUNT(*), COALESCE(SUM(cost), 0) FROM snapshots", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql)?;
        Ok(SnapshotStore { conn, path, limits, records: records as u64, bytes: bytes as u64 })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite { path: self.path.clone(), source }
    }

    pub fn usage(&self) -> Usage {
        Usage { records: self.records, bytes: self.bytes, limits: self.limits }
    }

    /// Store a snapshot durably; when this returns `Ok` it is on disk.
    pub fn insert(&mut self, s: &NewSnapshot) -> Result<SnapshotRecord, StoreError> {
        let cost = s.cost();
        if self.records + 1 > self.limits.max_records || self.bytes + cost > self.limits.max_bytes {
            return Err(StoreError::Full { records: self.records, bytes: self.bytes, limits: self.limits });
        }
        let taken_at_ms = s.taken_at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as i64;
        let schedule_index = match s.reason {
            SnapshotReason::Scheduled(i) => Some(i),
            _ => None,
        };
        let image = s.image.as_ref();
        self.conn
            .execute(
                "INSERT INTO snapshots (seat, exam, taken_at_ms, reason, schedule_index, camera, flags, detail, phash,
                                        capture_us, width, height, sha256, jpeg, cost)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    s.exam.seat.as_str(),
                    s.exam.exam.as_str(),
                    taken_at_ms,
                    s.reason.to_string(),
                    schedule_index,
                    s.camera,
                    s.flags.bits(),
                    s.detail,
                    s.phash.map(|h| h as i64),
                    s.capture_time.as_micros() as i64,
                    image.map(|i| i.width),
                    image.map(|i| i.height),
                    image.map(|i| &i.sha256[..]),
                    image.map(|i| &i.jpeg[..]),
                    cost as i64,
                ],
            )
            .map_err(self.sql())?;
        let id = SnapshotId(self.conn.last_insert_rowid());
        self.records += 1;
        self.bytes += cost;
        Ok(SnapshotRecord {
            id,
            seat: s.exam.seat.clone(),
            exam: s.exam.exam.clone(),
            taken_at: UNIX_EPOCH + Duration::from_millis(taken_at_ms as u64),
            reason: s.reason,
            camera: s.camera.clone(),
            flags: s.flags,
            detail: s.detail.clone(),
            phash: s.phash,
            capture_time: Duration::from_micros(s.capture_time.as_micros() as u64),
            image: s.image.clone(),
        })
    }

    const COLUMNS: &'static str =
        "id, seat, exam, taken_at_ms, reason, camera, flags, detail, phash, capture_us, width, height, sha256, jpeg";

    fn read(&self, row: &Row<'_>) -> Result<SnapshotRecord, StoreError> {
        let id: i64 = row.get(0).map_err(self.sql())?;
        let corrupt = |why: String| StoreError::Corrupt { path: self.path.clone(), id, why };
        let get_text = |i| row.get::<_, String>(i).map_err(self.sql());
        let seat = SeatNo::new(get_text(1)?).map_err(|e| corrupt(e.to_string()))?;
        let exam = ExamId::new(get_text(2)?).map_err(|e| corrupt(e.to_string()))?;
        let taken_at_ms: i64 = row.get(3).map_err(self.sql())?;
        let reason: SnapshotReason =
            get_text(4)?.parse().map_err(|e: super::record::ReasonError| corrupt(e.to_string()))?;
        let flags: u32 = row.get(6).map_err(self.sql())?;
        let phash: Option<i64> = row.get(8).map_err(self.sql())?;
        let capture_us: i64 = row.get(9).map_err(self.sql())?;
        let width: Option<u32> = row.get(10).map_err(self.sql())?;
        let height: Option<u32> = row.get(11).map_err(self.sql())?;
        let sha256: Option<Vec<u8>> = row.get(12).map_err(self.sql())?;
        let jpeg: Option<Vec<u8>> = row.get(13).map_err(self.sql())?;
        let image = match (width, height, sha256, jpeg) {
            (Some(width), Some(height), Some(sha256), Some(jpeg)) => {
                let image = SnapshotImage::new(width, height, jpeg);
                // A flipped bit on disk must not reach the server as a genuine photo.
                if image.sha256[..] != sha256[..] {
                    return Err(corrupt("the JPEG does not match its SHA-256".into()));
                }
                Some(image)
            }
            (None, None, None, None) => None,
            _ => return Err(corrupt("image columns partly empty".into())),
        };
        Ok(SnapshotRecord {
            id: SnapshotId(id),
            seat,
            exam,
            taken_at: UNIX_EPOCH + Duration::from_millis(taken_at_ms.max(0) as u64),
            reason,
            camera: row.get(5).map_err(self.sql())?,
            flags: Flags::from_bits(flags),
            detail: row.get(7).map_err(self.sql())?,
            phash: phash.map(|h| h as u64),
            capture_time: Duration::from_micros(capture_us.max(0) as u64),
            image,
        })
    }

    /// One snapshot by id.
    pub fn get(&self, id: SnapshotId) -> Result<Option<SnapshotRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {} FROM snapshots WHERE id = ?1", Self::COLUMNS))
            .map_err(self.sql())?;
        let mut rows = stmt.query([id.0]).map_err(self.sql())?;
        match rows.next().map_err(self.sql())? {
            Some(row) => Ok(Some(self.read(row)?)),
            None => Ok(None),
        }
    }

    /// The oldest `limit` snapshots awaiting the server, oldest first: what
    /// the delivery queue sends next.
    pub fn pending(&self, limit: usize) -> Result<Vec<SnapshotRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {} FROM snapshots ORDER BY id LIMIT ?1", Self::COLUMNS))
            .map_err(self.sql())?;
        let mut rows = stmt.query([limit as i64]).map_err(self.sql())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(self.sql())? {
            out.push(self.read(row)?);
        }
        Ok(out)
    }

    /// The schedule indices already taken for this seat and exam, so a
    /// restarted agent does not take them again.
    pub fn scheduled_taken(&self, exam: &ExamSeat) -> Result<BTreeSet<u32>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT schedule_index FROM snapshots WHERE exam = ?1 AND seat = ?2 AND schedule_index IS NOT NULL",
            )
            .map_err(self.sql())?;
        let rows =
            stmt.query_map([exam.exam.as_str(), exam.seat.as_str()], |r| r.get::<_, u32>(0)).map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Delete snapshots the server has confirmed; returns how many were
    /// deleted (ids already gone are skipped, so a repeated confirmation is harmless).
    pub fn delete_acknowledged(&mut self, ids: &[SnapshotId]) -> Result<usize, StoreError> {
        let tx = self.conn.transaction().map_err(|source| StoreError::Sqlite { path: self.path.clone(), source })?;
        let mut deleted = 0;
        let mut freed = 0u64;
        {
            let mut stmt = tx
                .prepare_cached("DELETE FROM snapshots WHERE id = ?1 RETURNING cost")
                .map_err(|source| StoreError::Sqlite { path: self.path.clone(), source })?;
            for id in ids {
                let cost: Option<i64> = stmt
                    .query_row([id.0], |r| r.get(0))
                    .optional()
                    .map_err(|source| StoreError::Sqlite { path: self.path.clone(), source })?;
                if let Some(cost) = cost {
                    deleted += 1;
                    freed += cost as u64;
                }
            }
        }
        tx.commit().map_err(|source| StoreError::Sqlite { path: self.path.clone(), source })?;
        self.records -= deleted as u64;
        self.bytes = self.bytes.saturating_sub(freed);
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::snapshot::tamper::TamperFlag;

    fn exam() -> ExamSeat {
        ExamSeat { seat: "A-017".parse().unwrap(), exam: "k1-am".parse().unwrap() }
    }

    fn snapshot(jpeg_len: usize, reason: SnapshotReason) -> NewSnapshot {
        NewSnapshot {
            exam: exam(),
            taken_at: UNIX_EPOCH + Duration::from_millis(1_750_000_000_123),
            reason,
            camera: "HD Pro Webcam C920 [uvcvideo]".into(),
            flags: Flags::NONE.with(TamperFlag::Slow),
            detail: Some("2.5 s to deliver".into()),
            phash: Some(0xFEDC_BA98_7654_3210),
            capture_time: Duration::from_micros(2_500_123),
            image: Some(SnapshotImage::new(640, 480, (0..jpeg_len).map(|i| i as u8).collect())),
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_snapshot_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let stored = {
            let mut store = SnapshotStore::open(dir.path(), StoreLimits::default()).unwrap();
            store.insert(&snapshot(5000, SnapshotReason::Scheduled(2))).unwrap()
        };
        let store = SnapshotStore::open(dir.path(), StoreLimits::default()).unwrap();
        assert_eq!(store.get(stored.id).unwrap().as_ref(), Some(&stored));
        assert_eq!(store.usage().records, 1);
        assert_eq!(store.usage().bytes, 5000 + ROW_OVERHEAD);
        assert_eq!(store.scheduled_taken(&exam()).unwrap(), BTreeSet::from([2]));
    }

    #[test]
    fn a_snapshot_survives_an_agent_that_never_closed_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SnapshotStore::open(dir.path(), StoreLimits::default()).unwrap();
        let stored = store.insert(&snapshot(100, SnapshotReason::ExaminerRequest)).unwrap();
        // As after kill -9: no close, no checkpoint; the commit is in the WAL.
        std::mem::forget(store);
        let again = SnapshotStore::open(dir.path(), StoreLimits::default()).unwrap();
        assert_eq!(again.get(stored.id).unwrap(), Some(stored));
    }

    #[test]
    fn records_without_an_image_are_kept_too() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SnapshotStore::open(dir.path(), StoreLimits::default()).unwrap();
        let missing = NewSnapshot {
            image: None,
            phash: None,
            flags: Flags::NONE.with(TamperFlag::CameraMissing),
            ..snapshot(0, SnapshotReason::Scheduled(0))
        };
        let stored = store.insert(&missing).unwrap();
        assert_eq!(store.get(stored.id).unwrap().unwrap().image, None);
    }

    #[test]
    fn a_full_store_refuses_with_a_clear_alarm_and_recovers_after_acknowledgement() {
        let dir = tempfile::tempdir().unwrap();
        let limits = StoreLimits { max_bytes: 3 * (1000 + ROW_OVERHEAD), max_records: 100 };
        let mut store = SnapshotStore::open(dir.path(), limits).unwrap();
        let ids: Vec<SnapshotId> =
            (0..3).map(|i| store.insert(&snapshot(1000, SnapshotReason::Scheduled(i))).unwrap().id).collect();
        assert!(store.usage().nearly_full());
        let err = store.insert(&snapshot(1000, SnapshotReason::Scheduled(3))).unwrap_err();
        assert!(matches!(err, StoreError::Full { records: 3, .. }));
        assert!(err.to_string().contains("NOT being kept"), "{err}");
        assert_eq!(store.pending(10).unwrap().len(), 3, "the refused snapshot left no trace");
        assert_eq!(store.delete_acknowledged(&[ids[0], ids[0], SnapshotId(999)]).unwrap(), 1);
        store.insert(&snapshot(1000, SnapshotReason::Scheduled(3))).unwrap();
        // The record limit counts too.
        let mut few = SnapshotStore::open(
            tempfile::tempdir().unwrap().path(),
            StoreLimits { max_bytes: 1 << 30, max_records: 1 },
        )
        .unwrap();
        few.insert(&snapshot(10, SnapshotReason::ExaminerRequest)).unwrap();
        assert!(matches!(few.insert(&snapshot(10, SnapshotReason::ExaminerRequest)), Err(StoreError::Full { .. })));
    }

    #[test]
    fn acknowledged_snapshots_are_gone_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SnapshotStore::open(dir.path(), StoreLimits::default()).unwrap();
        let a = store.insert(&snapshot(300, SnapshotReason::Scheduled(0))).unwrap();
        let b = store.insert(&snapshot(300, SnapshotReason::IdentityVerification)).unwrap();
        assert_eq!(store.pending(10).unwrap().iter().map(|r| r.id).collect::<Vec<_>>(), [a.id, b.id]);
        assert_eq!(store.delete_acknowledged(&[a.id]).unwrap(), 1);
        drop(store);
        let store = SnapshotStore::open(dir.path(), StoreLimits::default()).unwrap();
        assert_eq!(store.get(a.id).unwrap(), None);
        assert_eq!(store.usage().records, 1);
        assert_eq!(store.pending(10).unwrap()[0].id, b.id);
    }

    #[test]
    fn files_are_readable_by_the_agent_only() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("snapshots");
        let mut store = SnapshotStore::open(&dir, StoreLimits::default()).unwrap();
        store.insert(&snapshot(10, SnapshotReason::Scheduled(0))).unwrap();
        assert_eq!(mode(&dir), 0o700);
        for name in [DB_FILE.to_owned(), format!("{DB_FILE}-wal"), format!("{DB_FILE}-shm")] {
            let path = dir.join(&name);
            assert!(path.exists(), "{name} missing");
            assert_eq!(mode(&path), 0o600, "{name}");
        }
        drop(store);
        // Loosened by someone else: tightened again on open.
        fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(dir.join(DB_FILE), Permissions::from_mode(0o644)).unwrap();
        SnapshotStore::open(&dir, StoreLimits::default()).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(DB_FILE)), 0o600);
    }

    #[test]
    fn a_corrupted_photo_is_reported_not_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SnapshotStore::open(dir.path(), StoreLimits::default()).unwrap();
        let stored = store.insert(&snapshot(50, SnapshotReason::Scheduled(0))).unwrap();
        store.conn.execute("UPDATE snapshots SET jpeg = x'00' WHERE id = ?1", [stored.id.0]).unwrap();
        assert!(matches!(store.get(stored.id), Err(StoreError::Corrupt { .. })));
    }
}
