//! When to try loading a plugin again: a capped doubling backoff after each
//! failed load, cut short when the plugin's file changes on disk (a vendor
//! replacing it, or a missing file appearing). Pure bookkeeping: the caller
//! passes the time and what it saw of the file, so tests step the clock.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// The first wait after a failure; it doubles up to [`Backoff::max`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { first: Duration::from_secs(2), max: Duration::from_secs(60) }
    }
}

impl Backoff {
    /// The wait after `failures` failed attempts in a row (1 or more).
    pub fn after(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        self.first.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// What identifies one version of a file: a replaced or rewritten file
/// differs in at least one of these. `None` stands for a missing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    pub inode: u64,
    pub size: u64,
    pub modified: Option<SystemTime>,
}

impl FileStamp {
    /// The file as it is now; `None` when it cannot be read (missing).
    pub fn of(path: &Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        Some(FileStamp { inode: meta.ino(), size: meta.len(), modified: meta.modified().ok() })
    }
}

/// The last failure, as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    /// Failed attempts in a row.
    pub failures: u32,
    /// When the next attempt is due (unless the file changes first).
    pub next_at: Instant,
}

/// The retry state of one plugin.
#[derive(Clone, Debug, Default)]
pub struct Retry {
    backoff: Backoff,
    failure: Option<Failure>,
    /// The file as it was at the failed attempt.
    seen: Option<FileStamp>,
}

/// Why an attempt is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Never tried, or the backoff has run out.
    Time,
    /// The file is not what failed: try it now.
    FileChanged,
}

impl Retry {
    pub fn new(backoff: Backoff) -> Retry {
        Retry { backoff, failure: None, seen: None }
    }

    /// Whether to try loading now, given the time and the file as it is now.
    pub fn due(&self, now: Instant, file: Option<FileStamp>) -> Option<Due> {
        let Some(failure) = &self.failure else { return Some(Due::Time) };
        if file != self.seen {
            Some(Due::FileChanged)
        } else if now >= failure.next_at {
            Some(Due::Time)
        } else {
            None
        }
    }

    /// Record a failed attempt made at `now` on the file as it was then;
    /// returns the wait before the next one.
    pub fn failed(&mut self, now: Instant, file: Option<FileStamp>, reason: String) -> Duration {
        let failures = self.failure.as_ref().map_or(0, |f| f.failures).saturating_add(1);
        let wait = self.backoff.after(failures);
        self.failure = Some(Failure { reason, failures, next_at: now + wait });
        self.seen = file;
        wait
    }

    /// The current failure, if the last attempt failed.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(inode: u64, size: u64) -> Option<FileStamp> {
        Some(FileStamp { inode, size, modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(inode)) })
    }

    #[test]
    fn backoff_doubles_from_two_seconds_up_to_a_minute() {
        let b = Backoff::default();
        let waits: Vec<u64> = (1..=8).map(|n| b.after(n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.after(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn a_first_attempt_is_due_at_once() {
        let r = Retry::new(Backoff::default());
        assert_eq!(r.due(Instant::now(), None), Some(Due::Time));
        assert!(r.failure().is_none());
    }

    #[test]
    fn a_failed_plugin_is_tried_again_when_its_backoff_runs_out() {
        let t0 = Instant::now();
        let mut r = Retry::new(Backoff::default());
        let file = stamp(1, 100);
        assert_eq!(r.failed(t0, file, "ABI version 999".into()), Duration::from_secs(2));
        assert_eq!(r.due(t0 + Duration::from_millis(1999), file), None);
        assert_eq!(r.due(t0 + Duration::from_secs(2), file), Some(Due::Time));

        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(r.failed(t1, file, "ABI version 999".into()), Duration::from_secs(4));
        let f = r.failure().unwrap();
        assert_eq!((f.failures, f.next_at, f.reason.as_str()), (2, t1 + Duration::from_secs(4), "ABI version 999"));
        assert_eq!(r.due(t1 + Duration::from_secs(3), file), None);
        assert_eq!(r.due(t1 + Duration::from_secs(4), file), Some(Due::Time));
    }

    #[test]
    fn a_replaced_or_appearing_file_is_tried_at_once() {
        let t0 = Instant::now();
        let mut r = Retry::new(Backoff::default());
        for n in 1..=7 {
            r.failed(t0, stamp(1, 100), "crashed while loading".into());
            assert_eq!(r.failure().unwrap().failures, n);
        }
        let soon = t0 + Duration::from_secs(1);
        assert_eq!(r.due(soon, stamp(1, 100)), None, "the same file waits out its minute");
        assert_eq!(r.due(soon, stamp(2, 100)), Some(Due::FileChanged), "renamed over: a new inode");
        assert_eq!(r.due(soon, stamp(1, 120)), Some(Due::FileChanged), "rewritten in place: a new size");
        assert_eq!(r.due(soon, None), Some(Due::FileChanged), "deleted");

        let mut missing = Retry::new(Backoff::default());
        missing.failed(t0, None, "no such file".into());
        assert_eq!(missing.due(soon, None), None);
        assert_eq!(missing.due(soon, stamp(3, 100)), Some(Due::FileChanged), "the file appeared");
    }

    #[test]
    fn a_change_that_fails_again_keeps_counting_and_waits_from_then() {
        let t0 = Instant::now();
        let mut r = Retry::new(Backoff::default());
        r.failed(t0, None, "no such file".into());
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(r.due(t1, stamp(4, 10)), Some(Due::FileChanged));
        assert_eq!(r.failed(t1, stamp(4, 10), "ABI version 999".into()), Duration::from_secs(4));
        assert_eq!(r.due(t1 + Duration::from_secs(1), stamp(4, 10)), None, "the new file is what failed now");
        assert_eq!(r.failure().unwrap().reason, "ABI version 999");
    }

    #[test]
    fn file_stamps_see_a_missing_file_and_a_replaced_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("libvendor.so");
        assert_eq!(FileStamp::of(&path), None);
        std::fs::write(&path, b"first").unwrap();
        let first = FileStamp::of(&path).unwrap();
        assert_eq!(first.size, 5);
        let staged = dir.path().join("libvendor.so.new");
        std::fs::write(&staged, b"second").unwrap();
        std::fs::rename(&staged, &path).unwrap();
        assert_ne!(FileStamp::of(&path), Some(first));
    }
}
