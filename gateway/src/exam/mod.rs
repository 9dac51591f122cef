//! The exam at the seat (issue 14): the candidate's paper arrives as a
//! signed package, is served to the seat page from the agent's own disk, and
//! every answer is durable here before the page hears "saved" and travels to
//! the server through the enrolment's outbox.
//!
//! - [`store`]: the exam store (SQLite, WAL, `synchronous = FULL`, 0600).
//! - [`manifest`]: the manifest's signature, the pinned server key.
//! - [`package`]: the `.part` download, its checks and the unpacking.
//! - [`sync`]: the task of `run --link-dir` that fetches the paper (on
//!   `exam_ready`, at start, after a rebind), submits at the deadline and
//!   fetches the result.
//!
//! [`Exam`] is what the page API (`api/exam.rs`) and the task share. Its
//! methods block (SQLite with fsync): call them from `spawn_blocking`.
//! The store's tables live in the enrolment's `outbox.db`, so an answer and
//! its outbox item commit in one transaction; the package lives in `exam/`
//! of the enrolment's directory (0700): `papers/<paper_id>/` (unpacked) and
//! `papers/<paper_id>.tar.part` (the download).
//!
//! Times are milliseconds since the epoch on the server's clock, estimated as
//! the agent's clock plus the offset measured when the manifest was fetched;
//! the page's clock is never asked.

pub mod manifest;
pub mod package;
pub mod store;
pub mod sync;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use examgate_protocol::exam::{
    ExamInfo, ExamResult, ExamScore, HeldAnswers, ItemKind, PACKAGE_PAPER, PaperDoc, PaperManifest, TextDir,
};
use examgate_protocol::link::{Delivery, DeliveryItem};
use examgate_protocol::{Event, Timestamp};
use serde::Serialize;
use tokio::sync::Notify;

use crate::link::client::LinkClient;
use crate::link::outbox::Outbox;
use store::{Change, ChangeKind, ExamStore, NewPaper, Outgoing, PaperRecord, StoreError, SubmitReason};

/// The folder of the exam inside the enrolment's directory.
pub const EXAM_DIR: &str = "exam";

/// Why an exam request failed; `api/exam.rs` gives each its status.
#[derive(Debug, thiserror::Error)]
pub enum ExamError {
    #[error("there is no exam paper at this seat")]
    NoPaper,
    #[error("the paper is still being downloaded to this seat")]
    NotReady,
    #[error("the paper is submitted: answers can no longer change")]
    Submitted,
    #[error("item {0:?} is not in this paper")]
    UnknownItem(String),
    #[error("{0}")]
    BadChoices(String),
    #[error("the time for this paper is over")]
    PastDeadline,
    #[error("no media file {0:?} in this paper")]
    NoMedia(String),
    #[error("the exam directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Package(String),
}

/// A paper loaded for serving: its record, verified manifest and (once unpacked) its items.
#[derive(Debug)]
struct Loaded {
    record: PaperRecord,
    manifest: PaperManifest,
    doc: Option<PaperDoc>,
    items: BTreeMap<String, (ItemKind, BTreeSet<String>)>,
}

impl Loaded {
    fn server_now(&self, agent_now: i64) -> i64 {
        agent_now + self.record.server_offset_ms
    }
}

#[derive(Debug)]
struct Inner {
    store: ExamStore,
    paper: Option<Loaded>,
}

/// The download's progress, for `GET /v1/exam`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DownloadProgress {
    pub received: u64,
    pub size: u64,
    /// Why the last attempt failed; it is retried.
    pub error: Option<String>,
}

/// `GET /v1/exam`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExamStatus {
    /// `none`, `downloading`, `ready`, `in_progress`, `submitted` or `finished`.
    pub state: &'static str,
    pub paper_id: Option<String>,
    pub booking_number: Option<String>,
    pub exam: Option<ExamInfo>,
    pub language: Option<String>,
    pub dir: Option<TextDir>,
    /// Server clock, ms.
    pub deadline: Option<i64>,
    /// Server time minus agent time: the page shows `deadline - (Date.now() + server_offset_ms)`.
    pub server_offset_ms: Option<i64>,
    /// The agent's estimate of the server's clock now, ms.
    pub server_now: Option<i64>,
    pub started_at: Option<i64>,
    /// The item the candidate is at.
    pub current: Option<String>,
    /// Items with at least one choice.
    pub answers: BTreeMap<String, Vec<String>>,
    pub flagged: Vec<String>,
    /// Items in the paper (once unpacked).
    pub total: Option<usize>,
    pub submitted_at: Option<i64>,
    pub submit_reason: Option<SubmitReason>,
    pub result: Option<ExamScore>,
    /// This paper's changes still waiting in the outbox for the server.
    pub pending_outbox: u64,
    pub download: Option<DownloadProgress>,
}

/// `PUT /v1/exam/answers/{item}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Saved {
    pub item: String,
    pub choices: Vec<String>,
    pub seq: u64,
    pub saved_at: i64,
}

/// Whose paper leaves the seat, after a pushed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leave {
    /// The examiner released this candidate from the seat.
    Candidate(String),
    /// Another candidate was assigned here: any paper but theirs.
    AllBut(String),
}

/// `POST /v1/exam/submit`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Submitted {
    pub submitted_at: i64,
    pub reason: SubmitReason,
    pub result: Option<ExamScore>,
}

type Emit = Box<dyn Fn(Event) + Send + Sync>;

/// The exam of this seat, shared by the page API and the sync task.
pub struct Exam {
    link_dir: PathBuf,
    dir: PathBuf,
    server: Option<Arc<LinkClient>>,
    outbox: Outbox,
    inner: Mutex<Inner>,
    emit: Emit,
    download: Mutex<Option<DownloadProgress>>,
    /// Poked by a pushed command or a submission: the sync task looks now.
    wake: Notify,
    /// The server said a paper is ready (or the agent just started): fetch the manifest.
    recheck: AtomicBool,
    /// The server said a result exists: fetch it without waiting for the outbox.
    result_pushed: AtomicBool,
    /// Poked when a result is stored.
    result_ready: Notify,
    /// A release or assignment the sync task has yet to apply.
    leave: Mutex<Option<Leave>>,
}

impl std::fmt::Debug for Exam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exam").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// Reads `paper.json` of an unpacked paper and indexes its items.
fn load_doc(dir: &Path, manifest: &PaperManifest) -> Result<Loaded, String> {
    let path = dir.join(PACKAGE_PAPER);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: PaperDoc = serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if doc.paper_id != manifest.paper_id {
        return Err(format!("paper.json is paper {:?}, the manifest {:?}", doc.paper_id, manifest.paper_id));
    }
    let items =
        doc.items.iter().map(|i| (i.id.clone(), (i.kind, i.choices.iter().map(|c| c.id.clone()).collect()))).collect();
    Ok(Loaded {
        record: PaperRecord {
            paper_id: String::new(),
            booking_number: String::new(),
            manifest: String::new(),
            deadline: 0,
            server_offset_ms: 0,
            unpacked: true,
            started_at: None,
            current: None,
            submitted: None,
            result: None,
        },
        manifest: manifest.clone(),
        doc: Some(doc),
        items,
    })
}

impl Exam {
    /// Opens the exam of the enrolment in `link_dir`: its store and current paper.
    /// `server` is `None` only where nothing fetches (tests, benches).
    pub fn open(
        link_dir: &Path,
        server: Option<Arc<LinkClient>>,
        outbox: Outbox,
        emit: impl Fn(Event) + Send + Sync + 'static,
    ) -> Result<Exam, ExamError> {
        let dir = link_dir.join(EXAM_DIR);
        {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            let io = |source| ExamError::Io { path: dir.clone(), source };
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(io)?;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
        let mut store = ExamStore::open(outbox.path())?;
        let mut paper = None;
        if let Some(record) = store.current()? {
            match serde_json::from_str::<PaperManifest>(&record.manifest) {
                Ok(manifest) => {
                    let mut loaded = Loaded { record, manifest, doc: None, items: BTreeMap::new() };
                    if loaded.record.unpacked {
                        match load_doc(&dir.join("papers").join(&loaded.record.paper_id), &loaded.manifest) {
                            Ok(l) => (loaded.doc, loaded.items) = (l.doc, l.items),
                            Err(e) => {
                                tracing::warn!("the unpacked paper is unreadable, fetching it again: {e}");
                                store.set_unpacked(&loaded.record.paper_id, false)?;
                                loaded.record.unpacked = false;
                            }
                        }
                    }
                    paper = Some(loaded);
                }
                Err(e) => tracing::error!("the stored manifest is unreadable; the paper is fetched again: {e}"),
            }
        }
        Ok(Exam {
            link_dir: link_dir.to_owned(),
            dir,
            server,
            outbox,
            inner: Mutex::new(Inner { store, paper }),
            emit: Box::new(emit),
            download: Mutex::new(None),
            wake: Notify::new(),
            recheck: AtomicBool::new(true),
            result_pushed: AtomicBool::new(false),
            result_ready: Notify::new(),
            leave: Mutex::new(None),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn link_dir(&self) -> &Path {
        &self.link_dir
    }

    pub fn server(&self) -> Option<&Arc<LinkClient>> {
        self.server.as_ref()
    }

    fn papers_dir(&self) -> PathBuf {
        self.dir.join("papers")
    }

    /// A command the server pushed: the sync task acts on it.
    pub fn on_command(&self, command: &examgate_protocol::link::Command) {
        use examgate_protocol::link::Command;
        let leave = |l: Leave| *self.leave.lock().unwrap_or_else(|p| p.into_inner()) = Some(l);
        match command {
            Command::ExamReady { .. } | Command::LoginDecision { .. } => self.recheck.store(true, Ordering::SeqCst),
            Command::ExamResult { .. } => self.result_pushed.store(true, Ordering::SeqCst),
            Command::CandidateReleased { booking_number } => leave(Leave::Candidate(booking_number.clone())),
            Command::CandidateAssigned { booking_number, .. } => {
                leave(Leave::AllBut(booking_number.clone()));
                self.recheck.store(true, Ordering::SeqCst);
            }
            _ => return,
        }
        self.wake.notify_one();
    }

    /// The release or assignment pushed since the last look, if any.
    pub(crate) fn take_leave(&self) -> Option<Leave> {
        self.leave.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The current paper leaves the seat if `rule` says so (its answers stay in
    /// the store, and a re-admission here takes them up again); whether it did.
    pub fn leave(&self, rule: &Leave) -> Result<bool, ExamError> {
        let mut inner = self.lock();
        let Some(p) = &inner.paper else { return Ok(false) };
        let goes = match rule {
            Leave::Candidate(b) => p.record.booking_number == *b,
            Leave::AllBut(b) => p.record.booking_number != *b,
        };
        if !goes {
            return Ok(false);
        }
        tracing::info!(paper = %p.record.paper_id, "the paper leaves this seat with its candidate");
        inner.store.clear_current()?;
        inner.paper = None;
        drop(inner);
        self.set_download(None);
        Ok(true)
    }

    /// What the page shows (`now`: the agent's clock, ms).
    pub fn status(&self, now: i64) -> Result<ExamStatus, ExamError> {
        let inner = self.lock();
        let download = self.download.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(p) = &inner.paper else {
            return Ok(ExamStatus {
                state: "none",
                paper_id: None,
                booking_number: None,
                exam: None,
                language: None,
                dir: None,
                deadline: None,
                server_offset_ms: None,
                server_now: None,
                started_at: None,
                current: None,
                answers: BTreeMap::new(),
                flagged: Vec::new(),
                total: None,
                submitted_at: None,
                submit_reason: None,
                result: None,
                pending_outbox: 0,
                download,
            });
        };
        let r = &p.record;
        let result: Option<ExamResult> = r.result.as_deref().and_then(|t| serde_json::from_str(t).ok());
        let score = result.and_then(|r| r.result);
        let state = match (&score, &r.submitted, r.started_at, r.unpacked) {
            (Some(_), _, _, _) => "finished",
            (None, Some(_), _, _) => "submitted",
            (None, None, _, false) => "downloading",
            (None, None, Some(_), true) => "in_progress",
            (None, None, None, true) => "ready",
        };
        let answers = inner
            .store
            .answers(&r.paper_id)?
            .into_iter()
            .filter(|(_, a)| !a.choices.is_empty())
            .map(|(item, a)| (item, a.choices))
            .collect();
        let pending = self.outbox.pending_with_prefix(&format!("exam-{}-", r.paper_id)).unwrap_or_else(|e| {
            tracing::warn!("outbox: {e}");
            0
        });
        Ok(ExamStatus {
            state,
            paper_id: Some(r.paper_id.clone()),
            booking_number: Some(r.booking_number.clone()),
            exam: Some(p.manifest.exam.clone()),
            language: Some(p.manifest.language.clone()),
            dir: Some(p.doc.as_ref().map_or_else(|| TextDir::of(&p.manifest.language), |d| d.dir)),
            deadline: Some(r.deadline),
            server_offset_ms: Some(r.server_offset_ms),
            server_now: Some(p.server_now(now)),
            started_at: r.started_at,
            current: r.current.clone(),
            answers,
            flagged: inner.store.flags(&r.paper_id)?.into_iter().collect(),
            total: p.doc.as_ref().map(|d| d.items.len()),
            submitted_at: r.submitted.as_ref().map(|s| s.at),
            submit_reason: r.submitted.as_ref().map(|s| s.reason),
            result: score,
            pending_outbox: pending,
            download: if r.unpacked { None } else { download },
        })
    }

    /// The unpacked paper's directory, once it is there.
    fn ready_dir(&self) -> Result<PathBuf, ExamError> {
        let inner = self.lock();
        let p = inner.paper.as_ref().ok_or(ExamError::NoPaper)?;
        if p.doc.is_none() {
            return Err(ExamError::NotReady);
        }
        Ok(self.papers_dir().join(&p.record.paper_id))
    }

    /// `paper.json` as unpacked.
    pub fn paper_json(&self) -> Result<Vec<u8>, ExamError> {
        let path = self.ready_dir()?.join(PACKAGE_PAPER);
        std::fs::read(&path).map_err(|e| ExamError::Package(format!("{}: {e}", path.display())))
    }

    /// A media file of the paper (`media/<file>` or `<file>`) and its MIME type.
    pub fn media(&self, path: &str) -> Result<(Vec<u8>, String), ExamError> {
        let dir = self.ready_dir()?;
        let inner = self.lock();
        let p = inner.paper.as_ref().ok_or(ExamError::NoPaper)?;
        let wanted = if path.starts_with(examgate_protocol::exam::PACKAGE_MEDIA_DIR) {
            path.to_owned()
        } else {
            format!("{}{path}", examgate_protocol::exam::PACKAGE_MEDIA_DIR)
        };
        // Only a file the signed manifest names is served: nothing else under the directory.
        if !p.manifest.files.iter().any(|f| f.path == wanted) || wanted == PACKAGE_PAPER {
            return Err(ExamError::NoMedia(path.to_owned()));
        }
        let mime = p
            .doc
            .iter()
            .flat_map(|d| d.items.iter().flat_map(|i| i.media.iter()))
            .find(|m| m.path == wanted)
            .map(|m| m.mime.clone())
            .unwrap_or_else(|| mime_of(&wanted).to_owned());
        drop(inner);
        let rel = package::safe_relative(&wanted).ok_or_else(|| ExamError::NoMedia(path.to_owned()))?;
        let bytes = std::fs::read(dir.join(rel)).map_err(|_| ExamError::NoMedia(path.to_owned()))?;
        Ok((bytes, mime))
    }

    /// The paper and its items, refusing once submitted or when there is none.
    fn open_paper(inner: &mut Inner) -> Result<&mut Loaded, ExamError> {
        let p = inner.paper.as_mut().ok_or(ExamError::NoPaper)?;
        if p.record.submitted.is_some() {
            return Err(ExamError::Submitted);
        }
        if p.doc.is_none() {
            return Err(ExamError::NotReady);
        }
        Ok(p)
    }

    /// The candidate begins (after the instructions); the deadline does not move.
    pub fn start(&self, now: i64) -> Result<(), ExamError> {
        let mut inner = self.lock();
        let p = Self::open_paper(&mut inner)?;
        let (id, at) = (p.record.paper_id.clone(), p.server_now(now));
        inner.store.start(&id, at)?;
        let p = inner.paper.as_mut().expect("checked above");
        p.record.started_at.get_or_insert(at);
        Ok(())
    }

    /// An answer: checked against the paper, durable, then queued for the server.
    pub fn answer(&self, item: &str, choices: Vec<String>, now: i64) -> Result<Saved, ExamError> {
        let mut inner = self.lock();
        let p = Self::open_paper(&mut inner)?;
        let (kind, offered) = p.items.get(item).ok_or_else(|| ExamError::UnknownItem(item.to_owned()))?;
        let mut seen = BTreeSet::new();
        for c in &choices {
            if !offered.contains(c) {
                return Err(ExamError::BadChoices(format!("item {item:?} has no choice {c:?}")));
            }
            if !seen.insert(c) {
                return Err(ExamError::BadChoices(format!("choice {c:?} is given twice")));
            }
        }
        if choices.len() > 1 && *kind != ItemKind::Multiple {
            return Err(ExamError::BadChoices(format!("item {item:?} takes one choice, not {}", choices.len())));
        }
        let at = p.server_now(now);
        if at >= p.record.deadline {
            return Err(ExamError::PastDeadline);
        }
        let paper_id = p.record.paper_id.clone();
        let (booking, exam_id) = (p.record.booking_number.clone(), p.manifest.exam.id.clone());
        if p.record.started_at.is_none() {
            p.record.started_at = Some(at);
            inner.store.start(&paper_id, at)?;
        }
        let change = inner.store.save_answer(&paper_id, item, &choices, at, |c| outgoing(&booking, &exam_id, c))?;
        Ok(Saved { item: item.to_owned(), choices, seq: change.seq, saved_at: at })
    }

    pub fn flag(&self, item: &str, flagged: bool) -> Result<(), ExamError> {
        let mut inner = self.lock();
        let p = Self::open_paper(&mut inner)?;
        if !p.items.contains_key(item) {
            return Err(ExamError::UnknownItem(item.to_owned()));
        }
        let id = p.record.paper_id.clone();
        inner.store.set_flag(&id, item, flagged)?;
        Ok(())
    }

    pub fn position(&self, item: &str) -> Result<(), ExamError> {
        let mut inner = self.lock();
        let p = Self::open_paper(&mut inner)?;
        if !p.items.contains_key(item) {
            return Err(ExamError::UnknownItem(item.to_owned()));
        }
        let id = p.record.paper_id.clone();
        p.record.current = Some(item.to_owned());
        inner.store.set_position(&id, item)?;
        Ok(())
    }

    /// Submits the paper (a second submit answers the first); `exam_submitted` goes out once.
    pub fn submit(&self, reason: SubmitReason, now: i64) -> Result<Submitted, ExamError> {
        let mut inner = self.lock();
        let p = inner.paper.as_ref().ok_or(ExamError::NoPaper)?;
        if let Some(s) = &p.record.submitted {
            let result = p.record.result.as_deref().and_then(|t| serde_json::from_str::<ExamResult>(t).ok());
            return Ok(Submitted { submitted_at: s.at, reason: s.reason, result: result.and_then(|r| r.result) });
        }
        let (id, at) = (p.record.paper_id.clone(), p.server_now(now));
        let (booking, exam_id) = (p.record.booking_number.clone(), p.manifest.exam.id.clone());
        let change = inner.store.submit(&id, reason, at, |c| outgoing(&booking, &exam_id, c))?;
        if let Some(p) = inner.paper.as_mut() {
            p.record.submitted = Some(store::Submission { at, reason, seq: change.seq });
        }
        drop(inner);
        tracing::info!(paper = %id, reason = reason.as_str(), "paper submitted");
        (self.emit)(Event::ExamSubmitted { timestamp: Timestamp::now(), paper_id: id, submitted_at: at, reason });
        self.wake.notify_one();
        Ok(Submitted { submitted_at: at, reason, result: None })
    }

    /// Waits up to `wait` for the result of a submitted paper.
    pub async fn await_result(&self, wait: std::time::Duration) -> Option<ExamScore> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.result_ready.notified();
            let score = {
                let inner = self.lock();
                inner
                    .paper
                    .as_ref()
                    .and_then(|p| p.record.result.as_deref())
                    .and_then(|t| serde_json::from_str::<ExamResult>(t).ok().and_then(|r| r.result))
            };
            if score.is_some() {
                return score;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    // ---- what the sync task does ----

    /// A verified manifest: stored and made current. Returns whether the paper is new here.
    pub fn accept_manifest(&self, m: &PaperManifest, server_offset_ms: i64, now: i64) -> Result<bool, ExamError> {
        let mut inner = self.lock();
        let fresh = inner.paper.as_ref().is_none_or(|p| p.record.paper_id != m.paper_id);
        let text = serde_json::to_string(m).expect("a manifest serialises");
        let new = NewPaper {
            paper_id: m.paper_id.clone(),
            booking_number: m.booking_number.clone(),
            manifest: text,
            deadline: m.deadline,
            server_offset_ms,
        };
        let record = inner.store.put_paper(&new, now)?;
        let unpacked = record.unpacked;
        let mut loaded = Loaded { record, manifest: m.clone(), doc: None, items: BTreeMap::new() };
        if unpacked {
            match load_doc(&self.papers_dir().join(&m.paper_id), m) {
                Ok(l) => (loaded.doc, loaded.items) = (l.doc, l.items),
                Err(e) => {
                    tracing::warn!("the unpacked paper is unreadable, fetching it again: {e}");
                    inner.store.set_unpacked(&m.paper_id, false)?;
                    loaded.record.unpacked = false;
                }
            }
        }
        inner.paper = Some(loaded);
        Ok(fresh)
    }

    /// The current paper, as the sync task needs it.
    pub(crate) fn current(&self) -> Option<(PaperRecord, PaperManifest)> {
        self.lock().paper.as_ref().map(|p| (p.record.clone(), p.manifest.clone()))
    }

    /// Where the package of `paper_id` is downloaded to.
    pub fn partial(&self, paper_id: &str) -> package::Partial {
        package::Partial::new(self.papers_dir().join(format!("{paper_id}.tar.part")))
    }

    pub(crate) fn set_download(&self, progress: Option<DownloadProgress>) {
        *self.download.lock().unwrap_or_else(|p| p.into_inner()) = progress;
    }

    /// The downloaded package: checked whole, unpacked against the manifest,
    /// `paper.json` read; then the paper is ready and `exam_ready` goes out.
    pub fn install(&self, paper_id: &str) -> Result<(), ExamError> {
        let (manifest, expected) = {
            let inner = self.lock();
            let p = inner.paper.as_ref().filter(|p| p.record.paper_id == paper_id).ok_or(ExamError::NoPaper)?;
            (p.manifest.clone(), manifest::expected(&p.manifest))
        };
        let part = self.partial(paper_id);
        let dest = self.papers_dir().join(paper_id);
        let checked = part.check(&expected).and_then(|()| package::unpack(part.path(), &expected, &dest));
        if let Err(e) = checked {
            if !e.is_short() {
                // A package that cannot become right by waiting: start it over.
                let _ = part.discard();
            }
            return Err(ExamError::Package(e.to_string()));
        }
        let loaded = match load_doc(&dest, &manifest) {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dest);
                let _ = part.discard();
                return Err(ExamError::Package(e));
            }
        };
        let _ = part.discard();
        let mut inner = self.lock();
        inner.store.set_unpacked(paper_id, true)?;
        if let Some(p) = inner.paper.as_mut().filter(|p| p.record.paper_id == paper_id) {
            p.record.unpacked = true;
            p.doc = loaded.doc;
            p.items = loaded.items;
        }
        drop(inner);
        self.set_download(None);
        tracing::info!(paper = %paper_id, "the paper is at the seat");
        (self.emit)(Event::ExamReady { timestamp: Timestamp::now(), paper_id: paper_id.to_owned() });
        Ok(())
    }

    /// The answers the server holds (a spare PC continuing), merged by seq.
    pub fn merge_held(&self, paper_id: &str, held: &HeldAnswers, now: i64) -> Result<usize, ExamError> {
        let server: BTreeMap<String, store::Answer> = held
            .iter()
            .map(|(item, a)| (item.clone(), store::Answer { choices: a.choices.clone(), seq: a.seq, saved_at: now }))
            .collect();
        Ok(self.lock().store.merge_server_answers(paper_id, &server)?)
    }

    /// The server's view of the attempt: a result is stored (and announced once);
    /// an attempt the server closed is closed here too.
    pub fn take_result(&self, r: &ExamResult) -> Result<bool, ExamError> {
        let Some(score) = &r.result else { return Ok(false) };
        let mut inner = self.lock();
        let Some(p) = inner.paper.as_ref().filter(|p| p.record.paper_id == r.paper_id) else { return Ok(false) };
        if p.record.result.is_some() {
            return Ok(false);
        }
        let closed_here = p.record.submitted.is_none();
        let text = serde_json::to_string(r).expect("a result serialises");
        inner.store.set_result(&r.paper_id, &text)?;
        if closed_here {
            inner.store.closed_by_server(&r.paper_id, score.submitted_at, score.reason)?;
        }
        if let Some(p) = inner.paper.as_mut() {
            p.record.result = Some(text);
            if closed_here {
                p.record.submitted = Some(store::Submission { at: score.submitted_at, reason: score.reason, seq: 0 });
            }
        }
        drop(inner);
        tracing::info!(paper = %r.paper_id, "the result is here");
        (self.emit)(Event::ExamResult {
            timestamp: Timestamp::now(),
            paper_id: r.paper_id.clone(),
            passed: score.passed,
        });
        self.result_ready.notify_waiters();
        Ok(true)
    }

    /// This paper's changes still waiting in the outbox.
    pub(crate) fn pending(&self, paper_id: &str) -> u64 {
        self.outbox.pending_with_prefix(&format!("exam-{paper_id}-")).unwrap_or(1)
    }
}

/// The outbox item of a change, under the key `exam-<paper>-<seq>`.
fn outgoing(booking_number: &str, exam_id: &str, c: &Change) -> Outgoing {
    let (item, kind) = match &c.what {
        ChangeKind::Answer { item, choices } => (
            DeliveryItem::ExamAnswer {
                booking_number: booking_number.to_owned(),
                paper_id: c.paper_id.clone(),
                item: item.clone(),
                choices: choices.clone(),
                seq: c.seq,
                answered_at: Timestamp::from_unix_millis(c.at),
            },
            "exam_answer",
        ),
        ChangeKind::Submit { reason } => (
            DeliveryItem::ExamSubmit {
                booking_number: booking_number.to_owned(),
                paper_id: c.paper_id.clone(),
                seq: c.seq,
                reason: *reason,
            },
            "exam_submit",
        ),
    };
    let d = Delivery { seat: None, exam: exam_id.to_owned(), created_at: Timestamp::from_unix_millis(c.at), item };
    let body = serde_json::to_vec(&d).expect("a delivery serialises");
    Outgoing { key: format!("exam-{}-{}", c.paper_id, c.seq), kind, body }
}

/// A media type by file extension, for files paper.json does not describe.
fn mime_of(path: &str) -> &'static str {
    match path.rsplit('.').next().map(str::to_ascii_lowercase).as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("webp") => "image/webp",
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
pub(crate) mod tests;
