//! The signed code on the score sheet: `EXG1.` + base64url (no padding) of the
//! facts as UTF-8 JSON + `.` + base64url (no padding) of the Ed25519 signature
//! over exactly those JSON bytes, by the centre's key (the server's signing key,
//! [`crate::exam::key`]). The same text is drawn as a QR code and kept in the
//! PDF's metadata (the Keywords of its document information).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use qrcode::{EcLevel, QrCode};
use serde::{Deserialize, Serialize};

use crate::exam::key::{KeyError, ServerKey, verify};

/// The prefix of the signed text, naming its version.
pub const PREFIX: &str = "EXG1.";

/// What the sheet states and the centre signs. Times are milliseconds since the
/// Unix epoch; `photos` are the lower-case hex SHA-256 of every picture on the
/// sheet (the JPEG bytes as embedded), in the order printed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub booking: String,
    pub id_number: String,
    pub name: String,
    pub centre: String,
    pub session: String,
    pub exam: String,
    pub exam_name: String,
    pub seat: String,
    pub started_at: i64,
    pub submitted_at: i64,
    pub score: u32,
    pub max_score: u32,
    pub passed: Option<bool>,
    /// `candidate`, `timeout` or `forced`.
    pub reason: String,
    /// Minutes added to the exam's time (deadline moves).
    pub extended_minutes: i64,
    pub warnings: u32,
    pub paper_sha256: String,
    pub photos: Vec<String>,
}

impl Facts {
    /// The signed fields by name with their values as text, in a fixed order,
    /// for comparing a sheet field by field.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("booking", self.booking.clone()),
            ("id_number", self.id_number.clone()),
            ("name", self.name.clone()),
            ("centre", self.centre.clone()),
            ("session", self.session.clone()),
            ("exam", self.exam.clone()),
            ("exam_name", self.exam_name.clone()),
            ("seat", self.seat.clone()),
            ("started_at", self.started_at.to_string()),
            ("submitted_at", self.submitted_at.to_string()),
            ("score", self.score.to_string()),
            ("max_score", self.max_score.to_string()),
            ("passed", format!("{:?}", self.passed)),
            ("reason", self.reason.clone()),
            ("extended_minutes", self.extended_minutes.to_string()),
            ("warnings", self.warnings.to_string()),
            ("paper_sha256", self.paper_sha256.clone()),
            ("photos", self.photos.join(",")),
        ]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("the code does not start with {PREFIX}")]
    Prefix,
    #[error("the code is not EXG1.<facts>.<signature> in base64url without padding")]
    Shape,
    #[error("the code's facts are not the sheet's JSON: {0}")]
    Json(String),
    #[error("the signature is not 64 bytes")]
    SignatureLength,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("cannot draw the QR code: {0}")]
    Qr(String),
}

/// A code taken apart: the signed JSON bytes, the facts and the raw signature.
#[derive(Clone, Debug)]
pub struct Code {
    pub json: Vec<u8>,
    pub facts: Facts,
    pub signature: Vec<u8>,
}

impl Code {
    /// Whether the signature over the JSON is by `public_key_b64` (standard base64 of 32 bytes).
    pub fn signed_by(&self, public_key_b64: &str) -> bool {
        verify(public_key_b64, &self.json, &B64.encode(&self.signature))
    }
}

/// The signed text for `facts`.
pub fn sign(facts: &Facts, key: &ServerKey) -> Result<String, CodeError> {
    let json = serde_json::to_vec(facts).map_err(|e| CodeError::Json(e.to_string()))?;
    let signature = B64.decode(key.sign(&json)?).map_err(|_| CodeError::SignatureLength)?;
    Ok(format!("{PREFIX}{}.{}", B64URL.encode(&json), B64URL.encode(&signature)))
}

/// Takes a code apart (no signature check: see [`Code::signed_by`]).
pub fn parse(text: &str) -> Result<Code, CodeError> {
    let rest = text.trim().strip_prefix(PREFIX).ok_or(CodeError::Prefix)?;
    let (json, signature) = rest.split_once('.').ok_or(CodeError::Shape)?;
    let json = B64URL.decode(json).map_err(|_| CodeError::Shape)?;
    let signature = B64URL.decode(signature).map_err(|_| CodeError::Shape)?;
    if signature.len() != 64 {
        return Err(CodeError::SignatureLength);
    }
    let facts = serde_json::from_slice(&json).map_err(|e| CodeError::Json(e.to_string()))?;
    Ok(Code { json, facts, signature })
}

/// The QR code's modules as rows of dark (`true`) and light cells, without the quiet zone.
pub fn modules(text: &str) -> Result<Vec<Vec<bool>>, CodeError> {
    let code =
        QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| CodeError::Qr(e.to_string()))?;
    let width = code.width();
    let colors = code.to_colors();
    Ok(colors.chunks(width).map(|row| row.iter().map(|c| *c == qrcode::Color::Dark).collect()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn facts() -> Facts {
        Facts {
            booking: "20261208-001".into(),
            id_number: "11010519491231002X".into(),
            name: "张伟".into(),
            centre: "Centre".into(),
            session: "AM".into(),
            exam: "c1".into(),
            exam_name: "Subject one".into(),
            seat: "A01".into(),
            started_at: 1,
            submitted_at: 2,
            score: 90,
            max_score: 100,
            passed: Some(true),
            reason: "candidate".into(),
            extended_minutes: 0,
            warnings: 0,
            paper_sha256: "ab".repeat(32),
            photos: vec!["cd".repeat(32)],
        }
    }

    #[test]
    fn signs_parses_and_refuses_another_key_or_a_changed_byte() {
        let dir = tempfile::tempdir().unwrap();
        let key = ServerKey::with_key_file(dir.path().join("a"));
        let other = ServerKey::with_key_file(dir.path().join("b"));
        let text = sign(&facts(), &key).unwrap();
        let code = parse(&text).unwrap();
        assert_eq!(code.facts, facts());
        assert!(code.signed_by(&key.public_key_b64().unwrap()));
        assert!(!code.signed_by(&other.public_key_b64().unwrap()));
        let mut changed = code.clone();
        changed.json[10] ^= 1;
        assert!(!changed.signed_by(&key.public_key_b64().unwrap()));
        assert!(matches!(parse("EXG2.a.b"), Err(CodeError::Prefix)));
        assert!(matches!(parse("EXG1.!!.b"), Err(CodeError::Shape)));
        assert!(matches!(parse("EXG1.e30.AAAA"), Err(CodeError::SignatureLength)));
        let m = modules(&text).unwrap();
        assert!(m.len() >= 21 && m.iter().all(|r| r.len() == m.len()));
    }
}
