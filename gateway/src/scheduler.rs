//! The scheduled snapshots of an exam, taken while the agent runs.
//!
//! The times come from [`Schedule::plan`] over the exam's secret seed, so
//! an agent restarted mid-exam draws the same ones; the store says which
//! were taken already ([`Snapshots::scheduled_taken`]), so none is taken
//! twice. A time that passed while the agent was down is taken at once,
//! late rather than never, unless the exam is over. Neither the seed nor
//! the times are ever logged or sent to the page.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use crate::camera::{self, Snapshots};
use crate::devices::DeviceManager;
use crate::snapshot::{Schedule, SnapshotReason};

/// Take this seat's scheduled snapshots until the schedule is done, the
/// exam is over, or `stop` turns true. Returns at once without a schedule.
pub async fn run(devices: DeviceManager, snapshots: Arc<Snapshots>, mut stop: watch::Receiver<bool>) {
    let Some(settings) = snapshots.settings().schedule.clone() else { return };
    let exam = snapshots.settings().exam.clone();
    let plan = match Schedule::plan(&settings.seed, &exam.seat, &exam.exam, settings.window, &settings.policy) {
        Ok(plan) => plan,
        Err(e) => {
            tracing::error!(seat = %exam.seat, exam = %exam.exam, "no scheduled snapshots: {e}");
            return;
        }
    };
    tracing::info!(seat = %exam.seat, exam = %exam.exam, count = plan.len(), "snapshot schedule set");
    // Attempts that did not store (a full store) are not retried: the
    // alarm has been raised, and the schedule moves on.
    let mut attempted = BTreeSet::new();
    loop {
        let store = Arc::clone(&snapshots);
        let taken = match tokio::task::spawn_blocking(move || store.scheduled_taken()).await {
            Ok(Ok(taken)) => taken,
            Ok(Err(e)) => {
                tracing::error!("the snapshot schedule stops: cannot read the store: {e}");
                return;
            }
            Err(e) => {
                tracing::error!("the snapshot schedule stops: {e}");
                return;
            }
        };
        let done: BTreeSet<u32> = taken.union(&attempted).copied().collect();
        let Some((index, at)) = plan.next_pending(&done) else {
            tracing::info!(seat = %exam.seat, exam = %exam.exam, "every scheduled snapshot of the exam is taken");
            return;
        };
        if SystemTime::now() >= plan.window().end() {
            let missed = plan.len() - done.len();
            tracing::warn!(seat = %exam.seat, exam = %exam.exam, missed, "the exam is over; scheduled snapshots not taken");
            return;
        }
        let wait = at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            // Drop the watch guard inside: it must not live across an await.
            _ = async { stop.wait_for(|stopping| *stopping).await.is_ok() } => return,
        }
        attempted.insert(index);
        match camera::take(&devices, &snapshots, None, SnapshotReason::Scheduled(index)).await {
            Ok(record) if record.flags.is_empty() => tracing::info!("scheduled {} taken", record.log_tag()),
            Ok(record) => tracing::warn!(flags = %record.flags, "scheduled {} taken", record.log_tag()),
            Err(e) => tracing::error!("a scheduled snapshot was not kept: {e}"),
        }
    }
}
