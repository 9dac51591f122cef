//! `examgate-sim bank`: a whole question bank as an IMS QTI 3.0 content package, made from a
//! seed (the same seed gives the same bytes).
//!
//! The package (a directory, or `bank.zip` with `--zip`):
//!
//! - `imsmanifest.xml`: an IMS CP manifest; one `imsqti_item_xmlv3p0` resource per item and
//!   language listing the item file and its picture, one `imsqti_test_xmlv3p0` resource per
//!   exam depending on the items it references.
//! - `items/C07/C07-0012.<lang>.xml`: item `C07-0012` in each of the twelve exam languages
//!   (`xml:lang` zh-CN en fr de ru es ar ja ko mn-Mong ug kk-Arab), all with the same
//!   identifier, choice identifiers and correct response; `items/C01/C01-0003.png` its
//!   picture, beside it (`<img src="C01-0003.png">`).
//! - `c1-subject-one.xml`, `subject-four.xml`, `practice.xml`: the exams as
//!   `qti-assessment-test`s, one section per (category, kind) with `qti-selection select=k`
//!   and refs to all of its items; the ref's `category` (`C01`..`C30`) is the item's category.
//!   The practice test (one of each kind from every category, no pass mark) references the
//!   items the two exams leave out, so that every item has its category.
//!
//! Items: true/false is a choice interaction with the two choices `T` and `F`; single choice
//! has `A`..`D` and one right; multiple choice `A`..`D` with `cardinality="multiple"`,
//! `max-choices="0"` and two or three right. All are scored by `match_correct`.

pub mod content;
mod draw;
pub mod exams;
pub mod items;
pub mod lang;
pub mod qti;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use content::Category;
use exams::EXAMS;
use items::{Item, Kind, Picture};
use qti::{ITEM_RESOURCE, Resource, SectionRefs, TEST_RESOURCE};

/// Items when `--items` is not given: 50 per text category, 100 per picture category.
pub const DEFAULT_ITEMS: u32 = 1800;
/// Fewer and some (category, kind) could not fill the exams' sections with a margin.
pub const MIN_ITEMS: u32 = 360;
/// Item numbers within a category have four digits.
pub const MAX_ITEMS: u32 = 36 * 4999;
/// The file `--zip` writes in the output directory.
pub const ZIP_NAME: &str = "bank.zip";

/// What bank to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankOptions {
    pub seed: u64,
    /// At least this many items (rounded up to whole shares of the 30 categories).
    pub items: u32,
}

impl Default for BankOptions {
    fn default() -> Self {
        BankOptions { seed: 1, items: DEFAULT_ITEMS }
    }
}

/// How the package is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The files under the output directory, which must be empty or new.
    Directory,
    /// One deflated zip, `DIR/bank.zip` (replaced if there).
    Zip,
}

#[derive(Debug, thiserror::Error)]
pub enum BankError {
    #[error("--items {0} is out of range: a bank has {MIN_ITEMS}..={MAX_ITEMS} items")]
    ItemCount(u32),
    #[error("{0} is not empty; give a new or empty directory (or --zip to write {ZIP_NAME} there)")]
    NotEmpty(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("writing the zip: {0}")]
    Zip(#[from] zip::result::ZipError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BankError + '_ {
    move |source| BankError::Io { path: path.to_owned(), source }
}

/// The package in memory: its files in writing order (manifest first) and the items.
pub struct Package {
    pub files: Vec<(String, Vec<u8>)>,
    pub items: Vec<Item>,
}

impl Package {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|(_, b)| b.len() as u64).sum()
    }
}

/// Make the whole package from `options`.
pub fn build(options: &BankOptions) -> Result<Package, BankError> {
    if !(MIN_ITEMS..=MAX_ITEMS).contains(&options.items) {
        return Err(BankError::ItemCount(options.items));
    }
    let unit = options.items.div_ceil(36);
    let items = items::generate(options.seed, unit);
    let primary = lang::ALL[0];

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut resources = Vec::new();
    for exam in &EXAMS {
        let sections = sections(exam, &items);
        let path = qti::test_path(exam);
        let dependencies = sections.iter().flat_map(|s| &s.items).map(|item| resource_id(item, primary.tag)).collect();
        files.push((path.clone(), qti::test_xml(exam, &sections, primary).into_bytes()));
        resources.push(Resource {
            identifier: format!("test-{}", exam.id),
            kind: TEST_RESOURCE,
            href: path.clone(),
            files: vec![path],
            dependencies,
        });
    }

    let mut drawn: HashMap<Picture, (Vec<u8>, u32, u32)> = HashMap::new();
    for item in &items {
        let picture = item.picture.map(|p| drawn.entry(p).or_insert_with(|| draw::picture(p)).clone());
        for t in lang::ALL {
            let path = qti::item_path(item, t);
            let size = picture.as_ref().map(|(_, w, h)| (*w, *h));
            files.push((path.clone(), qti::item_xml(item, t, size).into_bytes()));
            let mut listed = vec![path.clone()];
            listed.extend(picture.as_ref().map(|_| qti::picture_path(item)));
            resources.push(Resource {
                identifier: resource_id(item, t.tag),
                kind: ITEM_RESOURCE,
                href: path,
                files: listed,
                dependencies: Vec::new(),
            });
        }
        if let Some((png, _, _)) = picture {
            files.push((qti::picture_path(item), png));
        }
    }
    let manifest = qti::manifest_xml(&format!("examgate-sim-bank-{}", options.seed), &resources);
    files.insert(0, ("imsmanifest.xml".to_owned(), manifest.into_bytes()));
    Ok(Package { files, items })
}

/// `item-C07-0012-zh-CN`: the manifest resource of one translation.
fn resource_id(item: &Item, tag: &str) -> String {
    format!("item-{}-{tag}", item.id)
}

/// The sections of `exam`: per category and kind with questions to give, all its items.
fn sections<'a>(exam: &exams::ExamSpec, items: &'a [Item]) -> Vec<SectionRefs<'a>> {
    let english = lang::ALL[1];
    let mut out = Vec::new();
    for (kind, _) in exam.per_kind {
        let spread = exam.spread(*kind);
        for category in Category::all() {
            let select = spread[usize::from(category.number()) - 1];
            if select == 0 {
                continue;
            }
            let refs: Vec<&Item> = items.iter().filter(|i| i.category == category && i.kind == *kind).collect();
            let name = english.categories[usize::from(category.number()) - 1];
            out.push(SectionRefs {
                code: category.code(),
                title: format!("{} {name}: {}", category.number(), kind_title(*kind)),
                kind: *kind,
                select,
                items: refs,
            });
        }
    }
    out
}

fn kind_title(kind: Kind) -> &'static str {
    match kind {
        Kind::TrueFalse => "true/false",
        Kind::Single => "single choice",
        Kind::Multiple => "multiple choice",
    }
}

/// What was written.
#[derive(Clone, Debug)]
pub struct Written {
    pub path: PathBuf,
    pub items: usize,
    pub files: usize,
    /// Bytes on disk: the zip, or the files.
    pub bytes: u64,
}

/// Build the package and write it under `out`; a failure leaves nothing half-written.
pub fn write_bank(out: &Path, options: &BankOptions, layout: Layout) -> Result<Written, BankError> {
    let package = build(options)?;
    match layout {
        Layout::Directory => write_directory(out, &package),
        Layout::Zip => write_zip(out, &package),
    }
}

fn write_directory(out: &Path, package: &Package) -> Result<Written, BankError> {
    if out.exists() && std::fs::read_dir(out).map_err(io(out))?.next().is_some() {
        return Err(BankError::NotEmpty(out.to_owned()));
    }
    // Written beside it and renamed into place: a full package or none.
    let staging = sibling(out, "partial");
    let result = (|| {
        for (path, bytes) in &package.files {
            let file = staging.join(path);
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            std::fs::write(&file, bytes).map_err(io(&file))?;
        }
        std::fs::rename(&staging, out).map_err(io(out))
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    Ok(Written { path: out.to_owned(), items: package.items.len(), files: package.files.len(), bytes: package.bytes() })
}

fn write_zip(out: &Path, package: &Package) -> Result<Written, BankError> {
    use zip::write::SimpleFileOptions;
    std::fs::create_dir_all(out).map_err(io(out))?;
    let target = out.join(ZIP_NAME);
    let staging = sibling(&target, "partial");
    let result = (|| {
        let file = std::fs::File::create(&staging).map_err(io(&staging))?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        // A fixed time and mode: the same seed gives the same bytes.
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(0o644);
        for (path, bytes) in &package.files {
            zip.start_file(path.as_str(), options)?;
            zip.write_all(bytes).map_err(io(&staging))?;
        }
        let mut writer = zip.finish()?;
        writer.flush().map_err(io(&staging))?;
        drop(writer);
        std::fs::rename(&staging, &target).map_err(io(&target))
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&staging);
        return Err(e);
    }
    let bytes = std::fs::metadata(&target).map_err(io(&target))?.len();
    Ok(Written { path: target, items: package.items.len(), files: package.files.len(), bytes })
}

/// `DIR/.NAME.WHAT-PID`: a staging path on the same file system as `path`.
fn sibling(path: &Path, what: &str) -> PathBuf {
    let name = path.file_name().map_or_else(|| "bank".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{what}-{}", std::process::id()))
}
