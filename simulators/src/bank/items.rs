//! The bank's items, made from the seed: per category a fixed number of true/false, single
//! and multiple choice items, each a prompt and choices as [`Phrase`]s (so every language
//! says the same thing) and, in the picture categories, the sign it shows.

use super::content::{Category, FACTS, Family, PICTURE_SIGNS, Phrase, RULES, SIGN_KINDS};
use crate::rng::{SplitMix64, mix};

/// How an item is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Two choices, `T` and `F`, one right.
    TrueFalse,
    /// Four choices `A`..`D`, one right.
    Single,
    /// Four choices `A`..`D`, two or three right (all of them, nothing else, scores).
    Multiple,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::TrueFalse, Kind::Single, Kind::Multiple];

    /// As in section identifiers and titles.
    pub fn name(self) -> &'static str {
        match self {
            Kind::TrueFalse => "true-false",
            Kind::Single => "single",
            Kind::Multiple => "multiple",
        }
    }
}

/// The picture an item shows: sign `sign` of [`SIGN_KINDS`] carrying `number` (0 for none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Picture {
    pub sign: usize,
    pub number: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub id: &'static str,
    pub text: Phrase,
}

/// One question, in no language yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// `C07-0012`: category and number within it.
    pub id: String,
    pub category: Category,
    pub kind: Kind,
    pub prompt: Phrase,
    pub choices: Vec<Choice>,
    /// Identifiers of the right choices, in choice order.
    pub correct: Vec<&'static str>,
    /// Whether a delivery may reorder the choices (`shuffle` of the choice interaction);
    /// numbers in ascending order and true/false keep theirs.
    pub shuffle: bool,
    pub picture: Option<Picture>,
}

/// How many items of each kind category `c` gets when the bank is `unit` items per text
/// category: a text category `unit` (2/5 true/false, 2/5 single, the rest multiple), a
/// picture category twice that.
pub fn counts(category: Category, unit: u32) -> [(Kind, u32); 3] {
    let n = if category.signs().is_some() { 2 * unit } else { unit };
    let tf = n * 2 / 5;
    let single = n * 2 / 5;
    [(Kind::TrueFalse, tf), (Kind::Single, single), (Kind::Multiple, n - tf - single)]
}

/// Every item of the bank, category by category, kinds in [`Kind::ALL`] order. True/false
/// items alternate right and wrong statements; an item that repeats one already made for its
/// category and kind is made again from the next stream (up to [`ATTEMPTS`] times), so a
/// section repeats a question only when its category has no other left.
pub fn generate(seed: u64, unit: u32) -> Vec<Item> {
    let mut items = Vec::new();
    for category in Category::all() {
        let mut number = 0u32;
        for (kind, count) in counts(category, unit) {
            let mut made = std::collections::HashSet::new();
            for i in 0..count {
                number += 1;
                let id = format!("{}-{number:04}", category.code());
                let right = i % 2 == 0;
                let mut item = None;
                for attempt in 0..ATTEMPTS {
                    let parts = [seed, u64::from(category.number()), u64::from(number), attempt];
                    let candidate = make(&mut SplitMix64::new(mix(&parts)), id.clone(), category, kind, right);
                    let fresh = made.insert(candidate.question());
                    item = Some(candidate);
                    if fresh {
                        break;
                    }
                }
                items.extend(item);
            }
        }
    }
    items
}

/// How often an item is made again when it repeats another.
pub const ATTEMPTS: u64 = 64;

impl Item {
    /// What a candidate sees, whatever the identifiers and the order of the choices: two
    /// items with the same question are the same question.
    pub fn question(&self) -> String {
        let mut choices: Vec<String> =
            self.choices.iter().map(|c| format!("{:?}={}", c.text, self.correct.contains(&c.id))).collect();
        choices.sort();
        format!("{:?} {:?} {}", self.prompt, self.picture, choices.join(" "))
    }
}

const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

fn make(rng: &mut SplitMix64, id: String, category: Category, kind: Kind, right: bool) -> Item {
    let (prompt, options, shuffle, picture) = match (category.signs(), category.text_index()) {
        (Some(signs), _) => picture_item(rng, signs, kind, right),
        (None, Some(index)) => text_item(rng, category, index, kind, right),
        (None, None) => unreachable!("a category is either asked with a picture or in words"),
    };
    let ids: &[&'static str] = if kind == Kind::TrueFalse { &["T", "F"] } else { &LETTERS };
    let choices: Vec<Choice> = ids.iter().zip(&options).map(|(id, (text, _))| Choice { id, text: *text }).collect();
    let correct = ids.iter().zip(&options).filter(|(_, (_, right))| *right).map(|(id, _)| *id).collect();
    Item { id, category, kind, prompt, choices, correct, shuffle, picture }
}

type Options = Vec<(Phrase, bool)>;

fn true_false(right: bool) -> Options {
    vec![(Phrase::Correct, right), (Phrase::Wrong, !right)]
}

fn below(rng: &mut SplitMix64, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// Fisher-Yates, from the item's own generator.
fn shuffle<T>(rng: &mut SplitMix64, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        v.swap(i, below(rng, i + 1));
    }
}

fn any_sign(rng: &mut SplitMix64, signs: std::ops::Range<usize>) -> Picture {
    let sign = signs.start + below(rng, signs.len());
    let numbers = SIGN_KINDS[sign].numbers;
    let number = if numbers.is_empty() { 0 } else { numbers[below(rng, numbers.len())] };
    Picture { sign, number }
}

/// A sign (with number) other than `not`, from `signs` while they have one, else from any
/// picture category.
fn other_sign(rng: &mut SplitMix64, signs: std::ops::Range<usize>, not: &[Picture]) -> Picture {
    for _ in 0..64 {
        let p = any_sign(rng, signs.clone());
        if !not.contains(&p) {
            return p;
        }
    }
    let all = PICTURE_SIGNS[0].start..PICTURE_SIGNS[PICTURE_SIGNS.len() - 1].end;
    loop {
        let p = any_sign(rng, all.clone());
        if !not.contains(&p) {
            return p;
        }
    }
}

fn meaning(p: Picture) -> Phrase {
    Phrase::Meaning { sign: p.sign, number: p.number }
}

/// `right`: for a true/false item, whether its statement is right.
fn picture_item(
    rng: &mut SplitMix64,
    signs: std::ops::Range<usize>,
    kind: Kind,
    right: bool,
) -> (Phrase, Options, bool, Option<Picture>) {
    let shown = any_sign(rng, signs.clone());
    match kind {
        Kind::TrueFalse => {
            let said = if right { shown } else { other_sign(rng, signs, &[shown]) };
            (Phrase::Means { sign: said.sign, number: said.number }, true_false(right), false, Some(shown))
        }
        Kind::Single => {
            let mut seen = vec![shown];
            for _ in 0..3 {
                let p = other_sign(rng, signs.clone(), &seen);
                seen.push(p);
            }
            let mut options: Options = seen.iter().enumerate().map(|(i, p)| (meaning(*p), i == 0)).collect();
            shuffle(rng, &mut options);
            (Phrase::Ask { sign: shown.sign }, options, true, Some(shown))
        }
        Kind::Multiple => {
            let family = SIGN_KINDS[shown.sign].family;
            let others: Vec<Family> = Family::ALL.into_iter().filter(|f| *f != family).collect();
            let wrong_family = others[below(rng, others.len())];
            let wrong_meaning = other_sign(rng, signs, &[shown]);
            let mut options = vec![
                (Phrase::Family(family), true),
                (meaning(shown), true),
                (Phrase::Family(wrong_family), false),
                (meaning(wrong_meaning), false),
            ];
            shuffle(rng, &mut options);
            (Phrase::Describe, options, true, Some(shown))
        }
    }
}

fn wrong_number(rng: &mut SplitMix64, index: usize) -> u32 {
    let fact = FACTS[index];
    let wrong: Vec<u32> = fact.options.iter().copied().filter(|n| *n != fact.truth).collect();
    wrong[below(rng, wrong.len())]
}

fn text_item(
    rng: &mut SplitMix64,
    category: Category,
    index: usize,
    kind: Kind,
    right: bool,
) -> (Phrase, Options, bool, Option<Picture>) {
    let fact = FACTS[index];
    match kind {
        Kind::TrueFalse => {
            // Mostly the fact, whose number varies; now and then one of the rules.
            let prompt = if below(rng, 10) < 7 {
                let number = if right { fact.truth } else { wrong_number(rng, index) };
                Phrase::Fact { index, number: Some(number) }
            } else {
                Phrase::Rule { index, right, which: below(rng, RULES) }
            };
            (prompt, true_false(right), false, None)
        }
        Kind::Single => {
            let mut numbers = vec![fact.truth];
            while numbers.len() < 4 {
                let n = wrong_number(rng, index);
                if !numbers.contains(&n) {
                    numbers.push(n);
                }
            }
            numbers.sort_unstable();
            let options = numbers.iter().map(|n| (Phrase::Number(*n), *n == fact.truth)).collect();
            (Phrase::Fact { index, number: None }, options, false, None)
        }
        Kind::Multiple => {
            // The fact, a right rule and a wrong one, and as the fourth the fact with a wrong
            // number or, now and then, the category's other right rule (three right).
            let which = below(rng, RULES);
            let fourth = if below(rng, 3) == 0 {
                (Phrase::Rule { index, right: true, which: 1 - which }, true)
            } else {
                (Phrase::Fact { index, number: Some(wrong_number(rng, index)) }, false)
            };
            let mut options = vec![
                (Phrase::Fact { index, number: Some(fact.truth) }, true),
                (Phrase::Rule { index, right: true, which }, true),
                fourth,
                (Phrase::Rule { index, right: false, which: below(rng, RULES) }, false),
            ];
            shuffle(rng, &mut options);
            (Phrase::Which(category), options, true, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_give_a_picture_category_twice_a_text_category() {
        let text: u32 = counts(Category::all().nth(9).unwrap(), 50).iter().map(|(_, n)| n).sum();
        let picture: u32 = counts(Category::all().next().unwrap(), 50).iter().map(|(_, n)| n).sum();
        assert_eq!((text, picture), (50, 100));
        assert_eq!(counts(Category::all().nth(9).unwrap(), 50).map(|(_, n)| n), [20, 20, 10]);
    }

    #[test]
    fn every_item_has_its_kinds_shape_and_right_choices_it_offers() {
        for item in generate(7, 10) {
            let ids: Vec<&str> = item.choices.iter().map(|c| c.id).collect();
            let right = item.correct.len();
            match item.kind {
                Kind::TrueFalse => assert!(ids == ["T", "F"] && right == 1, "{item:?}"),
                Kind::Single => assert!(ids == LETTERS && right == 1, "{item:?}"),
                Kind::Multiple => assert!(ids == LETTERS && (2..=3).contains(&right), "{item:?}"),
            }
            assert!(item.correct.iter().all(|c| ids.contains(c)));
            assert_eq!(item.picture.is_some(), item.category.signs().is_some());
            let texts: std::collections::HashSet<_> = item.choices.iter().map(|c| c.text).collect();
            assert_eq!(texts.len(), item.choices.len(), "repeated choice in {item:?}");
        }
    }

    #[test]
    fn a_section_repeats_a_question_only_when_its_category_has_no_other() {
        let items = generate(9, 50);
        let mut by_section: std::collections::HashMap<_, Vec<&Item>> = Default::default();
        for item in &items {
            by_section.entry((item.category, item.kind)).or_default().push(item);
        }
        for ((category, kind), items) in by_section {
            let distinct: std::collections::HashSet<String> = items.iter().map(|i| i.question()).collect();
            // Signs and single choice have plenty; a text category's true/false statements
            // are its fact with each number and its two rules.
            let pictures: usize = category.signs().map_or(0, |r| r.map(|s| SIGN_KINDS[s].numbers.len().max(1)).sum());
            let floor = match (category.text_index(), kind) {
                // The fact with each number, and the category's rules.
                (Some(index), Kind::TrueFalse) => FACTS[index].options.len() + 2 * RULES - 1,
                (Some(_), Kind::Single) => 18,
                // Each picture said to mean what it means, or what another one means.
                (None, Kind::TrueFalse) => (pictures * pictures).min(items.len() * 2 / 5),
                _ => items.len() * 2 / 5,
            };
            assert!(distinct.len() >= floor.min(items.len()), "{category:?} {kind:?}: {} distinct", distinct.len());
            if kind == Kind::TrueFalse {
                let right = items.iter().filter(|i| i.correct == ["T"]).count();
                assert_eq!(right, items.len().div_ceil(2), "{category:?}: true/false alternate");
            }
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_items_and_another_seed_others() {
        assert_eq!(generate(3, 10), generate(3, 10));
        assert_ne!(generate(3, 10), generate(4, 10));
    }
}
