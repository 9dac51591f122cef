//! The question bank's model: items with their translations and media, a bank
//! version (an immutable set of items named by the SHA-256 of its canonical
//! content) and exam definitions (the rules a paper is drawn by).
//!
//! Everything here is plain data with serde derives; the importers
//! ([`super::qti`], [`super::jsonbank`]) build it, the store keeps it, and
//! [`super::paper`] / [`super::score`] read it.
//!
//! # Canonical form and the bank version
//!
//! An item's canonical bytes are its compact `serde_json` serialisation with
//! the fields in the order this file declares them, after [`Item::normalise`]:
//! `correct` sorted, `choices` in the item's own order, `translations` a map
//! sorted by language tag, each translation's `choices` a map sorted by choice
//! id and its `media` sorted by path. A media file enters by its `path`,
//! `mime`, `sha256` and `size`, so a changed picture changes the item.
//!
//! The bank version is the lower-case hex SHA-256 of
//! `examgate-bank-v1\n` followed by, for every item sorted by id, the item's
//! canonical bytes and a `\n`. The same items always give the same version,
//! whatever their import order or source format.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::hex;

/// What a candidate does with an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// Two choices, one correct (true / false, yes / no).
    TrueFalse,
    /// Three or more choices, exactly one correct.
    Single,
    /// Several choices, one or more correct; only the exact set scores.
    Multiple,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::TrueFalse => "true_false",
            ItemKind::Single => "single",
            ItemKind::Multiple => "multiple",
        }
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ItemKind {
    type Err = String;
    fn from_str(s: &str) -> Result<ItemKind, String> {
        match s {
            "true_false" => Ok(ItemKind::TrueFalse),
            "single" => Ok(ItemKind::Single),
            "multiple" => Ok(ItemKind::Multiple),
            _ => Err(format!("unknown item type {s:?}: true_false, single or multiple")),
        }
    }
}

/// One choice of an item, language-independent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceId {
    /// The QTI `identifier` of the `simpleChoice`.
    pub id: String,
    /// A fixed choice keeps its place when the others are shuffled (QTI `fixed`).
    #[serde(default)]
    pub fixed: bool,
}

/// A picture or video an item shows, stored once by its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    /// The path the package gives it (`images/sign-12.png`), relative to the package root.
    pub path: String,
    /// `image/png`, `image/jpeg`, `image/svg+xml`, `video/mp4`, …
    pub mime: String,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
    pub size: u64,
}

/// An item's words in one language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Translation {
    /// The question as plain text (paragraphs separated by `\n`).
    pub prompt: String,
    /// Each choice's text, by choice id; every choice of the item has one.
    pub choices: BTreeMap<String, String>,
    /// The pictures and videos shown with the prompt, in document order
    /// (normalised: sorted by path).
    #[serde(default)]
    pub media: Vec<Media>,
}

/// One question of the bank.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The QTI `identifier` (unique in the bank).
    pub id: String,
    /// `"1"`..`"30"` or a name.
    pub category: String,
    pub kind: ItemKind,
    /// What a right answer scores (default 1).
    pub points: u32,
    /// The correct choice ids (one for true/false and single), sorted.
    pub correct: Vec<String>,
    /// Whether the choices may be shown in random order (QTI `shuffle`).
    pub shuffle: bool,
    /// The choices in the order the item lists them.
    pub choices: Vec<ChoiceId>,
    /// The item's words, by BCP 47 language tag (`zh-CN`, `en`, `ar`, …).
    pub translations: BTreeMap<String, Translation>,
}

impl Item {
    /// Puts the item in its canonical form (see the module's documentation).
    pub fn normalise(&mut self) {
        self.correct.sort();
        self.correct.dedup();
        for t in self.translations.values_mut() {
            t.media.sort_by(|a, b| a.path.cmp(&b.path));
        }
    }

    /// The canonical bytes of a normalised item.
    pub fn canonical_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an item serialises")
    }

    /// SHA-256 (hex) of the canonical bytes: the id of this version of the item.
    pub fn sha256(&self) -> String {
        hex(&Sha256::digest(self.canonical_json()))
    }

    /// The item's text in `lang`, or in the first language it has.
    pub fn translation(&self, lang: &str) -> Option<(&str, &Translation)> {
        self.translations.get_key_value(lang).or_else(|| self.translations.iter().next()).map(|(l, t)| (l.as_str(), t))
    }

    /// Whether `choice` is one of this item's choice ids.
    pub fn has_choice(&self, choice: &str) -> bool {
        self.choices.iter().any(|c| c.id == choice)
    }
}

/// The prefix of the bytes a bank version hashes.
pub const BANK_VERSION_DOMAIN: &str = "examgate-bank-v1\n";

/// The bank version (hex SHA-256) of a set of normalised items.
pub fn bank_version_of<'a>(items: impl IntoIterator<Item = &'a Item>) -> String {
    let mut sorted: Vec<&Item> = items.into_iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut hasher = Sha256::new();
    hasher.update(BANK_VERSION_DOMAIN.as_bytes());
    for item in sorted {
        hasher.update(item.canonical_json());
        hasher.update(b"\n");
    }
    hex(&hasher.finalize())
}

/// One immutable version of the bank: every item, sorted by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankVersion {
    /// Hex SHA-256 of the canonical content ([`bank_version_of`]).
    pub version: String,
    /// The items, sorted by id, each normalised.
    pub items: Vec<Item>,
}

impl BankVersion {
    /// Normalises and sorts `items` and computes the version.
    pub fn new(mut items: Vec<Item>) -> BankVersion {
        for item in &mut items {
            item.normalise();
        }
        items.sort_by(|a, b| a.id.cmp(&b.id));
        let version = bank_version_of(&items);
        BankVersion { version, items }
    }

    /// The item with this id.
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.binary_search_by(|i| i.id.as_str().cmp(id)).ok().map(|i| &self.items[i])
    }
}

/// One part of an exam: `select` items drawn from the bank's items of its
/// categories (and type).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// The section's identifier (QTI `assessmentSection` identifier, or the rules file's key).
    pub id: String,
    /// The categories it draws from (an item of any of them qualifies).
    pub categories: Vec<String>,
    /// Only items of this type, if set.
    pub kind: Option<ItemKind>,
    /// How many distinct items a paper takes from this section.
    pub select: u32,
    /// What each right answer scores here, instead of the item's own points.
    pub points: Option<u32>,
    /// Whether the drawn items come in random order (QTI `ordering shuffle`);
    /// otherwise in bank order (by id).
    pub shuffle: bool,
}

impl Section {
    /// Whether `item` belongs to this section's pool.
    pub fn admits(&self, item: &Item) -> bool {
        self.categories.contains(&item.category) && self.kind.is_none_or(|k| k == item.kind)
    }
}

/// An exam: the rules a paper is drawn by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamDef {
    /// `C1`, `subject-four`, the QTI `assessmentTest` identifier.
    pub id: String,
    pub name: String,
    pub minutes: u32,
    /// The score that passes (`score >= pass_score`); none: no pass / fail.
    pub pass_score: Option<u32>,
    pub sections: Vec<Section>,
    /// Whether all drawn items are mixed across sections (otherwise section by section).
    pub shuffle: bool,
}

impl ExamDef {
    /// The number of items on every paper.
    pub fn total_items(&self) -> u32 {
        self.sections.iter().map(|s| s.select).sum()
    }

    /// SHA-256 (hex) of the definition's compact JSON: the id of this version of it.
    pub fn sha256(&self) -> String {
        hex(&Sha256::digest(serde_json::to_vec(self).expect("an exam definition serialises")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str) -> Item {
        Item {
            id: id.to_owned(),
            category: "1".to_owned(),
            kind: ItemKind::Single,
            points: 1,
            correct: vec!["B".to_owned()],
            shuffle: true,
            choices: ["A", "B", "C"].iter().map(|c| ChoiceId { id: (*c).to_owned(), fixed: false }).collect(),
            translations: BTreeMap::from([(
                "en".to_owned(),
                Translation {
                    prompt: "Which?".to_owned(),
                    choices: ["A", "B", "C"].iter().map(|c| ((*c).to_owned(), format!("choice {c}"))).collect(),
                    media: vec![],
                },
            )]),
        }
    }

    #[test]
    fn bank_version_does_not_depend_on_item_order() {
        let a = BankVersion::new(vec![item("x"), item("y")]);
        let b = BankVersion::new(vec![item("y"), item("x")]);
        assert_eq!(a.version, b.version);
        assert_eq!(a.version.len(), 64);
    }

    #[test]
    fn any_change_to_an_item_changes_the_bank_version() {
        let base = BankVersion::new(vec![item("x")]).version;
        let mut changed = item("x");
        changed.translations.get_mut("en").unwrap().prompt.push('!');
        assert_ne!(BankVersion::new(vec![changed]).version, base);
        let mut changed = item("x");
        changed.correct = vec!["C".to_owned()];
        assert_ne!(BankVersion::new(vec![changed]).version, base);
    }

    #[test]
    fn kinds_read_and_print_their_snake_case_names() {
        for kind in [ItemKind::TrueFalse, ItemKind::Single, ItemKind::Multiple] {
            assert_eq!(kind.as_str().parse::<ItemKind>(), Ok(kind));
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
        assert!("choice".parse::<ItemKind>().is_err());
    }
}
