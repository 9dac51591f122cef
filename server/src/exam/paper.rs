//! Drawing a paper: pure and deterministic, so `examgate-server paper draw`
//! rebuilds any candidate's paper from its exam, bank version and seed.
//!
//! # The random stream (stable: never change it, a golden test pins it)
//!
//! - Generator: ChaCha20 (`rand_chacha::ChaCha20Rng`, whose output stream is
//!   value-stable across versions) keyed with the 32 bytes
//!   `SHA-256("examgate-paper-v1\n" || seed as 8 little-endian bytes)`.
//!   Only its `next_u64` is used; every sampling step is written here.
//! - `below(n)`: a uniform integer in `0..n` by rejection: draw `x`, draw
//!   again while `x >= u64::MAX - (u64::MAX % n)`, then `x % n`.
//! - Per section, in the definition's order: its pool is the bank's items it
//!   admits, sorted by id; a partial Fisher-Yates over the pool's indices
//!   (`for i in 0..k { j = i + below(n - i); swap(i, j) }`) picks `k` items.
//!   A section without `shuffle` then puts its picks back in pool order.
//! - If the exam mixes its sections, the whole list is shuffled by
//!   Fisher-Yates from the top (`for i in (1..len).rev() { j = below(i + 1); swap(i, j) }`).
//! - Then, for each item in paper order whose `shuffle` is set, its movable
//!   (not `fixed`) choices are shuffled the same way among the places they
//!   hold; fixed choices keep their places.
//!
//! # paper_sha256
//!
//! Hex SHA-256 of `examgate-paper-v1\n` followed by the compact JSON
//! `{"exam":…,"seed":…,"bank_version":…,"items":[{"id":…,"section":…,"choices":[…]},…]}`
//! (fields in that order, `seed` a JSON integer).

use std::collections::HashMap;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::bank::{BankVersion, ExamDef, Item};
use crate::audit::hex;

/// One drawn item: its id, the section it came from and its choices in display order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperItem {
    pub id: String,
    pub section: String,
    pub choices: Vec<String>,
}

/// A candidate's paper (what `paper draw --json` prints).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paper {
    pub exam: String,
    pub seed: u64,
    pub bank_version: String,
    pub paper_sha256: String,
    pub items: Vec<PaperItem>,
}

/// A category the bank cannot fill for a section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortfall {
    pub section: String,
    pub categories: Vec<String>,
    /// The item type the section asks for, if any.
    pub kind: Option<super::bank::ItemKind>,
    pub have: u32,
    pub need: u32,
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.kind.map(|k| format!(" ({k})")).unwrap_or_default();
        write!(
            f,
            "section {}: category {}{kind}: have {}, need {}",
            self.section,
            self.categories.join(", "),
            self.have,
            self.need
        )
    }
}

/// Why no paper could be drawn.
#[derive(Debug, thiserror::Error)]
pub enum DrawError {
    #[error("the bank cannot fill exam {exam}: {}", list(.shortfalls))]
    NotEnoughItems { exam: String, shortfalls: Vec<Shortfall> },
    #[error(
        "exam {exam}: sections {first} and {second} can draw the same items; give each its own categories or item type"
    )]
    OverlappingSections { exam: String, first: String, second: String },
}

fn list(shortfalls: &[Shortfall]) -> String {
    shortfalls.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// The index of each section's pool in `bank.items`, in bank (id) order.
fn pools(exam: &ExamDef, bank: &BankVersion) -> Result<Vec<Vec<usize>>, DrawError> {
    for (i, a) in exam.sections.iter().enumerate() {
        for b in &exam.sections[i + 1..] {
            let kinds_meet = a.kind.is_none() || b.kind.is_none() || a.kind == b.kind;
            if kinds_meet && a.categories.iter().any(|c| b.categories.contains(c)) {
                return Err(DrawError::OverlappingSections {
                    exam: exam.id.clone(),
                    first: a.id.clone(),
                    second: b.id.clone(),
                });
            }
        }
    }
    let mut by_category: HashMap<&str, Vec<usize>> = HashMap::new();
    for (s, section) in exam.sections.iter().enumerate() {
        for c in &section.categories {
            by_category.entry(c.as_str()).or_default().push(s);
        }
    }
    let mut pools = vec![Vec::new(); exam.sections.len()];
    for (i, item) in bank.items.iter().enumerate() {
        if let Some(sections) = by_category.get(item.category.as_str())
            && let Some(&s) = sections.iter().find(|&&s| exam.sections[s].kind.is_none_or(|k| k == item.kind))
        {
            pools[s].push(i);
        }
    }
    Ok(pools)
}

/// Every section the bank cannot fill, with what it has and needs (empty: all can be drawn).
pub fn check(exam: &ExamDef, bank: &BankVersion) -> Result<Vec<Shortfall>, DrawError> {
    Ok(check_pools(exam, &pools(exam, bank)?))
}

/// The paper random stream (see the module's documentation).
pub struct PaperRng(ChaCha20Rng);

impl PaperRng {
    pub fn new(seed: u64) -> PaperRng {
        let mut hasher = Sha256::new();
        hasher.update(b"examgate-paper-v1\n");
        hasher.update(seed.to_le_bytes());
        PaperRng(ChaCha20Rng::from_seed(hasher.finalize().into()))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A uniform integer in `0..n` (`n > 0`), by rejection.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        let reject_from = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < reject_from {
                return x % n;
            }
        }
    }

    /// Fisher-Yates from the top.
    pub fn shuffle<T>(&mut self, list: &mut [T]) {
        for i in (1..list.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            list.swap(i, j);
        }
    }
}

/// Draws the paper of `exam` from `bank` for `seed`. Deterministic: the same
/// three always give the same paper.
pub fn draw(exam: &ExamDef, bank: &BankVersion, seed: u64) -> Result<Paper, DrawError> {
    let mut pools = pools(exam, bank)?;
    let shortfalls = check_pools(exam, &pools);
    if !shortfalls.is_empty() {
        return Err(DrawError::NotEnoughItems { exam: exam.id.clone(), shortfalls });
    }
    let mut rng = PaperRng::new(seed);
    let mut picked: Vec<(usize, usize)> = Vec::with_capacity(exam.total_items() as usize);
    for (s, (section, pool)) in exam.sections.iter().zip(pools.iter_mut()).enumerate() {
        let k = section.select as usize;
        let n = pool.len();
        for i in 0..k {
            let j = i + rng.below((n - i) as u64) as usize;
            pool.swap(i, j);
        }
        let mut chosen = pool[..k].to_vec();
        if !section.shuffle {
            chosen.sort_unstable();
        }
        picked.extend(chosen.into_iter().map(|i| (s, i)));
    }
    if exam.shuffle {
        rng.shuffle(&mut picked);
    }
    let items = picked
        .into_iter()
        .map(|(s, i)| {
            let item = &bank.items[i];
            PaperItem {
                id: item.id.clone(),
                section: exam.sections[s].id.clone(),
                choices: choice_order(item, &mut rng),
            }
        })
        .collect();
    Ok(Paper::new(exam.id.clone(), seed, bank.version.clone(), items))
}

fn check_pools(exam: &ExamDef, pools: &[Vec<usize>]) -> Vec<Shortfall> {
    exam.sections
        .iter()
        .zip(pools)
        .filter(|(s, pool)| pool.len() < s.select as usize)
        .map(|(s, pool)| Shortfall {
            section: s.id.clone(),
            categories: s.categories.clone(),
            kind: s.kind,
            have: pool.len() as u32,
            need: s.select,
        })
        .collect()
}

/// The item's choice ids in display order: shuffled where the item allows,
/// fixed choices in their own places.
fn choice_order(item: &Item, rng: &mut PaperRng) -> Vec<String> {
    let mut order: Vec<&str> = item.choices.iter().map(|c| c.id.as_str()).collect();
    if item.shuffle {
        let movable: Vec<usize> = item.choices.iter().enumerate().filter(|(_, c)| !c.fixed).map(|(i, _)| i).collect();
        let mut ids: Vec<&str> = movable.iter().map(|&i| order[i]).collect();
        rng.shuffle(&mut ids);
        for (&place, id) in movable.iter().zip(ids) {
            order[place] = id;
        }
    }
    order.into_iter().map(str::to_owned).collect()
}

impl Paper {
    /// A paper with its `paper_sha256` computed.
    pub fn new(exam: String, seed: u64, bank_version: String, items: Vec<PaperItem>) -> Paper {
        let mut paper = Paper { exam, seed, bank_version, paper_sha256: String::new(), items };
        paper.paper_sha256 = paper.compute_sha256();
        paper
    }

    /// The hash over the canonical form (see the module's documentation).
    pub fn compute_sha256(&self) -> String {
        #[derive(Serialize)]
        struct Canonical<'a> {
            exam: &'a str,
            seed: u64,
            bank_version: &'a str,
            items: &'a [PaperItem],
        }
        let json = serde_json::to_vec(&Canonical {
            exam: &self.exam,
            seed: self.seed,
            bank_version: &self.bank_version,
            items: &self.items,
        })
        .expect("a paper serialises");
        let mut hasher = Sha256::new();
        hasher.update(b"examgate-paper-v1\n");
        hasher.update(json);
        hex(&hasher.finalize())
    }

    /// The drawn item with this id.
    pub fn item(&self, id: &str) -> Option<&PaperItem> {
        self.items.iter().find(|i| i.id == id)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;
    use crate::exam::bank::{ChoiceId, ItemKind, Section, Translation};

    /// `per` items of each (category, kind): ids `c{cat}-{kind}-{n}`; single items
    /// have four choices with the last fixed ("none of these").
    pub(crate) fn bank(categories: u32, per: u32) -> BankVersion {
        let mut items = Vec::new();
        for c in 1..=categories {
            for kind in [ItemKind::TrueFalse, ItemKind::Single, ItemKind::Multiple] {
                for n in 0..per {
                    let (ids, correct): (&[&str], &[&str]) = match kind {
                        ItemKind::TrueFalse => (&["T", "F"], &["T"]),
                        ItemKind::Single => (&["A", "B", "C", "D"], &["B"]),
                        ItemKind::Multiple => (&["A", "B", "C", "D", "E"], &["A", "C"]),
                    };
                    items.push(Item {
                        id: format!("c{c:02}-{kind}-{n:04}"),
                        category: c.to_string(),
                        kind,
                        points: 1,
                        correct: correct.iter().map(|s| (*s).to_owned()).collect(),
                        shuffle: n % 5 != 0,
                        choices: ids
                            .iter()
                            .map(|id| ChoiceId { id: (*id).to_owned(), fixed: kind == ItemKind::Single && *id == "D" })
                            .collect(),
                        translations: BTreeMap::from([(
                            "en".to_owned(),
                            Translation {
                                prompt: format!("question {n}"),
                                choices: ids.iter().map(|id| ((*id).to_owned(), format!("choice {id}"))).collect(),
                                media: vec![],
                            },
                        )]),
                    });
                }
            }
        }
        BankVersion::new(items)
    }

    /// Subject One's shape: 40 true/false and 60 single over `categories` categories, mixed.
    pub(crate) fn subject_one(categories: u32) -> ExamDef {
        let mut sections = Vec::new();
        for c in 1..=categories {
            for (kind, total) in [(ItemKind::TrueFalse, 40), (ItemKind::Single, 60)] {
                let k = total / categories + u32::from(c <= total % categories);
                sections.push(Section {
                    id: format!("c{c}-{kind}"),
                    categories: vec![c.to_string()],
                    kind: Some(kind),
                    select: k,
                    points: None,
                    shuffle: true,
                });
            }
        }
        ExamDef {
            id: "C1".into(),
            name: "Subject One".into(),
            minutes: 45,
            pass_score: Some(90),
            sections,
            shuffle: true,
        }
    }

    #[test]
    fn the_random_stream_is_pinned() {
        // Golden values: a change here changes every paper ever drawn.
        let mut rng = PaperRng::new(42);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(first, GOLDEN_STREAM_42);
        let mut rng = PaperRng::new(0);
        let below: Vec<u64> = (0..8).map(|_| rng.below(10)).collect();
        assert_eq!(below, GOLDEN_BELOW_0);
    }

    const GOLDEN_STREAM_42: [u64; 3] = [11377052593633695106, 498156589950874316, 5700699201740406606];
    const GOLDEN_BELOW_0: [u64; 8] = [0, 7, 3, 0, 8, 6, 0, 3];

    #[test]
    fn a_paper_is_pinned_to_its_seed() {
        let bank = bank(3, 6);
        let exam = ExamDef {
            id: "E".into(),
            name: "E".into(),
            minutes: 10,
            pass_score: None,
            sections: vec![
                Section {
                    id: "tf".into(),
                    categories: vec!["1".into()],
                    kind: Some(ItemKind::TrueFalse),
                    select: 2,
                    points: None,
                    shuffle: false,
                },
                Section {
                    id: "single".into(),
                    categories: vec!["2".into(), "3".into()],
                    kind: Some(ItemKind::Single),
                    select: 2,
                    points: None,
                    shuffle: true,
                },
            ],
            shuffle: false,
        };
        let paper = draw(&exam, &bank, 7).unwrap();
        let got: Vec<(String, Vec<String>)> = paper.items.iter().map(|i| (i.id.clone(), i.choices.clone())).collect();
        let want: Vec<(String, Vec<String>)> = GOLDEN_PAPER_7
            .iter()
            .map(|(id, cs)| ((*id).to_owned(), cs.iter().map(|c| (*c).to_owned()).collect()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(paper.paper_sha256, GOLDEN_PAPER_7_SHA256);
        assert_eq!(paper.paper_sha256, paper.compute_sha256());
    }

    const GOLDEN_PAPER_7: &[(&str, &[&str])] = &[
        ("c01-true_false-0001", &["T", "F"]),
        ("c01-true_false-0002", &["F", "T"]),
        ("c02-single-0001", &["C", "B", "A", "D"]),
        ("c03-single-0000", &["A", "B", "C", "D"]),
    ];
    const GOLDEN_PAPER_7_SHA256: &str = "d10641c86399adbfb8b449b7747675969b900b6b94e1138abe1922b5e9255672";

    #[test]
    fn a_short_bank_names_every_section_it_cannot_fill() {
        let bank = bank(30, 1);
        let err = draw(&subject_one(30), &bank, 1).unwrap_err();
        let DrawError::NotEnoughItems { shortfalls, .. } = err else { panic!("{err}") };
        // 40 true/false over 30 categories: 10 categories need 2; 60 single: every category needs 2.
        assert_eq!(shortfalls.len(), 40);
        assert!(shortfalls.iter().all(|s| s.have == 1 && s.need == 2));
        assert_eq!(check(&subject_one(30), &bank).unwrap(), shortfalls);
    }

    #[test]
    fn each_item_of_a_section_is_drawn_about_equally_often() {
        // 10 items, 3 drawn, over 20,000 fixed seeds: each is expected 6,000 times.
        let bank = bank(1, 10);
        let exam = ExamDef {
            id: "E".into(),
            name: "E".into(),
            minutes: 1,
            pass_score: None,
            sections: vec![Section {
                id: "s".into(),
                categories: vec!["1".into()],
                kind: Some(ItemKind::Single),
                select: 3,
                points: None,
                shuffle: true,
            }],
            shuffle: false,
        };
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        let mut first: BTreeMap<String, u32> = BTreeMap::new();
        let seeds = 20_000u64;
        for seed in 0..seeds {
            let paper = draw(&exam, &bank, seed).unwrap();
            *first.entry(paper.items[0].id.clone()).or_default() += 1;
            for i in &paper.items {
                *counts.entry(i.id.clone()).or_default() += 1;
            }
        }
        let chi2 = |counts: &BTreeMap<String, u32>, expected: f64| -> f64 {
            counts.values().map(|&c| (f64::from(c) - expected).powi(2) / expected).sum()
        };
        assert_eq!(counts.len(), 10);
        // 9 degrees of freedom: P(chi2 > 27.9) = 0.001. The seeds are fixed, so this never flakes.
        assert!(chi2(&counts, 6_000.0) < 27.9, "{counts:?}");
        assert!(chi2(&first, 2_000.0) < 27.9, "first place: {first:?}");
    }

    fn check_paper(exam: &ExamDef, bank: &BankVersion, paper: &Paper) {
        let by_section: BTreeMap<&str, usize> = paper.items.iter().fold(BTreeMap::new(), |mut m, i| {
            *m.entry(i.section.as_str()).or_default() += 1;
            m
        });
        for s in &exam.sections {
            assert_eq!(by_section.get(s.id.as_str()).copied().unwrap_or(0), s.select as usize, "section {}", s.id);
        }
        let ids: BTreeSet<&str> = paper.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids.len(), paper.items.len(), "an item drawn twice");
        for drawn in &paper.items {
            let item = bank.item(&drawn.id).expect("drawn from the bank");
            let section = exam.sections.iter().find(|s| s.id == drawn.section).unwrap();
            assert!(section.admits(item));
            let mut shown = drawn.choices.clone();
            shown.sort();
            let mut own: Vec<String> = item.choices.iter().map(|c| c.id.clone()).collect();
            own.sort();
            assert_eq!(shown, own, "choices are a permutation");
            for (place, c) in item.choices.iter().enumerate() {
                if c.fixed || !item.shuffle {
                    assert_eq!(drawn.choices[place], c.id, "fixed choice moved");
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        #[test]
        fn every_paper_has_exact_counts_distinct_items_and_permuted_choices(seed in any::<u64>()) {
            let bank = bank(30, 4);
            let exam = subject_one(30);
            let paper = draw(&exam, &bank, seed).unwrap();
            check_paper(&exam, &bank, &paper);
            prop_assert_eq!(paper.items.len(), 100);
            prop_assert_eq!(&draw(&exam, &bank, seed).unwrap(), &paper);
        }

        #[test]
        fn below_stays_below(seed in any::<u64>(), n in 1u64..=u64::MAX) {
            let mut rng = PaperRng::new(seed);
            prop_assert!(rng.below(n) < n);
        }
    }
}
