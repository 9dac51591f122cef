//! Invigilation in the store: warnings, forced submissions, pauses, resumes,
//! extensions and end-of-time reminders (migration `0005_invigilation.sql`).
//! Each is one transaction with its audit row, the `exam_actions` row and the
//! command queued for the seat; the seat's acknowledgement of that command
//! (`commands.acked_at`) is what the console shows as delivered.

use async_trait::async_trait;

use super::{CommandRow, PaperRow, StoreError};

/// What an action was, as `exam_actions.kind` names it.
pub const WARNING: &str = "warning";
pub const FORCED: &str = "forced_submission";
pub const PAUSE: &str = "pause";
pub const RESUME: &str = "resume";
pub const EXTENSION: &str = "extension";
pub const REMINDER: &str = "reminder";

/// An action of the console (or the server's reminder) on one paper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAction {
    /// Also the id of the command pushed to the seat.
    pub id: String,
    pub reason: String,
    pub note: String,
    pub actor: String,
}

/// A stored action with the seat's acknowledgement of its command.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ExamAction {
    pub id: String,
    pub paper_id: String,
    pub booking_number: String,
    pub seat: String,
    pub kind: String,
    pub reason: String,
    pub note: String,
    pub count: Option<u32>,
    pub moved_ms: Option<i64>,
    pub deadline: i64,
    pub command_id: Option<String>,
    pub actor: String,
    pub at: i64,
    /// When the seat acknowledged the command (None: not yet, or no PC was bound).
    pub acked_at: Option<i64>,
}

/// What one action did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invigilated {
    pub action: ExamAction,
    pub paper: PaperRow,
    /// The command queued for the seat (None: the seat has no PC bound).
    pub command: Option<CommandRow>,
}

/// A paper whose clock is stopped.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Paused {
    pub paper_id: String,
    pub paused_at: i64,
    pub reason: String,
    pub actor: String,
}

/// What the offline-time proposal is measured from (server clock, Unix ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionBasis {
    pub paper_id: String,
    pub seat: String,
    /// The PC holding the seat now and when it took it over.
    pub key_id: String,
    pub rebound_at: i64,
    /// The last answer or heartbeat of the PC(s) before it.
    pub last_before: Option<i64>,
    /// The first answer received from the PC now bound.
    pub first_after: Option<i64>,
}

#[async_trait]
pub trait InvigilationStore: Send + Sync + 'static {
    /// Warns the candidate of an in-progress paper: counts it, audits it and
    /// queues `exam_warning` (Conflict for a submitted paper).
    async fn warn(&self, paper_id: &str, action: NewAction, now: i64) -> Result<Invigilated, StoreError>;
    /// Stops the clock of each in-progress paper not paused already (the others are left out).
    async fn pause(&self, paper_ids: &[String], action: NewAction, now: i64) -> Result<Vec<Invigilated>, StoreError>;
    /// Starts the clock again: each paused paper's deadline moves by the time it was paused.
    async fn resume(&self, paper_ids: &[String], action: NewAction, now: i64) -> Result<Vec<Invigilated>, StoreError>;
    /// Moves each in-progress paper's deadline by `minutes` (the others are left out).
    async fn extend(
        &self,
        paper_ids: &[String],
        minutes: u32,
        action: NewAction,
        now: i64,
    ) -> Result<Vec<Invigilated>, StoreError>;
    /// Queues the `minutes`-left reminder of a paper, once per deadline (None: sent before, paused or closed).
    async fn remind(&self, paper_id: &str, minutes: u32, now: i64) -> Result<Option<Invigilated>, StoreError>;
    /// A paper's actions, oldest first, with the seat's acknowledgements.
    async fn exam_actions(&self, paper_id: &str) -> Result<Vec<ExamAction>, StoreError>;
    /// Papers paused now.
    async fn paused(&self) -> Result<Vec<Paused>, StoreError>;
    /// What the offline-time proposal of a paper is measured from (None: the seat was not rebound since the paper was drawn).
    async fn extension_basis(&self, paper_id: &str) -> Result<Option<ExtensionBasis>, StoreError>;
}

/// Columns of an action, for `action_from_row`.
pub(super) const ACTION_COLUMNS: &str = "a.id, a.paper_id, a.booking_number, a.seat_no, a.kind, a.reason, a.note, \
     a.count, a.moved_ms, a.deadline, a.command_id, a.actor, a.at, c.acked_at";

/// `impl InvigilationStore` for a store made by `sql_store!` and `exam_store!`; also
/// gives `exam_store!`'s `close_paper` its [`insert_action`](self) for a forced submission.
macro_rules! invigilation_store {
    ($Store:ident, $Row:ty) => {
        pub(super) mod invigilation_sql {
            use async_trait::async_trait;
            use examgate_protocol::link::Command;
            use sqlx::{AssertSqlSafe, Row as _};

            use super::login_sql::queue;
            use super::{$Store, Tx, append, read_head};
            use crate::audit::Action;
            use crate::store::exam::{PAPER_COLUMNS, PaperState, count};
            use crate::store::exam_invigilation::*;
            use crate::store::*;

            fn action_from_row(row: &$Row) -> Result<ExamAction, StoreError> {
                let n: Option<i64> = row.try_get(7)?;
                Ok(ExamAction {
                    id: row.try_get(0)?,
                    paper_id: row.try_get(1)?,
                    booking_number: row.try_get(2)?,
                    seat: row.try_get(3)?,
                    kind: row.try_get(4)?,
                    reason: row.try_get(5)?,
                    note: row.try_get(6)?,
                    count: n.map(count),
                    moved_ms: row.try_get(8)?,
                    deadline: row.try_get(9)?,
                    command_id: row.try_get(10)?,
                    actor: row.try_get(11)?,
                    at: row.try_get(12)?,
                    acked_at: row.try_get(13)?,
                })
            }

            async fn load(tx: &mut Tx, paper_id: &str) -> Result<PaperRow, StoreError> {
                let sql = format!("SELECT {PAPER_COLUMNS} FROM exam_papers p WHERE p.paper_id = $1");
                let row = sqlx::query(AssertSqlSafe(sql)).bind(paper_id).fetch_optional(&mut **tx).await?;
                match row {
                    Some(r) => super::exam_sql::paper_from_row(&r),
                    None => Err(StoreError::NotFound(format!("no paper {paper_id}"))),
                }
            }

            /// Writes an action row (and queues `command` to the paper's seat) in `tx`;
            /// the audit row is the caller's.
            #[allow(clippy::too_many_arguments)]
            pub(crate) async fn insert_action(
                tx: &mut Tx,
                paper: &PaperRow,
                kind: &str,
                a: &NewAction,
                n: Option<u32>,
                moved_ms: Option<i64>,
                deadline: i64,
                command: Option<&Command>,
                now: i64,
            ) -> Result<(ExamAction, Option<CommandRow>), StoreError> {
                let queued = match command {
                    Some(c) => queue(tx, &a.id, &paper.seat, c, now).await?,
                    None => None,
                };
                let command_id = queued.as_ref().map(|c| c.id.clone());
                let action = write_action(tx, paper, kind, a, n, moved_ms, deadline, command_id, now).await?;
                Ok((action, queued))
            }

            /// Writes an action row whose command (if any) is queued already.
            #[allow(clippy::too_many_arguments)]
            pub(crate) async fn write_action(
                tx: &mut Tx,
                paper: &PaperRow,
                kind: &str,
                a: &NewAction,
                n: Option<u32>,
                moved_ms: Option<i64>,
                deadline: i64,
                command_id: Option<String>,
                now: i64,
            ) -> Result<ExamAction, StoreError> {
                sqlx::query(
                    "INSERT INTO exam_actions (id, paper_id, booking_number, seat_no, kind, reason, note, count, \
                     moved_ms, deadline, command_id, actor, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(&a.id)
                .bind(&paper.paper_id)
                .bind(&paper.booking_number)
                .bind(&paper.seat)
                .bind(kind)
                .bind(&a.reason)
                .bind(&a.note)
                .bind(n.map(i64::from))
                .bind(moved_ms)
                .bind(deadline)
                .bind(&command_id)
                .bind(&a.actor)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                let action = ExamAction {
                    id: a.id.clone(),
                    paper_id: paper.paper_id.clone(),
                    booking_number: paper.booking_number.clone(),
                    seat: paper.seat.clone(),
                    kind: kind.to_owned(),
                    reason: a.reason.clone(),
                    note: a.note.clone(),
                    count: n,
                    moved_ms,
                    deadline,
                    command_id,
                    actor: a.actor.clone(),
                    at: now,
                    acked_at: None,
                };
                Ok(action)
            }

            fn subject(paper: &PaperRow) -> String {
                format!("candidate:{}", paper.booking_number)
            }

            /// One action id per paper of a room-wide action: `ID` for the first, `ID-2`… after.
            fn nth(a: &NewAction, i: usize) -> NewAction {
                let id = if i == 0 { a.id.clone() } else { format!("{}-{}", a.id, i + 1) };
                NewAction { id, ..a.clone() }
            }

            async fn is_paused(tx: &mut Tx, paper_id: &str) -> Result<Option<i64>, StoreError> {
                Ok(sqlx::query_scalar("SELECT paused_at FROM exam_pauses WHERE paper_id = $1")
                    .bind(paper_id)
                    .fetch_optional(&mut **tx)
                    .await?)
            }

            async fn set_deadline(tx: &mut Tx, paper_id: &str, deadline: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE exam_papers SET deadline = $1 WHERE paper_id = $2")
                    .bind(deadline)
                    .bind(paper_id)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            #[async_trait]
            impl InvigilationStore for $Store {
                async fn warn(&self, paper_id: &str, a: NewAction, now: i64) -> Result<Invigilated, StoreError> {
                    let mut tx = self.begin_write().await?;
                    read_head(&mut tx).await?;
                    let paper = load(&mut tx, paper_id).await?;
                    if paper.state == PaperState::Submitted {
                        return Err(StoreError::Conflict(format!("paper {paper_id} is already submitted")));
                    }
                    let before: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM exam_actions WHERE paper_id = $1 AND kind = 'warning'",
                    )
                    .bind(paper_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    let n = count(before + 1);
                    let reason = examgate_protocol::invigilation::WarningReason::parse(&a.reason)
                        .ok_or_else(|| StoreError::Invalid(format!("unknown warning reason {:?}", a.reason)))?;
                    let command = Command::ExamWarning {
                        booking_number: paper.booking_number.clone(),
                        paper_id: paper_id.to_owned(),
                        count: n,
                        reason,
                        text: a.note.clone(),
                    };
                    let (action, command) =
                        insert_action(&mut tx, &paper, WARNING, &a, Some(n), None, paper.deadline, Some(&command), now)
                            .await?;
                    let detail = format!("paper {paper_id}: warning {n} ({}) at seat {}", a.reason, paper.seat);
                    append(&mut tx, &entry(&a.actor, Action::ExamWarning, subject(&paper), detail), now).await?;
                    tx.commit().await?;
                    Ok(Invigilated { action, paper, command })
                }

                async fn pause(
                    &self,
                    paper_ids: &[String],
                    a: NewAction,
                    now: i64,
                ) -> Result<Vec<Invigilated>, StoreError> {
                    let reason = examgate_protocol::invigilation::PauseReason::parse(&a.reason)
                        .ok_or_else(|| StoreError::Invalid(format!("unknown pause reason {:?}", a.reason)))?;
                    let mut tx = self.begin_write().await?;
                    read_head(&mut tx).await?;
                    let mut done = Vec::new();
                    for paper_id in paper_ids {
                        let paper = load(&mut tx, paper_id).await?;
                        if paper.state == PaperState::Submitted || is_paused(&mut tx, paper_id).await?.is_some() {
                            continue;
                        }
                        sqlx::query("INSERT INTO exam_pauses (paper_id, paused_at, reason, actor) VALUES ($1, $2, $3, $4)")
                            .bind(paper_id)
                            .bind(now)
                            .bind(&a.reason)
                            .bind(&a.actor)
                            .execute(&mut *tx)
                            .await?;
                        let command = Command::ExamPaused {
                            booking_number: paper.booking_number.clone(),
                            paper_id: paper_id.clone(),
                            reason,
                        };
                        let one = nth(&a, done.len());
                        let (action, command) =
                            insert_action(&mut tx, &paper, PAUSE, &one, None, None, paper.deadline, Some(&command), now)
                                .await?;
                        let detail = format!("paper {paper_id}: clock stopped ({}) at seat {}", a.reason, paper.seat);
                        append(&mut tx, &entry(&a.actor, Action::ExamPaused, subject(&paper), detail), now).await?;
                        done.push(Invigilated { action, paper, command });
                    }
                    tx.commit().await?;
                    Ok(done)
                }

                async fn resume(
                    &self,
                    paper_ids: &[String],
                    a: NewAction,
                    now: i64,
                ) -> Result<Vec<Invigilated>, StoreError> {
                    let mut tx = self.begin_write().await?;
                    read_head(&mut tx).await?;
                    let mut done = Vec::new();
                    for paper_id in paper_ids {
                        let Some(paused_at) = is_paused(&mut tx, paper_id).await? else { continue };
                        let paper = load(&mut tx, paper_id).await?;
                        sqlx::query("DELETE FROM exam_pauses WHERE paper_id = $1")
                            .bind(paper_id)
                            .execute(&mut *tx)
                            .await?;
                        let moved = (now - paused_at).max(0);
                        let deadline = paper.deadline + moved;
                        let one = nth(&a, done.len());
                        if paper.state == PaperState::Submitted {
                            // Closed while paused (forced): the pause ends, nothing to move.
                            let detail = format!("paper {paper_id}: pause ended; the paper was submitted meanwhile");
                            append(&mut tx, &entry(&a.actor, Action::ExamResumed, subject(&paper), detail), now)
                                .await?;
                            continue;
                        }
                        set_deadline(&mut tx, paper_id, deadline).await?;
                        let command = Command::ExamResumed {
                            booking_number: paper.booking_number.clone(),
                            paper_id: paper_id.clone(),
                            deadline,
                        };
                        let (action, command) =
                            insert_action(&mut tx, &paper, RESUME, &one, None, Some(moved), deadline, Some(&command), now)
                                .await?;
                        let detail = format!(
                            "paper {paper_id}: clock runs again after {} s paused ({}); deadline moved from {} to {deadline}",
                            moved / 1000,
                            a.reason,
                            paper.deadline
                        );
                        append(&mut tx, &entry(&a.actor, Action::ExamResumed, subject(&paper), detail), now).await?;
                        done.push(Invigilated { action, paper: PaperRow { deadline, ..paper }, command });
                    }
                    tx.commit().await?;
                    Ok(done)
                }

                async fn extend(
                    &self,
                    paper_ids: &[String],
                    minutes: u32,
                    a: NewAction,
                    now: i64,
                ) -> Result<Vec<Invigilated>, StoreError> {
                    let reason = examgate_protocol::invigilation::ExtensionReason::parse(&a.reason)
                        .ok_or_else(|| StoreError::Invalid(format!("unknown extension reason {:?}", a.reason)))?;
                    let mut tx = self.begin_write().await?;
                    read_head(&mut tx).await?;
                    let mut done = Vec::new();
                    let moved = i64::from(minutes) * 60_000;
                    for paper_id in paper_ids {
                        let paper = load(&mut tx, paper_id).await?;
                        if paper.state == PaperState::Submitted {
                            continue;
                        }
                        let deadline = paper.deadline + moved;
                        set_deadline(&mut tx, paper_id, deadline).await?;
                        let command = Command::ExamDeadline {
                            booking_number: paper.booking_number.clone(),
                            paper_id: paper_id.clone(),
                            deadline,
                            reason,
                        };
                        let one = nth(&a, done.len());
                        let (action, command) = insert_action(
                            &mut tx,
                            &paper,
                            EXTENSION,
                            &one,
                            None,
                            Some(moved),
                            deadline,
                            Some(&command),
                            now,
                        )
                        .await?;
                        let detail = format!(
                            "paper {paper_id}: extended by {minutes} min ({}); deadline moved from {} to {deadline}",
                            a.reason, paper.deadline
                        );
                        append(&mut tx, &entry(&a.actor, Action::ExamExtended, subject(&paper), detail), now).await?;
                        done.push(Invigilated { action, paper: PaperRow { deadline, ..paper }, command });
                    }
                    tx.commit().await?;
                    Ok(done)
                }

                async fn remind(&self, paper_id: &str, minutes: u32, now: i64) -> Result<Option<Invigilated>, StoreError> {
                    let mut tx = self.begin_write().await?;
                    read_head(&mut tx).await?;
                    let paper = load(&mut tx, paper_id).await?;
                    if paper.state == PaperState::Submitted || is_paused(&mut tx, paper_id).await?.is_some() {
                        return Ok(None);
                    }
                    // One per deadline: an extension or a resume arms the reminders again.
                    let id = format!("r-{paper_id}-{minutes}-{}", paper.deadline);
                    let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM exam_actions WHERE id = $1")
                        .bind(&id)
                        .fetch_one(&mut *tx)
                        .await?;
                    if sent > 0 {
                        return Ok(None);
                    }
                    let a = NewAction { id, reason: minutes.to_string(), note: String::new(), actor: "server".into() };
                    let command = Command::ExamReminder {
                        booking_number: paper.booking_number.clone(),
                        paper_id: paper_id.to_owned(),
                        minutes,
                        deadline: paper.deadline,
                    };
                    let (action, command) =
                        insert_action(&mut tx, &paper, REMINDER, &a, None, None, paper.deadline, Some(&command), now)
                            .await?;
                    let detail = format!("paper {paper_id}: reminder, {minutes} min left, pushed to seat {}", paper.seat);
                    append(&mut tx, &entry("server", Action::ExamReminder, subject(&paper), detail), now).await?;
                    tx.commit().await?;
                    Ok(Some(Invigilated { action, paper, command }))
                }

                async fn exam_actions(&self, paper_id: &str) -> Result<Vec<ExamAction>, StoreError> {
                    let sql = format!(
                        "SELECT {ACTION_COLUMNS} FROM exam_actions a LEFT JOIN commands c ON c.id = a.command_id \
                         WHERE a.paper_id = $1 ORDER BY a.at, a.id"
                    );
                    let rows = sqlx::query(AssertSqlSafe(sql)).bind(paper_id).fetch_all(&self.reader).await?;
                    rows.iter().map(action_from_row).collect()
                }

                async fn paused(&self) -> Result<Vec<Paused>, StoreError> {
                    let rows: Vec<(String, i64, String, String)> = sqlx::query_as(
                        "SELECT paper_id, paused_at, reason, actor FROM exam_pauses ORDER BY paused_at, paper_id",
                    )
                    .fetch_all(&self.reader)
                    .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(paper_id, paused_at, reason, actor)| Paused { paper_id, paused_at, reason, actor })
                        .collect())
                }

                async fn extension_basis(&self, paper_id: &str) -> Result<Option<ExtensionBasis>, StoreError> {
                    let sql = format!("SELECT {PAPER_COLUMNS} FROM exam_papers p WHERE p.paper_id = $1");
                    let Some(row) = sqlx::query(AssertSqlSafe(sql)).bind(paper_id).fetch_optional(&self.reader).await?
                    else {
                        return Err(StoreError::NotFound(format!("no paper {paper_id}")));
                    };
                    let paper = super::exam_sql::paper_from_row(&row)?;
                    let bound: Option<(String, i64)> =
                        sqlx::query_as("SELECT key_id, bound_at FROM seats WHERE seat_no = $1")
                            .bind(&paper.seat)
                            .fetch_optional(&self.reader)
                            .await?;
                    let Some((key_id, rebound_at)) = bound else { return Ok(None) };
                    if rebound_at < paper.drawn_at {
                        return Ok(None);
                    }
                    let last_answer: Option<i64> = sqlx::query_scalar(
                        "SELECT MAX(received_at) FROM exam_answer_log \
                         WHERE paper_id = $1 AND key_id <> $2 AND received_at <= $3",
                    )
                    .bind(paper_id)
                    .bind(&key_id)
                    .bind(rebound_at)
                    .fetch_one(&self.reader)
                    .await?;
                    // The old PCs: those that answered this paper or delivered anything for this seat.
                    let last_heartbeat: Option<i64> = sqlx::query_scalar(
                        "SELECT MAX(h.last_seen) FROM seat_health h WHERE h.key_id <> $2 AND h.last_seen <= $3 \
                         AND h.last_seen >= $5 AND h.key_id IN (SELECT l.key_id FROM exam_answer_log l \
                         WHERE l.paper_id = $1 UNION SELECT d.key_id FROM deliveries d WHERE d.seat_no = $4)",
                    )
                    .bind(paper_id)
                    .bind(&key_id)
                    .bind(rebound_at)
                    .bind(&paper.seat)
                    .bind(paper.drawn_at)
                    .fetch_one(&self.reader)
                    .await?;
                    let first_after: Option<i64> = sqlx::query_scalar(
                        "SELECT MIN(received_at) FROM exam_answer_log \
                         WHERE paper_id = $1 AND key_id = $2 AND received_at >= $3",
                    )
                    .bind(paper_id)
                    .bind(&key_id)
                    .bind(rebound_at)
                    .fetch_one(&self.reader)
                    .await?;
                    Ok(Some(ExtensionBasis {
                        paper_id: paper_id.to_owned(),
                        seat: paper.seat,
                        key_id,
                        rebound_at,
                        last_before: last_answer.max(last_heartbeat),
                        first_after,
                    }))
                }
            }
        }
    };
}

pub(super) use invigilation_store;
