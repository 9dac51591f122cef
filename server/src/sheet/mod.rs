//! The score sheet of a finished exam: a one-page A4 PDF with the candidate's
//! facts, the roster photo, the login's verification snapshot and the in-exam
//! snapshots, check characters beside the key fields ([`check`]), and a QR
//! code ([`qr`]) holding those facts signed by the centre.
//!
//! The centre's key is the server's Ed25519 signing key
//! (`<data_dir>/server.ed25519`, [`crate::exam::key`]), the one that signs
//! paper manifests: one key per centre, mode 0600, made on first use, in no
//! backup (like `roster.key`). `examgate-server sheet key` prints its public
//! half for whoever checks sheets.
//!
//! `sheet verify` ([`verify_pdf`]) reads the code back from the PDF's Keywords
//! (no image decoder needed), checks the signature, then that every printed
//! field ([`pdf::printed`]) and the name are in the page's text and that the
//! JPEG streams are exactly the signed pictures, and names what differs.

pub mod check;
pub mod cli;
pub mod pdf;
pub mod qr;

use std::collections::BTreeMap;

use examgate_protocol::exam::SubmitReason;
use sha2::{Digest, Sha256};

use crate::exam::key::ServerKey;
use crate::seal::{Sealer, aad};
use crate::snapshots::{SnapshotFiles, is_sha256_hex};
use crate::store::{PaperState, Store};
use pdf::{Fonts, Picture};
use qr::{Code, Facts};

/// `[sheet]` in the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SheetConfig {
    /// The centre's name printed on every sheet.
    pub centre: String,
    /// At most this many in-exam snapshots on a sheet (the latest are kept out).
    pub max_snapshots: usize,
}

impl Default for SheetConfig {
    fn default() -> SheetConfig {
        SheetConfig { centre: "examgate exam centre".to_owned(), max_snapshots: 6 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("there is no paper for booking {0}")]
    NoPaper(String),
    #[error("the exam of booking {0} is not finished yet: a sheet is made once it is submitted and scored")]
    NotFinished(String),
    #[error("there is no candidate with booking {0}")]
    NoCandidate(String),
    #[error("cannot open the roster photo of booking {0}: {1}")]
    Photo(String, String),
    #[error("snapshot {0} is missing from the data directory: {1}")]
    Snapshot(String, std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Pdf(#[from] pdf::PdfError),
    #[error(transparent)]
    Code(#[from] qr::CodeError),
}

/// Where a sheet's facts and pictures come from.
pub struct Sources<'a> {
    pub store: &'a dyn Store,
    pub sealer: &'a Sealer,
    pub snapshots: &'a SnapshotFiles,
    pub key: &'a ServerKey,
    pub config: &'a SheetConfig,
}

/// A sheet before it is set: the facts, their signed code and the pictures.
#[derive(Clone, Debug)]
pub struct Sheet {
    pub facts: Facts,
    pub code: String,
    pub pictures: Vec<Picture>,
}

impl Sheet {
    pub fn pdf(&self, fonts: &Fonts) -> Result<Vec<u8>, SheetError> {
        Ok(pdf::render(&self.facts, &self.code, &self.pictures, fonts)?)
    }
}

/// The picture as JPEG: a JPEG is kept byte for byte, anything else the
/// `image` crate reads is written as JPEG.
fn as_jpeg(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return Ok(bytes);
    }
    let img = image::load_from_memory(&bytes).map_err(|e| e.to_string())?;
    let mut out = std::io::Cursor::new(Vec::new());
    img.to_rgb8().write_to(&mut out, image::ImageFormat::Jpeg).map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

fn snapshot(files: &SnapshotFiles, sha256: &str) -> Result<Vec<u8>, SheetError> {
    files.get(sha256).map_err(|e| SheetError::Snapshot(sha256.to_owned(), e))
}

/// Gathers and signs the sheet of `booking` from the store alone.
pub async fn make(src: &Sources<'_>, booking: &str) -> Result<Sheet, SheetError> {
    let paper = src.store.paper_of_booking(booking).await?.ok_or_else(|| SheetError::NoPaper(booking.to_owned()))?;
    let (Some(submitted_at), Some(score), PaperState::Submitted) = (paper.submitted_at, paper.score, paper.state)
    else {
        return Err(SheetError::NotFinished(booking.to_owned()));
    };
    let candidate = src.store.candidate(booking).await?.ok_or_else(|| SheetError::NoCandidate(booking.to_owned()))?;

    let mut pictures = Vec::new();
    if let Some(sealed) = &candidate.photo {
        let bytes = src
            .sealer
            .open(&aad::photo(booking), sealed)
            .map_err(|e| SheetError::Photo(booking.to_owned(), e.to_string()))?;
        let jpeg = as_jpeg(bytes).map_err(|e| SheetError::Photo(booking.to_owned(), e))?;
        pictures.push(Picture { caption: "Roster photo".to_owned(), jpeg });
    }
    // The login's verification snapshot: the latest verification that has one.
    let verifications = src.store.verifications(booking).await?;
    if let Some(v) = verifications.iter().filter(|v| v.snapshot_sha256.is_some()).max_by_key(|v| v.captured_at)
        && let Some(sha) = &v.snapshot_sha256
    {
        pictures.push(Picture { caption: "Login verification".to_owned(), jpeg: snapshot(src.snapshots, sha)? });
    }
    // In-exam snapshots: the seat's, taken between admission and submission.
    let mut taken: BTreeMap<(i64, String), ()> = BTreeMap::new();
    for d in src.store.deliveries(Some(&paper.seat), 10_000).await? {
        if d.kind == "snapshot"
            && d.created_at >= paper.drawn_at
            && d.created_at <= submitted_at
            && let Some(sha) = d.file_sha256.filter(|s| is_sha256_hex(s))
        {
            taken.insert((d.created_at, sha), ());
        }
    }
    for ((at, sha), ()) in taken.into_iter().take(src.config.max_snapshots) {
        let caption = format!("In exam {}", &pdf::time(at)[11..19]);
        pictures.push(Picture { caption, jpeg: snapshot(src.snapshots, &sha)? });
    }

    let reason = paper.reason.unwrap_or(SubmitReason::Candidate);
    let planned = paper.drawn_at + i64::from(paper.minutes) * 60_000;
    let facts = Facts {
        booking: booking.to_owned(),
        id_number: candidate.id_number.clone(),
        name: candidate.name.clone(),
        centre: src.config.centre.clone(),
        session: candidate.session.clone(),
        exam: paper.exam_id.clone(),
        exam_name: paper.exam_name.clone(),
        seat: paper.seat.clone(),
        started_at: paper.drawn_at,
        submitted_at,
        score,
        max_score: paper.max_score,
        passed: paper.passed,
        reason: reason.as_str().to_owned(),
        extended_minutes: (paper.deadline - planned).max(0) / 60_000,
        // Warnings are not recorded yet (the invigilation commands); 0 until they are.
        warnings: 0,
        paper_sha256: paper.paper_sha256.clone(),
        photos: pictures.iter().map(Picture::sha256).collect(),
    };
    let code = qr::sign(&facts, src.key)?;
    Ok(Sheet { facts, code, pictures })
}

/// Text without white space, for finding a printed line in extracted text.
fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// What `sheet verify` found: the facts the code holds (when it could be read)
/// and every difference, each naming its field.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    pub facts: Option<Facts>,
    pub signed_by_key: bool,
    pub problems: Vec<String>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.signed_by_key
    }
}

/// Checks a code alone: its shape and its signature by `public_key_b64`.
pub fn verify_code(text: &str, public_key_b64: &str) -> (Option<Code>, Verdict) {
    let mut verdict = Verdict::default();
    match qr::parse(text) {
        Ok(code) => {
            verdict.signed_by_key = code.signed_by(public_key_b64);
            if !verdict.signed_by_key {
                verdict.problems.push(
                    "signature: the facts are not signed by this centre's key (another centre's sheet, or changed facts)"
                        .to_owned(),
                );
            }
            verdict.facts = Some(code.facts.clone());
            (Some(code), verdict)
        }
        Err(e) => {
            verdict.problems.push(format!("code: {e}"));
            (None, verdict)
        }
    }
}

/// Checks a sheet: its code (from the PDF's Keywords, or `qr_text` when
/// given), the signature, every printed field and every picture.
pub fn verify_pdf(pdf_bytes: &[u8], qr_text: Option<&str>, public_key_b64: &str) -> Result<Verdict, SheetError> {
    let read = pdf::read(pdf_bytes)?;
    let Some(text) = qr_text.map(str::to_owned).or(read.code.clone()) else {
        return Ok(Verdict {
            problems: vec!["code: the PDF holds no EXG1 code in its Keywords".to_owned()],
            ..Verdict::default()
        });
    };
    let (code, mut verdict) = verify_code(&text, public_key_b64);
    if let (Some(qr_text), Some(embedded)) = (qr_text, &read.code)
        && qr_text.trim() != embedded
    {
        verdict.problems.push("code: the given QR text is not the code kept in the PDF".to_owned());
    }
    let Some(code) = code else { return Ok(verdict) };
    verdict.problems.extend(compare(&code.facts, &read));
    Ok(verdict)
}

/// Differences between signed facts and what a sheet shows.
pub fn compare(facts: &Facts, read: &pdf::Read) -> Vec<String> {
    let page = squeeze(&read.text);
    let mut problems = Vec::new();
    let name = squeeze(&facts.name);
    let reversed: String = name.chars().rev().collect();
    if name.is_empty() || !(page.contains(&name) || page.contains(&reversed)) {
        problems.push(format!("name: the printed name is not the signed {:?}", facts.name));
    }
    for (field, line) in pdf::printed(facts) {
        if !page.contains(&squeeze(&line)) {
            problems.push(format!("{field}: the sheet does not print the signed {line:?}"));
        }
    }
    let mut on_sheet: BTreeMap<&str, i64> = BTreeMap::new();
    for h in &read.images {
        *on_sheet.entry(h).or_default() += 1;
    }
    for h in &facts.photos {
        *on_sheet.entry(h).or_default() -= 1;
    }
    for (h, n) in on_sheet {
        if n < 0 {
            problems.push(format!("photos: signed picture {h} is not on the sheet"));
        } else if n > 0 {
            problems.push(format!("photos: picture {h} on the sheet is not a signed one"));
        }
    }
    problems
}

/// The SHA-256 (lower-case hex) of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
