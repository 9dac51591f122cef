//! The exam between the exam-centre server and a seat agent: the signed
//! paper manifest, the paper package's `paper.json`, and the attempt's result.
//!
//! At admission the server draws the candidate's paper and pushes
//! [`Command::ExamReady`](crate::link::Command). The agent then fetches
//! - [`paths::PAPER`] → [`PaperManifest`], signed by the server's Ed25519 key
//!   over [`PaperManifest::signed_bytes`] (the key pinned at enrolment,
//!   `EnrolResponse::server_key`);
//! - [`paths::PACKAGE`] → one uncompressed tar of [`PACKAGE_PAPER`]
//!   ([`PaperDoc`]) and `media/<sha256>.<ext>`, resumable with `Range: bytes=N-`;
//!   the agent checks the total size, then the SHA-256, then each file's size
//!   and SHA-256 against the manifest before unpacking;
//! - [`paths::RESULT`] → [`ExamResult`], and after a rebind to a spare PC
//!   [`paths::ANSWERS`] → [`HeldAnswers`] to continue from what the server holds.
//!
//! Answers and the submission travel through the agent's outbox as
//! `DeliveryItem::ExamAnswer` / `DeliveryItem::ExamSubmit`. Every time here
//! is milliseconds since the Unix epoch on the server's clock (the page shows
//! `deadline - (Date.now() + offset)`).
//!
//! ```
//! use examgate_protocol::exam::{ExamInfo, PackageInfo, PaperManifest};
//! let mut m = PaperManifest {
//!     paper_id: "p1".into(),
//!     booking_number: "20261125001".into(),
//!     exam: ExamInfo { id: "c1".into(), name: "Subject One".into(), minutes: 45, pass_score: Some(90.0), max_score: 100.0 },
//!     language: "en".into(),
//!     deadline: 1_700_002_700_000,
//!     server_time: 1_700_000_000_000,
//!     package: PackageInfo { size: 10240, sha256: "ab".into() },
//!     files: vec![],
//!     server_key: "S2V5".into(),
//!     signature: String::new(),
//! };
//! let unsigned = m.signed_bytes();
//! m.signature = "c2ln".into();
//! // The signature never covers itself.
//! assert_eq!(m.signed_bytes(), unsigned);
//! assert!(unsigned.starts_with(b"examgate-paper-manifest-v1\n{\"paper_id\":\"p1\""));
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Paths of the server's exam endpoints (signed agent requests, `GET`; each
/// takes an optional `?paper_id=`, default the paper of the seat's candidate).
pub mod paths {
    /// → [`PaperManifest`](super::PaperManifest).
    pub const PAPER: &str = "/agent/v1/exam/paper";
    /// → the paper package (`application/x-tar`); `Range: bytes=N-` → 206.
    pub const PACKAGE: &str = "/agent/v1/exam/package";
    /// → [`ExamResult`](super::ExamResult).
    pub const RESULT: &str = "/agent/v1/exam/result";
    /// → [`HeldAnswers`](super::HeldAnswers): what the server holds, for a spare PC.
    pub const ANSWERS: &str = "/agent/v1/exam/answers";
}

/// The path of [`PaperDoc`] in the package.
pub const PACKAGE_PAPER: &str = "paper.json";
/// The folder of the media files in the package: `media/<sha256>.<ext>`.
pub const PACKAGE_MEDIA_DIR: &str = "media/";

/// What the domain tag of [`PaperManifest::signed_bytes`] starts with.
pub const MANIFEST_SIGNATURE_CONTEXT: &[u8] = b"examgate-paper-manifest-v1\n";

/// An item's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// Two choices (the item's own identifiers, e.g. `T`/`F`); the page offers Y/N.
    TrueFalse,
    /// One correct choice.
    Single,
    /// One or more correct choices; every correct one and no other scores.
    Multiple,
}

/// Why an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitReason {
    /// The candidate submitted.
    Candidate,
    /// The deadline passed (the agent's own submission, or the server closing it at deadline + grace).
    Timeout,
    /// The examiner ended it.
    Forced,
}

impl SubmitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SubmitReason::Candidate => "candidate",
            SubmitReason::Timeout => "timeout",
            SubmitReason::Forced => "forced",
        }
    }
}

/// Writing direction of a language's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextDir {
    Ltr,
    Rtl,
}

impl TextDir {
    /// The direction of a BCP 47 tag: Arabic, Uyghur and Kazakh in Arabic script
    /// (and Hebrew, Persian, Urdu) are right to left.
    ///
    /// ```
    /// use examgate_protocol::exam::TextDir;
    /// assert_eq!(TextDir::of("ug"), TextDir::Rtl);
    /// assert_eq!(TextDir::of("kk-Arab"), TextDir::Rtl);
    /// assert_eq!(TextDir::of("mn-Mong"), TextDir::Ltr);
    /// ```
    pub fn of(language: &str) -> TextDir {
        let mut parts = language.split(['-', '_']);
        let primary = parts.next().unwrap_or("").to_ascii_lowercase();
        let arab_script = parts.any(|p| p.eq_ignore_ascii_case("arab"));
        match primary.as_str() {
            "ar" | "ug" | "he" | "fa" | "ur" | "ps" | "yi" => TextDir::Rtl,
            _ if arab_script => TextDir::Rtl,
            _ => TextDir::Ltr,
        }
    }
}

/// The exam a paper belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExamInfo {
    pub id: String,
    pub name: String,
    pub minutes: u32,
    /// The score at or above which the candidate passes; `None` where the exam sets none.
    pub pass_score: Option<f64>,
    /// The paper's highest possible score.
    pub max_score: f64,
}

/// The whole package: what the agent compares the bytes it received with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageInfo {
    pub size: u64,
    /// SHA-256 of the tar, lower-case hex.
    pub sha256: String,
}

/// One file in the package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageFile {
    /// Its path in the tar: `paper.json` or `media/<sha256>.<ext>`.
    pub path: String,
    pub size: u64,
    /// SHA-256 of its contents, lower-case hex.
    pub sha256: String,
}

/// `GET /agent/v1/exam/paper`: the candidate's paper, signed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaperManifest {
    pub paper_id: String,
    pub booking_number: String,
    pub exam: ExamInfo,
    /// The language the candidate chose (items lacking it fall back; see [`PaperItem::language`]).
    pub language: String,
    /// When the attempt ends, milliseconds since the Unix epoch, server clock.
    pub deadline: i64,
    /// The server's clock when it answered, milliseconds since the Unix epoch.
    pub server_time: i64,
    pub package: PackageInfo,
    pub files: Vec<PackageFile>,
    /// The server's Ed25519 public key, 32 bytes, standard base64; must equal the pinned one.
    pub server_key: String,
    /// Ed25519 over [`signed_bytes`](Self::signed_bytes), standard base64.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signature: String,
}

impl PaperManifest {
    /// The bytes the server signs and the agent checks:
    /// [`MANIFEST_SIGNATURE_CONTEXT`] and then the manifest's JSON without
    /// `signature`, serialised by serde_json in field order (so an agent
    /// re-serialises what it parsed and gets the same bytes).
    pub fn signed_bytes(&self) -> Vec<u8> {
        let unsigned = PaperManifest { signature: String::new(), ..self.clone() };
        let mut out = MANIFEST_SIGNATURE_CONTEXT.to_vec();
        // Serialising plain strings, numbers and vectors cannot fail.
        serde_json::to_writer(&mut out, &unsigned).expect("a manifest serialises");
        out
    }
}

/// `paper.json` in the package: the items in the candidate's language, choices in display order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaperDoc {
    pub paper_id: String,
    pub exam: ExamInfo,
    /// The language the candidate chose.
    pub language: String,
    /// The direction of [`language`](Self::language).
    pub dir: TextDir,
    pub items: Vec<PaperItem>,
}

/// One question as the seat shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaperItem {
    /// The bank's item identifier; answers name it.
    pub id: String,
    /// 1-based position in the paper.
    pub number: u32,
    pub kind: ItemKind,
    /// The language this item's text is in: the candidate's, else `zh-CN`, else the item's first translation.
    pub language: String,
    pub dir: TextDir,
    pub prompt: String,
    pub media: Vec<PaperMedia>,
    pub choices: Vec<PaperChoice>,
}

/// A picture or video of an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperMedia {
    /// Its path in the package: `media/<sha256>.<ext>`.
    pub path: String,
    pub mime: String,
}

/// A choice, in display order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperChoice {
    /// The item's own choice identifier; answers name it.
    pub id: String,
    pub text: String,
}

/// Where an attempt stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExamResultState {
    InProgress,
    Submitted,
}

/// `GET /agent/v1/exam/result`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExamResult {
    pub paper_id: String,
    pub state: ExamResultState,
    /// Items with at least one choice held by the server.
    pub answered: u32,
    pub total: u32,
    /// Milliseconds since the Unix epoch, server clock.
    pub deadline: i64,
    /// The score, once submitted.
    pub result: Option<ExamScore>,
}

/// A submitted attempt's score, computed by the server from the answers it stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExamScore {
    pub score: f64,
    pub max_score: f64,
    /// `None` where the exam sets no pass score.
    pub passed: Option<bool>,
    /// Milliseconds since the Unix epoch, server clock.
    pub submitted_at: i64,
    pub reason: SubmitReason,
}

/// An answer the server holds: the change with the highest `seq`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldAnswer {
    pub choices: Vec<String>,
    pub seq: u64,
}

/// `GET /agent/v1/exam/answers`: `{item: {choices, seq}}` for every item the server holds an answer for.
pub type HeldAnswers = BTreeMap<String, HeldAnswer>;

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> PaperManifest {
        PaperManifest {
            paper_id: "p1".into(),
            booking_number: "b".into(),
            exam: ExamInfo { id: "c1".into(), name: "n".into(), minutes: 45, pass_score: None, max_score: 100.0 },
            language: "ar".into(),
            deadline: 2,
            server_time: 1,
            package: PackageInfo { size: 3, sha256: "00".into() },
            files: vec![PackageFile { path: PACKAGE_PAPER.into(), size: 1, sha256: "11".into() }],
            server_key: "k".into(),
            signature: "s".into(),
        }
    }

    #[test]
    fn signed_bytes_survive_a_round_trip_through_json() {
        let m = manifest();
        let json = serde_json::to_string(&m).unwrap();
        let parsed: PaperManifest = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.signed_bytes(), m.signed_bytes());
        let text = String::from_utf8(m.signed_bytes()).unwrap();
        assert!(!text.contains("signature"), "{text}");
        assert!(text.contains(r#""pass_score":null"#), "{text}");
    }

    #[test]
    fn signed_bytes_cover_every_field() {
        let base = manifest().signed_bytes();
        let mut m = manifest();
        m.deadline += 1;
        assert_ne!(m.signed_bytes(), base);
        let mut m = manifest();
        m.files[0].sha256 = "12".into();
        assert_ne!(m.signed_bytes(), base);
    }

    #[test]
    fn result_and_kinds_are_snake_case() {
        let r = ExamResult {
            paper_id: "p".into(),
            state: ExamResultState::Submitted,
            answered: 1,
            total: 2,
            deadline: 5,
            result: Some(ExamScore {
                score: 1.0,
                max_score: 2.0,
                passed: None,
                submitted_at: 4,
                reason: SubmitReason::Timeout,
            }),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"paper_id":"p","state":"submitted","answered":1,"total":2,"deadline":5,"result":{"score":1.0,"max_score":2.0,"passed":null,"submitted_at":4,"reason":"timeout"}}"#
        );
        assert_eq!(serde_json::to_string(&ItemKind::TrueFalse).unwrap(), r#""true_false""#);
        assert_eq!(serde_json::to_string(&TextDir::Rtl).unwrap(), r#""rtl""#);
    }
}
