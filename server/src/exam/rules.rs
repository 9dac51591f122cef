//! Exam definitions from a TOML rules file (for a JSON bank, or to override a
//! package's tests), and the checks every definition passes.
//!
//! ```toml
//! id = "C1"
//! name = "Subject One"
//! minutes = 45
//! pass_score = 90          # optional: no pass / fail without it
//! shuffle = true           # mix all sections' items (default false)
//!
//! [[section]]
//! id = "tf"                # optional: default "s1", "s2", …
//! category = "1"           # or categories = ["1", "2"]
//! type = "true_false"      # optional: true_false, single or multiple
//! count = 40
//! points = 1               # optional: default the item's own points
//! shuffle = true           # default true: drawn items in random order
//! ```

use serde::Deserialize;

use super::bank::{ExamDef, ItemKind, Section};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    id: String,
    name: Option<String>,
    minutes: u32,
    pass_score: Option<u32>,
    #[serde(default)]
    shuffle: bool,
    #[serde(default)]
    section: Vec<RawSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    id: Option<String>,
    category: Option<String>,
    categories: Option<Vec<String>>,
    #[serde(rename = "type")]
    kind: Option<String>,
    count: u32,
    points: Option<u32>,
    shuffle: Option<bool>,
}

/// Reads a rules file into a checked exam definition.
pub fn parse(text: &str) -> Result<ExamDef, String> {
    let raw: RawRules = toml::from_str(text).map_err(|e| e.message().to_owned())?;
    let mut sections = Vec::new();
    for (i, s) in raw.section.into_iter().enumerate() {
        let id = s.id.unwrap_or_else(|| format!("s{}", i + 1));
        let categories = match (s.category, s.categories) {
            (Some(c), None) => vec![c],
            (None, Some(cs)) if !cs.is_empty() => cs,
            _ => return Err(format!("section {id}: give either category or categories")),
        };
        let kind = s.kind.map(|k| k.parse::<ItemKind>()).transpose().map_err(|e| format!("section {id}: {e}"))?;
        sections.push(Section {
            id,
            categories,
            kind,
            select: s.count,
            points: s.points,
            shuffle: s.shuffle.unwrap_or(true),
        });
    }
    let def = ExamDef {
        name: raw.name.unwrap_or_else(|| raw.id.clone()),
        id: raw.id,
        minutes: raw.minutes,
        pass_score: raw.pass_score,
        sections,
        shuffle: raw.shuffle,
    };
    validate(&def)?;
    Ok(def)
}

/// What every exam definition must be: an id, minutes, sections with a
/// count, and no two sections able to draw the same item.
pub fn validate(def: &ExamDef) -> Result<(), String> {
    if def.id.trim().is_empty() || def.id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("exam id {:?}: a word without spaces", def.id));
    }
    if def.minutes == 0 {
        return Err(format!("exam {}: minutes must be at least 1", def.id));
    }
    if def.sections.is_empty() {
        return Err(format!("exam {}: no sections", def.id));
    }
    let mut ids = std::collections::BTreeSet::new();
    for s in &def.sections {
        if !ids.insert(s.id.as_str()) {
            return Err(format!("exam {}: section {} appears twice", def.id, s.id));
        }
        if s.select == 0 {
            return Err(format!("exam {}: section {}: count must be at least 1", def.id, s.id));
        }
        if s.points == Some(0) {
            return Err(format!("exam {}: section {}: points must be at least 1", def.id, s.id));
        }
    }
    // Overlap is the draw's own check, run on an empty bank.
    let empty = super::bank::BankVersion::new(Vec::new());
    super::paper::check(def, &empty).map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBJECT_ONE: &str = r#"
id = "C1"
name = "Subject One"
minutes = 45
pass_score = 90
shuffle = true

[[section]]
id = "tf"
categories = ["1", "2"]
type = "true_false"
count = 40

[[section]]
id = "single"
categories = ["1", "2"]
type = "single"
count = 60
points = 1
"#;

    #[test]
    fn reads_the_seeds_subject_one() {
        let def = parse(SUBJECT_ONE).unwrap();
        assert_eq!((def.id.as_str(), def.minutes, def.pass_score, def.total_items()), ("C1", 45, Some(90), 100));
        assert_eq!(def.sections[0].kind, Some(ItemKind::TrueFalse));
        assert!(def.sections[1].shuffle && def.shuffle);
    }

    #[test]
    fn refuses_overlapping_sections_and_bad_fields() {
        let overlap = SUBJECT_ONE.replace("type = \"single\"\n", "");
        assert!(parse(&overlap).unwrap_err().contains("can draw the same items"));
        assert!(parse(&SUBJECT_ONE.replace("minutes = 45", "minutes = 0")).unwrap_err().contains("minutes"));
        assert!(parse(&SUBJECT_ONE.replace("count = 40", "count = 0")).unwrap_err().contains("count"));
        assert!(parse(&SUBJECT_ONE.replace("\"true_false\"", "\"essay\"")).unwrap_err().contains("essay"));
        assert!(parse(&SUBJECT_ONE.replace("count = 40", "count = 40\ncolour = 1")).is_err());
    }
}
