//! The exam: the question bank, exam definitions, and papers drawn and scored.
//!
//! - [`bank`]: the model (items, translations, media, bank versions, exam definitions).
//! - [`paper`]: `draw(&ExamDef, &BankVersion, seed) -> Paper`, pure and deterministic.
//! - [`score`]: `score(&ExamDef, &BankVersion, &Paper, &Answers) -> Score`, pure.
//! - [`key`]: the server's Ed25519 key that signs paper manifests.

pub mod bank;
pub mod key;
pub mod paper;
pub mod score;

pub use bank::{BankVersion, ChoiceId, ExamDef, Item, ItemKind, Media, Section, Translation};
pub use paper::{DrawError, Paper, PaperItem, Shortfall, draw};
pub use score::{Answers, ItemScore, Score, ScoreError, score};
