//! The seat's exam store: the current paper (its verified manifest, where the
//! candidate stands, the deadline and the server's clock offset), every
//! answer with its sequence number, flags, position and the submission.
//! SQLite (WAL, `synchronous = FULL`, 0600): once a call returns, its change
//! survives a killed agent and a power cut.
//!
//! The store's tables live in the enrolment's outbox file (`outbox.db`,
//! which `link run` delivers): a change the server must hear of (an answer,
//! the submission) takes the paper's next `seq` (strictly increasing per
//! paper) and is inserted in the outbox under the key `exam-<paper>-<seq>`
//! in the same transaction, so the page's answer is never saved without
//! being queued, nor queued without being saved.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use examgate_protocol::exam::SubmitReason;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::link::outbox::Outbox;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("exam store {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("no paper {0} in the exam store")]
    NoPaper(String),
    #[error("paper {0} is submitted: nothing may change any more")]
    Submitted(String),
}

fn parse_reason(s: &str) -> SubmitReason {
    match s {
        "timeout" => SubmitReason::Timeout,
        "forced" => SubmitReason::Forced,
        _ => SubmitReason::Candidate,
    }
}

/// A paper as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaperRecord {
    pub paper_id: String,
    pub booking_number: String,
    /// The manifest exactly as the server signed it (JSON), checked before it was stored.
    pub manifest: String,
    /// Milliseconds since the epoch, on the server's clock.
    pub deadline: i64,
    /// Server time minus agent time, measured when the manifest was fetched.
    pub server_offset_ms: i64,
    /// Whether the package has been verified and unpacked.
    pub unpacked: bool,
    pub started_at: Option<i64>,
    /// The item the candidate is at.
    pub current: Option<String>,
    pub submitted: Option<Submission>,
    /// The server's result (JSON), once fetched.
    pub result: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub at: i64,
    pub reason: SubmitReason,
    pub seq: u64,
}

/// A paper about to be stored (or refreshed: a manifest fetched again).
#[derive(Clone, Debug)]
pub struct NewPaper {
    pub paper_id: String,
    pub booking_number: String,
    pub manifest: String,
    pub deadline: i64,
    pub server_offset_ms: i64,
}

/// The latest answer to one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub choices: Vec<String>,
    pub seq: u64,
    pub saved_at: i64,
}

/// A change for the server, as its outbox item is made from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub paper_id: String,
    pub seq: u64,
    pub at: i64,
    pub what: ChangeKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Answer { item: String, choices: Vec<String> },
    Submit { reason: SubmitReason },
}

/// The outbox item a change becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub key: String,
    pub kind: &'static str,
    pub body: Vec<u8>,
}

/// The store. Blocking: call it from `spawn_blocking`, never on the runtime.
pub struct ExamStore {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for ExamStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExamStore").field("path", &self.path).finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS exam_papers (
        paper_id TEXT PRIMARY KEY,
        booking_number TEXT NOT NULL,
        manifest TEXT NOT NULL,
        deadline INTEGER NOT NULL,
        server_offset_ms INTEGER NOT NULL,
        unpacked INTEGER NOT NULL DEFAULT 0,
        started_at INTEGER,
        current_item TEXT,
        submitted_at INTEGER,
        submit_reason TEXT,
        submit_seq INTEGER,
        result TEXT,
        next_seq INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS exam_answers (
        paper_id TEXT NOT NULL,
        item TEXT NOT NULL,
        choices TEXT NOT NULL,
        seq INTEGER NOT NULL,
        saved_at INTEGER NOT NULL,
        PRIMARY KEY (paper_id, item)
    );
    CREATE TABLE IF NOT EXISTS exam_flags (
        paper_id TEXT NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (paper_id, item)
    );
    CREATE TABLE IF NOT EXISTS exam_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
";

fn choices_json(choices: &[String]) -> String {
    serde_json::to_string(choices).expect("strings serialise")
}

fn parse_choices(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

impl ExamStore {
    /// Opens the store in the outbox file `db` (made by `Outbox::open`, WAL, 0600),
    /// creating its tables there.
    pub fn open(db: &Path) -> Result<ExamStore, StoreError> {
        let path = db.to_owned();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let conn = Connection::open_with_flags(
            db,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql)?;
        // `link run` writes the same file: wait for its short transactions.
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql)?;
        conn.execute_batch("PRAGMA synchronous = FULL;").map_err(sql)?;
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;")).map_err(sql)?;
        Ok(ExamStore { conn, path })
    }

    /// A write transaction that takes the file's lock at once (a deferred one
    /// could fail busy, without waiting, when it upgrades beside `link run`).
    fn write(&mut self) -> Result<Transaction<'_>, StoreError> {
        let path = self.path.clone();
        self.conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|source| StoreError::Sqlite { path, source })
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }

    /// The paper the seat works on now, if any.
    pub fn current(&self) -> Result<Option<PaperRecord>, StoreError> {
        let id: Option<String> = self
            .conn
            .query_row("SELECT value FROM exam_meta WHERE name = 'current_paper'", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql(e))?;
        match id {
            Some(id) => self.paper(&id),
            None => Ok(None),
        }
    }

    pub fn paper(&self, paper_id: &str) -> Result<Option<PaperRecord>, StoreError> {
        self.conn
            .query_row(
                "SELECT paper_id, booking_number, manifest, deadline, server_offset_ms, unpacked, started_at, \
                 current_item, submitted_at, submit_reason, submit_seq, result FROM exam_papers WHERE paper_id = ?1",
                params![paper_id],
                |r| {
                    let submitted_at: Option<i64> = r.get(8)?;
                    let reason: Option<String> = r.get(9)?;
                    let submit_seq: Option<i64> = r.get(10)?;
                    Ok(PaperRecord {
                        paper_id: r.get(0)?,
                        booking_number: r.get(1)?,
                        manifest: r.get(2)?,
                        deadline: r.get(3)?,
                        server_offset_ms: r.get(4)?,
                        unpacked: r.get::<_, i64>(5)? != 0,
                        started_at: r.get(6)?,
                        current: r.get(7)?,
                        submitted: submitted_at.map(|at| Submission {
                            at,
                            reason: parse_reason(reason.as_deref().unwrap_or_default()),
                            seq: submit_seq.unwrap_or(0) as u64,
                        }),
                        result: r.get(11)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// Stores a paper (or refreshes the manifest, deadline and offset of one
    /// already here, keeping its answers) and makes it the current one.
    pub fn put_paper(&mut self, p: &NewPaper, now: i64) -> Result<PaperRecord, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO exam_papers (paper_id, booking_number, manifest, deadline, server_offset_ms, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (paper_id) DO UPDATE SET \
             manifest = ?3, deadline = ?4, server_offset_ms = ?5",
            params![p.paper_id, p.booking_number, p.manifest, p.deadline, p.server_offset_ms, now],
        )
        .map_err(sql)?;
        tx.execute(
            "INSERT INTO exam_meta (name, value) VALUES ('current_paper', ?1) ON CONFLICT (name) DO UPDATE SET value = ?1",
            params![p.paper_id],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        self.paper(&p.paper_id)?.ok_or_else(|| StoreError::NoPaper(p.paper_id.clone()))
    }

    /// The seat has no paper any more (the candidate was released).
    pub fn clear_current(&mut self) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM exam_meta WHERE name = 'current_paper'", []).map_err(|e| self.sql(e))?;
        Ok(())
    }

    fn update(&mut self, paper_id: &str, set: &str, value: &dyn rusqlite::ToSql) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute(&format!("UPDATE exam_papers SET {set} = ?2 WHERE paper_id = ?1"), params![paper_id, value])
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(StoreError::NoPaper(paper_id.to_owned()));
        }
        Ok(())
    }

    /// The candidate read the instructions and began (once; a second start keeps the first time).
    pub fn start(&mut self, paper_id: &str, now: i64) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE exam_papers SET started_at = COALESCE(started_at, ?2) WHERE paper_id = ?1",
                params![paper_id, now],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(StoreError::NoPaper(paper_id.to_owned()));
        }
        Ok(())
    }

    pub fn set_position(&mut self, paper_id: &str, item: &str) -> Result<(), StoreError> {
        self.update(paper_id, "current_item", &item)
    }

    pub fn set_result(&mut self, paper_id: &str, result_json: &str) -> Result<(), StoreError> {
        self.update(paper_id, "result", &result_json)
    }

    pub fn set_flag(&mut self, paper_id: &str, item: &str, flagged: bool) -> Result<(), StoreError> {
        let sql = if flagged {
            "INSERT INTO exam_flags (paper_id, item) VALUES (?1, ?2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM exam_flags WHERE paper_id = ?1 AND item = ?2"
        };
        self.conn.execute(sql, params![paper_id, item]).map_err(|e| self.sql(e))?;
        Ok(())
    }

    pub fn flags(&self, paper_id: &str) -> Result<BTreeSet<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT item FROM exam_flags WHERE paper_id = ?1 ORDER BY item")
            .map_err(|e| self.sql(e))?;
        let rows = stmt.query_map(params![paper_id], |r| r.get(0)).map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    pub fn answers(&self, paper_id: &str) -> Result<BTreeMap<String, Answer>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT item, choices, seq, saved_at FROM exam_answers WHERE paper_id = ?1")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![paper_id], |r| {
                let choices: String = r.get(1)?;
                Ok((
                    r.get::<_, String>(0)?,
                    Answer { choices: parse_choices(&choices), seq: r.get::<_, i64>(2)? as u64, saved_at: r.get(3)? },
                ))
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// Takes the paper's next seq, refusing once it is submitted.
    fn next_seq(tx: &Transaction<'_>, paper_id: &str) -> Result<Result<u64, StoreError>, rusqlite::Error> {
        let row: Option<(i64, Option<i64>)> = tx
            .query_row("SELECT next_seq, submitted_at FROM exam_papers WHERE paper_id = ?1", params![paper_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((seq, submitted)) = row else { return Ok(Err(StoreError::NoPaper(paper_id.to_owned()))) };
        if submitted.is_some() {
            return Ok(Err(StoreError::Submitted(paper_id.to_owned())));
        }
        tx.execute("UPDATE exam_papers SET next_seq = ?2 WHERE paper_id = ?1", params![paper_id, seq + 1])?;
        Ok(Ok(seq as u64))
    }

    /// Records an answer (an empty `choices` clears it) with the paper's next
    /// seq and queues `queue(change)` in the outbox, in one transaction.
    pub fn save_answer(
        &mut self,
        paper_id: &str,
        item: &str,
        choices: &[String],
        now: i64,
        queue: impl FnOnce(&Change) -> Outgoing,
    ) -> Result<Change, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.write()?;
        let seq = Self::next_seq(&tx, paper_id).map_err(sql)??;
        let text = choices_json(choices);
        tx.execute(
            "INSERT INTO exam_answers (paper_id, item, choices, seq, saved_at) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (paper_id, item) DO UPDATE SET choices = ?3, seq = ?4, saved_at = ?5",
            params![paper_id, item, text, seq as i64, now],
        )
        .map_err(sql)?;
        let change = Change {
            paper_id: paper_id.to_owned(),
            seq,
            at: now,
            what: ChangeKind::Answer { item: item.to_owned(), choices: choices.to_vec() },
        };
        let out = queue(&change);
        Outbox::insert_keyed(&tx, &out.key, out.kind, &out.body, crate::link::now_ms()).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(change)
    }

    /// Submits the paper and queues `queue(change)`, in one transaction (once: a
    /// second submit returns the first one's change and queues nothing).
    pub fn submit(
        &mut self,
        paper_id: &str,
        reason: SubmitReason,
        now: i64,
        queue: impl FnOnce(&Change) -> Outgoing,
    ) -> Result<Change, StoreError> {
        if let Some(Submission { at, reason, seq }) = self.paper(paper_id)?.and_then(|p| p.submitted) {
            return Ok(Change { paper_id: paper_id.to_owned(), seq, at, what: ChangeKind::Submit { reason } });
        }
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.write()?;
        let seq = Self::next_seq(&tx, paper_id).map_err(sql)??;
        tx.execute(
            "UPDATE exam_papers SET submitted_at = ?2, submit_reason = ?3, submit_seq = ?4 WHERE paper_id = ?1",
            params![paper_id, now, reason.as_str(), seq as i64],
        )
        .map_err(sql)?;
        let change = Change { paper_id: paper_id.to_owned(), seq, at: now, what: ChangeKind::Submit { reason } };
        let out = queue(&change);
        Outbox::insert_keyed(&tx, &out.key, out.kind, &out.body, crate::link::now_ms()).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(change)
    }

    /// The server ended the attempt (at deadline + grace, or the examiner did):
    /// the seat takes that as its submission, with nothing to send for it.
    pub fn closed_by_server(&mut self, paper_id: &str, at: i64, reason: SubmitReason) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE exam_papers SET submitted_at = ?2, submit_reason = ?3, submit_seq = 0 \
                 WHERE paper_id = ?1 AND submitted_at IS NULL",
                params![paper_id, at, reason.as_str()],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Whether the package is (still) unpacked: `false` sends it to be fetched again.
    pub fn set_unpacked(&mut self, paper_id: &str, unpacked: bool) -> Result<(), StoreError> {
        self.update(paper_id, "unpacked", &i64::from(unpacked))
    }

    /// Takes in the answers the server holds (a spare PC continuing a
    /// candidate's paper): an item the seat has a later answer to keeps it;
    /// the paper's seq moves past the server's highest. These need no queueing.
    pub fn merge_server_answers(
        &mut self,
        paper_id: &str,
        server: &BTreeMap<String, Answer>,
    ) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.write()?;
        let mut taken = 0;
        let mut highest = 0u64;
        for (item, a) in server {
            highest = highest.max(a.seq);
            let n = tx
                .execute(
                    "INSERT INTO exam_answers (paper_id, item, choices, seq, saved_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (paper_id, item) DO UPDATE SET choices = ?3, seq = ?4, saved_at = ?5 \
                     WHERE exam_answers.seq < ?4",
                    params![paper_id, item, choices_json(&a.choices), a.seq as i64, a.saved_at],
                )
                .map_err(sql)?;
            taken += n;
        }
        tx.execute(
            "UPDATE exam_papers SET next_seq = MAX(next_seq, ?2) WHERE paper_id = ?1",
            params![paper_id, highest as i64 + 1],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::outbox::OUTBOX_FILE;

    fn paper(id: &str) -> NewPaper {
        NewPaper {
            paper_id: id.into(),
            booking_number: "20261125001".into(),
            manifest: "{}".into(),
            deadline: 1_000_000,
            server_offset_ms: -250,
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn out(c: &Change) -> Outgoing {
        Outgoing { key: format!("exam-{}-{}", c.paper_id, c.seq), kind: "exam_answer", body: c.seq.to_string().into() }
    }

    /// A store in a fresh outbox file, and that outbox.
    fn open(dir: &Path) -> (ExamStore, Outbox) {
        let outbox = Outbox::open(dir).unwrap();
        (ExamStore::open(&dir.join(OUTBOX_FILE)).unwrap(), outbox)
    }

    #[test]
    fn everything_survives_reopening_with_its_outbox_items() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, _) = open(dir.path());
            store.put_paper(&paper("p1"), 10).unwrap();
            store.set_unpacked("p1", true).unwrap();
            store.start("p1", 20).unwrap();
            store.save_answer("p1", "q1", &s(&["A"]), 30, out).unwrap();
            store.save_answer("p1", "q2", &s(&["B", "C"]), 31, out).unwrap();
            store.save_answer("p1", "q1", &s(&["D"]), 32, out).unwrap();
            store.set_flag("p1", "q2", true).unwrap();
            store.set_position("p1", "q3").unwrap();
        }
        let (store, outbox) = open(dir.path());
        let p = store.current().unwrap().unwrap();
        assert_eq!(
            (p.paper_id.as_str(), p.unpacked, p.started_at, p.current.as_deref(), p.deadline, p.server_offset_ms),
            ("p1", true, Some(20), Some("q3"), 1_000_000, -250)
        );
        let answers = store.answers("p1").unwrap();
        assert_eq!(answers["q1"], Answer { choices: s(&["D"]), seq: 3, saved_at: 32 });
        assert_eq!(answers["q2"].choices, s(&["B", "C"]));
        assert_eq!(store.flags("p1").unwrap().into_iter().collect::<Vec<_>>(), s(&["q2"]));
        assert_eq!(outbox.pending_with_prefix("exam-p1-").unwrap(), 3, "each change queued with it");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.path().join(OUTBOX_FILE)).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn seq_strictly_increases_per_paper_across_reopening_and_submission_ends_it() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, outbox) = open(dir.path());
        store.put_paper(&paper("p1"), 0).unwrap();
        let seqs: Vec<u64> =
            (0..5).map(|i| store.save_answer("p1", &format!("q{}", i % 2), &s(&["A"]), i, out).unwrap().seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        drop(store);
        let (mut store, _) = open(dir.path());
        assert_eq!(store.save_answer("p1", "q9", &[], 9, out).unwrap().seq, 6);
        store.put_paper(&paper("p2"), 0).unwrap();
        assert_eq!(store.save_answer("p2", "q1", &s(&["A"]), 9, out).unwrap().seq, 1, "each paper counts on its own");
        let submit = store.submit("p1", SubmitReason::Timeout, 50, out).unwrap();
        assert_eq!((submit.seq, &submit.what), (7, &ChangeKind::Submit { reason: SubmitReason::Timeout }));
        let again = store.submit("p1", SubmitReason::Candidate, 60, out).unwrap();
        assert_eq!(again, submit, "a second submit is the first one");
        assert!(matches!(store.save_answer("p1", "q1", &s(&["B"]), 70, out), Err(StoreError::Submitted(_))));
        assert_eq!(store.answers("p1").unwrap()["q1"].choices, s(&["A"]), "a refused answer changes nothing");
        assert!(matches!(store.save_answer("nope", "q1", &[], 0, out), Err(StoreError::NoPaper(_))));
        assert_eq!(
            outbox.pending_with_prefix("exam-p1-").unwrap(),
            7,
            "six answers and one submission, nothing refused"
        );
    }

    #[test]
    fn a_change_and_its_outbox_item_commit_together_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, outbox) = open(dir.path());
        store.put_paper(&paper("p1"), 0).unwrap();
        // The outbox insert fails (its table is gone): the answer is not kept either.
        let other = rusqlite::Connection::open(dir.path().join(OUTBOX_FILE)).unwrap();
        other.execute_batch("ALTER TABLE outbox RENAME TO outbox_away").unwrap();
        assert!(store.save_answer("p1", "q1", &s(&["A"]), 1, out).is_err());
        assert!(store.answers("p1").unwrap().is_empty(), "no answer without its outbox item");
        other.execute_batch("ALTER TABLE outbox_away RENAME TO outbox").unwrap();
        let c = store.save_answer("p1", "q1", &s(&["A"]), 2, out).unwrap();
        assert_eq!(c.seq, 1, "the failed change took no seq");
        assert_eq!(outbox.pending_with_prefix("exam-p1-").unwrap(), 1);
    }

    #[test]
    fn server_answers_fill_in_without_overwriting_later_local_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = open(dir.path());
        store.put_paper(&paper("p1"), 0).unwrap();
        let server: BTreeMap<String, Answer> = [
            ("q1".to_owned(), Answer { choices: s(&["A"]), seq: 4, saved_at: 40 }),
            ("q2".to_owned(), Answer { choices: s(&["B"]), seq: 7, saved_at: 70 }),
        ]
        .into();
        assert_eq!(store.merge_server_answers("p1", &server).unwrap(), 2);
        assert_eq!(store.save_answer("p1", "q1", &s(&["C"]), 80, out).unwrap().seq, 8, "seq goes on past the server's");
        assert_eq!(store.merge_server_answers("p1", &server).unwrap(), 0, "the local q1 is later");
        let answers = store.answers("p1").unwrap();
        assert_eq!((answers["q1"].choices.clone(), answers["q2"].seq), (s(&["C"]), 7));
    }
}
