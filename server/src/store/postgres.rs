//! The PostgreSQL store. Several servers may share one database: the audit
//! head is locked row-wise by every append, nonces and idempotency keys are
//! unique in the database, and migrations take PostgreSQL's advisory lock.

use std::collections::HashSet;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio::sync::{mpsc, oneshot};

use super::{NonceUse, StoreError};

pub struct PgStore {
    pool: PgPool,
    /// The same pool: PostgreSQL serves reads beside writes.
    reader: PgPool,
    /// Nonces on their way into the next batch ([`nonce_batches`]).
    nonces: mpsc::UnboundedSender<PendingNonce>,
}

/// A signed request's nonce waiting for its batch, and the request waiting for the verdict.
struct PendingNonce {
    key_id: String,
    nonce: String,
    at: i64,
    verdict: oneshot::Sender<Result<NonceUse, String>>,
}

/// At most this many nonces go into one statement.
const NONCE_BATCH: usize = 2048;

/// Prepared statements kept per connection (sqlx's default is 100; the
/// server has more statements than that, and an evicted one is parsed anew).
const STATEMENT_CACHE: usize = 512;

impl PgStore {
    /// Connects to `postgres://…` and migrates the database.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)?.statement_cache_capacity(STATEMENT_CACHE);
        let pool = PgPoolOptions::new().max_connections(16).connect_with(options).await?;
        super::sqlite::migrator().run(&pool).await?;
        let (nonces, queue) = mpsc::unbounded_channel();
        tokio::spawn(nonce_batches(pool.clone(), queue));
        Ok(PgStore { reader: pool.clone(), pool, nonces })
    }

    const HEAD_FOR_UPDATE: &'static str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";

    /// Nonces live in the database, so a replay is caught by whichever server
    /// sees it. They are written in batches: the request waits until its
    /// batch has committed (so nothing is accepted that the database has not
    /// durably recorded), but thousands of requests share one statement and
    /// one commit, where each used to cost both.
    async fn nonce(&self, key_id: &str, nonce: &str, at: i64) -> Result<NonceUse, StoreError> {
        let (verdict, answer) = oneshot::channel();
        let pending = PendingNonce { key_id: key_id.to_owned(), nonce: nonce.to_owned(), at, verdict };
        let gone = || StoreError::Db(sqlx::Error::Protocol("the nonce writer has stopped".into()));
        self.nonces.send(pending).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?.map_err(|e| StoreError::Db(sqlx::Error::Protocol(e)))
    }

    async fn prune(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM nonces WHERE at < $1").bind(before).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await
    }
}

/// Writes the nonces of waiting requests, all that have queued up while the
/// previous batch was being committed, in one `INSERT … ON CONFLICT DO NOTHING`:
/// the rows it returns are fresh, the rest were there already (replays). A
/// nonce twice in one batch is a replay without asking the database.
async fn nonce_batches(pool: PgPool, mut queue: mpsc::UnboundedReceiver<PendingNonce>) {
    let mut batch = Vec::with_capacity(NONCE_BATCH);
    while queue.recv_many(&mut batch, NONCE_BATCH).await > 0 {
        let mut seen = HashSet::with_capacity(batch.len());
        let (mut keys, mut nonces, mut ats, mut waiting) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for p in batch.drain(..) {
            if !seen.insert((p.key_id.clone(), p.nonce.clone())) {
                let _ = p.verdict.send(Ok(NonceUse::Replayed));
                continue;
            }
            keys.push(p.key_id);
            nonces.push(p.nonce);
            ats.push(p.at);
            waiting.push(p.verdict);
        }
        let written: Result<Vec<(String, String)>, sqlx::Error> = sqlx::query_as(
            "INSERT INTO nonces (key_id, nonce, at) SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[]) \
             ON CONFLICT DO NOTHING RETURNING key_id, nonce",
        )
        .bind(&keys)
        .bind(&nonces)
        .bind(&ats)
        .fetch_all(&pool)
        .await;
        match written {
            Ok(fresh) => {
                let fresh: HashSet<(String, String)> = fresh.into_iter().collect();
                for ((key_id, nonce), verdict) in keys.into_iter().zip(nonces).zip(waiting) {
                    let used = if fresh.contains(&(key_id, nonce)) { NonceUse::Fresh } else { NonceUse::Replayed };
                    let _ = verdict.send(Ok(used));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot record a batch of nonces");
                for verdict in waiting {
                    let _ = verdict.send(Err(format!("recording the request's nonce: {e}")));
                }
            }
        }
    }
}

super::sql::sql_store!(PgStore, sqlx::Postgres, sqlx::postgres::PgRow, "postgres");
super::roster::roster_store!(PgStore, sqlx::postgres::PgRow);
super::login_sql::login_store!(PgStore, sqlx::postgres::PgRow);
super::bank::bank_store!(PgStore);
super::exam::exam_store!(PgStore, sqlx::postgres::PgRow);
super::exam_invigilation::invigilation_store!(PgStore, sqlx::postgres::PgRow);
