//! IMS QTI content packages (3.0 and 2.1) to bank items and exam definitions.
//!
//! What is read (QTI 2.1 names; 3.0's `qti-…` kebab-case names read the same,
//! see [`super::xml`]):
//! - `imsmanifest.xml` at the package root: every `resource` `href` and
//!   `file` `href` must be in the package. Resources that are XML files are
//!   read; their root element says what they are (`assessmentItem`,
//!   `assessmentTest`).
//! - An item: one `choiceInteraction` bound to a `responseDeclaration`
//!   (`baseType="identifier"`) whose `correctResponse` values are choice
//!   identifiers. `cardinality="multiple"`: a multiple-choice item;
//!   `single` with exactly two choices: true/false; `single` with three or
//!   more: single choice. Response processing must be the standard
//!   `match_correct` template; the item scores its `SCORE` outcome
//!   declaration's `normalMaximum` if it has one (a whole number ≥ 1), else 1.
//!   The prompt is the item body's text (the interaction's `prompt`
//!   included, choices excluded), block by block; media are the `img src`,
//!   `object data`, `video`/`audio src` and `source src` in the body, each a
//!   file of the package. `xml:lang` on the item names its language (required).
//! - The same item identifier in several files with different `xml:lang`:
//!   one item, several translations; their choices, correct response,
//!   cardinality, shuffle and score must agree.
//! - An item no test of the package references gets no category (`""`): it
//!   is stored but no section draws it until a later import's test names its
//!   category (an item already stored keeps the category it has).
//! - A test: its `assessmentItemRef`s give each item its `category`
//!   (one value: `1`..`30` or a name); each section holding item refs is an
//!   exam section: `selection select` = how many (default: all its refs),
//!   `ordering shuffle` = random order, categories = its refs' categories,
//!   item type = its items' type when they share one. A section holding
//!   sections with `ordering shuffle="true"` mixes them all. `timeLimits
//!   maxTime` (seconds, on the test or a test part) gives the minutes
//!   (rounded up); the `SCORE` outcome declaration's `masteryValue` the pass
//!   score; an item ref's `weight` (identifier any) the points of its
//!   section's items when all its refs carry the same.

use std::collections::{BTreeMap, BTreeSet};

use super::bank::{ChoiceId, ExamDef, Item, ItemKind, Media, Section, Translation};
use super::import::{BankError, Imported};
use super::package::{Package, resolve};
use super::xml::{self, Element};
use crate::crypto::sha256_hex;

/// One item file as read, before translations are merged.
struct Parsed {
    file: String,
    id: String,
    lang: String,
    cardinality_multiple: bool,
    points: u32,
    correct: Vec<String>,
    shuffle: bool,
    choices: Vec<ChoiceId>,
    translation: Translation,
}

/// A test's item reference, resolved.
struct ItemRef {
    test_file: String,
    item_file: String,
    category: Option<String>,
    weight: Option<u32>,
}

/// Reads a package: its items and tests, or every problem found.
pub fn read(package: &Package) -> Result<Imported, Vec<BankError>> {
    let mut errors = Vec::new();
    let Some(manifest) = package.get("imsmanifest.xml") else {
        return Err(vec![BankError::package(
            &package.name,
            "imsmanifest.xml",
            "not a content package: no imsmanifest.xml at its root",
        )]);
    };
    let manifest = match xml::parse(manifest) {
        Ok(m) => m,
        Err(e) => return Err(vec![BankError::package("imsmanifest.xml", "xml", e.to_string())]),
    };
    let mut xml_files = BTreeSet::new();
    for resource in manifest.descendants().into_iter().filter(|e| e.name == "resource") {
        let rid = resource.attr("identifier").unwrap_or("?").to_owned();
        let mut hrefs: Vec<&str> = resource.attr("href").into_iter().collect();
        hrefs.extend(resource.children_named("file").filter_map(|f| f.attr("href")));
        for href in hrefs {
            match resolve("imsmanifest.xml", href) {
                Some(path) if package.get(&path).is_some() => {
                    if path.to_ascii_lowercase().ends_with(".xml") {
                        xml_files.insert(path);
                    }
                }
                Some(path) => errors.push(BankError {
                    file: "imsmanifest.xml".into(),
                    item: Some(rid.clone()),
                    field: "file".into(),
                    reason: format!("{path} is named by the manifest but missing from the package"),
                }),
                None => errors.push(BankError {
                    file: "imsmanifest.xml".into(),
                    item: Some(rid.clone()),
                    field: "file".into(),
                    reason: format!("{href:?} is not a path inside the package"),
                }),
            }
        }
    }
    let mut parsed = Vec::new();
    let mut tests = Vec::new();
    for path in &xml_files {
        let bytes = package.get(path).expect("listed");
        let root = match xml::parse(bytes) {
            Ok(r) => r,
            Err(e) => {
                errors.push(BankError { file: path.clone(), item: None, field: "xml".into(), reason: e.to_string() });
                continue;
            }
        };
        match root.name.as_str() {
            "assessmentItem" => match item(package, path, &root) {
                Ok(p) => parsed.push(p),
                Err(mut e) => errors.append(&mut e),
            },
            "assessmentTest" => tests.push((path.clone(), root)),
            _ => {}
        }
    }
    // Categories and weights from the tests' item refs, by item file.
    let mut refs = Vec::new();
    for (file, test) in &tests {
        for r in test.descendants().into_iter().filter(|e| e.name == "assessmentItemRef") {
            let rid = r.attr("identifier").unwrap_or("?");
            let Some(href) = r.attr("href") else {
                errors.push(BankError::at(file, rid, "href", "the item ref names no file"));
                continue;
            };
            let Some(item_file) = resolve(file, href).filter(|p| package.get(p).is_some()) else {
                errors.push(BankError::at(file, rid, "href", format!("{href:?} is not a file of the package")));
                continue;
            };
            let category = match r.attr("category").map(str::split_whitespace).map(|c| c.collect::<Vec<_>>()) {
                None => None,
                Some(c) if c.len() == 1 => Some(c[0].to_owned()),
                Some(c) => {
                    errors.push(BankError::at(
                        file,
                        rid,
                        "category",
                        format!("one category per item, not {}", c.join(" ")),
                    ));
                    continue;
                }
            };
            let weight = match r.child("weight").and_then(|w| w.attr("value")) {
                None => None,
                Some(v) => match v.parse::<u32>() {
                    Ok(w) if w >= 1 => Some(w),
                    _ => {
                        errors.push(BankError::at(
                            file,
                            rid,
                            "weight",
                            format!("{v:?} is not a whole number of points"),
                        ));
                        None
                    }
                },
            };
            refs.push(ItemRef { test_file: file.clone(), item_file, category, weight });
        }
    }
    let file_to_id: BTreeMap<String, String> = parsed.iter().map(|p| (p.file.clone(), p.id.clone())).collect();
    let mut category_of: BTreeMap<&str, (&str, &ItemRef)> = BTreeMap::new();
    for r in &refs {
        let (Some(id), Some(category)) =
            (file_to_id.get(r.item_file.as_str()).map(String::as_str), r.category.as_deref())
        else {
            continue;
        };
        if let Some((other, at)) = category_of.get(id)
            && *other != category
        {
            errors.push(BankError::at(
                &r.test_file,
                id,
                "category",
                format!("category {category} here but {other} in {}", at.test_file),
            ));
            continue;
        }
        category_of.insert(id, (category, r));
    }
    let categories: BTreeMap<String, String> =
        category_of.iter().map(|(id, (c, _))| ((*id).to_owned(), (*c).to_owned())).collect();
    let items = merge(parsed, &categories, &mut errors);
    let mut exams = Vec::new();
    for (file, test) in &tests {
        match exam(file, test, &refs, &file_to_id, &items) {
            Ok(e) => exams.push(e),
            Err(mut e) => errors.append(&mut e),
        }
    }
    let mut media = BTreeMap::new();
    for item in &items {
        for t in item.translations.values() {
            for m in &t.media {
                if let Some(bytes) = package.get(&m.path) {
                    media.insert(m.sha256.clone(), (m.mime.clone(), bytes.to_vec()));
                }
            }
        }
    }
    if errors.is_empty() { Ok(Imported { items, exams, media }) } else { Err(errors) }
}

fn bool_attr(e: &Element, name: &str, file: &str, id: &str, errors: &mut Vec<BankError>) -> bool {
    match e.attr(name) {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            errors.push(BankError::at(file, id, name, format!("{v:?} is not true or false")));
            false
        }
    }
}

/// The MIME type of a media file by its extension.
pub fn mime_of(path: &str) -> Option<&'static str> {
    let ext = path.rsplit('.').next()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "ogv" => "video/ogg",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        _ => return None,
    })
}

/// A media file of the package as an item names it.
pub fn media_of(mut package_get: impl FnMut(&str) -> Option<Vec<u8>>, path: &str) -> Result<(Media, Vec<u8>), String> {
    let mime = mime_of(path).ok_or_else(|| format!("{path}: not a picture or video type examgate shows"))?;
    let bytes = package_get(path).ok_or_else(|| format!("{path} is missing from the package"))?;
    let media =
        Media { path: path.to_owned(), mime: mime.to_owned(), sha256: sha256_hex(&bytes), size: bytes.len() as u64 };
    Ok((media, bytes))
}

fn item(package: &Package, file: &str, root: &Element) -> Result<Parsed, Vec<BankError>> {
    let mut errors = Vec::new();
    let id = root.attr("identifier").unwrap_or("").trim().to_owned();
    if id.is_empty() {
        return Err(vec![BankError::at(file, "?", "identifier", "the item has no identifier")]);
    }
    let err = |field: &str, reason: String| BankError::at(file, &id, field, reason);
    let lang = root.attr("xml:lang").unwrap_or("").trim().to_owned();
    if lang.is_empty() {
        errors.push(err("xml:lang", "the item does not name its language".into()));
    }
    let body = root.child("itemBody");
    let interactions: Vec<&Element> = body
        .map(|b| b.descendants().into_iter().filter(|e| e.name.ends_with("Interaction")).collect())
        .unwrap_or_default();
    let interaction = match interactions.as_slice() {
        [one] if one.name == "choiceInteraction" => *one,
        [one] => return Err(vec![err("itemBody", format!("{} is not supported: use choiceInteraction", one.name))]),
        [] => return Err(vec![err("itemBody", "no choiceInteraction".into())]),
        _ => {
            return Err(vec![err(
                "itemBody",
                format!("{} interactions; one choiceInteraction per item", interactions.len()),
            )]);
        }
    };
    let response_id = interaction.attr("responseIdentifier").unwrap_or("RESPONSE");
    let Some(decl) = root.children_named("responseDeclaration").find(|d| d.attr("identifier") == Some(response_id))
    else {
        return Err(vec![err("responseDeclaration", format!("no declaration of {response_id}"))]);
    };
    let cardinality_multiple = match decl.attr("cardinality") {
        Some("single") => false,
        Some("multiple") => true,
        other => {
            errors.push(err("cardinality", format!("{other:?}: single or multiple")));
            false
        }
    };
    if decl.attr("baseType").is_some_and(|b| b != "identifier") {
        errors.push(err("baseType", "must be identifier".into()));
    }
    let correct: Vec<String> = decl
        .child("correctResponse")
        .map(|c| c.children_named("value").map(|v| v.text()).collect())
        .unwrap_or_default();
    if correct.is_empty() {
        errors.push(err("correctResponse", "no correct response".into()));
    }
    match root.child("responseProcessing").and_then(|p| p.attr("template")) {
        Some(t) if t.trim_end_matches(".xml").ends_with("match_correct") => {}
        Some(t) => errors.push(err("responseProcessing", format!("template {t:?}: only match_correct is supported"))),
        None => errors.push(err("responseProcessing", "missing: use the match_correct template".into())),
    }
    let points = match root
        .children_named("outcomeDeclaration")
        .find(|o| o.attr("identifier") == Some("SCORE"))
        .and_then(|o| o.attr("normalMaximum"))
    {
        None => 1,
        Some(v) => match v.trim().trim_end_matches(".0").parse::<u32>() {
            Ok(p) if p >= 1 => p,
            _ => {
                errors.push(err("normalMaximum", format!("{v:?} is not a whole number of points")));
                1
            }
        },
    };
    let shuffle = bool_attr(interaction, "shuffle", file, &id, &mut errors);
    let mut choices = Vec::new();
    let mut choice_text = BTreeMap::new();
    for c in interaction.children_named("simpleChoice") {
        let Some(cid) = c.attr("identifier").map(str::to_owned) else {
            errors.push(err("simpleChoice", "a choice without an identifier".into()));
            continue;
        };
        let fixed = bool_attr(c, "fixed", file, &id, &mut errors);
        if choice_text.insert(cid.clone(), c.text()).is_some() {
            errors.push(err("simpleChoice", format!("choice {cid} appears twice")));
        }
        choices.push(ChoiceId { id: cid, fixed });
    }
    if choices.len() < 2 {
        errors.push(err("simpleChoice", format!("{} choices; at least two", choices.len())));
    }
    for c in &correct {
        if !choice_text.contains_key(c) {
            errors.push(err("correctResponse", format!("{c} is not one of the choices")));
        }
    }
    if !cardinality_multiple && correct.len() > 1 {
        errors.push(err("correctResponse", format!("{} values for a single-cardinality item", correct.len())));
    }
    if let Some(max) = interaction.attr("maxChoices").and_then(|m| m.parse::<usize>().ok())
        && !cardinality_multiple
        && max > 1
    {
        errors.push(err("maxChoices", format!("{max} for a single-cardinality item")));
    }
    let mut prompt = Vec::new();
    let mut media = Vec::new();
    if let Some(body) = body {
        prompt_of(body, &mut prompt);
        for e in body.descendants() {
            let src = match e.name.as_str() {
                "img" | "video" | "audio" | "source" => e.attr("src"),
                "object" => e.attr("data"),
                _ => None,
            };
            let Some(src) = src else { continue };
            let Some(path) = resolve(file, src) else {
                errors.push(err("media", format!("{src:?} is not a file inside the package")));
                continue;
            };
            match media_of(|p| package.get(p).map(<[u8]>::to_vec), &path) {
                Ok((m, _)) if !media.iter().any(|x: &Media| x.path == m.path) => media.push(m),
                Ok(_) => {}
                Err(why) => errors.push(err("media", why)),
            }
        }
    }
    let prompt = prompt.join("\n");
    if prompt.is_empty() && media.is_empty() {
        errors.push(err("itemBody", "the item has no prompt".into()));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Parsed {
        file: file.to_owned(),
        id,
        lang,
        cardinality_multiple,
        points,
        correct,
        shuffle,
        choices,
        translation: Translation { prompt, choices: choice_text, media },
    })
}

/// The body's text block by block: the interaction contributes its prompt only.
fn prompt_of(e: &Element, out: &mut Vec<String>) {
    for child in e.elements() {
        match child.name.as_str() {
            "choiceInteraction" => {
                if let Some(p) = child.child("prompt") {
                    let t = p.text();
                    if !t.is_empty() {
                        out.push(t);
                    }
                }
            }
            _ if child.descendants().iter().any(|d| d.name == "choiceInteraction") => prompt_of(child, out),
            _ => {
                let t = child.text();
                if !t.is_empty() {
                    out.push(t);
                }
            }
        }
    }
}

/// Merges each identifier's translations into one item.
fn merge(parsed: Vec<Parsed>, categories: &BTreeMap<String, String>, errors: &mut Vec<BankError>) -> Vec<Item> {
    let mut by_id: BTreeMap<String, Vec<Parsed>> = BTreeMap::new();
    for p in parsed {
        by_id.entry(p.id.clone()).or_default().push(p);
    }
    let mut items = Vec::new();
    for (id, mut versions) in by_id {
        versions.sort_by(|a, b| a.lang.cmp(&b.lang));
        let first = &versions[0];
        let mut ok = true;
        for other in &versions[1..] {
            let mut differ = |field: &str, what: &str| {
                errors.push(BankError::at(
                    &other.file,
                    &id,
                    field,
                    format!("{what} differs from the {} translation in {}", first.lang, first.file),
                ));
                ok = false;
            };
            if other.lang == first.lang {
                differ("xml:lang", "nothing: the same language twice;");
                continue;
            }
            let ids = |p: &Parsed| p.choices.iter().map(|c| c.id.clone()).collect::<BTreeSet<_>>();
            if ids(other) != ids(first) {
                differ("simpleChoice", "the set of choice identifiers");
            } else if other.choices != first.choices {
                differ("simpleChoice", "the order or fixed places of the choices");
            }
            let sorted = |p: &Parsed| p.correct.iter().cloned().collect::<BTreeSet<_>>();
            if sorted(other) != sorted(first) {
                differ("correctResponse", "the correct response");
            }
            if other.cardinality_multiple != first.cardinality_multiple {
                differ("cardinality", "the cardinality");
            }
            if other.points != first.points {
                differ("normalMaximum", "the score");
            }
            if other.shuffle != first.shuffle {
                differ("shuffle", "shuffle");
            }
        }
        // An item no test references has no category yet: kept, never drawn, until a test names it.
        let category = categories.get(&id).cloned().unwrap_or_default();
        if !ok {
            continue;
        }
        let kind = match (first.cardinality_multiple, first.choices.len()) {
            (true, _) => ItemKind::Multiple,
            (false, 2) => ItemKind::TrueFalse,
            (false, _) => ItemKind::Single,
        };
        let mut item = Item {
            id: id.clone(),
            category,
            kind,
            points: first.points,
            correct: first.correct.clone(),
            shuffle: first.shuffle,
            choices: first.choices.clone(),
            translations: versions.into_iter().map(|p| (p.lang, p.translation)).collect(),
        };
        item.normalise();
        items.push(item);
    }
    items
}

fn exam(
    file: &str,
    test: &Element,
    refs: &[ItemRef],
    file_to_id: &BTreeMap<String, String>,
    items: &[Item],
) -> Result<ExamDef, Vec<BankError>> {
    let mut errors = Vec::new();
    let id = test.attr("identifier").unwrap_or("").trim().to_owned();
    let err = |field: &str, reason: String| BankError::at(file, &id, field, reason);
    if id.is_empty() {
        return Err(vec![BankError::at(file, "?", "identifier", "the test has no identifier")]);
    }
    let name = test.attr("title").unwrap_or(&id).to_owned();
    let max_time = std::iter::once(test)
        .chain(test.children_named("testPart"))
        .find_map(|e| e.child("timeLimits").and_then(|t| t.attr("maxTime")));
    let minutes = match max_time.map(|t| t.trim().parse::<f64>()) {
        Some(Ok(s)) if s > 0.0 && s < 7.0 * 86_400.0 => (s / 60.0).ceil() as u32,
        Some(_) => {
            errors.push(err("maxTime", format!("{:?} is not a number of seconds", max_time.unwrap_or_default())));
            0
        }
        None => {
            errors.push(err("timeLimits", "the test sets no maxTime".into()));
            0
        }
    };
    let pass_score = match test
        .children_named("outcomeDeclaration")
        .find(|o| o.attr("identifier") == Some("SCORE"))
        .and_then(|o| o.attr("masteryValue"))
    {
        None => None,
        Some(v) => match v.trim().trim_end_matches(".0").parse::<u32>() {
            Ok(p) => Some(p),
            Err(_) => {
                errors.push(err("masteryValue", format!("{v:?} is not a whole number")));
                None
            }
        },
    };
    let by_id: BTreeMap<&str, &Item> = items.iter().map(|i| (i.id.as_str(), i)).collect();
    let mut sections = Vec::new();
    let mut mixed = false;
    for s in test.descendants().into_iter().filter(|e| e.name == "assessmentSection") {
        let sid = s.attr("identifier").unwrap_or("?").to_owned();
        let shuffle = s.child("ordering").is_some_and(|o| o.attr("shuffle") == Some("true"));
        if s.children_named("assessmentSection").next().is_some() {
            mixed |= shuffle;
        }
        let own: Vec<&Element> = s.children_named("assessmentItemRef").collect();
        if own.is_empty() {
            continue;
        }
        let mut categories = BTreeSet::new();
        let mut kinds = BTreeSet::new();
        let mut weights = BTreeSet::new();
        for r in &own {
            let Some(href) = r.attr("href") else { continue };
            let Some(path) = resolve(file, href) else { continue };
            let Some(found) = refs.iter().find(|x| x.test_file == file && x.item_file == path) else { continue };
            weights.insert(found.weight);
            if let Some(c) = &found.category {
                categories.insert(c.clone());
            }
            if let Some(item) = file_to_id.get(path.as_str()).and_then(|i| by_id.get(i.as_str())) {
                kinds.insert(item.kind);
            }
        }
        let select = match s.child("selection").map(|x| (x.attr("select"), x.attr("withReplacement"))) {
            None => own.len() as u32,
            Some((_, Some("true"))) => {
                errors.push(err("selection", format!("section {sid}: withReplacement is not supported")));
                continue;
            }
            Some((Some(k), _)) => match k.trim().parse::<u32>() {
                Ok(k) if k >= 1 => k,
                _ => {
                    errors.push(err("selection", format!("section {sid}: select {k:?} is not a count")));
                    continue;
                }
            },
            Some((None, _)) => {
                errors.push(err("selection", format!("section {sid}: selection without select")));
                continue;
            }
        };
        if categories.is_empty() {
            errors.push(err("category", format!("section {sid}: its item refs carry no category")));
            continue;
        }
        let points = match weights.iter().collect::<Vec<_>>().as_slice() {
            [Some(w)] => Some(*w),
            _ => None,
        };
        sections.push(Section {
            id: sid,
            categories: categories.into_iter().collect(),
            kind: if kinds.len() == 1 { kinds.into_iter().next() } else { None },
            select,
            points,
            shuffle,
        });
    }
    if sections.is_empty() {
        errors.push(err("assessmentSection", "the test has no section with item refs".into()));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let def = ExamDef { id, name, minutes, pass_score, sections, shuffle: mixed };
    super::rules::validate(&def).map_err(|why| vec![BankError::at(file, &def.id, "assessmentSection", why)])?;
    Ok(def)
}
