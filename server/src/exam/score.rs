//! Scoring a paper: pure, the same for the server at submission and for
//! `examgate-server paper score` when an auditor re-checks a result.
//!
//! Rules: an item scores its points (the section's `points` if set, else the
//! item's own) when the answer is exactly its set of correct choices, else 0:
//! true/false and single-choice items take one choice; a multiple-choice item
//! scores only when every correct choice and no other is chosen (no partial
//! credit). An unanswered item (absent, or an empty list) scores 0.
//! `passed` is `score >= pass_score`, or `None` when the exam sets no pass score.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::bank::{BankVersion, ExamDef, Item, ItemKind};
use super::paper::Paper;

/// A candidate's answers: item id to the choice ids chosen (unanswered items absent).
pub type Answers = BTreeMap<String, Vec<String>>;

/// One item's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemScore {
    pub id: String,
    pub section: String,
    pub kind: ItemKind,
    /// The choices given, sorted (empty: unanswered).
    pub answer: Vec<String>,
    /// The correct choices, sorted.
    pub correct: Vec<String>,
    pub right: bool,
    pub points: u32,
    pub max_points: u32,
}

/// The result of a paper (what `paper score --json` prints).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    pub score: u32,
    pub max_score: u32,
    pub passed: Option<bool>,
    /// Answered items (a non-empty answer).
    pub answered: u32,
    pub items: Vec<ItemScore>,
}

/// Why a set of answers cannot be scored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    #[error("item {0} is not on this paper")]
    NotOnPaper(String),
    #[error("item {item} has no choice {choice}")]
    NoSuchChoice { item: String, choice: String },
    #[error("item {item} names choice {choice} twice")]
    RepeatedChoice { item: String, choice: String },
    #[error("item {item} is {kind}: one choice only, not {given}")]
    TooManyChoices { item: String, kind: ItemKind, given: usize },
    #[error("the paper is from bank version {paper} but the bank given is {bank}")]
    WrongBank { paper: String, bank: String },
    #[error("the paper is of exam {paper} but the exam given is {exam}")]
    WrongExam { paper: String, exam: String },
    #[error("item {0} of the paper is not in the bank")]
    MissingItem(String),
    #[error("section {0} of the paper is not in the exam")]
    MissingSection(String),
}

/// Checks one answer to `item`: known choices, none twice, one only for
/// true/false and single choice. The server uses it to refuse an answer on receipt.
pub fn check_answer(item: &Item, choices: &[String]) -> Result<(), ScoreError> {
    let mut seen = BTreeSet::new();
    for choice in choices {
        if !item.has_choice(choice) {
            return Err(ScoreError::NoSuchChoice { item: item.id.clone(), choice: choice.clone() });
        }
        if !seen.insert(choice.as_str()) {
            return Err(ScoreError::RepeatedChoice { item: item.id.clone(), choice: choice.clone() });
        }
    }
    if item.kind != ItemKind::Multiple && choices.len() > 1 {
        return Err(ScoreError::TooManyChoices { item: item.id.clone(), kind: item.kind, given: choices.len() });
    }
    Ok(())
}

/// Scores `answers` to `paper`, drawn for `exam` from `bank`.
pub fn score(exam: &ExamDef, bank: &BankVersion, paper: &Paper, answers: &Answers) -> Result<Score, ScoreError> {
    if paper.bank_version != bank.version {
        return Err(ScoreError::WrongBank { paper: paper.bank_version.clone(), bank: bank.version.clone() });
    }
    if paper.exam != exam.id {
        return Err(ScoreError::WrongExam { paper: paper.exam.clone(), exam: exam.id.clone() });
    }
    if let Some(id) = answers.keys().find(|id| paper.item(id).is_none()) {
        return Err(ScoreError::NotOnPaper(id.clone()));
    }
    let mut items = Vec::with_capacity(paper.items.len());
    let (mut total, mut max_score, mut answered) = (0u32, 0u32, 0u32);
    for drawn in &paper.items {
        let item = bank.item(&drawn.id).ok_or_else(|| ScoreError::MissingItem(drawn.id.clone()))?;
        let section = exam
            .sections
            .iter()
            .find(|s| s.id == drawn.section)
            .ok_or_else(|| ScoreError::MissingSection(drawn.section.clone()))?;
        let given = answers.get(&drawn.id).map(Vec::as_slice).unwrap_or_default();
        check_answer(item, given)?;
        let mut answer = given.to_vec();
        answer.sort();
        let max_points = section.points.unwrap_or(item.points);
        let right = !answer.is_empty() && answer == item.correct;
        let points = if right { max_points } else { 0 };
        total += points;
        max_score += max_points;
        answered += u32::from(!answer.is_empty());
        items.push(ItemScore {
            id: drawn.id.clone(),
            section: drawn.section.clone(),
            kind: item.kind,
            answer,
            correct: item.correct.clone(),
            right,
            points,
            max_points,
        });
    }
    Ok(Score { score: total, max_score, passed: exam.pass_score.map(|p| total >= p), answered, items })
}
