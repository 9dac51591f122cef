//! The exam's task in `run --link-dir` (the process with the link client):
//! it fetches the signed manifest (on `exam_ready` or a login decision, at
//! start, and every 30 s while the seat has no paper, so a restart or a spare PC
//! finds the candidate's paper), downloads and installs the package with
//! resume and backoff while the server is away, continues from the answers
//! the server holds when the paper is new here, submits by itself at the
//! deadline (even with the server away), and fetches the result once the
//! outbox has delivered the submission or the server says it has one.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use examgate_protocol::exam::PaperManifest;
use tokio::sync::watch;

use super::manifest::{ServerKey, verify};
use super::store::SubmitReason;
use super::{DownloadProgress, Exam, ExamError, Leave};
use crate::link::client::{Failure, LinkClient};
use crate::link::now_ms;
use crate::link::service::{Pacing, backoff};

/// How often a seat without a paper asks the server for one (a pushed
/// `exam_ready` or login decision asks at once): a room of idle seats costs
/// the server little.
const LOOK_FOR_PAPER: Duration = Duration::from_secs(30);
/// How often a submitted seat looks whether the outbox has delivered the submission.
const LOOK_FOR_RESULT: Duration = Duration::from_millis(500);
/// The longest the task sleeps in an exam (the deadline is also a wake-up).
const LONGEST_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    Server(#[from] Failure),
    #[error(transparent)]
    Exam(#[from] ExamError),
    #[error("{0}")]
    Other(String),
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ExamError> + Send + 'static,
) -> Result<T, ExamError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ExamError::Package(format!("exam task failed: {e}")))?
}

/// The server key pinned beside the certificate; fetched once over the pinned TLS if enrolment left none.
async fn server_key(exam: &Exam, client: &LinkClient) -> Result<ServerKey, SyncError> {
    if let Some(key) = ServerKey::load(exam.link_dir()).map_err(|e| SyncError::Other(e.to_string()))? {
        return Ok(key);
    }
    let status = client.status().await?;
    let text = status
        .server_key
        .ok_or_else(|| SyncError::Other("the server gives no paper signing key; upgrade examgate-server".into()))?;
    let key = ServerKey::parse(&text).map_err(|e| SyncError::Other(e.to_string()))?;
    key.save(exam.link_dir()).map_err(|e| SyncError::Other(e.to_string()))?;
    tracing::info!(key = %key.to_base64(), "pinned the server's paper signing key");
    Ok(key)
}

/// Fetches and checks the manifest; `None` when the seat's candidate has no paper.
async fn fetch_manifest(exam: &Arc<Exam>, client: &LinkClient) -> Result<Option<bool>, SyncError> {
    let key = server_key(exam, client).await?;
    let sent = now_ms();
    let m: PaperManifest = match client.exam_paper(None).await {
        Ok(m) => m,
        Err(Failure::Refused { status: 404, .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let received = now_ms();
    verify(&m, &key).map_err(|e| SyncError::Other(format!("paper manifest refused: {e}")))?;
    // The server's clock was read somewhere in the round trip: its middle is the best guess.
    let offset = m.server_time - (sent + received) / 2;
    let e = Arc::clone(exam);
    let paper_id = m.paper_id.clone();
    let fresh = blocking(move || e.accept_manifest(&m, offset, received)).await?;
    if fresh {
        tracing::info!(paper = %paper_id, offset_ms = offset, "a paper for this seat");
        // A spare PC, or a seat that lost its store: go on from what the server holds.
        match client.exam_answers(&paper_id).await {
            Ok(held) if !held.is_empty() => {
                let e = Arc::clone(exam);
                let n = blocking(move || e.merge_held(&paper_id, &held, now_ms())).await?;
                tracing::info!(answers = n, "continuing with the answers the server holds");
            }
            Ok(_) => {}
            Err(e) => {
                // The merge must not be skipped: look again at the next step.
                exam.recheck.store(true, Ordering::SeqCst);
                return Err(e.into());
            }
        }
    }
    Ok(Some(fresh))
}

/// Downloads the rest of the package into its `.part` file, then installs it.
async fn download(exam: &Arc<Exam>, client: &LinkClient, m: &PaperManifest) -> Result<(), SyncError> {
    let size = m.package.size;
    let part = exam.partial(&m.paper_id);
    let mut at = part.resume_at(size).map_err(|e| SyncError::Other(e.to_string()))?;
    exam.set_download(Some(DownloadProgress { received: at, size, error: None }));
    if at < size {
        let mut resp = client.exam_package(&m.paper_id, at).await?;
        if resp.status() != reqwest::StatusCode::PARTIAL_CONTENT {
            at = 0;
        }
        let mut file = part.append_from(at).map_err(|e| SyncError::Other(e.to_string()))?;
        use std::io::Write;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    file.write_all(&chunk).map_err(|e| SyncError::Other(format!("{}: {e}", part.path().display())))?;
                    at += chunk.len() as u64;
                    exam.set_download(Some(DownloadProgress { received: at, size, error: None }));
                    if at > size {
                        break; // more than announced: the check refuses it
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // What arrived stays for the next attempt to resume from.
                    let _ = file.sync_all();
                    return Err(Failure::Unreachable(format!("the package download broke off: {e}")).into());
                }
            }
        }
        file.sync_all().map_err(|e| SyncError::Other(format!("{}: {e}", part.path().display())))?;
    }
    let e = Arc::clone(exam);
    let id = m.paper_id.clone();
    blocking(move || e.install(&id)).await?;
    Ok(())
}

/// One look at where the exam stands; how long to wait before the next.
async fn step(exam: &Arc<Exam>, client: &LinkClient) -> Result<Duration, SyncError> {
    if let Some(rule) = exam.take_leave() {
        let e = Arc::clone(exam);
        blocking(move || e.leave(&rule)).await?;
    }
    let have = exam.current();
    if have.is_none() || exam.recheck.swap(false, Ordering::SeqCst) {
        match fetch_manifest(exam, client).await {
            Ok(None) if have.is_none() => return Ok(LOOK_FOR_PAPER),
            // The server gives this seat no paper today and the one here is over (its result
            // is in, so every answer was delivered): its candidate has gone, as on the next
            // day, and the seat starts over for the next one instead of showing that result.
            Ok(None) if have.as_ref().is_some_and(|(r, _)| r.result.is_some()) => {
                let rule = Leave::Candidate(have.map(|(r, _)| r.booking_number).unwrap_or_default());
                let e = Arc::clone(exam);
                blocking(move || e.leave(&rule)).await?;
                return Ok(LOOK_FOR_PAPER);
            }
            Ok(_) => {}
            Err(e) if have.is_some() => tracing::warn!("the paper could not be checked with the server: {e}"),
            Err(e) => return Err(e),
        }
    }
    let Some((record, manifest)) = exam.current() else { return Ok(LOOK_FOR_PAPER) };
    if !record.unpacked
        && let Err(e) = download(exam, client, &manifest).await
    {
        let mut p = DownloadProgress { received: 0, size: manifest.package.size, error: Some(e.to_string()) };
        if let Ok(have) = exam.partial(&manifest.paper_id).resume_at(manifest.package.size) {
            p.received = have;
        }
        exam.set_download(Some(p));
        return Err(e);
    }
    let Some((record, _)) = exam.current() else { return Ok(LOOK_FOR_PAPER) };
    let server_now = now_ms() + record.server_offset_ms;
    if record.submitted.is_none() {
        if server_now >= record.deadline {
            let e = Arc::clone(exam);
            blocking(move || e.submit(SubmitReason::Timeout, now_ms()).map(drop)).await?;
            return Ok(Duration::ZERO);
        }
        let left = Duration::from_millis(u64::try_from(record.deadline - server_now).unwrap_or(0));
        return Ok(left.min(LONGEST_WAIT));
    }
    if record.result.is_some() {
        return Ok(LONGEST_WAIT);
    }
    let pushed = exam.result_pushed.swap(false, Ordering::SeqCst);
    let e = Arc::clone(exam);
    let id = record.paper_id.clone();
    let pending = tokio::task::spawn_blocking(move || e.pending(&id)).await.unwrap_or(1);
    if pending > 0 && !pushed {
        return Ok(LOOK_FOR_RESULT);
    }
    let result = client.exam_result(&record.paper_id).await?;
    let e = Arc::clone(exam);
    if !blocking(move || e.take_result(&result)).await? {
        return Ok(LOOK_FOR_RESULT * 2);
    }
    Ok(LONGEST_WAIT)
}

/// Runs until `stopping` turns true.
pub async fn run(exam: Arc<Exam>, mut stopping: watch::Receiver<bool>) {
    let Some(client) = exam.server().cloned() else { return };
    let pacing = Pacing::default();
    let mut failures = 0u32;
    loop {
        let wait = match step(&exam, &client).await {
            Ok(wait) => {
                failures = 0;
                wait
            }
            Err(e) => {
                let wait = backoff(&pacing, failures);
                failures = failures.saturating_add(1);
                tracing::warn!("exam: {e}; trying again in {wait:?}");
                // The deadline is kept even while the server is away.
                match exam.current() {
                    Some((r, _)) if r.submitted.is_none() && r.unpacked => {
                        let left = r.deadline - (now_ms() + r.server_offset_ms);
                        wait.min(Duration::from_millis(u64::try_from(left).unwrap_or(0)))
                    }
                    _ => wait,
                }
            }
        };
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            _ = exam.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = async { stopping.wait_for(|s| *s).await.is_ok() } => return,
        }
    }
}
