//! The exam definitions the package carries, and how each spreads its questions of a kind
//! over the 30 categories in fixed proportions.

use super::content::{CATEGORIES, Category};
use super::items::Kind;

/// An exam: questions per kind, duration, pass mark, points an item.
#[derive(Clone, Debug)]
pub struct ExamSpec {
    /// The test's `identifier` and file name.
    pub id: &'static str,
    pub title: &'static str,
    pub minutes: u32,
    /// Points needed to pass (of `questions() * weight`); a practice test has none.
    pub pass: Option<u32>,
    /// Points each question is worth (`qti-weight` W when not 1).
    pub weight: u32,
    pub per_kind: &'static [(Kind, u32)],
}

impl ExamSpec {
    pub fn questions(&self) -> u32 {
        self.per_kind.iter().map(|(_, n)| n).sum()
    }

    /// How many questions of `kind` each category gives (index 0 is category 1).
    pub fn spread(&self, kind: Kind) -> [u32; CATEGORIES] {
        let total = self.per_kind.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n);
        spread(total)
    }
}

/// The seeds' model: C1 Subject One, 100 questions (40 true/false, 60 single choice) in 45
/// minutes, pass at 90; Subject Four, 50 with multiple choice in 30 minutes, 2 points each,
/// pass at 90 of 100. And a practice test, one question of each kind from every category
/// with no pass mark: a QTI item has its category only from a test's item ref, so every
/// item must be in some test, and the two exams leave most multiple choice items out.
pub const EXAMS: [ExamSpec; 3] = [
    ExamSpec {
        id: "c1-subject-one",
        title: "C1 Subject One",
        minutes: 45,
        pass: Some(90),
        weight: 1,
        per_kind: &[(Kind::TrueFalse, 40), (Kind::Single, 60)],
    },
    ExamSpec {
        id: "subject-four",
        title: "Subject Four",
        minutes: 30,
        pass: Some(90),
        weight: 2,
        per_kind: &[(Kind::TrueFalse, 20), (Kind::Single, 20), (Kind::Multiple, 10)],
    },
    ExamSpec {
        id: "practice",
        title: "Practice: every category and kind",
        minutes: 60,
        pass: None,
        weight: 1,
        per_kind: &[(Kind::TrueFalse, 30), (Kind::Single, 30), (Kind::Multiple, 30)],
    },
];

/// A picture category counts twice in the proportions, as it holds twice the items.
fn share(category: Category) -> u32 {
    if category.signs().is_some() { 2 } else { 1 }
}

/// `total` questions over the categories in proportion to their shares, by largest
/// remainder (ties to the lower category number), so the counts always sum to `total`.
pub fn spread(total: u32) -> [u32; CATEGORIES] {
    let shares: Vec<u32> = Category::all().map(share).collect();
    let sum: u32 = shares.iter().sum();
    let mut counts = [0u32; CATEGORIES];
    let mut remainders = Vec::with_capacity(CATEGORIES);
    for (i, s) in shares.iter().enumerate() {
        counts[i] = total * s / sum;
        remainders.push((total * s % sum, i));
    }
    let left = total - counts.iter().sum::<u32>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders.into_iter().take(left as usize) {
        counts[i] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_sum_to_the_exams_totals() {
        for exam in &EXAMS {
            for (kind, n) in exam.per_kind {
                assert_eq!(exam.spread(*kind).iter().sum::<u32>(), *n, "{} {kind:?}", exam.id);
            }
        }
        assert_eq!(EXAMS[0].questions(), 100);
        assert_eq!(EXAMS[1].questions() * EXAMS[1].weight, 100);
        // The practice test asks one of each kind in every category.
        for (kind, _) in EXAMS[2].per_kind {
            assert_eq!(EXAMS[2].spread(*kind), [1; CATEGORIES]);
        }
    }

    #[test]
    fn picture_categories_get_more_and_ties_go_to_the_lower_number() {
        let s = spread(40);
        assert_eq!(&s[..6], &[3, 3, 3, 3, 2, 2]);
        assert!(s[6..].iter().all(|n| *n == 1));
        assert_eq!(
            spread(10),
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }
}
