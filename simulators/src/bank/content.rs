//! What the bank's questions are about, apart from any language: the 30 categories, the
//! signs the simulator draws, the rules with a number, and [`Phrase`], one sentence of an
//! item that each language's [`Texts`] words in its own way.

use super::lang::Texts;

/// Categories 1..=6 are asked with a picture; 7..=30 in words.
pub const CATEGORIES: usize = 30;
pub const PICTURE_CATEGORIES: usize = 6;
pub const TEXT_CATEGORIES: usize = CATEGORIES - PICTURE_CATEGORIES;
/// Drawn signs, lights and markings.
pub const SIGNS: usize = 28;
pub const FAMILIES: usize = 5;
/// Right statements (and as many wrong ones) of each category asked in words.
pub const RULES: usize = 2;

/// What kind of picture a sign is; the index into [`Texts::families`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Warning,
    Prohibitory,
    Mandatory,
    TrafficLight,
    Marking,
}

impl Family {
    pub const ALL: [Family; FAMILIES] =
        [Family::Warning, Family::Prohibitory, Family::Mandatory, Family::TrafficLight, Family::Marking];

    fn index(self) -> usize {
        self as usize
    }

    /// Which of the three questions ("this sign / light / marking") asks about it.
    fn wording(self) -> usize {
        match self {
            Family::Warning | Family::Prohibitory | Family::Mandatory => 0,
            Family::TrafficLight => 1,
            Family::Marking => 2,
        }
    }
}

/// One drawable sign: its family and, for speed signs, the numbers it may carry.
#[derive(Clone, Copy, Debug)]
pub struct SignKind {
    pub family: Family,
    pub numbers: &'static [u32],
}

const NO_NUMBER: &[u32] = &[];
const MAX_SPEEDS: &[u32] = &[20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120];
const MIN_SPEEDS: &[u32] = &[40, 50, 60, 70, 80, 90, 100];

const fn sign(family: Family) -> SignKind {
    SignKind { family, numbers: NO_NUMBER }
}

/// The signs in [`Texts::meanings`] order. The picture of sign `i` is drawn by
/// `draw::sign(i, n)`.
pub const SIGN_KINDS: [SignKind; SIGNS] = [
    sign(Family::Warning),                                         // danger
    sign(Family::Warning),                                         // crossroads
    sign(Family::Warning),                                         // T-junction
    sign(Family::Warning),                                         // road narrows
    sign(Family::Warning),                                         // traffic lights
    sign(Family::Warning),                                         // bend to the right
    sign(Family::Prohibitory),                                     // no entry
    sign(Family::Prohibitory),                                     // no parking
    sign(Family::Prohibitory),                                     // no stopping
    sign(Family::Prohibitory),                                     // stop
    sign(Family::Prohibitory),                                     // give way
    sign(Family::Prohibitory),                                     // no vehicles
    sign(Family::Mandatory),                                       // straight
    sign(Family::Mandatory),                                       // left
    sign(Family::Mandatory),                                       // right
    sign(Family::Mandatory),                                       // keep right
    sign(Family::Mandatory),                                       // keep left
    SignKind { family: Family::Prohibitory, numbers: MAX_SPEEDS }, // maximum speed
    SignKind { family: Family::Mandatory, numbers: MIN_SPEEDS },   // minimum speed
    SignKind { family: Family::Prohibitory, numbers: MAX_SPEEDS }, // end of speed limit
    sign(Family::TrafficLight),                                    // red
    sign(Family::TrafficLight),                                    // yellow
    sign(Family::TrafficLight),                                    // green
    sign(Family::Marking),                                         // dashed white line
    sign(Family::Marking),                                         // solid white line
    sign(Family::Marking),                                         // double yellow line
    sign(Family::Marking),                                         // zebra crossing
    sign(Family::Marking),                                         // stop line
];

/// The signs a picture category asks about: category `c` (1..=6) is `PICTURE_SIGNS[c - 1]`.
pub const PICTURE_SIGNS: [std::ops::Range<usize>; PICTURE_CATEGORIES] = [0..6, 6..12, 12..17, 17..20, 20..23, 23..28];

/// A rule with a number: the right number and the numbers a question offers instead.
#[derive(Clone, Copy, Debug)]
pub struct Fact {
    pub truth: u32,
    pub options: &'static [u32],
}

const fn fact(truth: u32, options: &'static [u32]) -> Fact {
    Fact { truth, options }
}

/// The facts of categories 7..=30, in [`Texts::facts`] order (the numbers of China's road
/// traffic rules, which the exam model follows).
pub const FACTS: [Fact; TEXT_CATEGORIES] = [
    fact(30, &[15, 20, 25, 30, 40, 50, 60]),
    fact(30, &[15, 20, 25, 30, 40, 50, 60]),
    fact(70, &[40, 50, 60, 70, 80, 90, 100]),
    fact(120, &[80, 90, 100, 110, 120, 130, 140, 150]),
    fact(60, &[30, 40, 50, 60, 70, 80, 90]),
    fact(100, &[30, 50, 60, 80, 100, 150, 200]),
    fact(150, &[30, 50, 80, 100, 150, 200, 300]),
    fact(20, &[10, 20, 30, 40, 50, 60, 80]),
    fact(50, &[5, 10, 15, 20, 30, 50, 100]),
    fact(30, &[5, 10, 15, 20, 30, 50, 100]),
    fact(30, &[15, 20, 25, 30, 40, 50, 60]),
    fact(30, &[15, 20, 25, 30, 40, 50, 60]),
    fact(80, &[20, 40, 50, 60, 80, 100, 120]),
    fact(4, &[2, 3, 4, 5, 6, 8, 10]),
    fact(12, &[4, 6, 8, 10, 12, 14, 16]),
    fact(6, &[1, 2, 3, 4, 5, 6, 10]),
    fact(12, &[3, 6, 9, 12, 18, 24, 36]),
    fact(12, &[6, 8, 10, 12, 15, 20, 24]),
    fact(150, &[20, 50, 80, 100, 150, 200, 300]),
    fact(122, &[110, 112, 114, 119, 120, 121, 122]),
    fact(120, &[110, 112, 114, 119, 120, 121, 122]),
    fact(100, &[20, 30, 50, 60, 80, 100, 150]),
    fact(10, &[4, 5, 8, 10, 15, 20, 30]),
    fact(70, &[50, 55, 60, 65, 70, 75, 80]),
];

/// A category's number, 1..=30.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Category(u8);

impl Category {
    pub fn all() -> impl Iterator<Item = Category> {
        (1..=CATEGORIES as u8).map(Category)
    }

    pub fn number(self) -> u8 {
        self.0
    }

    /// `C07`: the `category` of its item refs, its folder, its items' prefix.
    pub fn code(self) -> String {
        format!("C{:02}", self.0)
    }

    /// Signs are asked with a picture; the others in words.
    pub fn signs(self) -> Option<std::ops::Range<usize>> {
        PICTURE_SIGNS.get(usize::from(self.0) - 1).cloned()
    }

    /// For a category asked in words, its index into [`FACTS`] and the rule tables.
    pub fn text_index(self) -> Option<usize> {
        (usize::from(self.0) - 1).checked_sub(PICTURE_CATEGORIES)
    }
}

/// One sentence or choice of an item, before it is put in a language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phrase {
    /// A text category's fact with a number (`None`: a blank to fill).
    Fact {
        index: usize,
        number: Option<u32>,
    },
    /// A text category's rule `which` (of [`RULES`]) that is right (`true`) or wrong.
    Rule {
        index: usize,
        right: bool,
        which: usize,
    },
    /// What sign `sign` (with its number) means.
    Meaning {
        sign: usize,
        number: u32,
    },
    /// "This sign means: …" with that meaning.
    Means {
        sign: usize,
        number: u32,
    },
    /// "What does this sign mean?"
    Ask {
        sign: usize,
    },
    /// "Which of the following are true of this picture?"
    Describe,
    /// "A warning sign", …
    Family(Family),
    /// "Road signs: which of the following statements are correct?"
    Which(Category),
    Number(u32),
    Correct,
    Wrong,
}

impl Phrase {
    /// The phrase in `t`'s language.
    pub fn render(self, t: &Texts) -> String {
        match self {
            Phrase::Fact { index, number } => {
                let n = number.map_or_else(|| "____".to_owned(), |n| n.to_string());
                t.facts[index].replace("{n}", &n)
            }
            Phrase::Rule { index, right: true, which } => t.rules_true[index][which].to_owned(),
            Phrase::Rule { index, right: false, which } => t.rules_false[index][which].to_owned(),
            Phrase::Meaning { sign, number } => t.meanings[sign].replace("{n}", &number.to_string()),
            Phrase::Means { sign, number } => {
                let m = Phrase::Meaning { sign, number }.render(t);
                t.means[SIGN_KINDS[sign].family.wording()].replace("{m}", &m)
            }
            Phrase::Ask { sign } => t.ask[SIGN_KINDS[sign].family.wording()].to_owned(),
            Phrase::Describe => t.describe.to_owned(),
            Phrase::Family(f) => t.families[f.index()].to_owned(),
            Phrase::Which(c) => t.which.replace("{c}", t.categories[usize::from(c.0) - 1]),
            Phrase::Number(n) => n.to_string(),
            Phrase::Correct => t.correct.to_owned(),
            Phrase::Wrong => t.wrong.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::lang::ALL;

    #[test]
    fn every_fact_offers_its_truth_and_six_others() {
        for (i, f) in FACTS.iter().enumerate() {
            assert!(f.options.contains(&f.truth), "fact {i}");
            // Six wrong numbers make 20 different single choice questions of four.
            assert!(f.options.len() >= 7, "fact {i}");
        }
    }

    #[test]
    fn placeholders_are_where_the_code_fills_them() {
        for t in ALL {
            for (i, s) in t.facts.iter().enumerate() {
                assert_eq!(s.matches("{n}").count(), 1, "{} fact {i}: {s}", t.tag);
            }
            for (i, s) in t.meanings.iter().enumerate() {
                let numbered = !SIGN_KINDS[i].numbers.is_empty();
                assert_eq!(s.contains("{n}"), numbered, "{} meaning {i}: {s}", t.tag);
            }
            for s in t.means {
                assert!(s.contains("{m}"), "{}: {s}", t.tag);
            }
            assert!(t.which.contains("{c}"), "{}", t.tag);
            let rules = t.rules_true.iter().chain(&t.rules_false).flatten();
            let all = t.categories.iter().chain(rules).chain(&t.families);
            for s in all.chain(&t.ask).chain([&t.describe, &t.correct, &t.wrong, &t.picture]) {
                assert!(!s.is_empty() && !s.contains('{'), "{}: {s:?}", t.tag);
            }
        }
    }

    #[test]
    fn a_blank_fact_has_no_number_and_a_filled_one_has_it() {
        let en = ALL[1];
        assert_eq!(en.tag, "en");
        let blank = Phrase::Fact { index: 3, number: None }.render(en);
        assert_eq!(blank, "On an expressway, the maximum speed for cars is ____ km/h.");
        let filled = Phrase::Means { sign: 17, number: 60 }.render(en);
        assert_eq!(filled, "This sign means: Maximum speed 60 km/h.");
    }
}
