//! The exam in the store: papers drawn at admission, the answers each seat
//! sends (held per item at the highest seq, every change logged once per
//! idempotency key), submissions, results and item exposure. Migration
//! `0004_exam.sql`; one SQL text for both databases ([`exam_store!`]).
//!
//! Every write locks the audit head first and appends its audit row in the
//! same transaction, so an answer, the deadline closer and a submission are
//! decided one at a time even with two servers on one PostgreSQL.

use async_trait::async_trait;
use examgate_protocol::exam::SubmitReason;

use super::{Alert, CommandRow, StoreError};
use crate::exam::attempt::ExamRefusal;
use crate::exam::{Answers, ExamDef, Paper, PaperItem};

/// A paper drawn for a candidate, to be stored when they are admitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPaper {
    pub paper_id: String,
    pub exam_id: String,
    /// The [`ExamDef`] as JSON, kept with the paper.
    pub exam_def: String,
    pub exam_name: String,
    pub minutes: u32,
    pub pass_score: Option<u32>,
    pub max_score: u32,
    pub bank_version: String,
    pub seed: u64,
    pub paper_sha256: String,
    /// JSON of the drawn items, as `paper draw` prints them.
    pub items: String,
    pub item_ids: Vec<String>,
    pub language: String,
    /// The id of the `exam_ready` command to the seat.
    pub command_id: String,
}

/// What admission does about the exam.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaperPlan {
    /// Store this paper (unless the booking has one already: it keeps it).
    Draw(Box<NewPaper>),
    /// No paper can be drawn (no bank, no such exam, the bank cannot fill it):
    /// the candidate is admitted all the same and the console gets an `exam_unavailable` alert.
    Unavailable { reason: String },
}

/// What admission did about the exam.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Admission {
    pub paper: Option<PaperRow>,
    /// Whether the paper was drawn now (else the booking's earlier one, moved to this seat).
    pub drawn: bool,
    /// The `exam_ready` command to the seat.
    pub command: Option<CommandRow>,
    /// `exam_unavailable`, when no paper could be drawn.
    pub alert: Option<Alert>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaperState {
    InProgress,
    Submitted,
}

impl PaperState {
    pub fn as_str(self) -> &'static str {
        match self {
            PaperState::InProgress => "in_progress",
            PaperState::Submitted => "submitted",
        }
    }

    pub fn parse(s: &str) -> Result<PaperState, StoreError> {
        match s {
            "in_progress" => Ok(PaperState::InProgress),
            "submitted" => Ok(PaperState::Submitted),
            other => Err(StoreError::Invalid(format!("stored paper state {other:?} is unknown"))),
        }
    }
}

pub fn parse_reason(s: &str) -> Result<SubmitReason, StoreError> {
    match s {
        "candidate" => Ok(SubmitReason::Candidate),
        "timeout" => Ok(SubmitReason::Timeout),
        "forced" => Ok(SubmitReason::Forced),
        other => Err(StoreError::Invalid(format!("stored submission reason {other:?} is unknown"))),
    }
}

/// A stored paper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaperRow {
    pub paper_id: String,
    pub booking_number: String,
    pub seat: String,
    pub exam_id: String,
    pub exam_def: String,
    pub exam_name: String,
    pub minutes: u32,
    pub pass_score: Option<u32>,
    pub max_score: u32,
    pub bank_version: String,
    pub seed: u64,
    pub paper_sha256: String,
    pub items: String,
    pub item_count: u32,
    pub language: String,
    pub drawn_at: i64,
    pub deadline: i64,
    pub state: PaperState,
    pub submitted_at: Option<i64>,
    pub reason: Option<SubmitReason>,
    pub score: Option<u32>,
    pub passed: Option<bool>,
    pub answered: Option<u32>,
}

impl PaperRow {
    /// The drawn items.
    pub fn drawn_items(&self) -> Result<Vec<PaperItem>, StoreError> {
        serde_json::from_str(&self.items)
            .map_err(|e| StoreError::Invalid(format!("paper {}: stored items are not valid: {e}", self.paper_id)))
    }

    /// The paper as `paper draw` prints it.
    pub fn paper(&self) -> Result<Paper, StoreError> {
        Ok(Paper {
            exam: self.exam_id.clone(),
            seed: self.seed,
            bank_version: self.bank_version.clone(),
            paper_sha256: self.paper_sha256.clone(),
            items: self.drawn_items()?,
        })
    }

    /// The exam definition it was drawn by.
    pub fn exam(&self) -> Result<ExamDef, StoreError> {
        serde_json::from_str(&self.exam_def)
            .map_err(|e| StoreError::Invalid(format!("paper {}: stored exam is not valid: {e}", self.paper_id)))
    }
}

/// An answer the server holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldAnswerRow {
    pub item_id: String,
    pub choices: Vec<String>,
    pub seq: u64,
    pub answered_at: i64,
    pub received_at: i64,
}

/// One change of an answer from a seat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewExamAnswer {
    pub paper_id: String,
    pub booking_number: String,
    pub seat: String,
    pub key_id: String,
    pub item_id: String,
    pub choices: Vec<String>,
    pub seq: u64,
    pub answered_at: i64,
    pub idempotency_key: String,
    pub body_sha256: String,
    pub grace_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerOutcome {
    /// Stored now; `applied` when it became the held answer (a higher seq may already be held).
    Stored { received_at: i64, applied: bool, answered: u32, paper: Box<PaperRow> },
    /// The same idempotency key with the same body: stored before.
    Duplicate { received_at: i64 },
    /// The same idempotency key with another body: nothing stored.
    Conflict,
    /// Refused (and audited).
    Refused(ExamRefusal),
}

/// The seat's submission, or the server closing an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosePaper {
    pub paper_id: String,
    pub reason: SubmitReason,
    /// `agent:KEY`, `user:…` or `server`.
    pub actor: String,
    /// The seat's submission: who sent it, once per idempotency key.
    pub from_seat: Option<SeatSubmission>,
    /// The id of the `exam_result` command to the seat.
    pub command_id: String,
    /// A forced submission: the examiner's reason and note, kept as an
    /// invigilation action (`exam_actions`) in the closing transaction.
    pub forced: Option<super::exam_invigilation::NewAction>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatSubmission {
    pub booking_number: String,
    pub seat: String,
    pub key_id: String,
    pub seq: u64,
    pub idempotency_key: String,
    pub body_sha256: String,
    pub grace_ms: i64,
}

/// A score as the store keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scored {
    pub score: u32,
    pub max_score: u32,
    pub passed: Option<bool>,
    pub answered: u32,
}

/// Scores the answers the store holds, inside the closing transaction.
pub type Scorer<'a> = &'a (dyn Fn(&Answers) -> Result<Scored, String> + Send + Sync);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseOutcome {
    /// Closed and scored now.
    Closed {
        paper: Box<PaperRow>,
        command: Option<CommandRow>,
    },
    /// Closed before (a retried submission, or the deadline closer came first).
    AlreadyClosed {
        paper: Box<PaperRow>,
    },
    /// The same idempotency key with another body.
    Conflict,
    Refused(ExamRefusal),
}

/// A paper with its candidate, for the console's progress view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaperProgress {
    pub paper: PaperRow,
    pub name: String,
    pub session: String,
    pub exam_date: String,
    /// Items with a non-empty held answer.
    pub answered: u32,
}

#[async_trait]
pub trait ExamStore: Send + Sync + 'static {
    /// The exam the roster names for a booking (`candidates.exam`), if any.
    async fn candidate_exam(&self, booking_number: &str) -> Result<Option<String>, StoreError>;
    async fn paper(&self, paper_id: &str) -> Result<Option<PaperRow>, StoreError>;
    async fn paper_of_booking(&self, booking_number: &str) -> Result<Option<PaperRow>, StoreError>;
    /// The paper of the candidate admitted at `seat` on `exam_date`.
    async fn seat_paper(&self, seat: &str, exam_date: &str) -> Result<Option<PaperRow>, StoreError>;
    /// The answers held for a paper, by item id.
    async fn held_answers(&self, paper_id: &str) -> Result<Vec<HeldAnswerRow>, StoreError>;
    /// Stores one change of an answer (refusing it, audited, when the paper
    /// is closed, past its deadline and grace, or its candidate is no longer at the seat).
    async fn record_answer(&self, answer: NewExamAnswer, now: i64) -> Result<AnswerOutcome, StoreError>;
    /// Closes and scores an attempt from the answers held, with `scorer`, in one transaction.
    async fn close_paper(&self, close: ClosePaper, scorer: Scorer<'_>, now: i64) -> Result<CloseOutcome, StoreError>;
    /// Papers still in progress whose deadline is before `before`.
    async fn overdue_papers(&self, before: i64) -> Result<Vec<String>, StoreError>;
    /// Every paper of `exam_date` (or all) with its candidate and answered count.
    async fn paper_progress(&self, exam_date: Option<&str>) -> Result<Vec<PaperProgress>, StoreError>;
    /// How often each item has been drawn, most often first.
    async fn exposure(&self) -> Result<Vec<(String, i64, i64)>, StoreError>;
    /// Moves a paper's deadline (the examiner gives time back), audited.
    async fn move_deadline(
        &self,
        paper_id: &str,
        deadline: i64,
        actor: &str,
        why: &str,
        now: i64,
    ) -> Result<PaperRow, StoreError>;
}

/// Columns of a paper, for `paper_from_row`.
pub(super) const PAPER_COLUMNS: &str = "p.paper_id, p.booking_number, p.seat_no, p.exam_id, p.exam_def, p.exam_name, \
     p.minutes, p.pass_score, p.max_score, p.bank_version, p.seed, p.paper_sha256, p.items, p.item_count, \
     p.language, p.drawn_at, p.deadline, p.state, p.submitted_at, p.reason, p.score, p.passed, p.answered";

pub(super) fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(super) fn choices_json(choices: &[String]) -> String {
    serde_json::to_string(choices).expect("a list of strings serialises")
}

pub(super) fn parse_choices(json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Invalid(format!("stored choices are not a JSON list: {e}")))
}

pub(super) fn parse_seed(s: &str) -> Result<u64, StoreError> {
    s.parse().map_err(|_| StoreError::Invalid(format!("stored seed {s:?} is not a u64")))
}

/// `impl ExamStore` for a store made by `sql_store!` (it uses that macro's
/// `Tx`, `append`, `read_head`, `insert_alert`, and `login_store!`'s `queue`):
/// one SQL text for both databases. Also gives `login_store!` its admission
/// hook, [`admit`](self) (drawn paper, exposure, audit, `exam_ready`).
macro_rules! exam_store {
    ($Store:ident, $Row:ty) => {
        mod exam_sql {
            use async_trait::async_trait;
            use examgate_protocol::link::Command;
            use examgate_protocol::login::CandidateState;
            use sqlx::{AssertSqlSafe, Row as _};

            use super::login_sql::queue;
            use super::{$Store, Tx, append, insert_alert, read_head};
            use crate::audit::Action;
            use crate::exam::Answers;
            use crate::exam::attempt::{self, ExamRefusal, Holder, Open, Sender};
            use crate::store::exam::*;
            use crate::store::roster::parse_candidate_state;
            use crate::store::*;

            pub(super) fn paper_from_row(row: &$Row) -> Result<PaperRow, StoreError> {
                let pass_score: Option<i64> = row.try_get(7)?;
                let seed: String = row.try_get(10)?;
                let state: String = row.try_get(17)?;
                let reason: Option<String> = row.try_get(19)?;
                let score: Option<i64> = row.try_get(20)?;
                let passed: Option<i64> = row.try_get(21)?;
                let answered: Option<i64> = row.try_get(22)?;
                Ok(PaperRow {
                    paper_id: row.try_get(0)?,
                    booking_number: row.try_get(1)?,
                    seat: row.try_get(2)?,
                    exam_id: row.try_get(3)?,
                    exam_def: row.try_get(4)?,
                    exam_name: row.try_get(5)?,
                    minutes: count(row.try_get(6)?),
                    pass_score: pass_score.map(count),
                    max_score: count(row.try_get(8)?),
                    bank_version: row.try_get(9)?,
                    seed: parse_seed(&seed)?,
                    paper_sha256: row.try_get(11)?,
                    items: row.try_get(12)?,
                    item_count: count(row.try_get(13)?),
                    language: row.try_get(14)?,
                    drawn_at: row.try_get(15)?,
                    deadline: row.try_get(16)?,
                    state: PaperState::parse(&state)?,
                    submitted_at: row.try_get(18)?,
                    reason: reason.as_deref().map(parse_reason).transpose()?,
                    score: score.map(count),
                    passed: passed.map(|p| p != 0),
                    answered: answered.map(count),
                })
            }

            fn subject(booking: &str) -> String {
                format!("candidate:{booking}")
            }

            async fn load_paper(tx: &mut Tx, paper_id: &str) -> Result<Option<PaperRow>, StoreError> {
                let sql = format!("SELECT {PAPER_COLUMNS} FROM exam_papers p WHERE p.paper_id = $1");
                let row = sqlx::query(AssertSqlSafe(sql)).bind(paper_id).fetch_optional(&mut **tx).await?;
                row.as_ref().map(paper_from_row).transpose()
            }

            /// The paper's candidate where they stand now.
            async fn holder_of(tx: &mut Tx, booking: &str) -> Result<(CandidateState, Option<String>), StoreError> {
                let row: Option<(String, Option<String>)> =
                    sqlx::query_as("SELECT state, seat_no FROM candidates WHERE booking_number = $1")
                        .bind(booking)
                        .fetch_optional(&mut **tx)
                        .await?;
                match row {
                    Some((state, seat)) => Ok((parse_candidate_state(&state)?, seat)),
                    None => Ok((CandidateState::Booked, None)),
                }
            }

            async fn refuse(
                tx: &mut Tx,
                actor: &str,
                booking: &str,
                what: &str,
                r: &ExamRefusal,
                now: i64,
            ) -> Result<(), StoreError> {
                let detail = format!("{what} refused ({}): {}", r.kind, r.message);
                append(tx, &entry(actor, Action::ExamRefused, subject(booking), detail), now).await?;
                Ok(())
            }

            /// Admission's exam step, in the admitting transaction: the booking's
            /// paper (drawn now, or its earlier one moved to this seat), its
            /// `exam_ready` command, or an `exam_unavailable` alert.
            pub(super) async fn admit(
                tx: &mut Tx,
                plan: Option<&PaperPlan>,
                booking: &str,
                seat: &str,
                actor: &str,
                now: i64,
            ) -> Result<Admission, StoreError> {
                let Some(plan) = plan else { return Ok(Admission::default()) };
                let sql = format!("SELECT {PAPER_COLUMNS} FROM exam_papers p WHERE p.booking_number = $1");
                let existing = sqlx::query(AssertSqlSafe(sql)).bind(booking).fetch_optional(&mut **tx).await?;
                if let Some(row) = existing {
                    let mut paper = paper_from_row(&row)?;
                    let command_id = match plan {
                        PaperPlan::Draw(p) => p.command_id.clone(),
                        PaperPlan::Unavailable { .. } => crate::ids::random_hex(8),
                    };
                    if paper.seat != seat {
                        sqlx::query("UPDATE exam_papers SET seat_no = $1 WHERE paper_id = $2")
                            .bind(seat)
                            .bind(&paper.paper_id)
                            .execute(&mut **tx)
                            .await?;
                        let detail = format!(
                            "paper {} moved from seat {} to seat {seat}: the candidate keeps their paper and deadline",
                            paper.paper_id, paper.seat
                        );
                        append(tx, &entry(actor, Action::PaperDrawn, subject(booking), detail), now).await?;
                        paper.seat = seat.to_owned();
                    }
                    let command = Command::ExamReady {
                        booking_number: booking.to_owned(),
                        paper_id: paper.paper_id.clone(),
                    };
                    let command = queue(tx, &command_id, seat, &command, now).await?;
                    return Ok(Admission { paper: Some(paper), drawn: false, command, alert: None });
                }
                let p = match plan {
                    PaperPlan::Draw(p) => p,
                    PaperPlan::Unavailable { reason } => {
                        let message = format!("booking {booking} was admitted at seat {seat} without a paper: {reason}");
                        append(tx, &entry(actor, Action::ExamUnavailable, subject(booking), message.clone()), now)
                            .await?;
                        let alert = NewAlert {
                            seat: Some(seat.to_owned()),
                            key_id: None,
                            kind: "exam_unavailable".into(),
                            message,
                            at: now,
                        };
                        return Ok(Admission { alert: Some(insert_alert(tx, alert).await?), ..Admission::default() });
                    }
                };
                let deadline = now + i64::from(p.minutes) * 60_000;
                sqlx::query(
                    "INSERT INTO exam_papers (paper_id, booking_number, seat_no, exam_id, exam_def, exam_name, \
                     minutes, pass_score, max_score, bank_version, seed, paper_sha256, items, item_count, language, \
                     drawn_at, deadline, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                     $14, $15, $16, $17, 'in_progress')",
                )
                .bind(&p.paper_id)
                .bind(booking)
                .bind(seat)
                .bind(&p.exam_id)
                .bind(&p.exam_def)
                .bind(&p.exam_name)
                .bind(i64::from(p.minutes))
                .bind(p.pass_score.map(i64::from))
                .bind(i64::from(p.max_score))
                .bind(&p.bank_version)
                .bind(p.seed.to_string())
                .bind(&p.paper_sha256)
                .bind(&p.items)
                .bind(p.item_ids.len() as i64)
                .bind(&p.language)
                .bind(now)
                .bind(deadline)
                .execute(&mut **tx)
                .await?;
                for chunk in p.item_ids.chunks(200) {
                    let values: Vec<String> =
                        (0..chunk.len()).map(|i| format!("(${}, 1, ${})", i + 2, 1)).collect();
                    let sql = format!(
                        "INSERT INTO exam_exposure (item_id, drawn, last_drawn) VALUES {} \
                         ON CONFLICT (item_id) DO UPDATE SET drawn = exam_exposure.drawn + 1, last_drawn = $1",
                        values.join(", ")
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(now);
                    for id in chunk {
                        q = q.bind(id);
                    }
                    q.execute(&mut **tx).await?;
                }
                let detail = format!(
                    "paper {} drawn at seat {seat}: exam {}, seed {}, bank version {}, paper_sha256 {}, {} items, \
                     language {}, deadline {deadline}",
                    p.paper_id,
                    p.exam_id,
                    p.seed,
                    p.bank_version,
                    p.paper_sha256,
                    p.item_ids.len(),
                    p.language
                );
                append(tx, &entry(actor, Action::PaperDrawn, subject(booking), detail), now).await?;
                let command =
                    Command::ExamReady { booking_number: booking.to_owned(), paper_id: p.paper_id.clone() };
                let command = queue(tx, &p.command_id, seat, &command, now).await?;
                let paper = load_paper(tx, &p.paper_id).await?.ok_or_else(|| {
                    StoreError::Invalid(format!("paper {} vanished in its own transaction", p.paper_id))
                })?;
                Ok(Admission { paper: Some(paper), drawn: true, command, alert: None })
            }

            async fn held(tx: &mut Tx, paper_id: &str) -> Result<Answers, StoreError> {
                let rows: Vec<(String, String)> =
                    sqlx::query_as("SELECT item_id, choices FROM exam_answers WHERE paper_id = $1")
                        .bind(paper_id)
                        .fetch_all(&mut **tx)
                        .await?;
                let mut answers = Answers::new();
                for (item, choices) in rows {
                    let choices = parse_choices(&choices)?;
                    if !choices.is_empty() {
                        answers.insert(item, choices);
                    }
                }
                Ok(answers)
            }

            #[async_trait]
            impl ExamStore for $Store {
                async fn candidate_exam(&self, booking: &str) -> Result<Option<String>, StoreError> {
                    let exam: Option<Option<String>> =
                        sqlx::query_scalar("SELECT exam FROM candidates WHERE booking_number = $1")
                            .bind(booking)
                            .fetch_optional(&self.reader)
                            .await?;
                    Ok(exam.flatten())
                }

                async fn paper(&self, paper_id: &str) -> Result<Option<PaperRow>, StoreError> {
                    let sql = format!("SELECT {PAPER_COLUMNS} FROM exam_papers p WHERE p.paper_id = $1");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(paper_id).fetch_optional(&self.reader).await?;
                    row.as_ref().map(paper_from_row).transpose()
                }

                async fn paper_of_booking(&self, booking: &str) -> Result<Option<PaperRow>, StoreError> {
                    let sql = format!("SELECT {PAPER_COLUMNS} FROM exam_papers p WHERE p.booking_number = $1");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(booking).fetch_optional(&self.reader).await?;
                    row.as_ref().map(paper_from_row).transpose()
                }

                async fn seat_paper(&self, seat: &str, exam_date: &str) -> Result<Option<PaperRow>, StoreError> {
                    let sql = format!(
                        "SELECT {PAPER_COLUMNS} FROM exam_papers p JOIN candidates c \
                         ON c.booking_number = p.booking_number WHERE c.seat_no = $1 AND p.seat_no = $1 \
                         AND c.state = 'admitted' AND c.exam_date = $2 ORDER BY p.drawn_at DESC"
                    );
                    let row = sqlx::query(AssertSqlSafe(sql))
                        .bind(seat)
                        .bind(exam_date)
                        .fetch_optional(&self.reader)
                        .await?;
                    row.as_ref().map(paper_from_row).transpose()
                }

                async fn held_answers(&self, paper_id: &str) -> Result<Vec<HeldAnswerRow>, StoreError> {
                    let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
                        "SELECT item_id, choices, seq, answered_at, received_at FROM exam_answers \
                         WHERE paper_id = $1 ORDER BY item_id",
                    )
                    .bind(paper_id)
                    .fetch_all(&self.reader)
                    .await?;
                    rows.into_iter()
                        .map(|(item_id, choices, seq, answered_at, received_at)| {
                            Ok(HeldAnswerRow {
                                item_id,
                                choices: parse_choices(&choices)?,
                                seq: u64::try_from(seq).unwrap_or(0),
                                answered_at,
                                received_at,
                            })
                        })
                        .collect()
                }

                async fn record_answer(&self, a: NewExamAnswer, now: i64) -> Result<AnswerOutcome, StoreError> {
                    let mut tx = self.begin_write().await?;
                    read_head(&mut tx).await?;
                    let before: Option<(String, i64)> = sqlx::query_as(
                        "SELECT body_sha256, received_at FROM exam_answer_log \
                         WHERE paper_id = $1 AND idempotency_key = $2",
                    )
                    .bind(&a.paper_id)
                    .bind(&a.idempotency_key)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some((body, received_at)) = before {
                        return Ok(if body == a.body_sha256 {
                            AnswerOutcome::Duplicate { received_at }
                        } else {
                            AnswerOutcome::Conflict
                        });
                    }
                    let actor = format!("agent:{}", a.key_id);
                    let Some(paper) = load_paper(&mut tx, &a.paper_id).await? else {
                        return Ok(AnswerOutcome::Refused(ExamRefusal::new(
                            "unknown_paper",
                            format!("no paper {}", a.paper_id),
                        )));
                    };
                    let (state, candidate_seat) = holder_of(&mut tx, &paper.booking_number).await?;
                    let holder = Holder {
                        booking_number: &paper.booking_number,
                        paper_seat: &paper.seat,
                        candidate_state: state,
                        candidate_seat: candidate_seat.as_deref(),
                    };
                    let open = Open {
                        closed: paper.state == PaperState::Submitted,
                        deadline: paper.deadline,
                        grace_ms: a.grace_ms,
                    };
                    let sender = Sender { booking_number: &a.booking_number, seat: &a.seat };
                    let items = paper.drawn_items()?;
                    let checked = attempt::check_sender(&holder, &sender)
                        .and_then(|()| attempt::check_open(&open, now))
                        .and_then(|()| attempt::check_choices(&items, &a.item_id, &a.choices));
                    if let Err(r) = checked {
                        let what = format!("answer to {} of paper {} (seq {})", a.item_id, a.paper_id, a.seq);
                        refuse(&mut tx, &actor, &a.booking_number, &what, &r, now).await?;
                        tx.commit().await?;
                        return Ok(AnswerOutcome::Refused(r));
                    }
                    let seq = i64::try_from(a.seq).unwrap_or(i64::MAX);
                    let choices = choices_json(&a.choices);
                    let held_seq: Option<i64> =
                        sqlx::query_scalar("SELECT seq FROM exam_answers WHERE paper_id = $1 AND item_id = $2")
                            .bind(&a.paper_id)
                            .bind(&a.item_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let applied = held_seq.is_none_or(|h| seq > h);
                    if applied {
                        sqlx::query(
                            "INSERT INTO exam_answers (paper_id, item_id, choices, seq, answered_at, received_at, \
                             idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                             ON CONFLICT (paper_id, item_id) DO UPDATE SET choices = $3, seq = $4, \
                             answered_at = $5, received_at = $6, idempotency_key = $7",
                        )
                        .bind(&a.paper_id)
                        .bind(&a.item_id)
                        .bind(&choices)
                        .bind(seq)
                        .bind(a.answered_at)
                        .bind(now)
                        .bind(&a.idempotency_key)
                        .execute(&mut *tx)
                        .await?;
                    }
                    sqlx::query(
                        "INSERT INTO exam_answer_log (paper_id, idempotency_key, item_id, choices, seq, answered_at, \
                         received_at, key_id, body_sha256, applied) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&a.paper_id)
                    .bind(&a.idempotency_key)
                    .bind(&a.item_id)
                    .bind(&choices)
                    .bind(seq)
                    .bind(a.answered_at)
                    .bind(now)
                    .bind(&a.key_id)
                    .bind(&a.body_sha256)
                    .bind(i64::from(applied))
                    .execute(&mut *tx)
                    .await?;
                    let kept = if applied { "held" } else { "logged; a higher seq is held" };
                    let detail = format!(
                        "answer to {} of paper {} at seat {}: {} (seq {}, {kept})",
                        a.item_id,
                        a.paper_id,
                        a.seat,
                        if a.choices.is_empty() { "cleared".to_owned() } else { a.choices.join(",") },
                        a.seq
                    );
                    append(&mut tx, &entry(&actor, Action::ExamAnswer, subject(&a.booking_number), detail), now)
                        .await?;
                    let answered: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM exam_answers WHERE paper_id = $1 AND choices <> '[]'",
                    )
                    .bind(&a.paper_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    let (answered, paper) = (count(answered), Box::new(paper));
                    Ok(AnswerOutcome::Stored { received_at: now, applied, answered, paper })
                }

                async fn close_paper(
                    &self,
                    c: ClosePaper,
                    scorer: Scorer<'_>,
                    now: i64,
                ) -> Result<CloseOutcome, StoreError> {
                    let mut tx = self.begin_write().await?;
                    read_head(&mut tx).await?;
                    if let Some(s) = &c.from_seat {
                        let before: Option<String> = sqlx::query_scalar(
                            "SELECT body_sha256 FROM exam_submissions WHERE paper_id = $1 AND idempotency_key = $2",
                        )
                        .bind(&c.paper_id)
                        .bind(&s.idempotency_key)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if let Some(body) = before {
                            if body != s.body_sha256 {
                                return Ok(CloseOutcome::Conflict);
                            }
                            let paper = load_paper(&mut tx, &c.paper_id).await?.ok_or_else(|| {
                                StoreError::NotFound(format!("no paper {}", c.paper_id))
                            })?;
                            return Ok(CloseOutcome::AlreadyClosed { paper: Box::new(paper) });
                        }
                    }
                    let Some(paper) = load_paper(&mut tx, &c.paper_id).await? else {
                        return Ok(CloseOutcome::Refused(ExamRefusal::new(
                            "unknown_paper",
                            format!("no paper {}", c.paper_id),
                        )));
                    };
                    if let Some(s) = &c.from_seat {
                        let (state, candidate_seat) = holder_of(&mut tx, &paper.booking_number).await?;
                        let holder = Holder {
                            booking_number: &paper.booking_number,
                            paper_seat: &paper.seat,
                            candidate_state: state,
                            candidate_seat: candidate_seat.as_deref(),
                        };
                        let sender = Sender { booking_number: &s.booking_number, seat: &s.seat };
                        if let Err(r) = attempt::check_sender(&holder, &sender) {
                            let what = format!("submission of paper {}", c.paper_id);
                            refuse(&mut tx, &c.actor, &s.booking_number, &what, &r, now).await?;
                            tx.commit().await?;
                            return Ok(CloseOutcome::Refused(r));
                        }
                        // Kept whether or not it closes the paper: a retry is then a duplicate.
                        sqlx::query(
                            "INSERT INTO exam_submissions (paper_id, idempotency_key, seq, reason, received_at, \
                             key_id, body_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        )
                        .bind(&c.paper_id)
                        .bind(&s.idempotency_key)
                        .bind(i64::try_from(s.seq).unwrap_or(i64::MAX))
                        .bind(c.reason.as_str())
                        .bind(now)
                        .bind(&s.key_id)
                        .bind(&s.body_sha256)
                        .execute(&mut *tx)
                        .await?;
                    }
                    if paper.state == PaperState::Submitted {
                        tx.commit().await?;
                        return Ok(CloseOutcome::AlreadyClosed { paper: Box::new(paper) });
                    }
                    let answers = held(&mut tx, &c.paper_id).await?;
                    let scored = scorer(&answers).map_err(|e| {
                        StoreError::Invalid(format!("paper {} cannot be scored: {e}", c.paper_id))
                    })?;
                    sqlx::query(
                        "UPDATE exam_papers SET state = 'submitted', submitted_at = $1, reason = $2, score = $3, \
                         passed = $4, answered = $5 WHERE paper_id = $6",
                    )
                    .bind(now)
                    .bind(c.reason.as_str())
                    .bind(i64::from(scored.score))
                    .bind(scored.passed.map(i64::from))
                    .bind(i64::from(scored.answered))
                    .bind(&c.paper_id)
                    .execute(&mut *tx)
                    .await?;
                    let booking = paper.booking_number.clone();
                    let detail = format!(
                        "paper {} submitted ({}) with {} of {} items answered",
                        c.paper_id,
                        c.reason.as_str(),
                        scored.answered,
                        paper.item_count
                    );
                    append(&mut tx, &entry(&c.actor, Action::ExamSubmitted, subject(&booking), detail), now).await?;
                    let passed = match scored.passed {
                        Some(true) => "passed",
                        Some(false) => "failed",
                        None => "no pass score",
                    };
                    let detail = format!(
                        "paper {} scored by the server from its stored answers: {} of {}, {passed}",
                        c.paper_id, scored.score, scored.max_score
                    );
                    append(&mut tx, &entry("server", Action::ExamScored, subject(&booking), detail), now).await?;
                    let command =
                        Command::ExamResult { booking_number: booking.clone(), paper_id: c.paper_id.clone() };
                    let command = queue(&mut tx, &c.command_id, &paper.seat, &command, now).await?;
                    if let Some(f) = &c.forced {
                        let command_id = command.as_ref().map(|r| r.id.clone());
                        let kind = crate::store::exam_invigilation::FORCED;
                        super::invigilation_sql::write_action(
                            &mut tx, &paper, kind, f, None, None, paper.deadline, command_id, now,
                        )
                        .await?;
                        let detail = format!("paper {}: submission forced ({}): {}", c.paper_id, f.reason, f.note);
                        append(&mut tx, &entry(&f.actor, Action::ExamForced, subject(&booking), detail), now).await?;
                    }
                    let paper = load_paper(&mut tx, &c.paper_id).await?.ok_or_else(|| {
                        StoreError::Invalid(format!("paper {} vanished in its own transaction", c.paper_id))
                    })?;
                    tx.commit().await?;
                    Ok(CloseOutcome::Closed { paper: Box::new(paper), command })
                }

                async fn overdue_papers(&self, before: i64) -> Result<Vec<String>, StoreError> {
                    Ok(sqlx::query_scalar(
                        "SELECT paper_id FROM exam_papers WHERE state = 'in_progress' AND deadline < $1 \
                         AND paper_id NOT IN (SELECT paper_id FROM exam_pauses) ORDER BY deadline, paper_id",
                    )
                    .bind(before)
                    .fetch_all(&self.reader)
                    .await?)
                }

                async fn paper_progress(&self, exam_date: Option<&str>) -> Result<Vec<PaperProgress>, StoreError> {
                    let sql = format!(
                        "SELECT {PAPER_COLUMNS}, c.name, c.session, c.exam_date, \
                         (SELECT COUNT(*) FROM exam_answers a WHERE a.paper_id = p.paper_id AND a.choices <> '[]') \
                         FROM exam_papers p JOIN candidates c ON c.booking_number = p.booking_number \
                         WHERE $1 IS NULL OR c.exam_date = $1 ORDER BY c.session, p.seat_no, p.booking_number"
                    );
                    let rows = sqlx::query(AssertSqlSafe(sql)).bind(exam_date).fetch_all(&self.reader).await?;
                    rows.iter()
                        .map(|row| {
                            Ok(PaperProgress {
                                paper: paper_from_row(row)?,
                                name: row.try_get(23)?,
                                session: row.try_get(24)?,
                                exam_date: row.try_get(25)?,
                                answered: count(row.try_get(26)?),
                            })
                        })
                        .collect()
                }

                async fn exposure(&self) -> Result<Vec<(String, i64, i64)>, StoreError> {
                    Ok(sqlx::query_as(
                        "SELECT item_id, drawn, last_drawn FROM exam_exposure ORDER BY drawn DESC, item_id",
                    )
                    .fetch_all(&self.reader)
                    .await?)
                }

                async fn move_deadline(
                    &self,
                    paper_id: &str,
                    deadline: i64,
                    actor: &str,
                    why: &str,
                    now: i64,
                ) -> Result<PaperRow, StoreError> {
                    let mut tx = self.begin_write().await?;
                    read_head(&mut tx).await?;
                    let paper = load_paper(&mut tx, paper_id)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("no paper {paper_id}")))?;
                    if paper.state == PaperState::Submitted {
                        return Err(StoreError::Conflict(format!("paper {paper_id} is already submitted")));
                    }
                    sqlx::query("UPDATE exam_papers SET deadline = $1 WHERE paper_id = $2")
                        .bind(deadline)
                        .bind(paper_id)
                        .execute(&mut *tx)
                        .await?;
                    let detail =
                        format!("paper {paper_id}: deadline moved from {} to {deadline}: {why}", paper.deadline);
                    let booking = paper.booking_number.clone();
                    append(&mut tx, &entry(actor, Action::ExamDeadlineMoved, subject(&booking), detail), now).await?;
                    tx.commit().await?;
                    Ok(PaperRow { deadline, ..paper })
                }
            }

        }
    };
}

pub(super) use exam_store;
