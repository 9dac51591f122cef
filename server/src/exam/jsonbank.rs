//! examgate's own JSON bank, for centres whose questions live in a
//! spreadsheet (the schema is in the README, "Question bank").
//!
//! ```json
//! {"format": "examgate-bank", "version": 1, "items": [
//!   {"id": "Q0001", "category": "1", "type": "single", "points": 1, "shuffle": true,
//!    "choices": ["A", "B", "C", {"id": "D", "fixed": true}], "correct": ["B"],
//!    "text": {"en": {"prompt": "…", "choices": {"A": "…", "B": "…", "C": "…", "D": "…"},
//!                    "media": ["images/sign-12.png"]}}}]}
//! ```
//!
//! Media paths are relative to the JSON file's folder, may not leave it and
//! may not be links.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use super::bank::{ChoiceId, Item, ItemKind, Translation};
use super::import::{BankError, ImportError, Imported, file_name};
use super::package::{PackageError, safe_path};
use super::qti::media_of;
use crate::crypto::sha256_hex;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBank {
    format: String,
    version: u32,
    items: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawChoice {
    Id(String),
    Full {
        id: String,
        #[serde(default)]
        fixed: bool,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawText {
    prompt: String,
    choices: BTreeMap<String, String>,
    #[serde(default)]
    media: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: String,
    category: String,
    #[serde(rename = "type")]
    kind: ItemKind,
    #[serde(default = "one")]
    points: u32,
    #[serde(default = "yes")]
    shuffle: bool,
    choices: Vec<RawChoice>,
    correct: Vec<String>,
    text: BTreeMap<String, RawText>,
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}

/// Reads a JSON bank and the media it names; every bad item reported.
pub fn read(path: &Path, limit: u64) -> Result<(Imported, String), ImportError> {
    let name = file_name(path);
    let unreadable = |reason: String| ImportError::Unreadable { path: path.display().to_string(), reason };
    let meta = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    if meta.len() > limit {
        return Err(PackageError::TooLarge { name, size: meta.len(), limit }.into());
    }
    let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    let sha256 = sha256_hex(&bytes);
    let raw: RawBank = serde_json::from_slice(&bytes)
        .map_err(|e| ImportError::Invalid(vec![BankError::package(&name, "json", e.to_string())]))?;
    if raw.format != "examgate-bank" || raw.version != 1 {
        return Err(ImportError::Invalid(vec![BankError::package(
            &name,
            "format",
            format!("{:?} version {}: expected \"examgate-bank\" version 1", raw.format, raw.version),
        )]));
    }
    let root = path.parent().unwrap_or(Path::new("."));
    let mut total = bytes.len() as u64;
    let mut errors = Vec::new();
    let mut items = Vec::new();
    let mut media = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for (n, value) in raw.items.into_iter().enumerate() {
        let label =
            value.get("id").and_then(|v| v.as_str()).map(str::to_owned).unwrap_or_else(|| format!("item #{}", n + 1));
        let raw_item: RawItem = match serde_json::from_value(value) {
            Ok(i) => i,
            Err(e) => {
                errors.push(BankError::at(&name, &label, "item", e.to_string()));
                continue;
            }
        };
        let mut read_media = |p: &str| -> Option<Vec<u8>> {
            let full = root.join(p);
            let meta = std::fs::symlink_metadata(&full).ok()?;
            if !meta.is_file() {
                return None;
            }
            total += meta.len();
            if total > limit {
                return None;
            }
            std::fs::read(&full).ok()
        };
        match item(&name, raw_item, &mut read_media, &mut media) {
            Ok(item) if !seen.insert(item.id.clone()) => {
                errors.push(BankError::at(&name, &item.id, "id", "appears twice"));
            }
            Ok(item) => items.push(item),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if total > limit {
        return Err(PackageError::TooLarge { name, size: total, limit }.into());
    }
    if items.is_empty() && errors.is_empty() {
        errors.push(BankError::package(&name, "items", "the bank has no items"));
    }
    if !errors.is_empty() {
        return Err(ImportError::Invalid(errors));
    }
    Ok((Imported { items, exams: Vec::new(), media }, sha256))
}

fn item(
    file: &str,
    raw: RawItem,
    read_media: &mut dyn FnMut(&str) -> Option<Vec<u8>>,
    media: &mut BTreeMap<String, (String, Vec<u8>)>,
) -> Result<Item, Vec<BankError>> {
    let id = raw.id.trim().to_owned();
    let mut errors = Vec::new();
    let mut err = |field: &str, reason: String| errors.push(BankError::at(file, &id, field, reason));
    if id.is_empty() {
        err("id", "empty".into());
    }
    if raw.category.trim().is_empty() {
        err("category", "empty".into());
    }
    if raw.points == 0 {
        err("points", "must be at least 1".into());
    }
    let choices: Vec<ChoiceId> = raw
        .choices
        .into_iter()
        .map(|c| match c {
            RawChoice::Id(id) => ChoiceId { id, fixed: false },
            RawChoice::Full { id, fixed } => ChoiceId { id, fixed },
        })
        .collect();
    let ids: BTreeSet<&str> = choices.iter().map(|c| c.id.as_str()).collect();
    if ids.len() != choices.len() {
        err("choices", "a choice id appears twice".into());
    }
    match (raw.kind, choices.len()) {
        (ItemKind::TrueFalse, 2) | (ItemKind::Single, 3..) | (ItemKind::Multiple, 2..) => {}
        (ItemKind::TrueFalse, n) => err("choices", format!("{n} choices: a true_false item has two")),
        (ItemKind::Single, 2) => err("type", "a single-choice item with two choices is true_false".into()),
        (_, n) => err("choices", format!("{n} choices; at least two")),
    }
    for c in &raw.correct {
        if !ids.contains(c.as_str()) {
            err("correct", format!("{c} is not one of the choices"));
        }
    }
    match (raw.kind, raw.correct.len()) {
        (_, 0) => err("correct", "no correct choice".into()),
        (ItemKind::Multiple, _) | (_, 1) => {}
        (kind, n) => err("correct", format!("{n} correct choices for a {kind} item: one")),
    }
    if raw.text.is_empty() {
        err("text", "no language".into());
    }
    let mut translations = BTreeMap::new();
    for (lang, t) in raw.text {
        let given: BTreeSet<&str> = t.choices.keys().map(String::as_str).collect();
        if given != ids {
            err(&format!("text.{lang}.choices"), "must give the text of every choice and no other".into());
        }
        if t.prompt.trim().is_empty() && t.media.is_empty() {
            err(&format!("text.{lang}.prompt"), "empty".into());
        }
        let mut list = Vec::new();
        for p in &t.media {
            let path = match safe_path(p) {
                Ok(path) => path,
                Err(why) => {
                    err(&format!("text.{lang}.media"), format!("{p:?}: {why}"));
                    continue;
                }
            };
            match media_of(&mut *read_media, &path) {
                Ok((m, bytes)) => {
                    media.insert(m.sha256.clone(), (m.mime.clone(), bytes));
                    list.push(m);
                }
                Err(why) => err(&format!("text.{lang}.media"), format!("{why} (or is a link, or over the size limit)")),
            }
        }
        translations.insert(lang, Translation { prompt: t.prompt, choices: t.choices, media: list });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut item = Item {
        id,
        category: raw.category.trim().to_owned(),
        kind: raw.kind,
        points: raw.points,
        correct: raw.correct,
        shuffle: raw.shuffle,
        choices,
        translations,
    };
    item.normalise();
    Ok(item)
}
