//! The deadline closer: every attempt still open at deadline + `[exam]
//! grace_secs` is closed and scored with the answers the server holds
//! (reason `timeout`), so a seat that never comes back is still scored. It
//! looks at start-up first, so a server restarted mid-exam closes whatever
//! fell due while it was down.

use std::time::Duration;

use examgate_protocol::exam::SubmitReason;

use crate::api::AppState;
use crate::error::AppError;
use crate::store::{CloseOutcome, PaperRow};

/// How often the closer looks.
pub const EVERY: Duration = Duration::from_secs(2);

/// Closes every attempt whose deadline + grace is before `now`; returns the papers it closed.
pub async fn close_overdue(state: &AppState, now: i64) -> Result<Vec<PaperRow>, AppError> {
    let mut closed = Vec::new();
    for paper_id in state.store.overdue_papers(now - state.config.exam.grace_ms).await? {
        let Some(paper) = state.store.paper(&paper_id).await? else { continue };
        match crate::api::exam::close(state, &paper, SubmitReason::Timeout, "server".into(), None).await {
            Ok(CloseOutcome::Closed { paper, .. }) => closed.push(*paper),
            Ok(_) => {}
            Err(e) => tracing::error!(paper = %paper_id, "cannot close an overdue paper: {}", e.message),
        }
    }
    Ok(closed)
}

/// Runs [`close_overdue`] now and then every [`EVERY`].
pub fn spawn(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            match close_overdue(&state, crate::now_ms()).await {
                Ok(closed) if !closed.is_empty() => tracing::info!(papers = closed.len(), "closed at their deadline"),
                Ok(_) => {}
                Err(e) => tracing::warn!("the deadline closer failed: {}", e.message),
            }
            match crate::api::invigilation::remind_due(&state, crate::now_ms()).await {
                Ok(n) if n > 0 => tracing::info!(papers = n, "end-of-time reminders pushed"),
                Ok(_) => {}
                Err(e) => tracing::warn!("the end-of-time reminders failed: {}", e.message),
            }
        }
    });
}
