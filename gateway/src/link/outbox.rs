//! The durable outbox: everything the server must receive is written here
//! first (SQLite, WAL, `synchronous=FULL`, mode 0600) with an idempotency
//! key of its own, and leaves only when the server has confirmed it. A kill
//! at any moment loses nothing (the item is either not yet committed, so
//! its producer never heard "queued", or it is here), and a retry of an
//! item the server already stored is answered "duplicate", not stored twice.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use super::LinkError;

pub const OUTBOX_FILE: &str = "outbox.db";

const INSERT_KEYED: &str = "INSERT INTO outbox (idempotency_key, kind, body, created_at, next_attempt_at) \
     VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (idempotency_key) DO NOTHING";

/// One item waiting for the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub id: i64,
    pub idempotency_key: String,
    pub kind: String,
    /// The exact bytes to POST; a retry sends the same ones.
    pub body: Vec<u8>,
    pub attempts: u32,
    pub next_attempt_at: i64,
}

/// How many items wait, and how many the server refused for good.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub pending: u64,
    pub rejected: u64,
}

/// The outbox, shareable between tasks; every call blocks on SQLite (use
/// `spawn_blocking` from async code, as [`super::service`] does).
#[derive(Clone)]
pub struct Outbox {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("path", &self.path).finish_non_exhaustive()
    }
}

fn db(e: rusqlite::Error) -> LinkError {
    LinkError::Outbox(e.to_string())
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

impl Outbox {
    pub fn open(dir: &Path) -> Result<Outbox, LinkError> {
        std::fs::create_dir_all(dir).map_err(|e| LinkError::io(dir, e))?;
        let path = dir.join(OUTBOX_FILE);
        let conn = Connection::open(&path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(db)?;
        // `run --link-dir` and `link run` open the outbox together. Switching a new
        // file to WAL needs it to themselves, and SQLite answers "busy" at once
        // rather than wait (it could deadlock), so that step is retried.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())) {
                Ok(()) => break,
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(db(e)),
            }
        }
        // The schema in one immediate transaction: it waits (busy_timeout) for the other opener.
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS outbox (
                 id INTEGER PRIMARY KEY,
                 idempotency_key TEXT NOT NULL UNIQUE,
                 kind TEXT NOT NULL,
                 body BLOB NOT NULL,
                 created_at INTEGER NOT NULL,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 next_attempt_at INTEGER NOT NULL,
                 state TEXT NOT NULL DEFAULT 'pending',
                 last_error TEXT
             );
             CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at, id);
             CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
             COMMIT;",
        )
        .map_err(db)?;
        for p in [path.clone(), dir.join(format!("{OUTBOX_FILE}-wal")), dir.join(format!("{OUTBOX_FILE}-shm"))] {
            if p.exists() {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| LinkError::io(&p, e))?;
            }
        }
        Ok(Outbox { conn: Arc::new(Mutex::new(conn)), path })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues an item; once this returns, it survives a kill.
    pub fn enqueue(&self, kind: &str, body: &[u8], now: i64) -> Result<String, LinkError> {
        self.enqueue_counted(kind, None, |_| body.to_vec(), now).map(|(key, _)| key)
    }

    /// Queues an item built from the next value of counter `name` (if given),
    /// bumping the counter in the same transaction: numbering survives kills.
    pub fn enqueue_counted(
        &self,
        kind: &str,
        counter: Option<&str>,
        body: impl FnOnce(i64) -> Vec<u8>,
        now: i64,
    ) -> Result<(String, i64), LinkError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(db)?;
        let n = match counter {
            Some(name) => {
                let n: i64 = tx
                    .query_row("SELECT value FROM counters WHERE name = ?1", params![name], |r| r.get(0))
                    .optional()
                    .map_err(db)?
                    .unwrap_or(0);
                tx.execute(
                    "INSERT INTO counters (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = ?2",
                    params![name, n + 1],
                )
                .map_err(db)?;
                n
            }
            None => 0,
        };
        let key = format!("{kind}-{}", random_hex(12));
        tx.execute(
            "INSERT INTO outbox (idempotency_key, kind, body, created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![key, kind, body(n), now],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok((key, n))
    }

    /// Queues an item under a key its producer derived from the item itself,
    /// unless that key is queued already: a producer that crashed after
    /// queueing but before forgetting its own copy queues it again harmlessly.
    /// Returns whether the item was new.
    pub fn enqueue_keyed(&self, key: &str, kind: &str, body: &[u8], now: i64) -> Result<bool, LinkError> {
        let added = self.lock().execute(INSERT_KEYED, params![key, kind, body, now]).map_err(db)?;
        Ok(added == 1)
    }

    /// [`enqueue_keyed`](Self::enqueue_keyed) inside `tx`, a transaction on this
    /// outbox's file ([`Outbox::path`]) of a producer that keeps its own tables
    /// there: its change and the item commit together, or neither does.
    pub fn insert_keyed(
        tx: &rusqlite::Transaction<'_>,
        key: &str,
        kind: &str,
        body: &[u8],
        now: i64,
    ) -> Result<bool, rusqlite::Error> {
        Ok(tx.execute(INSERT_KEYED, params![key, kind, body, now])? == 1)
    }

    /// The outbox's SQLite file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The value counter `name` will give next.
    pub fn counter(&self, name: &str) -> Result<i64, LinkError> {
        self.lock()
            .query_row("SELECT value FROM counters WHERE name = ?1", params![name], |r| r.get(0))
            .optional()
            .map(|v| v.unwrap_or(0))
            .map_err(db)
    }

    /// The pending item due first, if one is due by `now`; else when the next is due.
    pub fn next_due(&self, now: i64) -> Result<Result<Item, Option<i64>>, LinkError> {
        let conn = self.lock();
        let item = conn
            .query_row(
                "SELECT id, idempotency_key, kind, body, attempts, next_attempt_at FROM outbox \
                 WHERE state = 'pending' ORDER BY next_attempt_at, id LIMIT 1",
                [],
                |r| {
                    Ok(Item {
                        id: r.get(0)?,
                        idempotency_key: r.get(1)?,
                        kind: r.get(2)?,
                        body: r.get(3)?,
                        attempts: r.get(4)?,
                        next_attempt_at: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(db)?;
        Ok(match item {
            Some(item) if item.next_attempt_at <= now => Ok(item),
            Some(item) => Err(Some(item.next_attempt_at)),
            None => Err(None),
        })
    }

    /// The server confirmed the item: it leaves the outbox.
    pub fn delivered(&self, id: i64) -> Result<(), LinkError> {
        self.lock().execute("DELETE FROM outbox WHERE id = ?1", params![id]).map_err(db)?;
        Ok(())
    }

    /// The attempt failed in a way a later one may not: try again at `retry_at`.
    pub fn postpone(&self, id: i64, retry_at: i64, error: &str) -> Result<(), LinkError> {
        self.lock()
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
                params![id, retry_at, error],
            )
            .map_err(db)?;
        Ok(())
    }

    /// The server refused the item for good (malformed, or its key reused):
    /// it stays here, out of the queue, for a person to look at.
    pub fn reject(&self, id: i64, error: &str) -> Result<(), LinkError> {
        self.lock()
            .execute(
                "UPDATE outbox SET state = 'rejected', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![id, error],
            )
            .map_err(db)?;
        Ok(())
    }

    /// How many pending items have an idempotency key starting with `prefix`
    /// (a producer that keys its items by what they are asks after its own).
    pub fn pending_with_prefix(&self, prefix: &str) -> Result<u64, LinkError> {
        let upper = format!("{prefix}\u{10FFFF}");
        self.lock()
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND idempotency_key >= ?1 AND idempotency_key < ?2",
                params![prefix, upper],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(db)
    }

    pub fn counts(&self) -> Result<Counts, LinkError> {
        let conn = self.lock();
        let count = |state: &str| -> Result<u64, LinkError> {
            conn.query_row("SELECT COUNT(*) FROM outbox WHERE state = ?1", params![state], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(db)
        };
        Ok(Counts { pending: count("pending")?, rejected: count("rejected")? })
    }
}

fn random_hex(n: usize) -> String {
    use ring::rand::SecureRandom;
    let mut bytes = vec![0u8; n];
    ring::rand::SystemRandom::new().fill(&mut bytes).expect("the system random number generator failed");
    super::hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_processes_opening_a_new_outbox_at_once_both_succeed() {
        // `run --link-dir` and `link run` start together; threads race the same way.
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let barrier = Arc::new(std::sync::Barrier::new(2));
            let openers: Vec<_> = (0..2)
                .map(|_| {
                    let (dir, barrier) = (dir.path().to_path_buf(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        Outbox::open(&dir).map(|_| ())
                    })
                })
                .collect();
            for opener in openers {
                opener.join().unwrap().expect("both open the outbox");
            }
        }
    }

    #[test]
    fn items_wait_until_delivered_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let k1 = outbox.enqueue("answers", b"{\"a\":1}", 100).unwrap();
        let k2 = outbox.enqueue("answers", b"{\"a\":2}", 100).unwrap();
        assert_ne!(k1, k2);
        assert_eq!(std::fs::metadata(dir.path().join(OUTBOX_FILE)).unwrap().permissions().mode() & 0o777, 0o600);
        drop(outbox);

        let outbox = Outbox::open(dir.path()).unwrap();
        let first = outbox.next_due(100).unwrap().unwrap();
        assert_eq!((first.idempotency_key.as_str(), first.body.as_slice()), (k1.as_str(), &b"{\"a\":1}"[..]));
        outbox.postpone(first.id, 500, "server away").unwrap();
        let second = outbox.next_due(100).unwrap().unwrap();
        assert_eq!(second.idempotency_key, k2);
        outbox.delivered(second.id).unwrap();
        assert_eq!(outbox.next_due(100).unwrap(), Err(Some(500)));
        let again = outbox.next_due(500).unwrap().unwrap();
        assert_eq!((again.idempotency_key, again.attempts), (k1, 1));
        outbox.reject(again.id, "400: malformed").unwrap();
        assert_eq!(outbox.next_due(1000).unwrap(), Err(None));
        assert_eq!(outbox.counts().unwrap(), Counts { pending: 0, rejected: 1 });
    }

    #[test]
    fn pending_items_are_counted_by_key_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        for key in ["exam-p1-1", "exam-p1-2", "exam-p10-1", "snapshot-1"] {
            outbox.enqueue_keyed(key, "k", b"{}", 0).unwrap();
        }
        assert_eq!(outbox.pending_with_prefix("exam-p1-").unwrap(), 2);
        assert_eq!(outbox.pending_with_prefix("exam-").unwrap(), 3);
        let first = outbox.next_due(0).unwrap().unwrap();
        outbox.delivered(first.id).unwrap();
        assert_eq!(outbox.pending_with_prefix("exam-p1-").unwrap(), 1);
    }

    #[test]
    fn counters_advance_with_their_items() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        for expected in 0..3 {
            let (_, n) = outbox.enqueue_counted("answers", Some("load"), |n| n.to_string().into_bytes(), 1).unwrap();
            assert_eq!(n, expected);
        }
        assert_eq!(outbox.counter("load").unwrap(), 3);
        assert_eq!(Outbox::open(dir.path()).unwrap().counter("load").unwrap(), 3);
    }
}
