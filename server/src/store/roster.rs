//! The day's roster in the store: imports (all or nothing), candidates with
//! their sealed photo and templates, and the purge after the exam.
//!
//! Candidate state changes at login (claim, verify, decide) are the login
//! store's; this trait only imports, reads and purges.

use async_trait::async_trait;
use examgate_protocol::login::CandidateState;

use super::StoreError;

/// One roster file being imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewImport {
    pub id: String,
    /// `user:EXAMINER+INVIGILATOR` or `cli`.
    pub actor: String,
    /// The roster file's name as given (`roster.csv`).
    pub source: String,
    /// SHA-256 (hex) of the roster file's bytes.
    pub sha256: String,
}

/// A validated booking, its personal data already sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCandidate {
    pub booking_number: String,
    pub id_number: String,
    pub name: String,
    /// As given, e.g. `2026-11-25 09:00`.
    pub session: String,
    /// `YYYY-MM-DD`, the session's date.
    pub exam_date: String,
    /// Canonical language code (`zh-CN`, `en`, …, `mn-Mong`, `ug`, `kk-Arab`).
    pub language: String,
    /// Sealed photo ([`aad::photo`](crate::seal::aad::photo)).
    pub photo: String,
    /// Sealed JSON `[{"format","data"}]` ([`aad::templates`](crate::seal::aad::templates)).
    pub templates: String,
    pub template_count: u32,
    /// Unix ms after which the photo and templates are purged.
    pub purge_at: i64,
    /// The exam definition the roster names (`None`: `[exam] default` at admission).
    pub exam: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    pub import_id: String,
    pub rows: u64,
    /// Bookings that were already stored (still `booked`) and were replaced.
    pub replaced: u64,
}

/// A candidate as the roster list shows them: no sealed data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandidateRow {
    pub booking_number: String,
    pub id_number: String,
    pub name: String,
    pub session: String,
    pub exam_date: String,
    pub language: String,
    pub state: CandidateState,
    /// `card_at_console` or `seat`; `None` while booked.
    pub mode: Option<String>,
    pub seat_no: Option<String>,
    pub failures: u32,
    /// `false` once purged.
    pub has_photo: bool,
    pub template_count: u32,
    pub purge_at: i64,
    pub purged_at: Option<i64>,
}

/// A candidate with their sealed photo and templates (`None` once purged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub booking_number: String,
    pub id_number: String,
    pub name: String,
    pub session: String,
    pub exam_date: String,
    pub language: String,
    /// Sealed; open with [`Sealer::open`](crate::seal::Sealer::open) and [`aad::photo`](crate::seal::aad::photo).
    pub photo: Option<String>,
    /// Sealed JSON `[{"format","data"}]`; [`aad::templates`](crate::seal::aad::templates).
    pub templates: Option<String>,
    pub template_count: u32,
    pub import_id: String,
    pub purge_at: i64,
    pub purged_at: Option<i64>,
    pub state: CandidateState,
    pub mode: Option<String>,
    pub seat_no: Option<String>,
    pub failures: u32,
    pub updated_at: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeSummary {
    /// Candidates whose photo and templates were removed.
    pub candidates: u64,
    /// Verification bodies (live templates) removed.
    pub verifications: u64,
}

/// The `state` column's text.
pub fn candidate_state_str(state: CandidateState) -> &'static str {
    match state {
        CandidateState::Booked => "booked",
        CandidateState::Assigned => "assigned",
        CandidateState::Verifying => "verifying",
        CandidateState::WaitingForExaminer => "waiting_for_examiner",
        CandidateState::Admitted => "admitted",
        CandidateState::Refused => "refused",
    }
}

pub fn parse_candidate_state(s: &str) -> Result<CandidateState, StoreError> {
    Ok(match s {
        "booked" => CandidateState::Booked,
        "assigned" => CandidateState::Assigned,
        "verifying" => CandidateState::Verifying,
        "waiting_for_examiner" => CandidateState::WaitingForExaminer,
        "admitted" => CandidateState::Admitted,
        "refused" => CandidateState::Refused,
        other => return Err(StoreError::Invalid(format!("stored candidate state {other:?} is unknown"))),
    })
}

/// Why a stored booking cannot be replaced by an import (`None`: it can).
pub fn replace_refusal(state: CandidateState) -> Option<&'static str> {
    match state {
        CandidateState::Booked => None,
        CandidateState::Assigned | CandidateState::Verifying | CandidateState::WaitingForExaminer => {
            Some("this booking is already at a seat; it cannot be replaced today")
        }
        CandidateState::Admitted => Some("this candidate has been admitted; the booking cannot be replaced"),
        CandidateState::Refused => Some("this candidate was refused by the examiner; the booking cannot be replaced"),
    }
}

#[async_trait]
pub trait RosterStore: Send + Sync + 'static {
    /// Writes the import row, every candidate (state `booked`) and one audit
    /// row in one transaction. A stored booking still `booked` is replaced;
    /// one in any other state, or an ID number booked twice on one date, fails
    /// the whole import with [`StoreError::Conflict`].
    async fn import_roster(
        &self,
        import: NewImport,
        rows: Vec<NewCandidate>,
        now: i64,
    ) -> Result<ImportSummary, StoreError>;
    /// The candidates of one exam date (or all), by session then booking number.
    async fn candidates(&self, date: Option<&str>) -> Result<Vec<CandidateRow>, StoreError>;
    async fn candidate(&self, booking_number: &str) -> Result<Option<Candidate>, StoreError>;
    /// The booking of this ID number on `exam_date` (at most one: imports refuse a second).
    async fn candidate_by_id_number(&self, id_number: &str, exam_date: &str) -> Result<Option<Candidate>, StoreError>;
    /// Removes the photos, templates and verification bodies due by `now`;
    /// audits it (`roster_purged`) when there was anything to remove.
    async fn purge_roster(&self, now: i64) -> Result<PurgeSummary, StoreError>;
}

/// Columns of a candidate, for `candidate_from_row`.
pub(super) const CANDIDATE_COLUMNS: &str = "booking_number, id_number, name, session, exam_date, language, photo, \
     templates, template_count, import_id, purge_at, purged_at, state, mode, seat_no, failures, updated_at";

/// Columns of a roster list row, for `candidate_row_from_row`.
pub(super) const CANDIDATE_ROW_COLUMNS: &str = "booking_number, id_number, name, session, exam_date, language, \
     state, mode, seat_no, failures, photo IS NOT NULL, template_count, purge_at, purged_at";

pub(super) fn roster_count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// `impl RosterStore` for a store made by `sql_store!` (it uses that macro's
/// `Tx` and `append`): one SQL text for both databases.
macro_rules! roster_store {
    ($Store:ident, $Row:ty) => {
        mod roster_sql {
            use async_trait::async_trait;
            use sqlx::{AssertSqlSafe, Row as _};

            use super::{$Store, Tx, append};
            use crate::audit::Action;
            use examgate_protocol::login::CandidateState;
            use crate::store::roster::{CANDIDATE_COLUMNS, CANDIDATE_ROW_COLUMNS, roster_count};
            use crate::store::*;

            /// A row of [`CANDIDATE_COLUMNS`]; the login store reads candidates with it too.
            pub(super) fn candidate_from_row(row: &$Row) -> Result<Candidate, StoreError> {
                let state: String = row.try_get(12)?;
                Ok(Candidate {
                    booking_number: row.try_get(0)?,
                    id_number: row.try_get(1)?,
                    name: row.try_get(2)?,
                    session: row.try_get(3)?,
                    exam_date: row.try_get(4)?,
                    language: row.try_get(5)?,
                    photo: row.try_get(6)?,
                    templates: row.try_get(7)?,
                    template_count: roster_count(row.try_get(8)?),
                    import_id: row.try_get(9)?,
                    purge_at: row.try_get(10)?,
                    purged_at: row.try_get(11)?,
                    state: parse_candidate_state(&state)?,
                    mode: row.try_get(13)?,
                    seat_no: row.try_get(14)?,
                    failures: roster_count(row.try_get(15)?),
                    updated_at: row.try_get(16)?,
                })
            }

            fn candidate_row_from_row(row: &$Row) -> Result<CandidateRow, StoreError> {
                let state: String = row.try_get(6)?;
                Ok(CandidateRow {
                    booking_number: row.try_get(0)?,
                    id_number: row.try_get(1)?,
                    name: row.try_get(2)?,
                    session: row.try_get(3)?,
                    exam_date: row.try_get(4)?,
                    language: row.try_get(5)?,
                    state: parse_candidate_state(&state)?,
                    mode: row.try_get(7)?,
                    seat_no: row.try_get(8)?,
                    failures: roster_count(row.try_get(9)?),
                    has_photo: row.try_get(10)?,
                    template_count: roster_count(row.try_get(11)?),
                    purge_at: row.try_get(12)?,
                    purged_at: row.try_get(13)?,
                })
            }

            async fn stored_state(tx: &mut Tx, booking: &str) -> Result<Option<CandidateState>, StoreError> {
                let state: Option<String> = sqlx::query_scalar("SELECT state FROM candidates WHERE booking_number = $1")
                    .bind(booking)
                    .fetch_optional(&mut **tx)
                    .await?;
                state.as_deref().map(parse_candidate_state).transpose()
            }

            #[async_trait]
            impl RosterStore for $Store {
                async fn import_roster(
                    &self,
                    import: NewImport,
                    rows: Vec<NewCandidate>,
                    now: i64,
                ) -> Result<ImportSummary, StoreError> {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(
                        "INSERT INTO roster_imports (id, at, actor, source, sha256, rows) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&import.id)
                    .bind(now)
                    .bind(&import.actor)
                    .bind(&import.source)
                    .bind(&import.sha256)
                    .bind(rows.len() as i64)
                    .execute(&mut *tx)
                    .await?;
                    let mut replaced = 0u64;
                    for c in &rows {
                        match stored_state(&mut tx, &c.booking_number).await? {
                            None => {}
                            Some(state) => {
                                if let Some(why) = replace_refusal(state) {
                                    return Err(StoreError::Conflict(format!("booking {}: {why}", c.booking_number)));
                                }
                                sqlx::query("DELETE FROM candidates WHERE booking_number = $1")
                                    .bind(&c.booking_number)
                                    .execute(&mut *tx)
                                    .await?;
                                replaced += 1;
                            }
                        }
                        sqlx::query(
                            "INSERT INTO candidates (booking_number, id_number, name, session, exam_date, language, \
                             photo, templates, template_count, import_id, purge_at, purged_at, state, mode, seat_no, \
                             failures, updated_at, exam) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, \
                             'booked', NULL, NULL, 0, $12, $13)",
                        )
                        .bind(&c.booking_number)
                        .bind(&c.id_number)
                        .bind(&c.name)
                        .bind(&c.session)
                        .bind(&c.exam_date)
                        .bind(&c.language)
                        .bind(&c.photo)
                        .bind(&c.templates)
                        .bind(i64::from(c.template_count))
                        .bind(&import.id)
                        .bind(c.purge_at)
                        .bind(now)
                        .bind(&c.exam)
                        .execute(&mut *tx)
                        .await?;
                    }
                    // After all rows are in, so that a file swapping two bookings' ID numbers passes.
                    for c in &rows {
                        let others: Vec<String> = sqlx::query_scalar(
                            "SELECT booking_number FROM candidates WHERE id_number = $1 AND exam_date = $2 \
                             AND booking_number <> $3 ORDER BY booking_number",
                        )
                        .bind(&c.id_number)
                        .bind(&c.exam_date)
                        .bind(&c.booking_number)
                        .fetch_all(&mut *tx)
                        .await?;
                        if let Some(other) = others.first() {
                            return Err(StoreError::Conflict(format!(
                                "booking {}: the same ID number is already booked on {} (booking {other})",
                                c.booking_number, c.exam_date
                            )));
                        }
                    }
                    let detail = format!(
                        "roster {:?} imported: {} rows, {replaced} replaced, sha256 {}",
                        import.source,
                        rows.len(),
                        import.sha256
                    );
                    let subject = format!("roster:{}", import.id);
                    append(&mut tx, &entry(&import.actor, Action::RosterImported, subject, detail), now).await?;
                    tx.commit().await?;
                    Ok(ImportSummary { import_id: import.id, rows: rows.len() as u64, replaced })
                }

                async fn candidates(&self, date: Option<&str>) -> Result<Vec<CandidateRow>, StoreError> {
                    let sql = format!(
                        "SELECT {CANDIDATE_ROW_COLUMNS} FROM candidates WHERE ($1 IS NULL OR exam_date = $1) \
                         ORDER BY session, booking_number"
                    );
                    let rows = sqlx::query(AssertSqlSafe(sql)).bind(date).fetch_all(&self.reader).await?;
                    rows.iter().map(candidate_row_from_row).collect()
                }

                async fn candidate(&self, booking_number: &str) -> Result<Option<Candidate>, StoreError> {
                    let sql = format!("SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE booking_number = $1");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(booking_number).fetch_optional(&self.reader).await?;
                    row.as_ref().map(candidate_from_row).transpose()
                }

                async fn candidate_by_id_number(
                    &self,
                    id_number: &str,
                    exam_date: &str,
                ) -> Result<Option<Candidate>, StoreError> {
                    let sql = format!(
                        "SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE id_number = $1 AND exam_date = $2 \
                         ORDER BY booking_number"
                    );
                    let row = sqlx::query(AssertSqlSafe(sql))
                        .bind(id_number)
                        .bind(exam_date)
                        .fetch_optional(&self.reader)
                        .await?;
                    row.as_ref().map(candidate_from_row).transpose()
                }

                async fn purge_roster(&self, now: i64) -> Result<PurgeSummary, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let due: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM candidates WHERE purged_at IS NULL AND purge_at <= $1",
                    )
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    if due == 0 {
                        return Ok(PurgeSummary::default());
                    }
                    let verifications = sqlx::query(
                        "UPDATE verifications SET body = NULL WHERE body IS NOT NULL AND booking_number IN \
                         (SELECT booking_number FROM candidates WHERE purged_at IS NULL AND purge_at <= $1)",
                    )
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    let candidates = sqlx::query(
                        "UPDATE candidates SET photo = NULL, templates = NULL, purged_at = $1, updated_at = $1 \
                         WHERE purged_at IS NULL AND purge_at <= $1",
                    )
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    let detail = format!(
                        "purged the photos and templates of {candidates} candidates and {verifications} \
                         verification bodies"
                    );
                    append(&mut tx, &entry("server", Action::RosterPurged, "roster".into(), detail), now).await?;
                    tx.commit().await?;
                    Ok(PurgeSummary { candidates, verifications })
                }
            }
        }
    };
}

pub(super) use roster_store;
