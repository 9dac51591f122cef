//! The question bank in the store: append-only item versions, bank versions,
//! media (base64 in `bank_media`), the imports that changed the bank, and
//! exam definitions. Migration `0003_bank.sql`; one SQL text for both databases.

use async_trait::async_trait;

use super::StoreError;
use crate::exam::{BankVersion, ExamDef};

/// A media file an import brings (stored once by its hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMediaFile {
    pub sha256: String,
    pub mime: String,
    pub data: Vec<u8>,
}

/// What one import stores, all or nothing with its audit row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBankImport {
    /// `cli` or `user:…`.
    pub actor: String,
    /// The file or directory name as given.
    pub source: String,
    pub source_sha256: String,
    /// The bank version the import was merged onto (`None`: there was none);
    /// if another import made a newer one meanwhile, this one fails with a conflict.
    pub previous: Option<String>,
    /// The new bank version, or `None` when the import leaves the bank as it is.
    pub bank: Option<BankVersion>,
    pub media: Vec<NewMediaFile>,
    /// Exam definitions; one that equals the stored current one is skipped.
    pub exams: Vec<ExamDef>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BankImportOutcome {
    /// The exam definitions that were new or changed.
    pub exams: Vec<String>,
}

/// A stored bank version, for `bank list`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BankVersionInfo {
    pub version: String,
    pub created_at: i64,
    pub items: u64,
    pub current: bool,
}

/// A stored picture or video.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMedia {
    pub sha256: String,
    pub mime: String,
    pub data: Vec<u8>,
}

#[async_trait]
pub trait BankStore: Send + Sync + 'static {
    /// Stores an import in one transaction with one `bank_imported` audit
    /// row; stores nothing (and audits nothing) when it changes nothing.
    async fn import_bank(&self, import: NewBankImport, now: i64) -> Result<BankImportOutcome, StoreError>;
    /// The current bank version (the newest import's), if any.
    async fn current_bank_version(&self) -> Result<Option<String>, StoreError>;
    /// A whole bank version, its items sorted by id (no media bytes).
    async fn bank_version(&self, version: &str) -> Result<Option<BankVersion>, StoreError>;
    /// Every bank version, oldest first.
    async fn bank_versions(&self) -> Result<Vec<BankVersionInfo>, StoreError>;
    async fn bank_media(&self, sha256: &str) -> Result<Option<StoredMedia>, StoreError>;
    /// The current definition of every exam, by id.
    async fn exam_defs(&self) -> Result<Vec<ExamDef>, StoreError>;
    async fn exam_def(&self, id: &str) -> Result<Option<ExamDef>, StoreError>;
}

pub(super) fn parse_item(body: &str) -> Result<crate::exam::Item, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Invalid(format!("a stored bank item is not valid: {e}")))
}

pub(super) fn parse_exam(body: &str) -> Result<ExamDef, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Invalid(format!("a stored exam definition is not valid: {e}")))
}

pub(super) fn decode_media(data: &str) -> Result<Vec<u8>, StoreError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| StoreError::Invalid("a stored media file is not base64".into()))
}

pub(super) fn encode_media(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// `impl BankStore` for a store made by `sql_store!` (it uses that macro's
/// `Tx` and `append`): one SQL text for both databases.
macro_rules! bank_store {
    ($Store:ident) => {
        mod bank_sql {
            use async_trait::async_trait;

            use super::{$Store, Tx, append};
            use crate::audit::Action;
            use crate::exam::{BankVersion, ExamDef};
            use crate::store::bank::{decode_media, encode_media, parse_exam, parse_item};
            use crate::store::*;

            async fn current(tx: &mut Tx) -> Result<Option<String>, StoreError> {
                let v: Option<Option<String>> =
                    sqlx::query_scalar("SELECT version FROM bank_imports ORDER BY seq DESC LIMIT 1")
                        .fetch_optional(&mut **tx)
                        .await?;
                Ok(v.flatten())
            }

            async fn current_exam_sha(tx: &mut Tx, id: &str) -> Result<Option<String>, StoreError> {
                Ok(sqlx::query_scalar("SELECT sha256 FROM exam_defs WHERE exam_id = $1 ORDER BY seq DESC LIMIT 1")
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?)
            }

            #[async_trait]
            impl BankStore for $Store {
                async fn import_bank(&self, import: NewBankImport, now: i64) -> Result<BankImportOutcome, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let stored = current(&mut tx).await?;
                    if stored != import.previous {
                        return Err(StoreError::Conflict(
                            "the bank changed while this import was read: import it again".into(),
                        ));
                    }
                    let mut bank_changed = false;
                    if let Some(bank) = &import.bank
                        && Some(&bank.version) != stored.as_ref()
                    {
                        bank_changed = true;
                        for m in &import.media {
                            sqlx::query(
                                "INSERT INTO bank_media (sha256, mime, size, data) VALUES ($1, $2, $3, $4) \
                                 ON CONFLICT (sha256) DO NOTHING",
                            )
                            .bind(&m.sha256)
                            .bind(&m.mime)
                            .bind(m.data.len() as i64)
                            .bind(encode_media(&m.data))
                            .execute(&mut *tx)
                            .await?;
                        }
                        let known: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bank_versions WHERE version = $1")
                            .bind(&bank.version)
                            .fetch_one(&mut *tx)
                            .await?;
                        if known == 0 {
                            sqlx::query("INSERT INTO bank_versions (version, created_at, items) VALUES ($1, $2, $3)")
                                .bind(&bank.version)
                                .bind(now)
                                .bind(bank.items.len() as i64)
                                .execute(&mut *tx)
                                .await?;
                            for item in &bank.items {
                                let body = String::from_utf8(item.canonical_json()).expect("JSON is UTF-8");
                                let sha = crate::crypto::sha256_hex(body.as_bytes());
                                sqlx::query(
                                    "INSERT INTO bank_items (sha256, item_id, category, kind, body) \
                                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
                                )
                                .bind(&sha)
                                .bind(&item.id)
                                .bind(&item.category)
                                .bind(item.kind.as_str())
                                .bind(&body)
                                .execute(&mut *tx)
                                .await?;
                                sqlx::query(
                                    "INSERT INTO bank_version_items (version, item_id, item_sha256) VALUES ($1, $2, $3)",
                                )
                                .bind(&bank.version)
                                .bind(&item.id)
                                .bind(&sha)
                                .execute(&mut *tx)
                                .await?;
                            }
                        }
                    }
                    let mut exams = Vec::new();
                    for exam in &import.exams {
                        let sha = exam.sha256();
                        if current_exam_sha(&mut tx, &exam.id).await?.as_deref() == Some(sha.as_str()) {
                            continue;
                        }
                        let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM exam_defs")
                            .fetch_one(&mut *tx)
                            .await?;
                        sqlx::query(
                            "INSERT INTO exam_defs (seq, exam_id, sha256, body, source, created_at) \
                             VALUES ($1, $2, $3, $4, $5, $6)",
                        )
                        .bind(seq)
                        .bind(&exam.id)
                        .bind(&sha)
                        .bind(serde_json::to_string(exam).expect("an exam definition serialises"))
                        .bind(&import.source)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        exams.push(exam.id.clone());
                    }
                    if !bank_changed && exams.is_empty() {
                        tx.rollback().await?;
                        return Ok(BankImportOutcome::default());
                    }
                    let version = if bank_changed { import.bank.as_ref().map(|b| b.version.clone()) } else { stored.clone() };
                    let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM bank_imports")
                        .fetch_one(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO bank_imports (seq, at, actor, source, source_sha256, version, previous) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(seq)
                    .bind(now)
                    .bind(&import.actor)
                    .bind(&import.source)
                    .bind(&import.source_sha256)
                    .bind(&version)
                    .bind(&stored)
                    .execute(&mut *tx)
                    .await?;
                    let items = import.bank.as_ref().map_or(0, |b| b.items.len());
                    let detail = format!(
                        "{:?} (sha256 {}) imported: bank version {} ({}), was {}; exam definitions changed: {}",
                        import.source,
                        import.source_sha256,
                        version.as_deref().unwrap_or("none"),
                        if bank_changed { format!("{items} items") } else { "unchanged".to_owned() },
                        stored.as_deref().unwrap_or("none"),
                        if exams.is_empty() { "none".to_owned() } else { exams.join(", ") },
                    );
                    let subject = format!("bank:{}", version.as_deref().unwrap_or("none"));
                    append(&mut tx, &entry(&import.actor, Action::BankImported, subject, detail), now).await?;
                    tx.commit().await?;
                    Ok(BankImportOutcome { exams })
                }

                async fn current_bank_version(&self) -> Result<Option<String>, StoreError> {
                    let v: Option<Option<String>> =
                        sqlx::query_scalar("SELECT version FROM bank_imports ORDER BY seq DESC LIMIT 1")
                            .fetch_optional(&self.reader)
                            .await?;
                    Ok(v.flatten())
                }

                async fn bank_version(&self, version: &str) -> Result<Option<BankVersion>, StoreError> {
                    let known: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bank_versions WHERE version = $1")
                        .bind(version)
                        .fetch_one(&self.reader)
                        .await?;
                    if known == 0 {
                        return Ok(None);
                    }
                    let bodies: Vec<String> = sqlx::query_scalar(
                        "SELECT i.body FROM bank_version_items v JOIN bank_items i ON i.sha256 = v.item_sha256 \
                         WHERE v.version = $1 ORDER BY v.item_id",
                    )
                    .bind(version)
                    .fetch_all(&self.reader)
                    .await?;
                    let items = bodies.iter().map(|b| parse_item(b)).collect::<Result<Vec<_>, _>>()?;
                    let bank = BankVersion::new(items);
                    if bank.version != version {
                        return Err(StoreError::Invalid(format!(
                            "bank version {version} does not hash to its name (it gives {}): the stored bank was altered",
                            bank.version
                        )));
                    }
                    Ok(Some(bank))
                }

                async fn bank_versions(&self) -> Result<Vec<BankVersionInfo>, StoreError> {
                    let current = self.current_bank_version().await?;
                    let rows: Vec<(String, i64, i64)> =
                        sqlx::query_as("SELECT version, created_at, items FROM bank_versions ORDER BY created_at, version")
                            .fetch_all(&self.reader)
                            .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(version, created_at, items)| BankVersionInfo {
                            current: current.as_deref() == Some(version.as_str()),
                            version,
                            created_at,
                            items: u64::try_from(items).unwrap_or(0),
                        })
                        .collect())
                }

                async fn bank_media(&self, sha256: &str) -> Result<Option<StoredMedia>, StoreError> {
                    let row: Option<(String, String)> =
                        sqlx::query_as("SELECT mime, data FROM bank_media WHERE sha256 = $1")
                            .bind(sha256)
                            .fetch_optional(&self.reader)
                            .await?;
                    row.map(|(mime, data)| Ok(StoredMedia { sha256: sha256.to_owned(), mime, data: decode_media(&data)? }))
                        .transpose()
                }

                async fn exam_defs(&self) -> Result<Vec<ExamDef>, StoreError> {
                    let bodies: Vec<String> = sqlx::query_scalar(
                        "SELECT body FROM exam_defs e WHERE seq = \
                         (SELECT MAX(seq) FROM exam_defs x WHERE x.exam_id = e.exam_id) ORDER BY exam_id",
                    )
                    .fetch_all(&self.reader)
                    .await?;
                    bodies.iter().map(|b| parse_exam(b)).collect()
                }

                async fn exam_def(&self, id: &str) -> Result<Option<ExamDef>, StoreError> {
                    let body: Option<String> =
                        sqlx::query_scalar("SELECT body FROM exam_defs WHERE exam_id = $1 ORDER BY seq DESC LIMIT 1")
                            .bind(id)
                            .fetch_optional(&self.reader)
                            .await?;
                    body.as_deref().map(parse_exam).transpose()
                }
            }
        }
    };
}

pub(super) use bank_store;
