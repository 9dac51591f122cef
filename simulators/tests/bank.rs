//! `examgate-sim bank`: the package is a well-formed QTI 3.0 content package whose manifest
//! and files agree, whose items answer with their own choices in all twelve languages and
//! scripts, whose exams can be drawn and give every item its category, and which the same
//! seed makes byte for byte again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use examgate_sim::bank::{BankOptions, DEFAULT_ITEMS, MIN_ITEMS, build};
use quick_xml::events::Event;
use quick_xml::reader::Reader;

const LANGUAGES: [&str; 12] = ["zh-CN", "en", "fr", "de", "ru", "es", "ar", "ja", "ko", "mn-Mong", "ug", "kk-Arab"];
const QTI_NS: &str = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0";
const CP_NS: &str = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1";

/// An element as the test reads it: full name, attributes, children, its own text.
#[derive(Debug, Default)]
struct El {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<El>,
    text: String,
}

impl El {
    fn attr(&self, name: &str) -> &str {
        self.attrs.get(name).map_or("", String::as_str)
    }

    fn all<'a>(&'a self, name: &str, out: &mut Vec<&'a El>) {
        for c in &self.children {
            if c.name == name {
                out.push(c);
            }
            c.all(name, out);
        }
    }

    fn find(&self, name: &str) -> Vec<&El> {
        let mut out = Vec::new();
        self.all(name, &mut out);
        out
    }

    fn one(&self, name: &str) -> &El {
        let found = self.find(name);
        assert_eq!(found.len(), 1, "one <{name}> in <{}>", self.name);
        found[0]
    }
}

/// Parse a whole document strictly: well-formed, matching end tags, no DTD, only the five
/// predefined entities or character references.
fn parse(file: &str, text: &str) -> El {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<El> = vec![El::default()];
    let open = |e: &quick_xml::events::BytesStart<'_>| {
        let mut el = El { name: e.name().as_ref().to_owned(), ..El::default() };
        for a in e.attributes() {
            let a = a.unwrap_or_else(|err| panic!("{file}: bad attribute: {err}"));
            let key = a.key.as_ref().to_owned();
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .unwrap_or_else(|err| panic!("{file}: {err}"))
                .into_owned();
            assert!(el.attrs.insert(key.clone(), value).is_none(), "{file}: attribute {key} twice");
        }
        el
    };
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("{file}: not well-formed: {e}")) {
            Event::Start(e) => {
                let el = open(&e);
                stack.push(el);
            }
            Event::Empty(e) => {
                let el = open(&e);
                stack.last_mut().unwrap().children.push(el);
            }
            Event::End(_) => {
                let el = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(el);
            }
            Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let name = r.xml10_content().into_owned();
                let ch = match name.as_str() {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => r.resolve_char_ref().ok().flatten().unwrap_or_else(|| panic!("{file}: entity &{name};")),
                };
                stack.last_mut().unwrap().text.push(ch);
            }
            Event::DocType(_) => panic!("{file}: has a DTD"),
            Event::CData(_) | Event::PI(_) => panic!("{file}: unexpected CDATA or processing instruction"),
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) => {}
        }
    }
    assert_eq!(stack.len(), 1, "{file}: unclosed elements");
    let mut root = stack.pop().unwrap();
    assert_eq!(root.children.len(), 1, "{file}: one root element");
    root.children.pop().unwrap()
}

/// Every file under `dir`, by its path in the package.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn sim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_examgate-sim")).args(args).output().unwrap()
}

/// The default bank as the CLI writes it, once for the tests that read it (writing 22,000
/// files is most of the time these tests take).
fn written_bank() -> &'static BTreeMap<String, Vec<u8>> {
    static BANK: std::sync::OnceLock<BTreeMap<String, Vec<u8>>> = std::sync::OnceLock::new();
    BANK.get_or_init(|| {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let out = dir.path().join("bank");
        let run = sim(&["bank", "--out", out.to_str().unwrap(), "--seed", "11"]);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let stdout = String::from_utf8(run.stdout).unwrap();
        let files = files(&out);
        assert!(stdout.starts_with(&format!("items {DEFAULT_ITEMS} files {} bytes ", files.len())), "{stdout}");
        files
    })
}

fn text(files: &BTreeMap<String, Vec<u8>>, path: &str) -> String {
    String::from_utf8(files[path].clone()).unwrap_or_else(|_| panic!("{path} is not UTF-8"))
}

/// What an item file says, read back from its XML.
#[derive(Debug)]
struct ReadItem {
    id: String,
    lang: String,
    cardinality: String,
    max_choices: String,
    correct: Vec<String>,
    choices: Vec<String>,
    texts: Vec<String>,
    img: Option<String>,
}

fn read_item(path: &str, xml: &str) -> ReadItem {
    let root = parse(path, xml);
    assert_eq!(root.name, "qti-assessment-item", "{path}");
    assert_eq!(root.attr("xmlns"), QTI_NS, "{path}");
    assert!(!root.attr("title").is_empty(), "{path}");
    let decl = root.one("qti-response-declaration");
    assert_eq!((decl.attr("identifier"), decl.attr("base-type")), ("RESPONSE", "identifier"), "{path}");
    let outcome = root.one("qti-outcome-declaration");
    assert_eq!(outcome.attr("identifier"), "SCORE", "{path}");
    let interaction = root.one("qti-choice-interaction");
    assert_eq!(interaction.attr("response-identifier"), "RESPONSE", "{path}");
    assert!(["true", "false"].contains(&interaction.attr("shuffle")), "{path}");
    let rp = root.one("qti-response-processing");
    assert_eq!(rp.attr("template"), "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml");
    let simple = interaction.find("qti-simple-choice");
    let mut texts = vec![interaction.one("qti-prompt").text.clone()];
    texts.extend(simple.iter().map(|c| c.text.clone()));
    let img = root.find("img").first().map(|i| {
        assert!(!i.attr("alt").is_empty(), "{path}: an image needs alt text");
        i.attr("src").to_owned()
    });
    ReadItem {
        id: root.attr("identifier").to_owned(),
        lang: root.attr("xml:lang").to_owned(),
        cardinality: decl.attr("cardinality").to_owned(),
        max_choices: interaction.attr("max-choices").to_owned(),
        correct: decl.one("qti-correct-response").find("qti-value").iter().map(|v| v.text.clone()).collect(),
        choices: simple.iter().map(|c| c.attr("identifier").to_owned()).collect(),
        texts,
        img,
    }
}

fn in_range(c: char, ranges: &[(u32, u32)]) -> bool {
    ranges.iter().any(|(a, b)| (*a..=*b).contains(&u32::from(c)))
}

const CJK: (u32, u32) = (0x4E00, 0x9FFF);
const KANA: (u32, u32) = (0x3040, 0x30FF);
const HANGUL: (u32, u32) = (0xAC00, 0xD7AF);
const ARABIC: (u32, u32) = (0x0600, 0x06FF);
const MONGOLIAN: (u32, u32) = (0x1800, 0x18AF);
const CYRILLIC: (u32, u32) = (0x0400, 0x04FF);
const FOREIGN: [(u32, u32); 6] = [CJK, KANA, HANGUL, ARABIC, MONGOLIAN, CYRILLIC];

/// Whether `s` (a prompt or a choice that is not a bare number) is written in `lang`'s script.
fn in_script(lang: &str, s: &str) -> bool {
    let letters: Vec<char> = s.chars().filter(|c| c.is_alphabetic()).collect();
    let share =
        |ranges: &[(u32, u32)]| letters.iter().filter(|c| in_range(**c, ranges)).count() * 10 >= letters.len() * 8;
    match lang {
        "zh-CN" => share(&[CJK]),
        "ja" => share(&[CJK, KANA]),
        "ko" => share(&[HANGUL]),
        "ar" | "ug" | "kk-Arab" => share(&[ARABIC]),
        "mn-Mong" => share(&[MONGOLIAN]),
        "ru" => share(&[CYRILLIC]),
        _ => !letters.is_empty() && !letters.iter().any(|c| in_range(*c, &FOREIGN)),
    }
}

#[test]
fn the_bank_has_enough_items_of_each_kind_in_every_category_and_a_third_with_pictures() {
    let package = build(&BankOptions::default()).unwrap();
    assert!(package.items.len() >= 1500);
    let mut per: HashMap<(u8, String), usize> = HashMap::new();
    for item in &package.items {
        *per.entry((item.category.number(), format!("{:?}", item.kind))).or_default() += 1;
    }
    for category in 1..=30u8 {
        for kind in ["TrueFalse", "Single", "Multiple"] {
            // Both exams together never ask more than 3 of one kind in a category.
            let n = per.get(&(category, kind.to_owned())).copied().unwrap_or(0);
            assert!(n >= 10, "category {category} has {n} {kind} items");
        }
    }
    let pictures = package.items.iter().filter(|i| i.picture.is_some()).count();
    let share = pictures as f64 / package.items.len() as f64;
    assert!((0.3..0.4).contains(&share), "{pictures} of {} items have a picture", package.items.len());
    let per_language = package.files.iter().filter(|(p, _)| p.starts_with("items/") && p.ends_with(".xml")).count();
    assert_eq!(per_language, package.items.len() * LANGUAGES.len());
}

#[test]
fn the_manifest_lists_every_file_of_the_package_and_nothing_else() {
    let files = written_bank();
    let manifest = parse("imsmanifest.xml", &text(files, "imsmanifest.xml"));
    assert_eq!(manifest.name, "manifest");
    assert_eq!(manifest.attr("xmlns"), CP_NS);
    let mut listed = BTreeSet::new();
    let mut identifiers = BTreeSet::new();
    let mut types: HashMap<String, usize> = HashMap::new();
    for resource in manifest.find("resource") {
        assert!(identifiers.insert(resource.attr("identifier").to_owned()), "resource identifiers are unique");
        *types.entry(resource.attr("type").to_owned()).or_default() += 1;
        let own: Vec<&str> = resource.find("file").iter().map(|f| f.attr("href")).collect();
        assert!(own.contains(&resource.attr("href")), "a resource lists its own file");
        for href in &own {
            assert!(files.contains_key(*href), "the manifest names {href}, which is missing");
            assert!(!href.contains("..") && !href.starts_with('/'), "{href} leaves the package");
        }
        if resource.attr("type") == "imsqti_item_xmlv3p0" {
            // An item's picture is among its resource's files.
            let item = read_item(resource.attr("href"), &text(files, resource.attr("href")));
            let folder = resource.attr("href").rsplit_once('/').unwrap().0;
            let media: Vec<String> = item.img.iter().map(|src| format!("{folder}/{src}")).collect();
            let others: Vec<String> =
                own.iter().filter(|h| **h != resource.attr("href")).map(|h| h.to_string()).collect();
            assert_eq!(media, others, "{}", resource.attr("href"));
        }
        listed.extend(own.into_iter().map(str::to_owned));
    }
    for dep in manifest.find("dependency") {
        assert!(identifiers.contains(dep.attr("identifierref")), "dependency on {}", dep.attr("identifierref"));
    }
    let on_disk: BTreeSet<String> = files.keys().filter(|p| *p != "imsmanifest.xml").cloned().collect();
    assert_eq!(listed, on_disk);
    assert_eq!(types["imsqti_test_xmlv3p0"], 3);
    assert_eq!(types["imsqti_item_xmlv3p0"], DEFAULT_ITEMS as usize * LANGUAGES.len());

    // Pictures are PNGs that decode.
    let pngs: Vec<&String> = files.keys().filter(|p| p.ends_with(".png")).collect();
    assert!(pngs.len() >= DEFAULT_ITEMS as usize / 3);
    for png in pngs {
        let image = image::load_from_memory_with_format(&files[png], image::ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{png}: {e}"));
        assert!(image.width() >= 100 && image.height() >= 100, "{png}");
    }
}

#[test]
fn every_item_answers_with_its_own_choices_in_all_twelve_languages_and_scripts() {
    let files = written_bank();
    let mut by_id: BTreeMap<String, Vec<ReadItem>> = BTreeMap::new();
    for (path, bytes) in files {
        if !(path.starts_with("items/") && path.ends_with(".xml")) {
            continue;
        }
        let item = read_item(path, std::str::from_utf8(bytes).unwrap());
        let expected = format!("items/{}/{}.{}.xml", &item.id[..3], item.id, item.lang);
        assert_eq!(path, &expected, "file name, identifier and xml:lang agree");
        by_id.entry(item.id.clone()).or_default().push(item);
    }
    assert_eq!(by_id.len(), DEFAULT_ITEMS as usize);
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for (id, translations) in &by_id {
        let langs: BTreeSet<&str> = translations.iter().map(|t| t.lang.as_str()).collect();
        assert_eq!(langs, LANGUAGES.into_iter().collect(), "{id}");
        let first = &translations[0];
        for t in translations {
            assert_eq!(
                (&t.choices, &t.correct, &t.cardinality),
                (&first.choices, &first.correct, &first.cardinality),
                "{id} {}",
                t.lang
            );
            assert_eq!(t.img, first.img, "{id} {}", t.lang);
            for s in &t.texts {
                let bare_number = s.chars().all(|c| c.is_ascii_digit());
                assert!(!s.trim().is_empty(), "{id} {}: empty text", t.lang);
                assert!(bare_number || in_script(&t.lang, s), "{id} {}: {s:?} is not in its script", t.lang);
            }
        }
        assert!(!first.correct.is_empty() && first.correct.iter().all(|c| first.choices.contains(c)), "{id}");
        let kind = match (first.cardinality.as_str(), first.choices.len(), first.max_choices.as_str()) {
            ("single", 2, "1") if first.choices == ["T", "F"] => "true-false",
            ("single", 4, "1") if first.correct.len() == 1 => "single",
            ("multiple", 4, "0") if first.correct.len() >= 2 => "multiple",
            other => panic!("{id}: no kind has {other:?}"),
        };
        *kinds.entry(kind).or_default() += 1;
        if let Some(src) = &first.img {
            assert_eq!(src, &format!("{id}.png"));
        }
    }
    assert!(kinds.values().all(|n| *n >= 300), "{kinds:?}");
    // Uyghur and Kazakh are in their own letters, not only Arabic's.
    let all_text = |lang: &str| -> String {
        by_id.values().flatten().filter(|t| t.lang == lang).flat_map(|t| t.texts.clone()).collect()
    };
    assert!(all_text("ug").contains(['ې', 'ۇ', 'ە', 'ۈ']));
    assert!(all_text("kk-Arab").contains(['ٴ', 'ۇ', 'ە', 'ڭ']));
    assert!(all_text("ja").chars().any(|c| in_range(c, &[KANA])));
}

#[test]
fn the_exams_are_tests_whose_sections_the_bank_can_fill_and_that_reference_every_item() {
    let files = written_bank();
    let mut item_kind: HashMap<String, (String, usize)> = HashMap::new();
    for (path, bytes) in files.iter().filter(|(p, _)| p.ends_with(".zh-CN.xml")) {
        let item = read_item(path, std::str::from_utf8(bytes).unwrap());
        item_kind.insert(path.clone(), (item.cardinality, item.choices.len()));
    }
    let exams = [
        ("c1-subject-one.xml", "c1-subject-one", 100, 2700, None, Some("90")),
        ("subject-four.xml", "subject-four", 50, 1800, Some("2"), Some("90")),
        ("practice.xml", "practice", 90, 3600, None, None),
    ];
    // The importer gives an item its category from a test's item ref, so every item needs one.
    let mut referenced = BTreeSet::new();
    for (file, id, questions, seconds, weight, pass) in exams {
        let test = parse(file, &text(files, file));
        assert_eq!(
            (test.name.as_str(), test.attr("identifier"), test.attr("xmlns")),
            ("qti-assessment-test", id, QTI_NS)
        );
        assert_eq!(test.one("qti-time-limits").attr("max-time"), seconds.to_string());
        let score = test.find("qti-outcome-declaration").into_iter().find(|o| o.attr("identifier") == "SCORE").unwrap();
        let max = (questions * weight.map_or(1, |w| w.parse::<usize>().unwrap())).to_string();
        let mastery = score.attrs.get("mastery-value").map(String::as_str);
        assert_eq!((mastery, score.attr("normal-maximum")), (pass, max.as_str()), "{file}");
        let top = test.one("qti-test-part").children.iter().find(|c| c.name == "qti-assessment-section").unwrap();
        assert_eq!(top.one("qti-ordering").attr("shuffle"), "true");
        let sections: Vec<&El> = top.children.iter().filter(|c| c.name == "qti-assessment-section").collect();
        let mut drawn = 0;
        for section in &sections {
            let select: usize = section.one("qti-selection").attr("select").parse().unwrap();
            let refs = section.find("qti-assessment-item-ref");
            assert!(
                refs.len() >= select && select > 0,
                "{file} {}: {} items for {select}",
                section.attr("identifier"),
                refs.len()
            );
            drawn += select;
            let categories: BTreeSet<&str> = refs.iter().map(|r| r.attr("category")).collect();
            let shapes: BTreeSet<&(String, usize)> = refs.iter().map(|r| &item_kind[r.attr("href")]).collect();
            assert_eq!(
                (categories.len(), shapes.len()),
                (1, 1),
                "{file} {}: one category, one kind",
                section.attr("identifier")
            );
            for r in refs {
                referenced.insert(r.attr("href").to_owned());
                assert!(r.attr("href").starts_with(&format!("items/{}/{}.", r.attr("category"), r.attr("identifier"))));
                let w: Vec<&str> = r.find("qti-weight").iter().map(|w| w.attr("value")).collect();
                assert_eq!(w.first().copied(), weight, "{file} {}", r.attr("identifier"));
            }
        }
        assert_eq!(drawn, questions, "{file}");
        let categories: BTreeSet<&str> =
            sections.iter().flat_map(|s| s.find("qti-assessment-item-ref")).map(|r| r.attr("category")).collect();
        assert!(categories.len() >= 20, "{file} draws from {} categories", categories.len());
    }
    let items: BTreeSet<String> = item_kind.into_keys().collect();
    assert_eq!(referenced, items, "every item is referenced by a test");
}

#[test]
fn the_same_seed_writes_the_same_bytes_and_another_seed_other_ones() {
    let one = build(&BankOptions { seed: 5, items: MIN_ITEMS }).unwrap();
    let again = build(&BankOptions { seed: 5, items: MIN_ITEMS }).unwrap();
    let other = build(&BankOptions { seed: 6, items: MIN_ITEMS }).unwrap();
    assert_eq!(one.files, again.files);
    assert_ne!(one.files, other.files);

    let dir = tempfile::tempdir().unwrap();
    let mut zips = Vec::new();
    for run in ["a", "b"] {
        let out = dir.path().join(run);
        let r =
            sim(&["bank", "--out", out.to_str().unwrap(), "--seed", "5", "--items", &MIN_ITEMS.to_string(), "--zip"]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        zips.push(std::fs::read(out.join("bank.zip")).unwrap());
    }
    assert_eq!(zips[0], zips[1]);

    // The zip holds the same files, each deflated.
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&zips[0])).unwrap();
    assert_eq!(archive.len(), one.files.len());
    for (path, bytes) in &one.files {
        let mut entry = archive.by_name(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(entry.compression(), zip::CompressionMethod::Deflated, "{path}");
        let mut read = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut read).unwrap();
        assert_eq!(&read, bytes, "{path}");
    }
}

#[test]
fn bad_arguments_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bank");
    let cases: [(&[&str], &str); 4] = [
        (&["--items", "10"], "--items 10 is out of range"),
        (&["--seed", "minus one"], "--seed must be an unsigned integer"),
        (&["--colour", "red"], "bad argument \"--colour\""),
        (&["--items"], "bad argument \"--items\""),
    ];
    for (extra, message) in cases {
        let mut args = vec!["bank", "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let r = sim(&args);
        assert!(!r.status.success(), "{extra:?} was accepted");
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(stderr.contains(message), "{extra:?}: {stderr}");
        assert!(!out.exists(), "{extra:?} wrote {}", out.display());
    }
    // A directory that already holds something is left as it was.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "keep me").unwrap();
    let r = sim(&["bank", "--out", out.to_str().unwrap(), "--items", &MIN_ITEMS.to_string()]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("is not empty"));
    assert_eq!(files(&out).into_keys().collect::<Vec<_>>(), ["notes.txt"]);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no staging directory is left behind");
}
