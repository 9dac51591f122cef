//! The question bank from the shell, with the real binary, on both databases:
//! `bank import` (QTI 3.0 and 2.1 packages, zipped or not, the JSON bank and
//! TOML rules), `bank list`, `exam list|check`, `paper draw|score`, and every
//! kind of bad input refused with nothing stored.

#[macro_use]
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::TestDb;
use serde_json::{Value, json};

const SERVER: &str = env!("CARGO_BIN_EXE_examgate-server");

fn run(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(SERVER)
        .args(args)
        .args(["--database", &db.url, "--data-dir"])
        .arg(db.dir.path())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_json(db: &TestDb, args: &[&str]) -> Value {
    let (ok, out, err) = run(db, args);
    assert!(ok, "{args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {out}"))
}

/// QTI 3.0 (`qti-` kebab-case) or 2.1 (camelCase) element and attribute names.
#[derive(Clone, Copy, PartialEq)]
enum Qti {
    V3,
    V2,
}

impl Qti {
    fn el(self, v2: &str) -> String {
        match self {
            Qti::V2 => v2.to_owned(),
            Qti::V3 => {
                let mut out = String::from("qti-");
                for c in v2.chars() {
                    if c.is_ascii_uppercase() {
                        out.push('-');
                        out.push(c.to_ascii_lowercase());
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }

    fn attr(self, v2: &str) -> String {
        match self {
            Qti::V2 => v2.to_owned(),
            Qti::V3 => self.el(v2)["qti-".len()..].to_owned(),
        }
    }
}

#[derive(Clone)]
struct FixtureItem {
    id: String,
    category: String,
    /// Choice ids; two for true/false.
    choices: Vec<&'static str>,
    correct: Vec<&'static str>,
    multiple: bool,
    image: Option<&'static str>,
}

fn items_of(category: &str, tf: usize, single: usize, multiple: usize) -> Vec<FixtureItem> {
    let mut out = Vec::new();
    let mut add = |n: usize, kind: &str, choices: Vec<&'static str>, correct: Vec<&'static str>, multiple: bool| {
        for i in 0..n {
            out.push(FixtureItem {
                id: format!("c{category}-{kind}-{i}"),
                category: category.to_owned(),
                choices: choices.clone(),
                correct: correct.clone(),
                multiple,
                image: (i == 0 && kind == "single").then_some("images/sign.png"),
            });
        }
    };
    add(tf, "tf", vec!["T", "F"], vec!["T"], false);
    add(single, "single", vec!["A", "B", "C", "D"], vec!["B"], false);
    add(multiple, "multi", vec!["A", "B", "C", "D"], vec!["A", "C"], true);
    out
}

fn item_xml(q: Qti, item: &FixtureItem, lang: &str) -> String {
    let (e, a) = (|n: &str| q.el(n), |n: &str| q.attr(n));
    let values: String =
        item.correct.iter().map(|c| format!("<{v}>{c}</{v}>", v = e("value"))).collect::<Vec<_>>().join("");
    let choices: String = item
        .choices
        .iter()
        .map(|c| format!("<{s} identifier=\"{c}\">{lang} choice {c} &amp; more</{s}>", s = e("simpleChoice")))
        .collect();
    let image = item.image.map(|src| format!("<p><img src=\"../{src}\" alt=\"sign\"/></p>")).unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<{item} xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" identifier="{id}" title="{id}" xml:lang="{lang}">
  <{rd} identifier="RESPONSE" cardinality="{card}" {bt}="identifier"><{cr}>{values}</{cr}></{rd}>
  <{od} identifier="SCORE" cardinality="single" {bt}="float"/>
  <{body}><p>{lang} question {id}</p>{image}
    <{ci} {ri}="RESPONSE" shuffle="true" {mc}="{max}"><{prompt}>{lang} prompt</{prompt}>{choices}</{ci}>
  </{body}>
  <{rp} template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"/>
</{item}>
"#,
        item = e("assessmentItem"),
        id = item.id,
        rd = e("responseDeclaration"),
        card = if item.multiple { "multiple" } else { "single" },
        bt = a("baseType"),
        cr = e("correctResponse"),
        od = e("outcomeDeclaration"),
        body = e("itemBody"),
        ci = e("choiceInteraction"),
        ri = a("responseIdentifier"),
        mc = a("maxChoices"),
        max = if item.multiple { 0 } else { 1 },
        prompt = e("prompt"),
        rp = e("responseProcessing"),
    )
}

/// A test with one section per (category, kind prefix) selecting `select` of its items.
fn test_xml(q: Qti, id: &str, items: &[FixtureItem], lang: &str, select: &[(&str, &str, u32)]) -> String {
    let (e, a) = (|n: &str| q.el(n), |n: &str| q.attr(n));
    let mut sections = String::new();
    for (category, kind, k) in select {
        let refs: String = items
            .iter()
            .filter(|i| i.category == *category && i.id.contains(&format!("-{kind}-")))
            .map(|i| {
                format!(
                    "<{r} identifier=\"{id}\" href=\"items/{id}.{lang}.xml\" category=\"{category}\"><{w} identifier=\"W\" value=\"2\"/></{r}>",
                    r = e("assessmentItemRef"),
                    w = e("weight"),
                    id = i.id,
                )
            })
            .collect();
        sections.push_str(&format!(
            "<{s} identifier=\"s-{category}-{kind}\" title=\"x\" visible=\"false\"><{sel} select=\"{k}\"/><{o} shuffle=\"true\"/>{refs}</{s}>",
            s = e("assessmentSection"),
            sel = e("selection"),
            o = e("ordering"),
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<{t} identifier="{id}" title="Test {id}">
  <{od} identifier="SCORE" cardinality="single" {bt}="float" {mv}="6"/>
  <{tl} {mt}="1800"/>
  <{tp} identifier="p1" {nm}="nonlinear" {sm}="simultaneous">
    <{s} identifier="all" title="all" visible="true"><{o} shuffle="true"/>{sections}</{s}>
  </{tp}>
</{t}>
"#,
        t = e("assessmentTest"),
        od = e("outcomeDeclaration"),
        bt = a("baseType"),
        mv = a("masteryValue"),
        tl = e("timeLimits"),
        mt = a("maxTime"),
        tp = e("testPart"),
        nm = a("navigationMode"),
        sm = a("submissionMode"),
        s = e("assessmentSection"),
        o = e("ordering"),
    )
}

/// Files of a package: items in `langs`, the test, the picture and the manifest naming them all.
fn package(q: Qti, items: &[FixtureItem], langs: &[&str], select: &[(&str, &str, u32)]) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut resources = String::new();
    for item in items {
        for lang in langs {
            let path = format!("items/{}.{lang}.xml", item.id);
            let mut res_files = format!("<file href=\"{path}\"/>");
            if let Some(img) = item.image {
                res_files.push_str(&format!("<file href=\"{img}\"/>"));
            }
            resources.push_str(&format!(
                "<resource identifier=\"{}-{lang}\" type=\"imsqti_item_xmlv3p0\" href=\"{path}\">{res_files}</resource>",
                item.id
            ));
            files.push((path, item_xml(q, item, lang).into_bytes()));
        }
    }
    if !select.is_empty() {
        files.push(("test.xml".into(), test_xml(q, "T1", items, langs[0], select).into_bytes()));
        resources.push_str(
            "<resource identifier=\"test\" type=\"imsqti_test_xmlv3p0\" href=\"test.xml\"><file href=\"test.xml\"/></resource>",
        );
    }
    files.push(("images/sign.png".into(), b"\x89PNG\r\n\x1a\n a picture".to_vec()));
    files.push((
        "imsmanifest.xml".into(),
        format!("<?xml version=\"1.0\"?><manifest identifier=\"m\"><resources>{resources}</resources></manifest>")
            .into_bytes(),
    ));
    files
}

fn write_zip(path: &Path, files: &[(String, Vec<u8>)]) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, data) in files {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap();
}

fn write_dir(root: &Path, files: &[(String, Vec<u8>)]) {
    for (name, data) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
}

/// Two categories; the test T1 takes 2 true/false, 2 single and 1 multiple from each (10 items, 2 points each).
fn standard_items() -> Vec<FixtureItem> {
    let mut items = items_of("1", 3, 3, 2);
    items.extend(items_of("2", 3, 3, 2));
    items
}

const STANDARD_SELECT: &[(&str, &str, u32)] =
    &[("1", "tf", 2), ("1", "single", 2), ("1", "multi", 1), ("2", "tf", 2), ("2", "single", 2), ("2", "multi", 1)];

fn zip_in(db: &TestDb, name: &str, files: &[(String, Vec<u8>)]) -> PathBuf {
    let path = db.dir.path().join(name);
    write_zip(&path, files);
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn a_package_is_imported_listed_checked_drawn_and_scored(db: TestDb) {
    let files = package(Qti::V3, &standard_items(), &["en", "zh-CN"], STANDARD_SELECT);
    let zip = zip_in(&db, "bank.zip", &files);
    let (ok, out, err) = run(&db, &["bank", "import", s(&zip)]);
    assert!(ok && out.contains("16 items: 16 added") && out.contains("T1"), "{out}{err}");
    let (ok, out, _) = run(&db, &["bank", "import", s(&zip)]);
    assert!(ok && out.contains("nothing new"), "{out}");

    let list = run_json(&db, &["bank", "list", "--json"]);
    assert_eq!(list["bank"]["items"], 16);
    assert_eq!(list["bank"]["by_kind"], json!({"multiple": 4, "single": 6, "true_false": 6}));
    assert_eq!(list["bank"]["by_category"]["1"], json!({"multiple": 2, "single": 3, "true_false": 3}));
    assert_eq!(list["bank"]["by_language"], json!({"en": 16, "zh-CN": 16}));
    assert_eq!(list["bank"]["media"], 1);
    assert_eq!(list["versions"].as_array().unwrap().len(), 1);
    assert_eq!(list["exams"], json!(["T1"]));

    let exams = run_json(&db, &["exam", "list", "--json"]);
    assert_eq!(exams[0]["minutes"], 30);
    assert_eq!(exams[0]["pass_score"], 6);
    assert_eq!(exams[0]["shuffle"], true);
    assert_eq!(exams[0]["sections"].as_array().unwrap().len(), 6);
    let (ok, out, _) = run(&db, &["exam", "check", "T1"]);
    assert!(ok && out.contains("can fill exam T1"), "{out}");

    let draw = ["paper", "draw", "--exam", "T1", "--seed", "12345", "--json"];
    let (ok1, first, _) = run(&db, &draw);
    let (ok2, second, _) = run(&db, &draw);
    assert!(ok1 && ok2);
    assert_eq!(first, second, "the same seed draws the same paper");
    let paper: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(paper["exam"], "T1");
    assert_eq!(paper["seed"], 12345);
    assert_eq!(paper["bank_version"], list["bank"]["version"]);
    assert_eq!(paper["paper_sha256"].as_str().unwrap().len(), 64);
    let items = paper["items"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    let (_, other, _) = run(&db, &["paper", "draw", "--exam", "T1", "--seed", "54321", "--json"]);
    assert_ne!(first, other);

    // Right answers to every item but one multiple-choice item answered with a subset.
    let mut answers = serde_json::Map::new();
    let mut spoiled = false;
    for item in items {
        let id = item["id"].as_str().unwrap();
        let choice: Vec<&str> = if id.contains("-tf-") {
            vec!["T"]
        } else if id.contains("-single-") {
            vec!["B"]
        } else if !spoiled {
            spoiled = true;
            vec!["A"]
        } else {
            vec!["C", "A"]
        };
        answers.insert(id.to_owned(), json!(choice));
    }
    let answers_path = db.dir.path().join("answers.json");
    std::fs::write(&answers_path, Value::Object(answers.clone()).to_string()).unwrap();
    let score =
        run_json(&db, &["paper", "score", "--exam", "T1", "--seed", "12345", "--answers", s(&answers_path), "--json"]);
    assert_eq!(
        (score["score"].clone(), score["max_score"].clone(), score["passed"].clone()),
        (json!(18), json!(20), json!(true))
    );
    assert_eq!(score["items"].as_array().unwrap().len(), 10);

    // An answer to an item not on the paper, or with a choice the item lacks, is an error.
    let mut bad = answers.clone();
    bad.insert("c1-tf-99".into(), json!(["T"]));
    std::fs::write(&answers_path, Value::Object(bad).to_string()).unwrap();
    let (ok, _, err) = run(&db, &["paper", "score", "--exam", "T1", "--seed", "12345", "--answers", s(&answers_path)]);
    assert!(!ok && err.contains("c1-tf-99 is not on this paper"), "{err}");
    let tf = items.iter().map(|i| i["id"].as_str().unwrap()).find(|i| i.contains("-tf-")).unwrap();
    let mut bad = answers.clone();
    bad.insert(tf.into(), json!(["X"]));
    std::fs::write(&answers_path, Value::Object(bad).to_string()).unwrap();
    let (ok, _, err) = run(&db, &["paper", "score", "--exam", "T1", "--seed", "12345", "--answers", s(&answers_path)]);
    assert!(!ok && err.contains("has no choice X"), "{err}");

    let (chain, _) = db.store.audit_chain().await.unwrap();
    assert_eq!(chain.iter().filter(|r| r.action == "bank_imported").count(), 1, "a re-import audits nothing");
}

async fn a_trimmed_bank_fails_exam_check_naming_each_category(db: TestDb) {
    // Category 2 has one true/false and no multiple-choice item; the test wants 2 and 1.
    let mut items = items_of("1", 3, 3, 2);
    items.extend(items_of("2", 1, 3, 0));
    // Category 1's single and multiple-choice items are on no test: kept without a category.
    let select = [("1", "tf", 2), ("2", "tf", 2), ("2", "single", 2)];
    let files = package(Qti::V3, &items, &["en"], &select);
    let (ok, out, err) = run(&db, &["bank", "import", s(&zip_in(&db, "trimmed.zip", &files))]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("5 items no test references have no category"), "{out}");
    let list = run_json(&db, &["bank", "list", "--json"]);
    assert_eq!(list["bank"]["by_category"][""], json!({"multiple": 2, "single": 3}));
    let (ok, out, err) = run(&db, &["exam", "check", "T1"]);
    assert!(!ok, "exam check must fail: {out}");
    assert!(out.contains("category 2 (true_false): have 1, need 2"), "{out}");
    assert!(err.contains("cannot fill exam T1: 1 section(s) short"), "{err}");
    // A rules file asking for multiple choice in category 2 names that too.
    let rules = db.dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "id = \"R\"\nminutes = 10\n[[section]]\ncategory = \"2\"\ntype = \"multiple\"\ncount = 1\n\
         [[section]]\ncategory = \"1\"\ntype = \"true_false\"\ncount = 3\n",
    )
    .unwrap();
    let (ok, out, _) = run(&db, &["exam", "check", s(&rules)]);
    assert!(!ok && out.contains("category 2 (multiple): have 0, need 1"), "{out}");
    assert!(!out.contains("category 1"), "category 1 can be filled: {out}");
    let (ok, _, err) = run(&db, &["paper", "draw", "--exam", "T1", "--seed", "1"]);
    assert!(!ok && err.contains("have 1, need 2"), "{err}");
}

async fn changed_items_make_new_versions_and_translations_join_their_item(db: TestDb) {
    let items = standard_items();
    let first = zip_in(&db, "v1.zip", &package(Qti::V3, &items, &["en"], STANDARD_SELECT));
    assert!(run(&db, &["bank", "import", s(&first)]).0);
    let v1 = run_json(&db, &["bank", "list", "--json"])["bank"]["version"].clone();
    let before = run_json(&db, &["paper", "draw", "--exam", "T1", "--seed", "9", "--json"]);

    // The same items in Chinese only: a translation of each, nothing else changes.
    let zh = zip_in(&db, "zh.zip", &package(Qti::V3, &items, &["zh-CN"], STANDARD_SELECT));
    let report = run_json(&db, &["bank", "import", s(&zh), "--json"]);
    assert_eq!(report["merge"]["translated"].as_array().unwrap().len(), 16, "{report}");
    assert!(report["merge"]["changed"].as_array().unwrap().is_empty());
    let v2 = report["version"].clone();
    assert_ne!(v2, v1);

    // One item's answer changes: a new version; the old ones stay and papers name theirs.
    let mut changed = items.clone();
    changed[0].correct = vec!["F"];
    let fixed = zip_in(&db, "v3.zip", &package(Qti::V3, &changed, &["en", "zh-CN"], STANDARD_SELECT));
    let report = run_json(&db, &["bank", "import", s(&fixed), "--json"]);
    assert_eq!(report["merge"]["changed"], json!([changed[0].id]), "{report}");
    let list = run_json(&db, &["bank", "list", "--json"]);
    let versions: Vec<&Value> = list["versions"].as_array().unwrap().iter().map(|v| &v["version"]).collect();
    assert_eq!(versions.len(), 3);
    assert!(versions.contains(&&v1) && versions.contains(&&v2));
    let again = run_json(
        &db,
        &["paper", "draw", "--exam", "T1", "--seed", "9", "--bank-version", v1.as_str().unwrap(), "--json"],
    );
    assert_eq!(again, before, "an old paper is redrawn from its own bank version");
    let old_bank = db.store.bank_version(v1.as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(old_bank.item(&changed[0].id).unwrap().correct, vec!["T"]);
}

async fn qti_2_1_a_directory_and_the_json_bank_give_the_same_bank_version(db: TestDb) {
    let items = standard_items();
    let v3 = zip_in(&db, "v3.zip", &package(Qti::V3, &items, &["en"], STANDARD_SELECT));
    let v2_dir = db.dir.path().join("v2-package");
    write_dir(&v2_dir, &package(Qti::V2, &items, &["en"], STANDARD_SELECT));
    let other = db.fresh_like().await;
    let third = db.fresh_like().await;
    let from_v3 = run_json(&db, &["bank", "import", s(&v3), "--json"]);
    let from_v2 = run_json(&other, &["bank", "import", s(&v2_dir), "--json"]);
    assert_eq!(from_v3["version"], from_v2["version"], "QTI 3.0 and 2.1 read alike");
    assert_eq!(run_json(&db, &["exam", "list", "--json"]), run_json(&other, &["exam", "list", "--json"]));

    // The same items as a JSON bank (prompt text block by block, as the QTI reader gives it).
    let json_items: Vec<Value> = items
        .iter()
        .map(|i| {
            let choices: serde_json::Map<String, Value> =
                i.choices.iter().map(|c| ((*c).to_owned(), json!(format!("en choice {c} & more")))).collect();
            let kind = match (i.multiple, i.choices.len()) {
                (true, _) => "multiple",
                (false, 2) => "true_false",
                _ => "single",
            };
            json!({
                "id": i.id, "category": i.category, "type": kind, "shuffle": true,
                "choices": i.choices, "correct": i.correct,
                "text": {"en": {
                    "prompt": format!("en question {}\nen prompt", i.id),
                    "choices": choices,
                    "media": i.image.map(|m| vec![m]).unwrap_or_default(),
                }},
            })
        })
        .collect();
    let dir = third.dir.path().join("jsonbank");
    std::fs::create_dir_all(dir.join("images")).unwrap();
    std::fs::write(dir.join("images/sign.png"), b"\x89PNG\r\n\x1a\n a picture").unwrap();
    let bank = dir.join("bank.json");
    std::fs::write(&bank, json!({"format": "examgate-bank", "version": 1, "items": json_items}).to_string()).unwrap();
    let from_json = run_json(&third, &["bank", "import", s(&bank), "--json"]);
    assert_eq!(from_json["version"], from_v3["version"], "the JSON bank's canonical form is the same");
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, "id = \"J\"\nname = \"From rules\"\nminutes = 20\npass_score = 3\n[[section]]\ncategories = [\"1\", \"2\"]\ntype = \"true_false\"\ncount = 4\npoints = 1\n").unwrap();
    let report = run_json(&third, &["bank", "import", s(&rules), "--json"]);
    assert_eq!(report["exams"], json!(["J"]));
    assert_eq!(report["version"], from_v3["version"], "rules leave the bank as it is");
    let paper = run_json(&third, &["paper", "draw", "--exam", "J", "--seed", "3", "--json"]);
    assert_eq!(paper["items"].as_array().unwrap().len(), 4);
}

/// A bad import prints every problem and stores nothing: no version, no audit row.
async fn assert_refused(db: &TestDb, path: &Path, expect: &[&str]) {
    let (ok, out, err) = run(db, &["bank", "import", s(path)]);
    assert!(!ok, "{} was imported: {out}", path.display());
    for e in expect {
        assert!(err.contains(e), "{} should report {e:?}:\n{err}", path.display());
    }
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(db.store.current_bank_version().await.unwrap(), None);
    assert!(db.store.bank_versions().await.unwrap().is_empty());
    let (chain, _) = db.store.audit_chain().await.unwrap();
    assert!(chain.iter().all(|r| r.action != "bank_imported"));
}

async fn bad_input_is_refused_with_every_problem_and_nothing_stored(db: TestDb) {
    let items = standard_items();
    let good = package(Qti::V3, &items, &["en", "zh-CN"], STANDARD_SELECT);
    let text = |d: &[u8]| String::from_utf8(d.to_vec()).unwrap();
    let edit = |path: &str, f: &dyn Fn(String) -> String| -> Vec<(String, Vec<u8>)> {
        good.iter().map(|(p, d)| (p.clone(), if p == path { f(text(d)).into_bytes() } else { d.clone() })).collect()
    };

    // Several bad items at once: each reported with file, identifier, field and reason.
    let mut files =
        edit("items/c1-tf-0.en.xml", &|x| x.replace("<qti-value>T</qti-value>", "<qti-value>Y</qti-value>"));
    files = files
        .into_iter()
        .map(|(p, d)| {
            let d = match p.as_str() {
                "items/c2-single-1.zh-CN.xml" => {
                    text(&d).replace("<qti-value>B</qti-value>", "<qti-value>C</qti-value>").into_bytes()
                }
                "items/c1-multi-1.en.xml" => text(&d).replace("match_correct", "map_response").into_bytes(),
                _ => d,
            };
            (p, d)
        })
        .collect();
    let path = zip_in(&db, "bad-items.zip", &files);
    assert_refused(
        &db,
        &path,
        &[
            "items/c1-tf-0.en.xml: c1-tf-0: correctResponse: Y is not one of the choices",
            "items/c2-single-1.zh-CN.xml: c2-single-1: correctResponse: the correct response differs from the en translation",
            "items/c1-multi-1.en.xml: c1-multi-1: responseProcessing: template",
        ],
    )
    .await;

    // Billion laughs and XXE: refused before parsing.
    let lol = edit("items/c1-tf-1.en.xml", &|x| {
        x.replacen("?>", "?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]>", 1)
            .replace("en question", "&lol2; en question")
    });
    assert_refused(&db, &zip_in(&db, "lol.zip", &lol), &["items/c1-tf-1.en.xml: xml: holds a DTD"]).await;
    let xxe =
        edit("imsmanifest.xml", &|x| x.replacen("?>", "?><!DOCTYPE m [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>", 1));
    assert_refused(&db, &zip_in(&db, "xxe.zip", &xxe), &["imsmanifest.xml: xml: holds a DTD"]).await;

    // A path that leaves the package, and a symbolic link.
    let mut slip = good.clone();
    slip.push(("../../evil.sh".into(), b"#!/bin/sh".to_vec()));
    assert_refused(&db, &zip_in(&db, "slip.zip", &slip), &["\"../../evil.sh\" leaves the package"]).await;
    let linked = db.dir.path().join("linked");
    write_dir(&linked, &good);
    std::os::unix::fs::symlink("/etc/passwd", linked.join("images/passwd.png")).unwrap();
    assert_refused(&db, &linked, &["\"images/passwd.png\" is a symbolic link"]).await;

    // A file the manifest names but the package lacks.
    let missing: Vec<_> = good.iter().filter(|(p, _)| p != "images/sign.png").cloned().collect();
    assert_refused(
        &db,
        &zip_in(&db, "missing.zip", &missing),
        &["images/sign.png is named by the manifest but missing from the package"],
    )
    .await;

    // Over the configured size, with the limit named.
    let mut big = good.clone();
    big.push(("images/huge.png".into(), vec![7u8; 3 << 20]));
    let big_zip = zip_in(&db, "big.zip", &big);
    let config = db.dir.path().join("small.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n[bank]\nmax_package_mb = 2\n", db.dir.path())).unwrap();
    let (ok, _, err) = run(&db, &["--config", s(&config), "bank", "import", s(&big_zip)]);
    assert!(!ok && err.contains("over the limit of 2097152 bytes ([bank] max_package_mb = 2)"), "{err}");
    assert_eq!(db.store.current_bank_version().await.unwrap(), None);

    // The good package still imports afterwards.
    let (ok, out, err) = run(&db, &["bank", "import", s(&zip_in(&db, "good.zip", &good))]);
    assert!(ok, "{out}{err}");
}

both_databases!(
    a_package_is_imported_listed_checked_drawn_and_scored,
    a_trimmed_bank_fails_exam_check_naming_each_category,
    changed_items_make_new_versions_and_translations_join_their_item,
    qti_2_1_a_directory_and_the_json_bank_give_the_same_bank_version,
    bad_input_is_refused_with_every_problem_and_nothing_stored,
);
