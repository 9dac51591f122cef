//! The [`Store`](super::Store) implementation both databases share: the same
//! SQL text (`$N` placeholders, which SQLite reads too), instantiated once
//! per database by [`sql_store!`]. What differs (how a write transaction
//! begins, how the audit head is locked, how a consistent read begins) each
//! store supplies as `begin_write`, `begin_snapshot` and `HEAD_FOR_UPDATE`.

use examgate_protocol::link::BindingState;

use super::{Binding, Machine, SeatNo, StoreError, parse_state};

/// Columns of a machine with its binding, for `machine_from_row`.
pub(super) const MACHINE_COLUMNS: &str = "m.key_id, m.public_key, m.macs, m.reported_ip, m.source_ip, m.host_name, \
     m.agent_version, m.state, m.enrolled_at, s.seat_no, s.ip, s.bound_at, s.bound_by, m.role";

pub(super) fn parse_macs(json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Invalid(format!("stored MAC list is not JSON: {e}")))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn machine(
    key_id: String,
    public_key: String,
    macs: String,
    reported_ip: String,
    source_ip: String,
    host_name: String,
    agent_version: String,
    state: String,
    enrolled_at: i64,
    binding: (Option<String>, Option<String>, Option<i64>, Option<String>),
    role: String,
) -> Result<Machine, StoreError> {
    let role = role.parse().map_err(StoreError::Invalid)?;
    let seat = match binding {
        (Some(seat), Some(ip), Some(bound_at), Some(bound_by)) => Some(Binding {
            seat: seat.parse::<SeatNo>().map_err(|e| StoreError::Invalid(e.to_string()))?,
            ip,
            bound_at,
            bound_by,
        }),
        _ => None,
    };
    let state = parse_state(&state);
    debug_assert!(seat.is_some() == (state == BindingState::Bound));
    Ok(Machine {
        key_id,
        public_key,
        macs: parse_macs(&macs)?,
        reported_ip,
        source_ip,
        host_name,
        agent_version,
        state,
        enrolled_at,
        seat,
        role,
    })
}

/// Seat numbers in the order a person expects: numbers by value, then the rest.
pub(super) fn seat_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

macro_rules! sql_store {
    ($Store:ident, $Db:ty, $Row:ty, $kind:literal) => {
        use async_trait::async_trait;
        use sqlx::{AssertSqlSafe, Row as _};

        use crate::audit::{self, Action, Entry};
        use crate::ids;
        use crate::store::sql::{MACHINE_COLUMNS, machine, seat_order};
        use crate::store::*;

        type Tx = sqlx::Transaction<'static, $Db>;

        fn machine_from_row(row: &$Row) -> Result<Machine, StoreError> {
            machine(
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
                row.try_get(5)?,
                row.try_get(6)?,
                row.try_get(7)?,
                row.try_get(8)?,
                (row.try_get(9)?, row.try_get(10)?, row.try_get(11)?, row.try_get(12)?),
                row.try_get(13)?,
            )
        }

        async fn load_machine(tx: &mut Tx, key_id: &str) -> Result<Option<Machine>, StoreError> {
            let sql = format!(
                "SELECT {MACHINE_COLUMNS} FROM machines m LEFT JOIN seats s ON s.key_id = m.key_id WHERE m.key_id = $1"
            );
            let row = sqlx::query(AssertSqlSafe(sql)).bind(key_id).fetch_optional(&mut **tx).await?;
            row.as_ref().map(machine_from_row).transpose()
        }

        async fn read_head(tx: &mut Tx) -> Result<audit::Head, StoreError> {
            let (seq, hash): (i64, String) = sqlx::query_as($Store::HEAD_FOR_UPDATE).fetch_one(&mut **tx).await?;
            Ok(audit::Head { seq, hash })
        }

        async fn append(tx: &mut Tx, entry: &Entry, now: i64) -> Result<audit::Row, StoreError> {
            let head = read_head(tx).await?;
            let row = audit::next_row(&head, now, entry);
            sqlx::query(
                "INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(row.seq)
            .bind(row.at)
            .bind(&row.actor)
            .bind(&row.action)
            .bind(&row.subject)
            .bind(&row.detail)
            .bind(&row.prev_hash)
            .bind(&row.hash)
            .execute(&mut **tx)
            .await?;
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(row.seq)
                .bind(&row.hash)
                .execute(&mut **tx)
                .await?;
            Ok(row)
        }

        /// Whether `seat` has an alert of `kind` nobody has cleared yet.
        async fn open_alert(tx: &mut Tx, seat: &str, kind: &str) -> Result<bool, StoreError> {
            let open: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM alerts WHERE seat_no = $1 AND kind = $2 AND cleared_at IS NULL",
            )
            .bind(seat)
            .bind(kind)
            .fetch_one(&mut **tx)
            .await?;
            Ok(open > 0)
        }

        /// Writes an alert in `tx`; its audit row is the caller's to append.
        async fn insert_alert(tx: &mut Tx, a: NewAlert) -> Result<Alert, StoreError> {
            let id = ids::random_hex(8);
            sqlx::query("INSERT INTO alerts (id, at, seat_no, key_id, kind, message) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&id)
                .bind(a.at)
                .bind(&a.seat)
                .bind(&a.key_id)
                .bind(&a.kind)
                .bind(&a.message)
                .execute(&mut **tx)
                .await?;
            Ok(Alert {
                id,
                at: a.at,
                seat: a.seat,
                key_id: a.key_id,
                kind: a.kind,
                message: a.message,
                cleared_at: None,
                cleared_by: None,
            })
        }

                fn audit_from_row(row: &$Row) -> Result<audit::Row, StoreError> {
            Ok(audit::Row {
                seq: row.try_get(0)?,
                at: row.try_get(1)?,
                actor: row.try_get(2)?,
                action: row.try_get(3)?,
                subject: row.try_get(4)?,
                detail: row.try_get(5)?,
                prev_hash: row.try_get(6)?,
                hash: row.try_get(7)?,
            })
        }

        fn alert_from_row(row: &$Row) -> Result<Alert, StoreError> {
            Ok(Alert {
                id: row.try_get(0)?,
                at: row.try_get(1)?,
                seat: row.try_get(2)?,
                key_id: row.try_get(3)?,
                kind: row.try_get(4)?,
                message: row.try_get(5)?,
                cleared_at: row.try_get(6)?,
                cleared_by: row.try_get(7)?,
            })
        }

        fn command_from_row(row: &$Row) -> Result<CommandRow, StoreError> {
            Ok(CommandRow {
                id: row.try_get(0)?,
                seat: row.try_get(1)?,
                key_id: row.try_get(2)?,
                body: row.try_get(3)?,
                created_at: row.try_get(4)?,
                acked_at: row.try_get(5)?,
            })
        }

        fn user_from_row(row: &$Row) -> Result<User, StoreError> {
            let role: String = row.try_get(1)?;
            Ok(User {
                username: row.try_get(0)?,
                role: role.parse().map_err(StoreError::Invalid)?,
                password_hash: row.try_get(2)?,
                created_at: row.try_get(3)?,
            })
        }

        fn describe(m: &Machine) -> String {
            format!("host {:?}, MACs {}, IP {}", m.host_name, m.macs.join(" "), m.source_ip)
        }

        #[async_trait]
        impl Store for $Store {
            fn kind(&self) -> &'static str {
                $kind
            }

            async fn enrol(&self, new: NewMachine, now: i64) -> Result<Enrolled, StoreError> {
                let mut tx = self.begin_write().await?;
                if let Some(machine) = load_machine(&mut tx, &new.key_id).await? {
                    return Ok(Enrolled { machine, created: false });
                }
                let macs = serde_json::to_string(&new.macs).map_err(|e| StoreError::Invalid(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO machines (key_id, public_key, macs, reported_ip, source_ip, host_name, \
                     agent_version, state, enrolled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)",
                )
                .bind(&new.key_id)
                .bind(&new.public_key)
                .bind(&macs)
                .bind(&new.reported_ip)
                .bind(&new.source_ip)
                .bind(&new.host_name)
                .bind(&new.agent_version)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let machine = load_machine(&mut tx, &new.key_id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound("the machine just enrolled is gone".into()))?;
                let detail = format!("enrolled, pending approval: {}", describe(&machine));
                append(&mut tx, &entry(&format!("agent:{}", new.key_id), Action::Enrol, format!("key:{}", new.key_id), detail), now)
                    .await?;
                tx.commit().await?;
                Ok(Enrolled { machine, created: true })
            }

            async fn machine(&self, key_id: &str) -> Result<Option<Machine>, StoreError> {
                let sql = format!(
                    "SELECT {MACHINE_COLUMNS} FROM machines m LEFT JOIN seats s ON s.key_id = m.key_id WHERE m.key_id = $1"
                );
                let row = sqlx::query(AssertSqlSafe(sql)).bind(key_id).fetch_optional(&self.reader).await?;
                row.as_ref().map(machine_from_row).transpose()
            }

            async fn approve(&self, a: Approval, now: i64) -> Result<Machine, StoreError> {
                let mut tx = self.begin_write().await?;
                let m = load_machine(&mut tx, &a.key_id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("no PC has enrolled with key {}", a.key_id)))?;
                if let Some(b) = &m.seat {
                    return Err(StoreError::Conflict(format!("that PC already holds seat {}", b.seat)));
                }
                let holder: Option<String> = sqlx::query_scalar("SELECT key_id FROM seats WHERE seat_no = $1")
                    .bind(a.seat.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                if holder.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "seat {} is bound to another PC: rebind the seat to take it over",
                        a.seat
                    )));
                }
                let ip = a.ip.clone().unwrap_or_else(|| m.source_ip.clone());
                sqlx::query("INSERT INTO seats (seat_no, key_id, ip, bound_at, bound_by) VALUES ($1, $2, $3, $4, $5)")
                    .bind(a.seat.as_str())
                    .bind(&a.key_id)
                    .bind(&ip)
                    .bind(now)
                    .bind(&a.actor)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE machines SET state = 'bound', role = $2 WHERE key_id = $1")
                    .bind(&a.key_id)
                    .bind(a.role.as_str())
                    .execute(&mut *tx)
                    .await?;
                let as_console = if a.role == MachineRole::Console { " as the examiner's console" } else { "" };
                let detail =
                    format!("seat {} bound to key {}{as_console}: {}, bound IP {ip}", a.seat, a.key_id, describe(&m));
                append(&mut tx, &entry(&a.actor, Action::Approve, format!("seat:{}", a.seat), detail), now).await?;
                let m = load_machine(&mut tx, &a.key_id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound("the approved machine is gone".into()))?;
                tx.commit().await?;
                Ok(m)
            }

            async fn rebind(&self, r: Rebind, now: i64) -> Result<Rebound, StoreError> {
                let mut tx = self.begin_write().await?;
                let old_key_id: String = sqlx::query_scalar("SELECT key_id FROM seats WHERE seat_no = $1")
                    .bind(r.seat.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| {
                        StoreError::NotFound(format!("seat {} is not bound: approve a PC for it instead", r.seat))
                    })?;
                if old_key_id == r.key_id {
                    return Err(StoreError::Conflict(format!("that PC already holds seat {}", r.seat)));
                }
                let new = load_machine(&mut tx, &r.key_id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("no PC has enrolled with key {}", r.key_id)))?;
                if let Some(b) = &new.seat {
                    return Err(StoreError::Conflict(format!(
                        "that PC holds seat {}: only a PC without a seat can take one over",
                        b.seat
                    )));
                }
                let old = load_machine(&mut tx, &old_key_id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound("the seat's PC is gone".into()))?;
                let ip = r.ip.clone().unwrap_or_else(|| new.source_ip.clone());
                sqlx::query("UPDATE seats SET key_id = $1, ip = $2, bound_at = $3, bound_by = $4 WHERE seat_no = $5")
                    .bind(&r.key_id)
                    .bind(&ip)
                    .bind(now)
                    .bind(&r.actor)
                    .bind(r.seat.as_str())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE machines SET state = 'replaced' WHERE key_id = $1")
                    .bind(&old_key_id)
                    .execute(&mut *tx)
                    .await?;
                // A spare takes over the seat's role with its number.
                sqlx::query("UPDATE machines SET state = 'bound', role = $2 WHERE key_id = $1")
                    .bind(&r.key_id)
                    .bind(old.role.as_str())
                    .execute(&mut *tx)
                    .await?;
                let detail = format!(
                    "seat {} taken over: from key {} ({}) to key {} ({}), bound IP {ip}",
                    r.seat,
                    old_key_id,
                    describe(&old),
                    r.key_id,
                    describe(&new)
                );
                append(&mut tx, &entry(&r.actor, Action::Rebind, format!("seat:{}", r.seat), detail), now).await?;
                let machine = load_machine(&mut tx, &r.key_id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound("the new machine is gone".into()))?;
                tx.commit().await?;
                Ok(Rebound { old_key_id, machine })
            }

            async fn overview(&self) -> Result<Overview, StoreError> {
                let sql = format!(
                    "SELECT {MACHINE_COLUMNS}, h.last_seen, h.devices, h.outbox_pending, \
                     (SELECT COUNT(*) FROM alerts a WHERE a.seat_no = s.seat_no AND a.cleared_at IS NULL) \
                     FROM machines m LEFT JOIN seats s ON s.key_id = m.key_id \
                     LEFT JOIN seat_health h ON h.key_id = m.key_id ORDER BY m.enrolled_at, m.key_id"
                );
                let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&self.reader).await?;
                let mut overview = Overview { seats: Vec::new(), unbound: Vec::new() };
                for row in &rows {
                    let machine = machine_from_row(row)?;
                    match machine.seat.clone() {
                        Some(b) => overview.seats.push(SeatRow {
                            seat: b.seat,
                            machine,
                            last_seen: row.try_get(14)?,
                            devices: row.try_get(15)?,
                            outbox_pending: row.try_get(16)?,
                            open_alerts: row.try_get(17)?,
                        }),
                        None => overview.unbound.push(machine),
                    }
                }
                overview.seats.sort_by(|a, b| seat_order(a.seat.as_str(), b.seat.as_str()));
                Ok(overview)
            }

            async fn use_nonce(&self, key_id: &str, nonce: &str, at: i64) -> Result<NonceUse, StoreError> {
                self.nonce(key_id, nonce, at).await
            }

            async fn prune_nonces(&self, before: i64) -> Result<u64, StoreError> {
                self.prune(before).await
            }

            async fn heartbeats(&self, beats: Vec<HeartbeatRecord>) -> Result<(), StoreError> {
                if beats.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                for beat in &beats {
                    sqlx::query(
                        "INSERT INTO seat_health (key_id, last_seen, devices, outbox_pending) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (key_id) DO UPDATE SET last_seen = excluded.last_seen, \
                         devices = excluded.devices, outbox_pending = excluded.outbox_pending",
                    )
                    .bind(&beat.key_id)
                    .bind(beat.at)
                    .bind(&beat.devices)
                    .bind(beat.outbox_pending)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn deliver(&self, d: NewDelivery) -> Result<DeliveryOutcome, StoreError> {
                let mut tx = self.begin_write().await?;
                // Taking the audit head first serialises deliveries, so two servers
                // cannot both find a key unused and both store it.
                read_head(&mut tx).await?;
                let before: Option<(String, i64)> = sqlx::query_as(
                    "SELECT body_sha256, received_at FROM deliveries WHERE key_id = $1 AND idempotency_key = $2",
                )
                .bind(&d.key_id)
                .bind(&d.idempotency_key)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((body_sha256, received_at)) = before {
                    return Ok(if body_sha256 == d.body_sha256 {
                        DeliveryOutcome::Duplicate { received_at }
                    } else {
                        DeliveryOutcome::Conflict
                    });
                }
                sqlx::query(
                    "INSERT INTO deliveries (key_id, idempotency_key, seat_no, exam, kind, body_sha256, file_sha256, \
                     metadata, created_at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&d.key_id)
                .bind(&d.idempotency_key)
                .bind(d.seat.as_str())
                .bind(&d.exam)
                .bind(&d.kind)
                .bind(&d.body_sha256)
                .bind(&d.file_sha256)
                .bind(&d.metadata)
                .bind(d.created_at)
                .bind(d.received_at)
                .execute(&mut *tx)
                .await?;
                // One open alert per seat and kind: a dark room flags every snapshot.
                let alert = match d.alert {
                    Some(a) => {
                        let seat = a.seat.clone().unwrap_or_default();
                        if open_alert(&mut tx, &seat, &a.kind).await? { None } else { Some(insert_alert(&mut tx, a).await?) }
                    }
                    None => None,
                };
                let detail = format!(
                    "{} for exam {} stored, idempotency key {}{}{}",
                    d.kind,
                    d.exam,
                    d.idempotency_key,
                    d.file_sha256.as_deref().map(|h| format!(", file sha256 {h}")).unwrap_or_default(),
                    alert.as_ref().map(|a| format!("; alert {}: {}", a.kind, a.message)).unwrap_or_default()
                );
                let actor = format!("agent:{}", d.key_id);
                append(&mut tx, &entry(&actor, Action::Deliver, format!("seat:{}", d.seat), detail), d.received_at).await?;
                tx.commit().await?;
                Ok(DeliveryOutcome::New { received_at: d.received_at, alert })
            }

            async fn deliveries(&self, seat: Option<&str>, limit: i64) -> Result<Vec<DeliveryRow>, StoreError> {
                let rows = sqlx::query(
                    "SELECT key_id, idempotency_key, seat_no, exam, kind, file_sha256, metadata, created_at, received_at \
                     FROM deliveries WHERE ($1 IS NULL OR seat_no = $1) ORDER BY received_at DESC, idempotency_key LIMIT $2",
                )
                .bind(seat)
                .bind(limit)
                .fetch_all(&self.reader)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(DeliveryRow {
                            key_id: row.try_get(0)?,
                            idempotency_key: row.try_get(1)?,
                            seat: row.try_get(2)?,
                            exam: row.try_get(3)?,
                            kind: row.try_get(4)?,
                            file_sha256: row.try_get(5)?,
                            metadata: row.try_get(6)?,
                            created_at: row.try_get(7)?,
                            received_at: row.try_get(8)?,
                        })
                    })
                    .collect()
            }

            async fn delivery_count(&self) -> Result<i64, StoreError> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM deliveries").fetch_one(&self.reader).await?)
            }

            async fn raise_alert(&self, a: NewAlert, audit: Entry) -> Result<Alert, StoreError> {
                let mut tx = self.begin_write().await?;
                let at = a.at;
                let alert = insert_alert(&mut tx, a).await?;
                append(&mut tx, &audit, at).await?;
                tx.commit().await?;
                Ok(alert)
            }

            async fn raise_alert_once(&self, a: NewAlert, about: &str, audit: Entry) -> Result<Option<Alert>, StoreError> {
                let mut tx = self.begin_write().await?;
                // Taking the audit head first serialises raisers, so two servers
                // cannot both find none open and both raise one.
                read_head(&mut tx).await?;
                let open: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM alerts WHERE seat_no = $1 AND kind = $2 AND cleared_at IS NULL \
                     AND substr(message, 1, length($3)) = $3",
                )
                .bind(&a.seat)
                .bind(&a.kind)
                .bind(about)
                .fetch_one(&mut *tx)
                .await?;
                if open > 0 {
                    return Ok(None);
                }
                let at = a.at;
                let alert = insert_alert(&mut tx, a).await?;
                append(&mut tx, &audit, at).await?;
                tx.commit().await?;
                Ok(Some(alert))
            }

            async fn alerts(&self, which: AlertFilter) -> Result<Vec<Alert>, StoreError> {
                let sql = match which {
                    AlertFilter::Open => {
                        "SELECT id, at, seat_no, key_id, kind, message, cleared_at, cleared_by FROM alerts \
                         WHERE cleared_at IS NULL ORDER BY at DESC, id LIMIT 1000"
                    }
                    AlertFilter::All => {
                        "SELECT id, at, seat_no, key_id, kind, message, cleared_at, cleared_by FROM alerts \
                         ORDER BY at DESC, id LIMIT 1000"
                    }
                };
                let rows = sqlx::query(sql).fetch_all(&self.reader).await?;
                rows.iter().map(alert_from_row).collect()
            }

            async fn clear_alert(&self, id: &str, actor: &str, now: i64) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(
                    "SELECT id, at, seat_no, key_id, kind, message, cleared_at, cleared_by FROM alerts WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let alert = row
                    .as_ref()
                    .map(alert_from_row)
                    .transpose()?
                    .filter(|a| a.cleared_at.is_none())
                    .ok_or_else(|| StoreError::NotFound(format!("no open alert has id {id}")))?;
                sqlx::query("UPDATE alerts SET cleared_at = $1, cleared_by = $2 WHERE id = $3")
                    .bind(now)
                    .bind(actor)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let subject = alert.seat.as_ref().map(|s| format!("seat:{s}")).unwrap_or_else(|| format!("alert:{id}"));
                let detail = format!("alert {id} cleared ({}: {})", alert.kind, alert.message);
                append(&mut tx, &entry(actor, Action::AlertCleared, subject, detail), now).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn audit(&self, e: Entry, now: i64) -> Result<audit::Row, StoreError> {
                let mut tx = self.begin_write().await?;
                let row = append(&mut tx, &e, now).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn audit_chain(&self) -> Result<(Vec<audit::Row>, audit::Head), StoreError> {
                let mut tx = self.begin_snapshot().await?;
                let rows = sqlx::query(
                    "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY seq",
                )
                .fetch_all(&mut *tx)
                .await?;
                let (seq, hash): (i64, String) =
                    sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *tx).await?;
                tx.commit().await?;
                let rows = rows.iter().map(audit_from_row).collect::<Result<_, _>>()?;
                Ok((rows, audit::Head { seq, hash }))
            }

            async fn audit_tail(&self, limit: i64) -> Result<Vec<audit::Row>, StoreError> {
                let rows = sqlx::query(
                    "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.reader)
                .await?;
                rows.iter().map(audit_from_row).collect()
            }

            async fn create_user(&self, u: NewUser, actor: &str, now: i64) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let exists: Option<String> = sqlx::query_scalar("SELECT username FROM users WHERE username = $1")
                    .bind(&u.username)
                    .fetch_optional(&mut *tx)
                    .await?;
                if exists.is_some() {
                    return Err(StoreError::Conflict(format!("user {:?} exists already", u.username)));
                }
                sqlx::query("INSERT INTO users (username, role, password_hash, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&u.username)
                    .bind(u.role.as_str())
                    .bind(&u.password_hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let detail = format!("{} account created", u.role.as_str());
                append(&mut tx, &entry(actor, Action::UserCreated, format!("user:{}", u.username), detail), now).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
                let row = sqlx::query("SELECT username, role, password_hash, created_at FROM users WHERE username = $1")
                    .bind(username)
                    .fetch_optional(&self.reader)
                    .await?;
                row.as_ref().map(user_from_row).transpose()
            }

            async fn users(&self) -> Result<Vec<User>, StoreError> {
                let rows = sqlx::query("SELECT username, role, password_hash, created_at FROM users ORDER BY username")
                    .fetch_all(&self.reader)
                    .await?;
                rows.iter().map(user_from_row).collect()
            }

            async fn set_password(&self, username: &str, hash: &str, actor: &str, now: i64) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE username = $2")
                    .bind(hash)
                    .bind(username)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("no user {username:?}")));
                }
                append(
                    &mut tx,
                    &entry(actor, Action::PasswordChanged, format!("user:{username}"), "password changed".into()),
                    now,
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session(&self, token_hash: &str, now: i64) -> Result<Option<Session>, StoreError> {
                let row: Option<(Option<String>, Option<String>, i64, i64)> = sqlx::query_as(
                    "SELECT examiner, invigilator, expires_at, last_active FROM sessions \
                     WHERE token_hash = $1 AND expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.reader)
                .await?;
                Ok(row.map(|(examiner, invigilator, expires_at, last_active)| Session {
                    examiner,
                    invigilator,
                    expires_at,
                    last_active,
                }))
            }

            async fn session_login(&self, l: SessionLogin, now: i64) -> Result<Session, StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&mut *tx).await?;
                let exists: Option<String> = sqlx::query_scalar("SELECT token_hash FROM sessions WHERE token_hash = $1")
                    .bind(&l.token_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                if exists.is_none() {
                    sqlx::query("INSERT INTO sessions (token_hash, created_at, expires_at) VALUES ($1, $2, $3)")
                        .bind(&l.token_hash)
                        .bind(now)
                        .bind(l.expires_at)
                        .execute(&mut *tx)
                        .await?;
                }
                let sql = match l.role {
                    Role::Examiner => {
                        "UPDATE sessions SET examiner = $1, expires_at = $2, last_active = $4 WHERE token_hash = $3"
                    }
                    Role::Invigilator => {
                        "UPDATE sessions SET invigilator = $1, expires_at = $2, last_active = $4 WHERE token_hash = $3"
                    }
                };
                sqlx::query(sql)
                    .bind(&l.username)
                    .bind(l.expires_at)
                    .bind(&l.token_hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let (examiner, invigilator, expires_at, last_active): (Option<String>, Option<String>, i64, i64) =
                    sqlx::query_as(
                        "SELECT examiner, invigilator, expires_at, last_active FROM sessions WHERE token_hash = $1",
                    )
                    .bind(&l.token_hash)
                    .fetch_one(&mut *tx)
                    .await?;
                let session = Session { examiner, invigilator, expires_at, last_active };
                let detail = format!(
                    "logged in as {}{}",
                    l.role.as_str(),
                    if session.is_open() { "; the console is open" } else { "" }
                );
                append(&mut tx, &entry(&format!("user:{}", l.username), Action::Login, "console".into(), detail), now)
                    .await?;
                tx.commit().await?;
                Ok(session)
            }

            async fn session_logout(&self, token_hash: &str, actor: &str, now: i64) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&mut *tx).await?;
                if done.rows_affected() > 0 {
                    append(&mut tx, &entry(actor, Action::Logout, "console".into(), "logged out".into()), now).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn queue_command(&self, c: NewCommand, now: i64) -> Result<CommandRow, StoreError> {
                let mut tx = self.begin_write().await?;
                let key_id: String = sqlx::query_scalar("SELECT key_id FROM seats WHERE seat_no = $1")
                    .bind(c.seat.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("seat {} is not bound to any PC", c.seat)))?;
                sqlx::query("INSERT INTO commands (id, seat_no, key_id, body, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&c.id)
                    .bind(c.seat.as_str())
                    .bind(&key_id)
                    .bind(&c.body)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let detail = format!("command {} sent: {}", c.id, c.body);
                append(&mut tx, &entry(&c.actor, Action::Command, format!("seat:{}", c.seat), detail), now).await?;
                tx.commit().await?;
                Ok(CommandRow { id: c.id, seat: c.seat.to_string(), key_id, body: c.body, created_at: now, acked_at: None })
            }

            async fn pending_commands(&self, key_id: &str) -> Result<Vec<CommandRow>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, seat_no, key_id, body, created_at, acked_at FROM commands \
                     WHERE key_id = $1 AND acked_at IS NULL ORDER BY created_at, id",
                )
                .bind(key_id)
                .fetch_all(&self.reader)
                .await?;
                rows.iter().map(command_from_row).collect()
            }

            async fn ack_command(&self, key_id: &str, id: &str, now: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE commands SET acked_at = $1 WHERE id = $2 AND key_id = $3 AND acked_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .bind(key_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn dump(&self) -> Result<Vec<TableDump>, StoreError> {
                let mut tx = self.begin_snapshot().await?;
                let mut tables = Vec::new();
                for (name, columns) in BACKUP_TABLES {
                    let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
                    let sql = format!("SELECT {} FROM {name} ORDER BY {}", names.join(", "), names[0]);
                    let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *tx).await?;
                    let mut dump = TableDump {
                        name: (*name).to_owned(),
                        columns: names.iter().map(|c| (*c).to_owned()).collect(),
                        rows: Vec::with_capacity(rows.len()),
                    };
                    for row in &rows {
                        let mut values = Vec::with_capacity(columns.len());
                        for (i, (_, ty)) in columns.iter().enumerate() {
                            values.push(match ty {
                                ColumnType::Int => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, Value::Int),
                                ColumnType::Text => row.try_get::<Option<String>, _>(i)?.map_or(Value::Null, Value::Text),
                            });
                        }
                        dump.rows.push(values);
                    }
                    tables.push(dump);
                }
                tx.commit().await?;
                Ok(tables)
            }

            async fn load(&self, tables: Vec<TableDump>) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM audit_head").execute(&mut *tx).await?;
                for (name, columns) in BACKUP_TABLES {
                    let Some(dump) = tables.iter().find(|t| t.name == *name) else {
                        return Err(StoreError::Invalid(format!("the backup has no table {name}")));
                    };
                    let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
                    if dump.columns != names {
                        return Err(StoreError::Invalid(format!(
                            "table {name} in the backup has columns {:?}, this server expects {names:?}",
                            dump.columns
                        )));
                    }
                    let params: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
                    let sql = format!("INSERT INTO {name} ({}) VALUES ({})", names.join(", "), params.join(", "));
                    for values in &dump.rows {
                        if values.len() != columns.len() {
                            return Err(StoreError::Invalid(format!("a row of table {name} has the wrong length")));
                        }
                        let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
                        for ((column, ty), v) in columns.iter().zip(values) {
                            q = match (ty, v) {
                                (ColumnType::Int, Value::Int(i)) => q.bind(Some(*i)),
                                (ColumnType::Int, Value::Null) => q.bind(None::<i64>),
                                (ColumnType::Text, Value::Text(s)) => q.bind(Some(s.clone())),
                                (ColumnType::Text, Value::Null) => q.bind(None::<String>),
                                _ => {
                                    return Err(StoreError::Invalid(format!(
                                        "column {name}.{column} holds a value of the wrong type"
                                    )));
                                }
                            };
                        }
                        q.execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn is_empty(&self) -> Result<bool, StoreError> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT (SELECT COUNT(*) FROM machines) + (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM audit)",
                )
                .fetch_one(&self.reader)
                .await?;
                Ok(n == 0)
            }
        }
    };
}

pub(super) use sql_store;
