//! The day's roster: a CSV or JSON file of bookings, checked row by row (every
//! bad row reported with its line and reason), then stored all or nothing with
//! the photos and templates sealed.
//!
//! - [`parse`]: CSV and JSON text to bookings as written, with their lines.
//! - [`validate`]: each field checked and normalised; photos decoded,
//!   templates parsed; duplicates within the file.
//! - [`import`]: the whole import: check, compare with what is stored, seal, store.
//! - [`today`], [`purge_at`]: the exam centre's day, in `[roster] utc_offset`.

pub mod dates;
pub mod parse;
pub mod validate;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use examgate_protocol::login::TemplateData;
use serde::Serialize;

pub use dates::{Clock, ExamDate, purge_at, today, utc_offset_secs};
pub use validate::{ValidBooking, ValidTemplate};

use crate::config::Config;
use crate::crypto::sha256_hex;
use crate::seal::{SealError, Sealer, aad};
use crate::store::{ImportSummary, NewCandidate, NewImport, Store, StoreError, replace_refusal};

/// The columns of a CSV roster, in the documented order.
pub const CSV_COLUMNS: [&str; 7] = ["booking_number", "id_number", "name", "session", "language", "photo", "templates"];
/// An optional CSV column (and JSON field): the exam a candidate takes (default `[exam] default`).
pub const OPTIONAL_EXAM_COLUMN: &str = "exam";

/// Largest roster photo.
pub const MAX_PHOTO_BYTES: usize = 1 << 20;
/// Largest enrolled template in a reader's own format.
pub const MAX_VENDOR_TEMPLATE_BYTES: usize = 4 << 10;
/// Largest ISO 19794-2 / ANSI 378 record read (far above any real one).
pub const MAX_STANDARD_TEMPLATE_BYTES: usize = 64 << 10;
/// Enrolled templates per booking.
pub const MAX_TEMPLATES: usize = 10;

/// The file format of a roster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RosterFormat {
    Csv,
    Json,
}

impl RosterFormat {
    /// By the file's extension (`.csv`, `.json`).
    pub fn from_path(path: &Path) -> Option<RosterFormat> {
        path.extension().and_then(|e| e.to_str()).and_then(|e| e.to_ascii_lowercase().parse().ok())
    }
}

impl FromStr for RosterFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<RosterFormat, String> {
        match s {
            "csv" => Ok(RosterFormat::Csv),
            "json" => Ok(RosterFormat::Json),
            _ => Err(format!("unknown roster format {s:?}: csv or json")),
        }
    }
}

/// Where a row error points: a CSV physical line, or a JSON booking's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Line,
    Booking,
}

/// One problem with one row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// CSV: the physical line (the header is line 1); JSON: the booking's 1-based index.
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_number: Option<String>,
    pub field: String,
    pub reason: String,
    #[serde(skip)]
    pub place: Place,
}

impl RowError {
    pub fn new(place: Place, line: usize, field: &str, reason: impl Into<String>) -> RowError {
        RowError { line, booking_number: None, field: field.to_owned(), reason: reason.into(), place }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = match self.place {
            Place::Line => "line",
            Place::Booking => "booking",
        };
        write!(f, "{place} {}: {}: {}", self.line, self.field, self.reason)
    }
}

/// Why an import stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}", errors_summary(.0))]
    Invalid(Vec<RowError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("the roster check stopped unexpectedly: {0}")]
    Internal(String),
}

/// `3 rows have errors`: how many rows (not errors) a person has to fix.
pub fn errors_summary(errors: &[RowError]) -> String {
    let rows = errors.iter().map(|e| e.line).collect::<HashSet<_>>().len();
    if rows == 1 { "1 row has errors".to_owned() } else { format!("{rows} rows have errors") }
}

/// Why a file named in the roster could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("no such file")]
    Missing,
    #[error("larger than {0} bytes")]
    TooLarge(usize),
    #[error("cannot be read: {0}")]
    Unreadable(String),
}

/// The photo and template files a roster names.
pub trait RosterFiles: Send + Sync {
    /// The file's bytes, refusing one larger than `limit`.
    fn read(&self, path: &str, limit: usize) -> Result<Vec<u8>, FileError>;
}

/// Files beside the roster file (paths relative to its folder).
pub struct DirFiles(pub PathBuf);

impl RosterFiles for DirFiles {
    fn read(&self, path: &str, limit: usize) -> Result<Vec<u8>, FileError> {
        let file = std::fs::File::open(self.0.join(path)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => FileError::Missing,
            _ => FileError::Unreadable(e.to_string()),
        })?;
        let mut bytes = Vec::new();
        file.take(limit as u64 + 1).read_to_end(&mut bytes).map_err(|e| FileError::Unreadable(e.to_string()))?;
        if bytes.len() > limit {
            return Err(FileError::TooLarge(limit));
        }
        Ok(bytes)
    }
}

/// Files sent with the roster (the console API's `files`).
#[derive(Default)]
pub struct MapFiles(pub HashMap<String, Vec<u8>>);

impl RosterFiles for MapFiles {
    fn read(&self, path: &str, limit: usize) -> Result<Vec<u8>, FileError> {
        let bytes = self.0.get(path).ok_or(FileError::Missing)?;
        if bytes.len() > limit {
            return Err(FileError::TooLarge(limit));
        }
        Ok(bytes.clone())
    }
}

/// A roster to import.
pub struct RosterSource {
    pub format: RosterFormat,
    /// The file's name, for the import record and the audit (`roster.csv`).
    pub name: String,
    pub bytes: Vec<u8>,
    pub files: Box<dyn RosterFiles>,
}

/// Checks every row of a roster without storing anything: the bookings, or every error.
pub fn check(format: RosterFormat, bytes: &[u8], files: &dyn RosterFiles) -> Result<Vec<ValidBooking>, Vec<RowError>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| vec![RowError::new(Place::Line, 0, "roster", format!("is not UTF-8 text ({e})"))])?;
    // Spreadsheet programs start their CSV with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (raw, mut errors) = match format {
        RosterFormat::Csv => parse::csv(text),
        RosterFormat::Json => parse::json(text),
    };
    if raw.is_empty() && errors.is_empty() {
        errors.push(RowError::new(Place::Line, 0, "roster", "has no bookings"));
    }
    let (valid, row_errors) = validate::bookings(&raw, files);
    errors.extend(row_errors);
    if errors.is_empty() {
        Ok(valid)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

/// Imports a roster: checks it, compares it with the bookings stored, seals the
/// photos and templates and stores everything in one transaction.
pub async fn import(
    store: &dyn Store,
    sealer: &Arc<Sealer>,
    config: &Config,
    source: RosterSource,
    actor: &str,
    now: i64,
) -> Result<ImportSummary, ImportError> {
    let RosterSource { format, name, bytes, files } = source;
    let sha256 = sha256_hex(&bytes);
    let checked = tokio::task::spawn_blocking(move || check(format, &bytes, files.as_ref()))
        .await
        .map_err(|e| ImportError::Internal(e.to_string()))?;
    let bookings = checked.map_err(ImportError::Invalid)?;
    let errors = compare_with_stored(store, &bookings, format).await?;
    if !errors.is_empty() {
        return Err(ImportError::Invalid(errors));
    }
    let sealer = sealer.clone();
    let config = config.clone();
    let rows = tokio::task::spawn_blocking(move || seal_all(&sealer, &config, bookings))
        .await
        .map_err(|e| ImportError::Internal(e.to_string()))??;
    let import = NewImport { id: crate::ids::random_hex(8), actor: actor.to_owned(), source: name, sha256 };
    let summary = store.import_roster(import, rows, now).await?;
    tracing::info!(import = %summary.import_id, rows = summary.rows, replaced = summary.replaced, "roster imported");
    Ok(summary)
}

/// A booking that is past `booked`, or an ID number another stored booking
/// holds on the same date, is refused here with its row; the store checks the
/// same again inside its transaction.
async fn compare_with_stored(
    store: &dyn Store,
    bookings: &[ValidBooking],
    format: RosterFormat,
) -> Result<Vec<RowError>, StoreError> {
    let place = place_of(format);
    let in_file: HashSet<&str> = bookings.iter().map(|b| b.booking_number.as_str()).collect();
    let mut errors = Vec::new();
    for b in bookings {
        let error = |field: &str, reason: String| RowError {
            booking_number: Some(b.booking_number.clone()),
            ..RowError::new(place, b.line, field, reason)
        };
        if let Some(stored) = store.candidate(&b.booking_number).await?
            && let Some(why) = replace_refusal(stored.state)
        {
            errors.push(error("booking_number", why.to_owned()));
        }
        if let Some(other) = store.candidate_by_id_number(&b.id_number, &b.exam_date.to_string()).await?
            && !in_file.contains(other.booking_number.as_str())
        {
            errors.push(error(
                "id_number",
                format!("this ID number is already booked on {} (booking {})", b.exam_date, other.booking_number),
            ));
        }
    }
    Ok(errors)
}

pub(crate) fn place_of(format: RosterFormat) -> Place {
    match format {
        RosterFormat::Csv => Place::Line,
        RosterFormat::Json => Place::Booking,
    }
}

fn seal_all(sealer: &Sealer, config: &Config, bookings: Vec<ValidBooking>) -> Result<Vec<NewCandidate>, SealError> {
    bookings
        .into_iter()
        .map(|b| {
            let templates: Vec<TemplateData> = b.templates.iter().map(ValidTemplate::to_data).collect();
            let json = serde_json::to_vec(&templates).expect("template data serialises");
            Ok(NewCandidate {
                photo: sealer.seal(&aad::photo(&b.booking_number), &b.photo)?,
                templates: sealer.seal(&aad::templates(&b.booking_number), &json)?,
                template_count: templates.len() as u32,
                purge_at: purge_at(config, b.exam_date),
                exam_date: b.exam_date.to_string(),
                booking_number: b.booking_number,
                id_number: b.id_number,
                name: b.name,
                session: b.session,
                language: b.language,
                exam: b.exam,
            })
        })
        .collect()
}

/// The image type of a photo's bytes (`image/jpeg` or `image/png`).
pub fn photo_content_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") { "image/png" } else { "image/jpeg" }
}
