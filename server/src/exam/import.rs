//! `bank import`: a file or directory read into items and exam definitions
//! (every problem reported), merged with the current bank version into the
//! next one, and stored all or nothing with its audit row.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::bank::{BankVersion, ExamDef, Item};
use super::package::{Package, PackageError};
use crate::store::{BankImportOutcome, NewBankImport, NewMediaFile, Store, StoreError};

/// One problem with one item (or file) of an import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BankError {
    /// The file inside the package (or the JSON / TOML file) it is in.
    pub file: String,
    /// The item's (or test's) identifier, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    pub field: String,
    pub reason: String,
}

impl BankError {
    pub fn at(file: &str, item: &str, field: &str, reason: impl Into<String>) -> BankError {
        BankError { file: file.to_owned(), item: Some(item.to_owned()), field: field.to_owned(), reason: reason.into() }
    }

    pub fn package(file: &str, field: &str, reason: impl Into<String>) -> BankError {
        BankError { file: file.to_owned(), item: None, field: field.to_owned(), reason: reason.into() }
    }
}

impl fmt::Display for BankError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.item {
            Some(item) => write!(f, "{}: {item}: {}: {}", self.file, self.field, self.reason),
            None => write!(f, "{}: {}: {}", self.file, self.field, self.reason),
        }
    }
}

/// What a source holds, checked.
#[derive(Clone, Debug, Default)]
pub struct Imported {
    pub items: Vec<Item>,
    pub exams: Vec<ExamDef>,
    /// Media bytes by SHA-256, with their MIME type.
    pub media: BTreeMap<String, (String, Vec<u8>)>,
}

/// Why an import stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{} problems; nothing was imported", .0.len())]
    Invalid(Vec<BankError>),
    #[error("{0}; nothing was imported")]
    Package(#[from] PackageError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {reason}; nothing was imported")]
    Unreadable { path: String, reason: String },
}

/// What kind of source a path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A QTI content package: a `.zip` or a directory with `imsmanifest.xml`.
    Qti,
    /// examgate's JSON bank.
    Json,
    /// A TOML rules file: one exam definition.
    Rules,
}

impl SourceKind {
    pub fn of(path: &Path) -> SourceKind {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("json") => SourceKind::Json,
            Some("toml") => SourceKind::Rules,
            _ => SourceKind::Qti,
        }
    }
}

/// Reads and checks a source without storing anything. Returns it with the
/// SHA-256 of what was read.
pub fn read(path: &Path, limit: u64) -> Result<(Imported, String), ImportError> {
    match SourceKind::of(path) {
        SourceKind::Qti => {
            let package = Package::open(path, limit)?;
            let imported = super::qti::read(&package).map_err(ImportError::Invalid)?;
            Ok((imported, package.sha256))
        }
        SourceKind::Json => super::jsonbank::read(path, limit),
        SourceKind::Rules => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ImportError::Unreadable { path: path.display().to_string(), reason: e.to_string() })?;
            let exam = super::rules::parse(&text)
                .map_err(|why| ImportError::Invalid(vec![BankError::package(&file_name(path), "rules", why)]))?;
            Ok((Imported { exams: vec![exam], ..Imported::default() }, crate::crypto::sha256_hex(text.as_bytes())))
        }
    }
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

/// How an import changes the bank.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MergeSummary {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    /// Items given a language they did not have (and nothing else changed).
    pub translated: Vec<String>,
    pub unchanged: usize,
}

/// The next bank version: `current`'s items with `imported` added or
/// replacing theirs. An imported item replaces the stored one's choices,
/// answer, type, points and category and the translations it brings; the
/// stored translations of other languages stay when the choice identifiers
/// are the same, and are an error otherwise (import all its languages together).
pub fn merge(
    current: Option<&BankVersion>,
    imported: &[Item],
    source: &str,
) -> Result<(BankVersion, MergeSummary), Vec<BankError>> {
    let mut items: BTreeMap<String, Item> =
        current.map(|c| c.items.iter().map(|i| (i.id.clone(), i.clone())).collect()).unwrap_or_default();
    let mut summary = MergeSummary::default();
    let mut errors = Vec::new();
    for new in imported {
        let Some(old) = items.get(&new.id) else {
            summary.added.push(new.id.clone());
            items.insert(new.id.clone(), new.clone());
            continue;
        };
        let mut next = new.clone();
        if next.category.is_empty() {
            next.category = old.category.clone();
        }
        let choice_ids = |i: &Item| i.choices.iter().map(|c| c.id.clone()).collect::<BTreeSet<_>>();
        let missing: Vec<&String> = old.translations.keys().filter(|l| !new.translations.contains_key(*l)).collect();
        if !missing.is_empty() && choice_ids(old) != choice_ids(new) {
            errors.push(BankError::at(
                source,
                &new.id,
                "choices",
                format!(
                    "the choices differ from the stored item's, whose {} translation(s) this import lacks: import all its languages together",
                    missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
            continue;
        }
        for lang in missing {
            next.translations.insert(lang.clone(), old.translations[lang].clone());
        }
        next.normalise();
        if next == *old {
            summary.unchanged += 1;
            continue;
        }
        let same_but_words = Item { translations: old.translations.clone(), ..next.clone() } == *old
            && old.translations.iter().all(|(l, t)| next.translations.get(l) == Some(t));
        if same_but_words {
            summary.translated.push(new.id.clone());
        } else {
            summary.changed.push(new.id.clone());
        }
        items.insert(new.id.clone(), next);
    }
    if errors.is_empty() { Ok((BankVersion::new(items.into_values().collect()), summary)) } else { Err(errors) }
}

/// What `bank import` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The bank version now current.
    pub version: String,
    /// The version before (None: the first).
    pub previous: Option<String>,
    /// Whether nothing changed (the same content was imported before).
    pub unchanged: bool,
    pub items: usize,
    pub merge: MergeSummary,
    /// Exam definitions stored new or changed.
    pub exams: Vec<String>,
    /// Items of the new version without a category (no test has referenced them): never drawn.
    pub uncategorised: usize,
}

/// Imports `path` into the store: read, check, merge, store (one transaction, audited).
pub async fn import(
    store: &dyn Store,
    path: &Path,
    limit: u64,
    actor: &str,
    now: i64,
) -> Result<ImportReport, ImportError> {
    let owned = path.to_path_buf();
    let (imported, sha256) = tokio::task::spawn_blocking(move || read(&owned, limit))
        .await
        .map_err(|e| ImportError::Unreadable { path: path.display().to_string(), reason: e.to_string() })??;
    let source = file_name(path);
    let current = match store.current_bank_version().await? {
        Some(v) => store.bank_version(&v).await?,
        None => None,
    };
    let (next, merge_summary) = if imported.items.is_empty() {
        (current.clone().unwrap_or_else(|| BankVersion::new(Vec::new())), MergeSummary::default())
    } else {
        merge(current.as_ref(), &imported.items, &source).map_err(ImportError::Invalid)?
    };
    let bank_changed = current.as_ref().map(|c| &c.version) != Some(&next.version) && !next.items.is_empty();
    let media: Vec<NewMediaFile> =
        imported.media.into_iter().map(|(sha256, (mime, data))| NewMediaFile { sha256, mime, data }).collect();
    let outcome = store
        .import_bank(
            NewBankImport {
                actor: actor.to_owned(),
                source,
                source_sha256: sha256,
                previous: current.as_ref().map(|c| c.version.clone()),
                bank: bank_changed.then_some(next.clone()),
                media: if bank_changed { media } else { Vec::new() },
                exams: imported.exams,
            },
            now,
        )
        .await?;
    let BankImportOutcome { exams } = outcome;
    Ok(ImportReport {
        unchanged: !bank_changed && exams.is_empty(),
        version: next.version,
        previous: current.map(|c| c.version),
        items: next.items.len(),
        uncategorised: next.items.iter().filter(|i| i.category.is_empty()).count(),
        merge: merge_summary,
        exams,
    })
}
