//! The exam while the server runs: bank versions kept in memory (a paper is
//! drawn, packaged and scored from the immutable version it names), the paper
//! plan made at admission, and the scorer a submission closes a paper with.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use examgate_protocol::exam::{ExamInfo, ExamResult, ExamResultState, ExamScore};

use super::{Answers, BankVersion, ExamDef, Paper, draw, score};
use crate::config::Config;
use crate::store::{Candidate, NewPaper, PaperPlan, PaperRow, PaperState, Scored, Store, StoreError};

/// How many bank versions stay in memory (papers in progress rarely span more than two).
const KEPT_VERSIONS: usize = 3;

/// How many bytes of media stay in memory for building packages.
const KEPT_MEDIA_BYTES: usize = 256 << 20;

/// Bank versions by version, and media by SHA-256, read once from the store
/// (both immutable): a thousand papers packaged at once read each picture once.
/// Media bytes by SHA-256, with the total bytes held.
type KeptMedia = (HashMap<String, Arc<Vec<u8>>>, usize);

#[derive(Default)]
pub struct Banks {
    kept: Mutex<Vec<Arc<BankVersion>>>,
    media: Mutex<KeptMedia>,
}

impl Banks {
    /// The bank version `version`, from memory or the store.
    pub async fn get(&self, store: &dyn Store, version: &str) -> Result<Option<Arc<BankVersion>>, StoreError> {
        if let Some(b) = self.lock().iter().find(|b| b.version == version) {
            return Ok(Some(b.clone()));
        }
        let Some(bank) = store.bank_version(version).await? else { return Ok(None) };
        let bank = Arc::new(bank);
        let mut kept = self.lock();
        if !kept.iter().any(|b| b.version == version) {
            kept.insert(0, bank.clone());
            kept.truncate(KEPT_VERSIONS);
        }
        Ok(Some(bank))
    }

    /// A media file's bytes, checked against its SHA-256, from memory or the store.
    pub async fn media(&self, store: &dyn Store, sha256: &str) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        if let Some(bytes) = self.media_lock().0.get(sha256) {
            return Ok(Some(bytes.clone()));
        }
        let Some(stored) = store.bank_media(sha256).await? else { return Ok(None) };
        if crate::crypto::sha256_hex(&stored.data) != sha256 {
            return Err(StoreError::Invalid(format!("media file {sha256} in the bank does not match its SHA-256")));
        }
        let bytes = Arc::new(stored.data);
        let mut kept = self.media_lock();
        if kept.1 + bytes.len() > KEPT_MEDIA_BYTES {
            // Simple bound: start again rather than track an order; media are re-read cheaply.
            *kept = (HashMap::new(), 0);
        }
        if bytes.len() <= KEPT_MEDIA_BYTES && kept.0.insert(sha256.to_owned(), bytes.clone()).is_none() {
            kept.1 += bytes.len();
        }
        Ok(Some(bytes))
    }

    fn media_lock(&self) -> std::sync::MutexGuard<'_, KeptMedia> {
        self.media.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<BankVersion>>> {
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The exam a candidate takes: their roster row's, else `[exam] default`.
pub fn exam_of(roster_exam: Option<&str>, config: &Config) -> Option<String> {
    roster_exam.filter(|e| !e.trim().is_empty()).map(str::to_owned).or_else(|| config.exam.default.clone())
}

/// The highest score of a paper: each item's points, or its section's.
pub fn max_score(exam: &ExamDef, bank: &BankVersion, paper: &Paper) -> u32 {
    paper
        .items
        .iter()
        .map(|drawn| {
            let section = exam.sections.iter().find(|s| s.id == drawn.section).and_then(|s| s.points);
            section.or_else(|| bank.item(&drawn.id).map(|i| i.points)).unwrap_or(0)
        })
        .sum()
}

/// What admission will store about the candidate's exam: a paper drawn now
/// from a seed of the OS's RNG, or why none can be.
pub async fn plan(store: &dyn Store, banks: &Banks, config: &Config, candidate: &Candidate) -> PaperPlan {
    match try_plan(store, banks, config, candidate).await {
        Ok(p) => PaperPlan::Draw(Box::new(p)),
        Err(reason) => PaperPlan::Unavailable { reason },
    }
}

async fn try_plan(
    store: &dyn Store,
    banks: &Banks,
    config: &Config,
    candidate: &Candidate,
) -> Result<NewPaper, String> {
    let roster_exam = store.candidate_exam(&candidate.booking_number).await.map_err(|e| e.to_string())?;
    let exam_id = exam_of(roster_exam.as_deref(), config)
        .ok_or("the roster names no exam for this candidate and [exam] default is not set")?;
    let exam = store
        .exam_def(&exam_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("exam {exam_id} is not defined: import its rules (bank import)"))?;
    let version = store
        .current_bank_version()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("there is no question bank: import one (bank import)")?;
    let bank = banks
        .get(store, &version)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("bank version {version} is not stored"))?;
    let seed = u64::from_str_radix(&crate::ids::random_hex(8), 16).expect("16 hex digits are a u64");
    let paper = draw(&exam, &bank, seed).map_err(|e| e.to_string())?;
    Ok(NewPaper {
        paper_id: format!("p{}", crate::ids::random_hex(12)),
        exam_id: exam.id.clone(),
        exam_def: serde_json::to_string(&exam).map_err(|e| e.to_string())?,
        exam_name: exam.name.clone(),
        minutes: exam.minutes,
        pass_score: exam.pass_score,
        max_score: max_score(&exam, &bank, &paper),
        bank_version: paper.bank_version.clone(),
        seed,
        paper_sha256: paper.paper_sha256.clone(),
        items: serde_json::to_string(&paper.items).map_err(|e| e.to_string())?,
        item_ids: paper.items.iter().map(|i| i.id.clone()).collect(),
        language: candidate.language.clone(),
        command_id: crate::ids::random_hex(8),
    })
}

/// Scores the answers the store holds for `paper`, exactly as `paper score` does.
pub fn scorer(
    paper: &PaperRow,
    bank: Arc<BankVersion>,
) -> Result<impl Fn(&Answers) -> Result<Scored, String>, StoreError> {
    let exam = paper.exam()?;
    let drawn = paper.paper()?;
    Ok(move |answers: &Answers| {
        let s = score(&exam, &bank, &drawn, answers).map_err(|e| e.to_string())?;
        Ok(Scored { score: s.score, max_score: s.max_score, passed: s.passed, answered: s.answered })
    })
}

/// The exam as the seat shows it.
pub fn exam_info(paper: &PaperRow) -> ExamInfo {
    ExamInfo {
        id: paper.exam_id.clone(),
        name: paper.exam_name.clone(),
        minutes: paper.minutes,
        pass_score: paper.pass_score.map(f64::from),
        max_score: f64::from(paper.max_score),
    }
}

/// `GET /agent/v1/exam/result`.
pub fn result_view(paper: &PaperRow, answered: u32) -> ExamResult {
    let result = match (paper.state, paper.score, paper.submitted_at, paper.reason) {
        (PaperState::Submitted, Some(score), Some(submitted_at), Some(reason)) => Some(ExamScore {
            score: f64::from(score),
            max_score: f64::from(paper.max_score),
            passed: paper.passed,
            submitted_at,
            reason,
        }),
        _ => None,
    };
    ExamResult {
        paper_id: paper.paper_id.clone(),
        state: if result.is_some() { ExamResultState::Submitted } else { ExamResultState::InProgress },
        answered: paper.answered.unwrap_or(answered),
        total: paper.item_count,
        deadline: paper.deadline,
        result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_secs_is_read_and_bounded() {
        assert_eq!(Config::parse("").unwrap().exam.grace_ms, 30_000);
        assert_eq!(Config::parse("[exam]\ngrace_secs = 45\n").unwrap().exam.grace_ms, 45_000);
        let err = Config::parse("[exam]\ngrace_secs = 7200\n").unwrap_err();
        assert!(err.contains("grace_secs"), "{err}");
    }

    #[test]
    fn the_roster_names_the_exam_else_the_default() {
        let mut config = Config::with_data_dir(std::path::Path::new("/tmp/x"));
        assert_eq!(exam_of(None, &config), None);
        config.exam.default = Some("C1".into());
        assert_eq!(exam_of(None, &config).as_deref(), Some("C1"));
        assert_eq!(exam_of(Some(" "), &config).as_deref(), Some("C1"));
        assert_eq!(exam_of(Some("C4"), &config).as_deref(), Some("C4"));
    }
}
