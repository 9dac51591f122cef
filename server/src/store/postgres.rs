//! The PostgreSQL store. Several servers may share one database: the audit
//! head is locked row-wise by every append, nonces and idempotency keys are
//! unique in the database, and migrations take PostgreSQL's advisory lock.

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::StoreError;

pub struct PgStore {
    pool: PgPool,
    /// The same pool: PostgreSQL serves reads beside writes.
    reader: PgPool,
}

impl PgStore {
    /// Connects to `postgres://…` and migrates the database.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new().max_connections(16).connect(url).await?;
        super::sqlite::migrator().run(&pool).await?;
        Ok(PgStore { reader: pool.clone(), pool })
    }

    const HEAD_FOR_UPDATE: &'static str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";

    /// Nonces live in the database, so a replay is caught by whichever server sees it.
    async fn nonce(&self, key_id: &str, nonce: &str, at: i64) -> Result<super::NonceUse, StoreError> {
        let done = sqlx::query("INSERT INTO nonces (key_id, nonce, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(key_id)
            .bind(nonce)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(if done.rows_affected() == 1 { super::NonceUse::Fresh } else { super::NonceUse::Replayed })
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

super::sql::sql_store!(PgStore, sqlx::Postgres, sqlx::postgres::PgRow, "postgres");
super::roster::roster_store!(PgStore, sqlx::postgres::PgRow);
super::login_sql::login_store!(PgStore, sqlx::postgres::PgRow);
super::bank::bank_store!(PgStore);
super::exam::exam_store!(PgStore, sqlx::postgres::PgRow);
super::exam_invigilation::invigilation_store!(PgStore, sqlx::postgres::PgRow);
