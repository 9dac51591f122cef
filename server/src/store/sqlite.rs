//! The embedded SQLite store (the default): one file, WAL, `synchronous=FULL`
//! so that a delivery the server confirmed survives a power cut too.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::{MIGRATIONS, StoreError};

pub struct SqliteStore {
    /// The one writer: SQLite writes one transaction at a time anyway, and
    /// waiting for this pool's single connection is a fair queue, where
    /// several writers would poll the file lock with growing sleeps.
    pool: SqlitePool,
    /// Read-only connections: in WAL mode they read beside the writer, so a
    /// heartbeat's key lookup never waits behind a delivery's fsync.
    reader: SqlitePool,
    /// Nonces seen inside the signature window. One process serves a SQLite
    /// file, so memory is enough; requests signed before this process started
    /// are refused as `NonceUse::BeforeStart`, so a restart opens no window for replays.
    nonces: Mutex<HashMap<(String, String), i64>>,
    started_at: i64,
}

pub(super) fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(*version, (*name).into(), MigrationType::Simple, sql.into_sql_str(), false)
            })
            .collect(),
    )
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and migrates it.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Invalid(format!("{}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
        restrict_permissions(path);
        migrator().run(&pool).await?;
        let reader = SqlitePoolOptions::new().max_connections(4).connect_with(options.read_only(true)).await?;
        Ok(SqliteStore { pool, reader, nonces: Mutex::default(), started_at: crate::now_ms() })
    }

    async fn nonce(&self, key_id: &str, nonce: &str, at: i64) -> Result<super::NonceUse, StoreError> {
        if at < self.started_at {
            return Ok(super::NonceUse::BeforeStart);
        }
        let mut seen = self.nonces.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(match seen.insert((key_id.to_owned(), nonce.to_owned()), at) {
            None => super::NonceUse::Fresh,
            Some(_) => super::NonceUse::Replayed,
        })
    }

    async fn prune(&self, before: i64) -> Result<u64, StoreError> {
        let mut seen = self.nonces.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = seen.len();
        seen.retain(|_, at| *at >= before);
        Ok((n - seen.len()) as u64)
    }

    const HEAD_FOR_UPDATE: &'static str = "SELECT seq, hash FROM audit_head WHERE id = 1";

    /// SQLite has one writer: take the lock at BEGIN so that a transaction
    /// that reads first never fails to upgrade.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// In WAL mode a read transaction sees one snapshot throughout.
    async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.reader.begin().await
    }
}

/// The database holds the audit chain and the accounts: readable by the server's user only.
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for p in [path.to_path_buf(), path.with_extension("db-wal"), path.with_extension("db-shm")] {
        if p.exists() {
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
    }
}

super::sql::sql_store!(SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow, "sqlite");
super::roster::roster_store!(SqliteStore, sqlx::sqlite::SqliteRow);
super::login_sql::login_store!(SqliteStore, sqlx::sqlite::SqliteRow);
super::bank::bank_store!(SqliteStore);
super::exam::exam_store!(SqliteStore, sqlx::sqlite::SqliteRow);
super::exam_invigilation::invigilation_store!(SqliteStore, sqlx::sqlite::SqliteRow);
