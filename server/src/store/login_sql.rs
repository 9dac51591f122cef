//! The SQL of [`LoginStore`](super::LoginStore), written once for both
//! databases and instantiated beside `sql_store!` by [`login_store!`].

/// `impl LoginStore` for a store made by `sql_store!` (it uses that macro's
/// `Tx`, `append`, `insert_alert` and `read_head`, and `roster_store!`'s
/// `candidate_from_row`): one SQL text for both databases.
macro_rules! login_store {
    ($Store:ident, $Row:ty) => {
        mod login_sql {
            use async_trait::async_trait;
            use examgate_protocol::link::Command;
            use examgate_protocol::login::{CandidateState, Decision};
            use sqlx::{AssertSqlSafe, Row as _};

            use super::roster_sql::candidate_from_row;
            use super::{$Store, Tx, append, insert_alert, open_alert, read_head};
            use crate::audit::Action;
            use crate::login::assign::{self, FreeSeat};
            use crate::login::rules::{self, ClaimStep, Incumbent, MODE_CARD_AT_CONSOLE, MODE_SEAT, Proof, Standing};
            use crate::login::Conflict;
            use crate::store::login::*;
            use crate::store::roster::{CANDIDATE_COLUMNS, roster_count};
            use crate::store::sql::seat_order;
            use crate::store::*;

            const AT_A_SEAT_SQL: &str = "('assigned', 'verifying', 'waiting_for_examiner', 'admitted')";

            fn verification_from_row(row: &$Row) -> Result<VerificationRow, StoreError> {
                let verdict: String = row.try_get(9)?;
                let server_score: Option<i64> = row.try_get(8)?;
                Ok(VerificationRow {
                    id: row.try_get(0)?,
                    booking_number: row.try_get(1)?,
                    seat: row.try_get(2)?,
                    key_id: row.try_get(3)?,
                    attempt: roster_count(row.try_get(4)?),
                    live_format: row.try_get(5)?,
                    enrolled_index: roster_count(row.try_get(6)?),
                    score: score(row.try_get(7)?),
                    server_score: server_score.map(score),
                    verdict: StoredVerdict::parse(&verdict)?,
                    snapshot_sha256: row.try_get(10)?,
                    body: row.try_get(11)?,
                    body_sha256: row.try_get(12)?,
                    signature: row.try_get(13)?,
                    captured_at: row.try_get(14)?,
                    received_at: row.try_get(15)?,
                })
            }

            fn score(n: i64) -> i32 {
                i32::try_from(n).unwrap_or(-1)
            }

            fn standing(c: &Candidate) -> Standing<'_> {
                Standing { state: c.state, seat: c.seat_no.as_deref() }
            }

            fn subject(booking: &str) -> String {
                format!("candidate:{booking}")
            }

            /// Locks the audit head (so claims are decided one at a time) and reads the candidate.
            async fn lock_candidate(tx: &mut Tx, booking: &str) -> Result<Candidate, LoginError> {
                read_head(tx).await?;
                load_candidate(tx, booking).await?.ok_or_else(|| {
                    LoginError::Store(StoreError::NotFound(format!("no booking {booking} in the roster")))
                })
            }

            async fn load_candidate(tx: &mut Tx, booking: &str) -> Result<Option<Candidate>, StoreError> {
                let sql = format!("SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE booking_number = $1");
                let row = sqlx::query(AssertSqlSafe(sql)).bind(booking).fetch_optional(&mut **tx).await?;
                row.as_ref().map(candidate_from_row).transpose()
            }

            /// Sets the candidate's state, mode and seat; `updated_at` moves only with the state.
            async fn set_state(
                tx: &mut Tx,
                c: &Candidate,
                state: CandidateState,
                mode: Option<&str>,
                seat: Option<&str>,
                failures: u32,
                now: i64,
            ) -> Result<Candidate, StoreError> {
                let updated_at = if state == c.state && seat == c.seat_no.as_deref() { c.updated_at } else { now };
                sqlx::query(
                    "UPDATE candidates SET state = $1, mode = $2, seat_no = $3, failures = $4, updated_at = $5 \
                     WHERE booking_number = $6",
                )
                .bind(candidate_state_str(state))
                .bind(mode)
                .bind(seat)
                .bind(i64::from(failures))
                .bind(updated_at)
                .bind(&c.booking_number)
                .execute(&mut **tx)
                .await?;
                Ok(Candidate {
                    state,
                    mode: mode.map(str::to_owned),
                    seat_no: seat.map(str::to_owned),
                    failures,
                    updated_at,
                    ..c.clone()
                })
            }

            /// An `examiner_needed` alert and its audit row.
            async fn examiner_needed(
                tx: &mut Tx,
                actor: &str,
                seat: &str,
                key_id: &str,
                booking: Option<&str>,
                why: String,
                now: i64,
            ) -> Result<Alert, StoreError> {
                let message = format!("seat {seat} needs the examiner: {why}");
                let alert = NewAlert {
                    seat: Some(seat.to_owned()),
                    key_id: Some(key_id.to_owned()),
                    kind: "examiner_needed".into(),
                    message: message.clone(),
                    at: now,
                };
                let subject = booking.map_or_else(|| format!("seat:{seat}"), subject);
                append(tx, &entry(actor, Action::ExaminerNeeded, subject, message), now).await?;
                insert_alert(tx, alert).await
            }

            /// Queues a command for the PC bound to `seat`; `None` if no PC holds it.
            pub(super) async fn queue(
                tx: &mut Tx,
                id: &str,
                seat: &str,
                command: &Command,
                now: i64,
            ) -> Result<Option<CommandRow>, StoreError> {
                let key_id: Option<String> = sqlx::query_scalar("SELECT key_id FROM seats WHERE seat_no = $1")
                    .bind(seat)
                    .fetch_optional(&mut **tx)
                    .await?;
                let Some(key_id) = key_id else { return Ok(None) };
                let body = serde_json::to_string(command).map_err(|e| StoreError::Invalid(e.to_string()))?;
                sqlx::query("INSERT INTO commands (id, seat_no, key_id, body, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(id)
                    .bind(seat)
                    .bind(&key_id)
                    .bind(&body)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                Ok(Some(CommandRow {
                    id: id.to_owned(),
                    seat: seat.to_owned(),
                    key_id,
                    body,
                    created_at: now,
                    acked_at: None,
                }))
            }

            #[async_trait]
            impl LoginStore for $Store {
                async fn claim_candidate(&self, c: Claim, now: i64) -> Result<Claimed, LoginError> {
                    let mut tx = self.begin_write().await?;
                    let candidate = lock_candidate(&mut tx, &c.booking_number).await?;
                    if rules::claim(standing(&candidate), &c.seat)? == ClaimStep::AlreadyHere {
                        return Ok(Claimed { candidate, changed: false, released: None });
                    }
                    let actor = format!("agent:{}", c.key_id);
                    let sql = format!(
                        "SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE seat_no = $1 AND exam_date = $2 \
                         AND booking_number <> $3 AND state IN {AT_A_SEAT_SQL} ORDER BY booking_number"
                    );
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .bind(&c.seat)
                        .bind(&candidate.exam_date)
                        .bind(&candidate.booking_number)
                        .fetch_all(&mut *tx)
                        .await?;
                    let mut released = None;
                    for row in &rows {
                        let other = candidate_from_row(row)?;
                        match rules::seat_takes_another(other.state, &c.seat)? {
                            Incumbent::Release => {
                                let detail = format!(
                                    "released from seat {}: another candidate was looked up there",
                                    c.seat
                                );
                                let subject = subject(&other.booking_number);
                                append(&mut tx, &entry(&actor, Action::CandidateReleased, subject, detail), now)
                                    .await?;
                                let (booked, failures) = (CandidateState::Booked, other.failures);
                                released = Some(set_state(&mut tx, &other, booked, None, None, failures, now).await?);
                            }
                        }
                    }
                    let failures = candidate.failures;
                    let claimed = set_state(
                        &mut tx,
                        &candidate,
                        CandidateState::Verifying,
                        Some(MODE_SEAT),
                        Some(&c.seat),
                        failures,
                        now,
                    )
                    .await?;
                    let detail = format!("claimed at seat {}", c.seat);
                    append(&mut tx, &entry(&actor, Action::CandidateClaimed, subject(&c.booking_number), detail), now)
                        .await?;
                    tx.commit().await?;
                    Ok(Claimed { candidate: claimed, changed: true, released })
                }

                async fn record_verification(&self, v: NewVerification, now: i64) -> Result<Verified, LoginError> {
                    let mut tx = self.begin_write().await?;
                    let candidate = lock_candidate(&mut tx, &v.booking_number).await?;
                    rules::may_verify(standing(&candidate), &v.seat)?;
                    sqlx::query(
                        "INSERT INTO verifications (id, booking_number, seat_no, key_id, attempt, live_format, \
                         enrolled_index, score, server_score, verdict, snapshot_sha256, body, body_sha256, \
                         signature, captured_at, received_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                    )
                    .bind(&v.id)
                    .bind(&v.booking_number)
                    .bind(&v.seat)
                    .bind(&v.key_id)
                    .bind(i64::from(v.attempt))
                    .bind(&v.live_format)
                    .bind(i64::from(v.enrolled_index))
                    .bind(i64::from(v.score))
                    .bind(v.server_score.map(i64::from))
                    .bind(v.verdict.as_str())
                    .bind(&v.snapshot_sha256)
                    .bind(&v.body)
                    .bind(&v.body_sha256)
                    .bind(&v.signature)
                    .bind(v.captured_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    let failed = v.verdict != StoredVerdict::Match;
                    let failures = candidate.failures + u32::from(failed);
                    let state = if failed { rules::after_attempt(failures) } else { candidate.state };
                    let mode = candidate.mode.clone();
                    let after =
                        set_state(&mut tx, &candidate, state, mode.as_deref(), Some(&v.seat), failures, now).await?;
                    let actor = format!("agent:{}", v.key_id);
                    let server =
                        v.server_score.map_or_else(|| "not re-computed (vendor format)".to_owned(), |s| s.to_string());
                    let detail = format!(
                        "attempt {} at seat {}: {} score {}, server {server}, verdict {}, failures {failures}, \
                         verification {}",
                        v.attempt,
                        v.seat,
                        v.live_format,
                        v.score,
                        v.verdict.as_str(),
                        v.id
                    );
                    append(&mut tx, &entry(&actor, Action::Verification, subject(&v.booking_number), detail), now)
                        .await?;
                    let mut alerts = Vec::new();
                    if v.verdict == StoredVerdict::Disagreed {
                        let message = format!(
                            "seat {} reported fingerprint score {} for booking {}, but the server computes {server} \
                             from the same templates: the seat's software may have been tampered with",
                            v.seat, v.score, v.booking_number
                        );
                        let subject = format!("seat:{}", v.seat);
                        append(&mut tx, &entry(&actor, Action::ScoreDisagreement, subject, message.clone()), now)
                            .await?;
                        let alert = NewAlert {
                            seat: Some(v.seat.clone()),
                            key_id: Some(v.key_id.clone()),
                            kind: "score_disagreement".into(),
                            message,
                            at: now,
                        };
                        alerts.push(insert_alert(&mut tx, alert).await?);
                    }
                    if state == CandidateState::WaitingForExaminer && candidate.state != state {
                        let why = format!("booking {}: {failures} fingerprint attempts failed", v.booking_number);
                        let alert =
                            examiner_needed(&mut tx, &actor, &v.seat, &v.key_id, Some(&v.booking_number), why, now)
                                .await?;
                        alerts.push(alert);
                    }
                    tx.commit().await?;
                    Ok(Verified { candidate: after, alerts })
                }

                async fn call_examiner(&self, call: ExaminerCall, now: i64) -> Result<Called, LoginError> {
                    let mut tx = self.begin_write().await?;
                    read_head(&mut tx).await?;
                    let actor = format!("agent:{}", call.key_id);
                    let mut candidate = None;
                    let mut changed = false;
                    if let Some(booking) = &call.booking_number
                        && let Some(c) = load_candidate(&mut tx, booking).await?
                        && c.seat_no.as_deref() == Some(call.seat.as_str())
                    {
                        let waits = matches!(c.state, CandidateState::Verifying | CandidateState::Assigned);
                        candidate = Some(if waits {
                            changed = true;
                            let (mode, failures) = (c.mode.clone(), c.failures);
                            let state = CandidateState::WaitingForExaminer;
                            set_state(&mut tx, &c, state, mode.as_deref(), Some(&call.seat), failures, now).await?
                        } else {
                            c
                        });
                    }
                    let who = match (&call.booking_number, &candidate) {
                        (Some(b), Some(_)) => format!("booking {b}, "),
                        _ => String::new(),
                    };
                    let why = format!("{who}{} (failures {})", call.reason, call.failures);
                    let booking = candidate.as_ref().map(|c| c.booking_number.as_str());
                    // The third failed attempt already called the examiner for this candidate.
                    let already_waiting = !changed
                        && candidate.as_ref().is_some_and(|c| c.state == CandidateState::WaitingForExaminer);
                    let alert = if already_waiting && open_alert(&mut tx, &call.seat, "examiner_needed").await? {
                        None
                    } else {
                        Some(examiner_needed(&mut tx, &actor, &call.seat, &call.key_id, booking, why, now).await?)
                    };
                    tx.commit().await?;
                    Ok(Called { candidate, changed, alert })
                }

                async fn finish_login(&self, f: Finish, now: i64) -> Result<Finished, LoginError> {
                    let mut tx = self.begin_write().await?;
                    let candidate = lock_candidate(&mut tx, &f.booking_number).await?;
                    let matches: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM verifications WHERE booking_number = $1 AND seat_no = $2 \
                         AND verdict = 'match' AND received_at >= $3",
                    )
                    .bind(&f.booking_number)
                    .bind(&f.seat)
                    .bind(candidate.updated_at)
                    .fetch_one(&mut *tx)
                    .await?;
                    let proof = if matches > 0 { Proof::MatchSinceClaim } else { Proof::None };
                    let state = rules::finish(standing(&candidate), candidate.mode.as_deref(), proof, &f.seat)?;
                    if state == candidate.state {
                        return Ok(Finished { candidate, changed: false, alert: None, exam: Admission::default() });
                    }
                    let actor = format!("agent:{}", f.key_id);
                    let how = match (candidate.state, proof) {
                        (CandidateState::Assigned, _) => "admitted: seat assigned from the card read at the console",
                        (_, Proof::MatchSinceClaim) => "admitted: fingerprint matched",
                        _ => "sent to the examiner: no fingerprint match",
                    };
                    let snapshot = f.snapshot_sha256.as_deref().unwrap_or("none");
                    let detail = format!("seat {}: {how}; verification snapshot {snapshot}", f.seat);
                    append(&mut tx, &entry(&actor, Action::LoginFinished, subject(&f.booking_number), detail), now)
                        .await?;
                    let (mode, failures) = (candidate.mode.clone(), candidate.failures);
                    let after =
                        set_state(&mut tx, &candidate, state, mode.as_deref(), Some(&f.seat), failures, now).await?;
                    let alert = if state == CandidateState::WaitingForExaminer {
                        let why = format!("booking {}: finished without a fingerprint match", f.booking_number);
                        let booking = Some(f.booking_number.as_str());
                        Some(examiner_needed(&mut tx, &actor, &f.seat, &f.key_id, booking, why, now).await?)
                    } else {
                        None
                    };
                    let exam = if state == CandidateState::Admitted {
                        let plan = f.paper.as_ref();
                        super::exam_sql::admit(&mut tx, plan, &f.booking_number, &f.seat, &actor, now).await?
                    } else {
                        Admission::default()
                    };
                    tx.commit().await?;
                    Ok(Finished { candidate: after, changed: true, alert, exam })
                }

                async fn assign_seat(&self, a: SeatAssignment, now: i64) -> Result<Assigned, LoginError> {
                    let mut tx = self.begin_write().await?;
                    let candidate = lock_candidate(&mut tx, &a.booking_number).await?;
                    match (candidate.state, candidate.seat_no.clone()) {
                        (CandidateState::Booked, _) => {}
                        (CandidateState::Assigned, Some(seat)) => {
                            return Ok(Assigned { candidate, seat, command: None });
                        }
                        (CandidateState::Admitted, seat) => {
                            return Err(Conflict::new(
                                "already_admitted",
                                format!("admitted already, at seat {}", seat.as_deref().unwrap_or("?")),
                            )
                            .into());
                        }
                        (CandidateState::Refused, _) => {
                            return Err(Conflict::new("refused", "the examiner refused this candidate today").into());
                        }
                        (_, seat) => {
                            return Err(Conflict::new(
                                "already_at_seat",
                                format!("identifying at seat {} now", seat.as_deref().unwrap_or("?")),
                            )
                            .into());
                        }
                    }
                    let sql = format!(
                        "SELECT s.seat_no, s.key_id, h.last_seen FROM seats s \
                         JOIN machines m ON m.key_id = s.key_id \
                         LEFT JOIN seat_health h ON h.key_id = s.key_id \
                         WHERE m.role = 'seat' AND m.state = 'bound' AND NOT EXISTS (SELECT 1 FROM candidates c \
                         WHERE c.seat_no = s.seat_no AND c.exam_date = $1 AND c.state IN {AT_A_SEAT_SQL})"
                    );
                    let rows: Vec<(String, String, Option<i64>)> =
                        sqlx::query_as(AssertSqlSafe(sql)).bind(&candidate.exam_date).fetch_all(&mut *tx).await?;
                    let mut free: Vec<FreeSeat> = rows
                        .into_iter()
                        .map(|(seat, key_id, last_seen)| FreeSeat {
                            online: a.online_keys.contains(&key_id) || last_seen.is_some_and(|t| t >= a.online_since),
                            seat,
                            key_id,
                        })
                        .collect();
                    free.sort_by(|x, y| seat_order(&x.seat, &y.seat));
                    let Some(picked) = assign::pick(&free, a.random) else {
                        return Err(Conflict::new("no_free_seat", "every seat is taken today").into());
                    };
                    let seat = picked.seat.clone();
                    let online = if picked.online { "online" } else { "offline: no seat was online" };
                    let failures = candidate.failures;
                    let state = CandidateState::Assigned;
                    let after =
                        set_state(&mut tx, &candidate, state, Some(MODE_CARD_AT_CONSOLE), Some(&seat), failures, now)
                            .await?;
                    let command = Command::CandidateAssigned {
                        booking_number: after.booking_number.clone(),
                        name: after.name.clone(),
                        language: after.language.clone(),
                    };
                    let row = queue(&mut tx, &a.command_id, &seat, &command, now).await?;
                    let detail = format!(
                        "seat {seat} assigned at random among {} free ({online}), command {}",
                        free.len(),
                        a.command_id
                    );
                    append(&mut tx, &entry(&a.actor, Action::SeatAssigned, subject(&a.booking_number), detail), now)
                        .await?;
                    tx.commit().await?;
                    Ok(Assigned { candidate: after, seat, command: row })
                }

                async fn decide(&self, d: ExaminerDecision, now: i64) -> Result<Decided, LoginError> {
                    let mut tx = self.begin_write().await?;
                    let candidate = lock_candidate(&mut tx, &d.booking_number).await?;
                    rules::may_decide(candidate.state)?;
                    let seat = candidate.seat_no.clone();
                    let (state, action) = match d.decision {
                        Decision::Admitted => (CandidateState::Admitted, Action::ExaminerAdmitted),
                        Decision::Refused => (CandidateState::Refused, Action::ExaminerRefused),
                    };
                    let at_no_seat = seat.is_none() || candidate.state == CandidateState::Booked;
                    if state == CandidateState::Admitted && at_no_seat {
                        return Err(Conflict::new(
                            "not_at_a_seat",
                            "the candidate is at no seat: read their card at the console, \
                             or let them look themselves up at a seat",
                        )
                        .into());
                    }
                    let (mode, failures) = (candidate.mode.clone(), candidate.failures);
                    let after =
                        set_state(&mut tx, &candidate, state, mode.as_deref(), seat.as_deref(), failures, now).await?;
                    let command = match &seat {
                        Some(s) => {
                            let booking_number = d.booking_number.clone();
                            let c = Command::LoginDecision { booking_number, decision: d.decision };
                            queue(&mut tx, &d.command_id, s, &c, now).await?
                        }
                        None => None,
                    };
                    let at = seat.as_deref().map(|s| format!(" at seat {s}")).unwrap_or_default();
                    let verb = if state == CandidateState::Admitted { "admitted" } else { "refused" };
                    let detail = format!("{verb} by the examiner{at} after {failures} failed attempts: {}", d.reason);
                    append(&mut tx, &entry(&d.actor, action, subject(&d.booking_number), detail), now).await?;
                    let exam = match (&seat, state) {
                        (Some(s), CandidateState::Admitted) => {
                            super::exam_sql::admit(&mut tx, d.paper.as_ref(), &d.booking_number, s, &d.actor, now)
                                .await?
                        }
                        _ => Admission::default(),
                    };
                    tx.commit().await?;
                    Ok(Decided { candidate: after, command, exam })
                }

                async fn release_candidate(
                    &self,
                    booking: &str,
                    actor: &str,
                    command_id: &str,
                    now: i64,
                ) -> Result<Released, LoginError> {
                    let mut tx = self.begin_write().await?;
                    let candidate = lock_candidate(&mut tx, booking).await?;
                    let seat = candidate.seat_no.clone();
                    if candidate.state == CandidateState::Booked {
                        return Ok(Released { candidate, seat, command: None });
                    }
                    let at = seat.as_deref().map(|s| format!(" from seat {s}")).unwrap_or_default();
                    let detail = format!(
                        "released{at} by the examiner (was {}, {} failed attempts)",
                        candidate_state_str(candidate.state),
                        candidate.failures
                    );
                    append(&mut tx, &entry(actor, Action::CandidateReleased, subject(booking), detail), now).await?;
                    let after = set_state(&mut tx, &candidate, CandidateState::Booked, None, None, 0, now).await?;
                    let command = match &seat {
                        Some(s) => {
                            let c = Command::CandidateReleased { booking_number: booking.to_owned() };
                            queue(&mut tx, command_id, s, &c, now).await?
                        }
                        None => None,
                    };
                    tx.commit().await?;
                    Ok(Released { candidate: after, seat, command })
                }

                async fn seat_candidate(&self, seat: &str, exam_date: &str) -> Result<Option<Candidate>, StoreError> {
                    let sql = format!(
                        "SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE seat_no = $1 AND exam_date = $2 \
                         AND state IN {AT_A_SEAT_SQL} ORDER BY updated_at DESC, booking_number"
                    );
                    let row = sqlx::query(AssertSqlSafe(sql))
                        .bind(seat)
                        .bind(exam_date)
                        .fetch_optional(&self.reader)
                        .await?;
                    row.as_ref().map(candidate_from_row).transpose()
                }

                async fn bookings_of_id_number(&self, id_number: &str) -> Result<Vec<(String, String)>, StoreError> {
                    Ok(sqlx::query_as(
                        "SELECT booking_number, exam_date FROM candidates WHERE id_number = $1 \
                         ORDER BY exam_date, booking_number",
                    )
                    .bind(id_number)
                    .fetch_all(&self.reader)
                    .await?)
                }

                async fn verifications(&self, booking: &str) -> Result<Vec<VerificationRow>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, booking_number, seat_no, key_id, attempt, live_format, enrolled_index, score, \
                         server_score, verdict, snapshot_sha256, body, body_sha256, signature, captured_at, \
                         received_at FROM verifications WHERE booking_number = $1 ORDER BY received_at, attempt, id",
                    )
                    .bind(booking)
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter().map(verification_from_row).collect()
                }

                async fn touch_session(&self, token_hash: &str, now: i64) -> Result<(), StoreError> {
                    sqlx::query("UPDATE sessions SET last_active = $1 WHERE token_hash = $2 AND last_active < $1")
                        .bind(now)
                        .bind(token_hash)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn lock_session(&self, token_hash: &str, idle_ms: i64, now: i64) -> Result<(), StoreError> {
                    let mut tx = self.begin_write().await?;
                    let who: Option<(Option<String>, Option<String>)> =
                        sqlx::query_as("SELECT examiner, invigilator FROM sessions WHERE token_hash = $1")
                            .bind(token_hash)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let Some((examiner, invigilator)) = who else { return Ok(()) };
                    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&mut *tx).await?;
                    let who = [examiner, invigilator].into_iter().flatten().collect::<Vec<_>>().join("+");
                    let detail = format!(
                        "locked after {} minutes without input: both log in again",
                        idle_ms / 60_000
                    );
                    let actor = format!("user:{who}");
                    append(&mut tx, &entry(&actor, Action::SessionLocked, "console".into(), detail), now).await?;
                    tx.commit().await?;
                    Ok(())
                }
            }
        }
    };
}

pub(super) use login_store;
