//! The bank's wording in the twelve exam languages, each in its own script: one file a
//! language, every file the same table ([`Texts`]) in the same order, so an item is the same
//! question in each. `{n}` stands for a number, `{m}` for a sign's meaning, `{c}` for a
//! category's name.

mod ar;
mod de;
mod en;
mod es;
mod fr;
mod ja;
mod kk;
mod ko;
mod mn;
mod ru;
mod ug;
mod zh;

use super::content::{FAMILIES, RULES, SIGNS, TEXT_CATEGORIES};

/// Writing direction of a language's text (`dir` of the item body).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Ltr,
    Rtl,
}

/// Everything an item can say, in one language.
pub struct Texts {
    /// BCP 47 tag, as `xml:lang` and web/seat/i18n name it.
    pub tag: &'static str,
    pub direction: Direction,
    /// The two choices of a true/false item.
    pub correct: &'static str,
    pub wrong: &'static str,
    /// The `alt` of an item's picture (it must not give the answer away).
    pub picture: &'static str,
    /// Categories 1..=30.
    pub categories: [&'static str; 30],
    /// For categories 7..=30: a rule with a number `{n}`; with `____` for `{n}` it is the
    /// single-choice question.
    pub facts: [&'static str; TEXT_CATEGORIES],
    /// For categories 7..=30: two statements that are right, and two that are wrong.
    pub rules_true: [[&'static str; RULES]; TEXT_CATEGORIES],
    pub rules_false: [[&'static str; RULES]; TEXT_CATEGORIES],
    /// What each drawn sign, light or marking means (`{n}` its number), in [`SIGNS`] order.
    pub meanings: [&'static str; SIGNS],
    /// "A warning sign", … in [`FAMILIES`] order.
    pub families: [&'static str; FAMILIES],
    /// "What does this sign / traffic light / road marking mean?"
    pub ask: [&'static str; 3],
    /// "This sign / traffic light / road marking means: {m}."
    pub means: [&'static str; 3],
    /// "Which of the following are true of this picture?"
    pub describe: &'static str,
    /// "{c}: which of the following statements are correct?"
    pub which: &'static str,
}

/// The twelve exam languages, in web/seat/i18n/languages.json's order.
pub const ALL: [&Texts; 12] = [
    &zh::TEXTS,
    &en::TEXTS,
    &fr::TEXTS,
    &de::TEXTS,
    &ru::TEXTS,
    &es::TEXTS,
    &ar::TEXTS,
    &ja::TEXTS,
    &ko::TEXTS,
    &mn::TEXTS,
    &ug::TEXTS,
    &kk::TEXTS,
];
