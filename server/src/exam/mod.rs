//! The exam: the question bank, exam definitions, and papers drawn and scored.
//!
//! - [`bank`]: the model (items, translations, media, bank versions, exam definitions).
//! - [`paper`]: `draw(&ExamDef, &BankVersion, seed) -> Paper`, pure and deterministic.
//! - [`score`]: `score(&ExamDef, &BankVersion, &Paper, &Answers) -> Score`, pure.
//! - [`import`]: `bank import` (QTI packages via [`package`], [`xml`] and [`qti`];
//!   the JSON bank, [`jsonbank`]; TOML rules, [`rules`]) merged into a new bank version.
//! - [`cli`]: the `bank`, `exam` and `paper` subcommands.
//! - [`key`]: the server's Ed25519 key that signs paper manifests.
//! - [`attempt`]: who may answer which paper until when (pure rules);
//!   [`runtime`]: the paper drawn at admission, bank versions in memory, the scorer;
//!   [`pkg`]: the paper package; [`deadline`]: the closer at deadline + grace.

pub mod attempt;
pub mod bank;
pub mod cli;
pub mod deadline;
pub mod import;
pub mod jsonbank;
pub mod key;
pub mod package;
pub mod paper;
pub mod pkg;
pub mod qti;
pub mod rules;
pub mod runtime;
pub mod score;
pub mod xml;

pub use bank::{BankVersion, ChoiceId, ExamDef, Item, ItemKind, Media, Section, Translation};
pub use paper::{DrawError, Paper, PaperItem, Shortfall, draw};
pub use score::{Answers, ItemScore, Score, ScoreError, score};
