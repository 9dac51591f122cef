//! The exam: the question bank, exam definitions, and papers drawn and scored.
//!
//! - [`bank`]: the model (items, translations, media, bank versions, exam definitions).
//! - [`paper`]: `draw(&ExamDef, &BankVersion, seed) -> Paper`, pure and deterministic.
//! - [`score`]: `score(&ExamDef, &BankVersion, &Paper, &Answers) -> Score`, pure.
//! - [`key`]: the server's Ed25519 key that signs paper manifests.

pub mod bank;
pub mod cli;
pub mod import;
pub mod jsonbank;
pub mod key;
pub mod package;
pub mod paper;
pub mod qti;
pub mod rules;
pub mod score;
pub mod xml;

pub use bank::{BankVersion, ChoiceId, ExamDef, Item, ItemKind, Media, Section, Translation};
pub use paper::{DrawError, Paper, PaperItem, Shortfall, draw};
pub use score::{Answers, ItemScore, Score, ScoreError, score};
