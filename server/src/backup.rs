//! Backup and restore of a whole centre, across databases: a backup taken
//! from SQLite restores into PostgreSQL and back.
//!
//! The file is JSON lines: a header, one line per table, one line per
//! snapshot file (base64), and a trailer holding the SHA-256 of every line
//! before it. Tables are read in one consistent snapshot while the server
//! keeps serving; snapshot files never change once written and are written
//! before the row that names them, so every file a row names is there.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{self, Action, Entry};
use crate::crypto::sha256_hex;
use crate::snapshots::{SnapshotFiles, is_sha256_hex};
use crate::store::{SCHEMA_VERSION, Store, StoreError, TableDump, Value};

const FORMAT: &str = "examgate-backup";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Header { format: String, schema: i64, created_at: i64, source: String },
    Table(TableDump),
    File { sha256: String, data: String },
    End { tables: usize, rows: usize, files: usize, sha256: String },
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
}

/// What a backup or restore moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub tables: usize,
    pub rows: usize,
    pub files: usize,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.display().to_string(), source }
}

/// Writes a backup of `store` and the snapshot files its rows name to `out`.
pub async fn backup(store: &dyn Store, files: &SnapshotFiles, out: &Path) -> Result<Summary, BackupError> {
    let tables = store.dump().await?;
    let named: BTreeSet<String> = tables
        .iter()
        .filter(|t| t.name == "deliveries")
        .flat_map(|t| {
            let col = t.columns.iter().position(|c| c == "file_sha256");
            t.rows.iter().filter_map(move |r| match col.map(|i| &r[i]) {
                Some(Value::Text(h)) => Some(h.clone()),
                _ => None,
            })
        })
        .collect();
    let tmp = out.with_extension("partial");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io(&tmp))?);
    let mut hash = Sha256::new();
    let mut put = |w: &mut std::io::BufWriter<std::fs::File>, line: &Line| -> Result<(), BackupError> {
        let mut text = serde_json::to_string(line).map_err(|e| BackupError::Invalid(e.to_string()))?;
        text.push('\n');
        hash.update(text.as_bytes());
        w.write_all(text.as_bytes()).map_err(io(&tmp))
    };
    let header = Line::Header {
        format: FORMAT.into(),
        schema: SCHEMA_VERSION,
        created_at: crate::now_ms(),
        source: store.kind().into(),
    };
    put(&mut w, &header)?;
    let summary = Summary { tables: tables.len(), rows: tables.iter().map(|t| t.rows.len()).sum(), files: named.len() };
    for t in tables {
        put(&mut w, &Line::Table(t))?;
    }
    for sha256 in &named {
        let bytes = files.get(sha256).map_err(io(&files.path(sha256)))?;
        put(&mut w, &Line::File { sha256: sha256.clone(), data: B64.encode(bytes) })?;
    }
    let digest = audit::hex(&hash.finalize());
    let end = Line::End { tables: summary.tables, rows: summary.rows, files: summary.files, sha256: digest };
    let text = serde_json::to_string(&end).map_err(|e| BackupError::Invalid(e.to_string()))? + "\n";
    w.write_all(text.as_bytes()).map_err(io(&tmp))?;
    let f = w.into_inner().map_err(|e| BackupError::Invalid(e.to_string()))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, out).map_err(io(out))?;
    Ok(summary)
}

/// Restores a backup into an empty database and its snapshot directory,
/// then audits the restore.
pub async fn restore(store: &dyn Store, files: &SnapshotFiles, input: &Path) -> Result<Summary, BackupError> {
    if !store.is_empty().await? {
        return Err(BackupError::Invalid(
            "the database is not empty: restore into a new database (or a new data directory)".into(),
        ));
    }
    let reader = BufReader::new(std::fs::File::open(input).map_err(io(input))?);
    let mut hash = Sha256::new();
    let mut tables = Vec::new();
    let mut pending_files = Vec::new();
    let mut source = String::new();
    let mut end = None;
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(io(input))?;
        let parsed: Line = serde_json::from_str(&line)
            .map_err(|e| BackupError::Invalid(format!("{}: line {}: {e}", input.display(), n + 1)))?;
        if end.is_some() {
            return Err(BackupError::Invalid(format!("{}: lines after the end", input.display())));
        }
        match parsed {
            Line::Header { format, schema, source: s, .. } => {
                if format != FORMAT {
                    return Err(BackupError::Invalid(format!("{} is not an examgate backup", input.display())));
                }
                if schema != SCHEMA_VERSION {
                    return Err(BackupError::Invalid(format!(
                        "the backup has schema {schema}, this server {SCHEMA_VERSION}: restore it with a matching server"
                    )));
                }
                source = s;
            }
            Line::Table(t) => tables.push(t),
            Line::File { sha256, data } => pending_files.push((sha256, data)),
            Line::End { tables: t, rows, files: f, sha256 } => {
                let digest = audit::hex(&hash.clone().finalize());
                if digest != sha256 {
                    return Err(BackupError::Invalid(format!(
                        "{} is damaged: its checksum does not match",
                        input.display()
                    )));
                }
                end = Some(Summary { tables: t, rows, files: f });
            }
        }
        hash.update(line.as_bytes());
        hash.update(b"\n");
    }
    let summary =
        end.ok_or_else(|| BackupError::Invalid(format!("{} is cut short: it has no end line", input.display())))?;
    for (sha256, data) in &pending_files {
        let bytes = B64.decode(data).map_err(|_| BackupError::Invalid(format!("file {sha256} is not base64")))?;
        if !is_sha256_hex(sha256) || sha256_hex(&bytes) != *sha256 {
            return Err(BackupError::Invalid(format!("file {sha256} does not match its hash")));
        }
        files.put(sha256, &bytes).map_err(io(&files.path(sha256)))?;
    }
    store.load(tables).await?;
    let detail = format!(
        "restored {} rows in {} tables and {} files from a {source} backup",
        summary.rows, summary.tables, summary.files
    );
    store.audit(Entry::new("cli", Action::Restore, "server", detail), crate::now_ms()).await?;
    Ok(summary)
}
