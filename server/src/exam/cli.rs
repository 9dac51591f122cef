//! `examgate-server bank …`, `exam …` and `paper …`: the question bank and
//! exam definitions from the server's own shell, and the auditor's re-draw
//! and re-score of a paper (the same code the server runs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::bank::{BankVersion, ExamDef};
use super::import::{self, ImportError};
use super::{paper, rules, score};
use crate::cli::Global;
use crate::store::{self, Store};

#[derive(Debug, Subcommand)]
pub enum BankCommand {
    /// Import a QTI 3.0 / 2.1 content package (.zip or its directory), a JSON bank (.json) or
    /// TOML rules (.toml); all or nothing, every problem reported
    Import(ImportArgs),
    /// Counts per category, type and language, and the bank versions
    List(ListArgs),
}

#[derive(Debug, Subcommand)]
pub enum ExamCommand {
    /// The exam definitions
    List(ListArgs),
    /// Name every section the bank cannot fill (have / need); exit 1 if any
    Check(CheckArgs),
}

#[derive(Debug, Subcommand)]
pub enum PaperCommand {
    /// Draw the paper of an exam for a seed, as the server does at admission
    Draw(DrawArgs),
    /// Score a set of answers to the paper of an exam and seed, as the server does
    Score(ScoreArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    pub path: PathBuf,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// A bank version other than the current one
    #[arg(long, value_name = "V")]
    pub bank_version: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A stored exam's id or a TOML rules file
    pub exam: String,
    #[arg(long, value_name = "V")]
    pub bank_version: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DrawArgs {
    /// A stored exam's id or a TOML rules file
    #[arg(long, value_name = "ID")]
    pub exam: String,
    #[arg(long, value_name = "N")]
    pub seed: u64,
    /// The bank version the paper came from (default: the current one)
    #[arg(long, value_name = "V")]
    pub bank_version: Option<String>,
    /// Print the paper as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub paper: DrawArgs,
    /// JSON {"ITEM_ID": ["CHOICE_ID", …]}; unanswered items absent
    #[arg(long, value_name = "FILE")]
    pub answers: PathBuf,
}

async fn open(global: &Global) -> anyhow::Result<(crate::config::Config, Arc<dyn Store>)> {
    let config = crate::commands::config(global)?;
    let store = store::open(&config.database).await.context("cannot open the database")?;
    Ok((config, store))
}

async fn load_bank(store: &dyn Store, version: Option<&str>) -> anyhow::Result<BankVersion> {
    let version = match version {
        Some(v) => v.to_owned(),
        None => store.current_bank_version().await?.context("the bank is empty: bank import a package first")?,
    };
    store.bank_version(&version).await?.with_context(|| format!("there is no bank version {version}"))
}

async fn load_exam(store: &dyn Store, exam: &str) -> anyhow::Result<ExamDef> {
    let path = Path::new(exam);
    if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {exam}"))?;
        return rules::parse(&text).map_err(anyhow::Error::msg).with_context(|| exam.to_owned());
    }
    store.exam_def(exam).await?.with_context(|| format!("there is no exam {exam:?} (exam list shows them)"))
}

/// Prints JSON; a closed pipe (`| head`) is an error, not a panic.
fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

pub async fn bank(global: &Global, command: BankCommand) -> anyhow::Result<()> {
    let (config, store) = open(global).await?;
    match command {
        BankCommand::Import(args) => {
            let report =
                match import::import(store.as_ref(), &args.path, config.bank.max_package_bytes, "cli", crate::now_ms())
                    .await
                {
                    Ok(r) => r,
                    Err(ImportError::Invalid(errors)) => {
                        for e in &errors {
                            eprintln!("{e}");
                        }
                        bail!("{}: {} problems; nothing was imported", args.path.display(), errors.len());
                    }
                    Err(e) => return Err(e).with_context(|| format!("cannot import {}", args.path.display())),
                };
            if args.json {
                return print_json(&report);
            }
            let name = args.path.display();
            if report.unchanged {
                println!("{name}: nothing new: bank version {} already holds this content", report.version);
            } else {
                let m = &report.merge;
                println!(
                    "{name}: bank version {} ({} items: {} added, {} changed, {} given a new language, {} as before); exam definitions new or changed: {}",
                    report.version,
                    report.items,
                    m.added.len(),
                    m.changed.len(),
                    m.translated.len(),
                    m.unchanged,
                    if report.exams.is_empty() { "none".to_owned() } else { report.exams.join(", ") }
                );
            }
            if report.uncategorised > 0 {
                println!(
                    "{} items no test references have no category: they are kept but never drawn until a test names their category",
                    report.uncategorised
                );
            }
            Ok(())
        }
        BankCommand::List(args) => {
            let versions = store.bank_versions().await?;
            let summary = match (&args.bank_version, versions.is_empty()) {
                (None, true) => None,
                (v, _) => Some(BankSummary::of(&load_bank(store.as_ref(), v.as_deref()).await?)),
            };
            let exams: Vec<String> = store.exam_defs().await?.into_iter().map(|e| e.id).collect();
            let listing = BankListing { bank: summary, versions, exams };
            if args.json {
                return print_json(&listing);
            }
            let Some(bank) = &listing.bank else {
                println!("the bank is empty");
                return Ok(());
            };
            println!("bank version {}: {} items", bank.version, bank.items);
            println!("by type: {}", counts(&bank.by_kind));
            println!("by language: {}", counts(&bank.by_language));
            for (category, kinds) in &bank.by_category {
                let category = if category.is_empty() { "(none: no test references them)" } else { category };
                println!("category {category}: {}", counts(kinds));
            }
            for v in &listing.versions {
                println!("version {} {} items{}", v.version, v.items, if v.current { " (current)" } else { "" });
            }
            println!("exams: {}", listing.exams.join(", "));
            Ok(())
        }
    }
}

fn counts(map: &BTreeMap<String, usize>) -> String {
    map.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
}

/// What `bank list --json` prints.
#[derive(Serialize)]
struct BankListing {
    bank: Option<BankSummary>,
    versions: Vec<store::BankVersionInfo>,
    exams: Vec<String>,
}

/// Counts of one bank version.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BankSummary {
    pub version: String,
    pub items: usize,
    /// category → item type → count.
    pub by_category: BTreeMap<String, BTreeMap<String, usize>>,
    pub by_kind: BTreeMap<String, usize>,
    /// Items with a translation in each language.
    pub by_language: BTreeMap<String, usize>,
    pub media: usize,
}

impl BankSummary {
    pub fn of(bank: &BankVersion) -> BankSummary {
        let mut s = BankSummary {
            version: bank.version.clone(),
            items: bank.items.len(),
            by_category: BTreeMap::new(),
            by_kind: BTreeMap::new(),
            by_language: BTreeMap::new(),
            media: 0,
        };
        let mut media = std::collections::BTreeSet::new();
        for item in &bank.items {
            *s.by_category.entry(item.category.clone()).or_default().entry(item.kind.to_string()).or_default() += 1;
            *s.by_kind.entry(item.kind.to_string()).or_default() += 1;
            for (lang, t) in &item.translations {
                *s.by_language.entry(lang.clone()).or_default() += 1;
                media.extend(t.media.iter().map(|m| m.sha256.clone()));
            }
        }
        s.media = media.len();
        s
    }
}

pub async fn exam(global: &Global, command: ExamCommand) -> anyhow::Result<()> {
    let (_, store) = open(global).await?;
    match command {
        ExamCommand::List(args) => {
            let exams = store.exam_defs().await?;
            if args.json {
                return print_json(&exams);
            }
            for e in &exams {
                let pass = e.pass_score.map(|p| format!(", pass at {p}")).unwrap_or_default();
                println!("{} {:?}: {} items in {} minutes{pass}", e.id, e.name, e.total_items(), e.minutes);
                for s in &e.sections {
                    let kind = s.kind.map(|k| format!(" {k}")).unwrap_or_default();
                    println!("  section {}: {}{kind} from category {}", s.id, s.select, s.categories.join(", "));
                }
            }
            Ok(())
        }
        ExamCommand::Check(args) => {
            let exam = load_exam(store.as_ref(), &args.exam).await?;
            let bank = load_bank(store.as_ref(), args.bank_version.as_deref()).await?;
            let shortfalls = paper::check(&exam, &bank)?;
            if args.json {
                print_json(
                    &serde_json::json!({"exam": exam.id, "bank_version": bank.version, "shortfalls": shortfalls}),
                )?;
            } else {
                for s in &shortfalls {
                    println!("{s}");
                }
            }
            if !shortfalls.is_empty() {
                bail!(
                    "bank version {} cannot fill exam {}: {} section(s) short",
                    bank.version,
                    exam.id,
                    shortfalls.len()
                );
            }
            if !args.json {
                println!("bank version {} can fill exam {} ({} items)", bank.version, exam.id, exam.total_items());
            }
            Ok(())
        }
    }
}

pub async fn paper(global: &Global, command: PaperCommand) -> anyhow::Result<()> {
    let (_, store) = open(global).await?;
    match command {
        PaperCommand::Draw(args) => {
            let (exam, bank) = paper_inputs(store.as_ref(), &args).await?;
            let paper = paper::draw(&exam, &bank, args.seed)?;
            if args.json {
                return print_json(&paper);
            }
            println!(
                "exam {} seed {} bank version {} paper {}",
                paper.exam, paper.seed, paper.bank_version, paper.paper_sha256
            );
            for (n, item) in paper.items.iter().enumerate() {
                println!("{:>3} {} ({}) {}", n + 1, item.id, item.section, item.choices.join(" "));
            }
            Ok(())
        }
        PaperCommand::Score(args) => {
            let (exam, bank) = paper_inputs(store.as_ref(), &args.paper).await?;
            let paper = paper::draw(&exam, &bank, args.paper.seed)?;
            let text =
                std::fs::read(&args.answers).with_context(|| format!("cannot read {}", args.answers.display()))?;
            let answers: score::Answers = serde_json::from_slice(&text).with_context(|| {
                format!("{}: not an answers file {{\"ITEM_ID\": [\"CHOICE_ID\", …]}}", args.answers.display())
            })?;
            let result = score::score(&exam, &bank, &paper, &answers)
                .with_context(|| format!("{} cannot be scored", args.answers.display()))?;
            if args.paper.json {
                return print_json(&result);
            }
            let passed = match result.passed {
                Some(true) => "passed",
                Some(false) => "not passed",
                None => "no pass score",
            };
            println!(
                "{} of {} ({passed}); {} of {} answered",
                result.score,
                result.max_score,
                result.answered,
                paper.items.len()
            );
            Ok(())
        }
    }
}

async fn paper_inputs(store: &dyn Store, args: &DrawArgs) -> anyhow::Result<(ExamDef, BankVersion)> {
    let exam = load_exam(store, &args.exam).await?;
    let bank = load_bank(store, args.bank_version.as_deref()).await?;
    Ok((exam, bank))
}
