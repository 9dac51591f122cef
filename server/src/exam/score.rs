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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exam::bank::Section;
    use crate::exam::paper::{draw, tests::bank};

    /// One section per kind, 2 items each; multiple-choice items score 2 here.
    fn exam(pass_score: Option<u32>) -> ExamDef {
        let section = |id: &str, kind, points| Section {
            id: id.into(),
            categories: vec!["1".into()],
            kind: Some(kind),
            select: 2,
            points,
            shuffle: true,
        };
        ExamDef {
            id: "E".into(),
            name: "E".into(),
            minutes: 10,
            pass_score,
            sections: vec![
                section("tf", ItemKind::TrueFalse, None),
                section("single", ItemKind::Single, None),
                section("multi", ItemKind::Multiple, Some(2)),
            ],
            shuffle: true,
        }
    }

    fn answers_of(paper: &Paper, pick: impl Fn(ItemKind) -> Vec<&'static str>, bank: &BankVersion) -> Answers {
        paper
            .items
            .iter()
            .map(|i| (i.id.clone(), pick(bank.item(&i.id).unwrap().kind).into_iter().map(str::to_owned).collect()))
            .filter(|(_, c): &(String, Vec<String>)| !c.is_empty())
            .collect()
    }

    /// The choices an answer gives to an item of a kind.
    type Pick = fn(ItemKind) -> Vec<&'static str>;

    fn right(kind: ItemKind) -> Vec<&'static str> {
        match kind {
            ItemKind::TrueFalse => vec!["T"],
            ItemKind::Single => vec!["B"],
            ItemKind::Multiple => vec!["C", "A"],
        }
    }

    #[test]
    fn all_right_scores_the_maximum_and_passes() {
        let (bank, exam) = (bank(1, 5), exam(Some(8)));
        let paper = draw(&exam, &bank, 3).unwrap();
        let s = score(&exam, &bank, &paper, &answers_of(&paper, right, &bank)).unwrap();
        assert_eq!((s.score, s.max_score, s.passed, s.answered), (8, 8, Some(true), 6));
        assert!(s.items.iter().all(|i| i.right && i.points == i.max_points));
    }

    #[test]
    fn each_kind_scores_only_its_exact_answer() {
        let (bank, exam) = (bank(1, 5), exam(Some(8)));
        let paper = draw(&exam, &bank, 3).unwrap();
        let cases: [(&str, Pick, u32); 5] = [
            (
                "wrong everywhere",
                |k| match k {
                    ItemKind::TrueFalse => vec!["F"],
                    ItemKind::Single => vec!["A"],
                    ItemKind::Multiple => vec!["B", "D"],
                },
                0,
            ),
            ("multiple: a subset of the right set", |k| if k == ItemKind::Multiple { vec!["A"] } else { right(k) }, 4),
            ("multiple: a superset", |k| if k == ItemKind::Multiple { vec!["A", "C", "E"] } else { right(k) }, 4),
            ("nothing answered", |_| vec![], 0),
            ("only true/false right", |k| if k == ItemKind::TrueFalse { right(k) } else { vec![] }, 2),
        ];
        for (what, pick, want) in cases {
            let s = score(&exam, &bank, &paper, &answers_of(&paper, pick, &bank)).unwrap();
            assert_eq!(s.score, want, "{what}");
            assert_eq!(s.max_score, 8, "{what}");
            assert_eq!(s.passed, Some(want >= 8), "{what}");
        }
    }

    #[test]
    fn no_pass_score_gives_no_verdict() {
        let (bank, exam) = (bank(1, 5), exam(None));
        let paper = draw(&exam, &bank, 3).unwrap();
        assert_eq!(score(&exam, &bank, &paper, &Answers::new()).unwrap().passed, None);
    }

    #[test]
    fn answers_that_do_not_fit_the_paper_are_errors() {
        let (bank, exam) = (bank(1, 5), exam(None));
        let paper = draw(&exam, &bank, 3).unwrap();
        let on_paper: BTreeSet<&str> = paper.items.iter().map(|i| i.id.as_str()).collect();
        let absent = bank.items.iter().find(|i| !on_paper.contains(i.id.as_str())).unwrap().id.clone();
        let tf = paper.items.iter().find(|i| i.section == "tf").unwrap().id.clone();
        let multi = paper.items.iter().find(|i| i.section == "multi").unwrap().id.clone();
        let one = |item: &str, choices: &[&str]| -> Answers {
            Answers::from([(item.to_owned(), choices.iter().map(|c| (*c).to_owned()).collect())])
        };
        let err = |a: Answers| score(&exam, &bank, &paper, &a).unwrap_err();
        assert_eq!(err(one(&absent, &["T"])), ScoreError::NotOnPaper(absent.clone()));
        assert!(matches!(err(one(&tf, &["A"])), ScoreError::NoSuchChoice { .. }));
        assert!(matches!(err(one(&tf, &["T", "F"])), ScoreError::TooManyChoices { given: 2, .. }));
        assert!(matches!(err(one(&multi, &["A", "A"])), ScoreError::RepeatedChoice { .. }));
        let other_bank = crate::exam::paper::tests::bank(1, 6);
        assert!(matches!(score(&exam, &other_bank, &paper, &Answers::new()), Err(ScoreError::WrongBank { .. })));
    }
}
