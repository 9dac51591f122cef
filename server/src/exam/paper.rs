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
