//! When to take the scheduled snapshots of an exam.
//!
//! The server sends the agent a secret [`ScheduleSeed`] per exam; the agent
//! never gives it, nor the times drawn from it, to the seat page, so the
//! candidate cannot know when the camera looks. The times are a pure
//! function of (seed, seat, exam, window, policy): an agent restarted mid-exam
//! draws the same times again (restarting cannot reshuffle them), and the
//! server can recompute every seat's schedule to audit that none was skipped.
//!
//! Drawing: `count` instants uniform on the window less its margins, subject
//! to a minimum gap, by the standard construction: draw `count` points
//! uniform on the usable length shortened by `(count - 1) * min_gap`, sort
//! them, and push the i-th one later by `i * min_gap`. Every arrangement
//! that respects the gap is equally likely.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use examgate_agent::snapshot::{ExamWindow, Schedule, ScheduleSeed, SnapshotPolicy};
//! let seed = ScheduleSeed::from_bytes([7; 32]);
//! let window = ExamWindow { start: SystemTime::UNIX_EPOCH, length: Duration::from_secs(45 * 60) };
//! let policy = SnapshotPolicy { count: 4, min_gap: Duration::from_secs(5 * 60), margin: Duration::from_secs(60) };
//! let plan = Schedule::plan(&seed, &"A-017".parse().unwrap(), &"k1-am".parse().unwrap(), window, &policy).unwrap();
//! assert_eq!(plan.len(), 4);
//! assert!(plan.offsets().windows(2).all(|w| w[1] - w[0] >= policy.min_gap));
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::record::{ExamId, SeatNo};

/// The per-exam secret the times are drawn from.
#[derive(Clone, PartialEq, Eq)]
pub struct ScheduleSeed([u8; 32]);

impl ScheduleSeed {
    pub fn from_bytes(bytes: [u8; 32]) -> ScheduleSeed {
        ScheduleSeed(bytes)
    }

    /// From 64 hex digits, as the server sends it.
    pub fn from_hex(hex: &str) -> Result<ScheduleSeed, SeedError> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(SeedError);
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| SeedError)?;
        }
        Ok(ScheduleSeed(bytes))
    }
}

impl fmt::Debug for ScheduleSeed {
    // The seed is the secret of the schedule: never in a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScheduleSeed(<secret>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a schedule seed is 64 hex digits (32 bytes)")]
pub struct SeedError;

/// The exam's time span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExamWindow {
    pub start: SystemTime,
    pub length: Duration,
}

impl ExamWindow {
    pub fn end(&self) -> SystemTime {
        self.start + self.length
    }
}

/// How many scheduled snapshots an exam gets, and how far apart.
/// On-demand ones (identity verification, examiner request) come on top.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotPolicy {
    pub count: u32,
    /// At least this long between two scheduled snapshots.
    pub min_gap: Duration,
    /// No scheduled snapshot this close to the start or the end of the window.
    pub margin: Duration,
}

impl Default for SnapshotPolicy {
    /// Five in the window, three minutes apart at least, none in the first
    /// or last minute.
    fn default() -> Self {
        SnapshotPolicy { count: 5, min_gap: Duration::from_secs(180), margin: Duration::from_secs(60) }
    }
}

/// Most scheduled snapshots one exam may have.
pub const MAX_SCHEDULED: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "{count} snapshots {min_gap:?} apart need {needed:?} inside the margins, but the window leaves {usable:?}; \
         ask for fewer snapshots or a smaller gap"
    )]
    WindowTooShort { count: u32, min_gap: Duration, needed: Duration, usable: Duration },
    #[error("{0} scheduled snapshots is more than the {MAX_SCHEDULED} allowed")]
    TooMany(u32),
}

/// A deterministic random stream keyed by the seed: SHA-256 in counter mode
/// over (seed, domain, seat, exam).
struct Stream {
    key: Sha256,
    counter: u64,
    buffer: Vec<u64>,
}

impl Stream {
    fn new(seed: &ScheduleSeed, seat: &SeatNo, exam: &ExamId) -> Stream {
        let mut key = Sha256::new();
        key.update(seed.0);
        key.update(b"examgate snapshot schedule v1");
        // Length-prefixed, so (seat, exam) pairs cannot run into each other.
        for part in [seat.as_str(), exam.as_str()] {
            key.update((part.len() as u64).to_le_bytes());
            key.update(part.as_bytes());
        }
        Stream { key, counter: 0, buffer: Vec::new() }
    }

    fn next_u64(&mut self) -> u64 {
        if self.buffer.is_empty() {
            let block = self.key.clone().chain_update(self.counter.to_le_bytes()).finalize();
            self.counter += 1;
            self.buffer = block.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
        }
        self.buffer.pop().expect("refilled above")
    }

    /// Uniform on `0..=max`, without modulo bias.
    fn below_or_equal(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            return self.next_u64();
        }
        let span = max + 1;
        let zone = u64::MAX - (u64::MAX % span) - 1;
        loop {
            let x = self.next_u64();
            if x <= zone {
                return x % span;
            }
        }
    }
}

/// The scheduled snapshot times of one seat in one exam.
#[derive(Clone, PartialEq, Eq)]
pub struct Schedule {
    window: ExamWindow,
    offsets: Vec<Duration>,
}

impl fmt::Debug for Schedule {
    // The times are as secret as the seed they come from.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({} snapshots, <times secret>)", self.offsets.len())
    }
}

impl Schedule {
    /// Draw the times of `policy.count` snapshots for `seat` in `exam`.
    pub fn plan(
        seed: &ScheduleSeed,
        seat: &SeatNo,
        exam: &ExamId,
        window: ExamWindow,
        policy: &SnapshotPolicy,
    ) -> Result<Schedule, PlanError> {
        if policy.count > MAX_SCHEDULED {
            return Err(PlanError::TooMany(policy.count));
        }
        if policy.count == 0 {
            return Ok(Schedule { window, offsets: Vec::new() });
        }
        let margins = policy.margin.checked_mul(2).unwrap_or(Duration::MAX);
        let usable = window.length.saturating_sub(margins);
        let needed = policy.min_gap.checked_mul(policy.count - 1).unwrap_or(Duration::MAX);
        let too_short = || PlanError::WindowTooShort { count: policy.count, min_gap: policy.min_gap, needed, usable };
        if window.length < margins || needed > usable {
            return Err(too_short());
        }
        let slack = u64::try_from((usable - needed).as_nanos()).map_err(|_| too_short())?;
        let mut stream = Stream::new(seed, seat, exam);
        let mut points: Vec<u64> = (0..policy.count).map(|_| stream.below_or_equal(slack)).collect();
        points.sort_unstable();
        let offsets = points
            .into_iter()
            .enumerate()
            .map(|(i, p)| policy.margin + Duration::from_nanos(p) + policy.min_gap * i as u32)
            .collect();
        Ok(Schedule { window, offsets })
    }

    pub fn window(&self) -> ExamWindow {
        self.window
    }

    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Offsets from the window's start, ascending.
    pub fn offsets(&self) -> &[Duration] {
        &self.offsets
    }

    /// The wall-clock time of snapshot `index`.
    pub fn at(&self, index: u32) -> Option<SystemTime> {
        self.offsets.get(index as usize).map(|o| self.window.start + *o)
    }

    /// The earliest scheduled snapshot not in `taken`, and when it is due.
    /// A time already past (the agent was down) is still returned: take it
    /// now, late rather than never, unless the exam is over.
    ///
    /// `taken` comes from [`SnapshotStore::scheduled_taken`](super::SnapshotStore::scheduled_taken),
    /// so a restarted agent does not take one twice.
    pub fn next_pending(&self, taken: &BTreeSet<u32>) -> Option<(u32, SystemTime)> {
        (0..self.offsets.len() as u32).find(|i| !taken.contains(i)).and_then(|i| Some((i, self.at(i)?)))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn window(minutes: u32) -> ExamWindow {
        ExamWindow { start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000), length: MIN * minutes }
    }

    fn seat(n: u32) -> SeatNo {
        SeatNo::new(format!("S{n:03}")).unwrap()
    }

    fn exam(name: &str) -> ExamId {
        ExamId::new(name).unwrap()
    }

    fn seed(b: u8) -> ScheduleSeed {
        ScheduleSeed::from_bytes([b; 32])
    }

    #[test]
    fn times_stay_inside_the_margins_and_respect_the_gap() {
        let policy = SnapshotPolicy { count: 6, min_gap: MIN * 5, margin: MIN * 2 };
        let w = window(45);
        for n in 0..500 {
            let plan = Schedule::plan(&seed(1), &seat(n), &exam("k1"), w, &policy).unwrap();
            assert_eq!(plan.len(), 6);
            let o = plan.offsets();
            assert!(o[0] >= policy.margin, "seat {n}: first at {:?}", o[0]);
            assert!(*o.last().unwrap() <= w.length - policy.margin, "seat {n}: last at {:?}", o.last());
            assert!(o.windows(2).all(|p| p[1] - p[0] >= policy.min_gap), "seat {n}: {o:?}");
            assert!(plan.at(0).unwrap() > w.start && plan.at(5).unwrap() < w.end());
        }
    }

    #[test]
    fn a_tight_window_still_fits_exactly() {
        // 5 snapshots 10 minutes apart need 40 minutes: the window has exactly that.
        let policy = SnapshotPolicy { count: 5, min_gap: MIN * 10, margin: MIN * 5 };
        let plan = Schedule::plan(&seed(2), &seat(1), &exam("k1"), window(50), &policy).unwrap();
        assert_eq!(plan.offsets(), [MIN * 5, MIN * 15, MIN * 25, MIN * 35, MIN * 45]);
    }

    #[test]
    fn no_two_seats_and_no_two_exams_alike() {
        let policy = SnapshotPolicy::default();
        let mut seen = HashSet::new();
        for n in 0..1000 {
            let plan = Schedule::plan(&seed(3), &seat(n), &exam("k1"), window(45), &policy).unwrap();
            assert!(seen.insert(plan.offsets().to_vec()), "seat {n} repeats another seat's times");
        }
        let a = Schedule::plan(&seed(3), &seat(1), &exam("k1"), window(45), &policy).unwrap();
        let b = Schedule::plan(&seed(3), &seat(1), &exam("k2"), window(45), &policy).unwrap();
        let c = Schedule::plan(&seed(4), &seat(1), &exam("k1"), window(45), &policy).unwrap();
        assert_ne!(a.offsets(), b.offsets(), "another exam, other times");
        assert_ne!(a.offsets(), c.offsets(), "another seed, other times");
        // Seat and exam are length-prefixed: ("S1", "2k") is not ("S12", "k").
        let d = Schedule::plan(&seed(3), &SeatNo::new("S1").unwrap(), &exam("2k"), window(45), &policy).unwrap();
        let e = Schedule::plan(&seed(3), &SeatNo::new("S12").unwrap(), &exam("k"), window(45), &policy).unwrap();
        assert_ne!(d.offsets(), e.offsets());
    }

    #[test]
    fn the_same_inputs_give_the_same_times_after_a_restart() {
        let policy = SnapshotPolicy::default();
        let a = Schedule::plan(&seed(5), &seat(7), &exam("k1"), window(45), &policy).unwrap();
        let b = Schedule::plan(&seed(5), &seat(7), &exam("k1"), window(45), &policy).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn single_snapshots_are_uniform_over_the_window() {
        // Chi-square over 10 equal bins, 3000 seats: df = 9, p = 0.001 at 27.9.
        let policy = SnapshotPolicy { count: 1, min_gap: Duration::ZERO, margin: Duration::ZERO };
        let w = window(60);
        let mut bins = [0u32; 10];
        for n in 0..3000 {
            let plan = Schedule::plan(&seed(6), &seat(n), &exam("k1"), w, &policy).unwrap();
            let f = plan.offsets()[0].as_secs_f64() / w.length.as_secs_f64();
            bins[((f * 10.0) as usize).min(9)] += 1;
        }
        let expected = 300.0;
        let chi2: f64 = bins.iter().map(|&b| (f64::from(b) - expected).powi(2) / expected).sum();
        assert!(chi2 < 27.9, "chi-square {chi2:.1} over bins {bins:?}");
    }

    #[test]
    fn gapped_times_spread_over_the_window() {
        // With a gap, each position still moves over a wide span across seats.
        let policy = SnapshotPolicy { count: 4, min_gap: MIN * 5, margin: MIN };
        let w = window(45);
        let mut first = Vec::new();
        let mut last = Vec::new();
        for n in 0..400 {
            let plan = Schedule::plan(&seed(8), &seat(n), &exam("k1"), w, &policy).unwrap();
            first.push(plan.offsets()[0]);
            last.push(plan.offsets()[3]);
        }
        let spread = |v: &[Duration]| *v.iter().max().unwrap() - *v.iter().min().unwrap();
        assert!(spread(&first) > MIN * 15, "first snapshots span only {:?}", spread(&first));
        assert!(spread(&last) > MIN * 15, "last snapshots span only {:?}", spread(&last));
    }

    #[test]
    fn impossible_policies_are_refused_with_a_reason() {
        let policy = SnapshotPolicy { count: 10, min_gap: MIN * 10, margin: MIN };
        let err = Schedule::plan(&seed(1), &seat(1), &exam("k1"), window(45), &policy).unwrap_err();
        assert!(matches!(err, PlanError::WindowTooShort { .. }));
        assert!(err.to_string().contains("fewer snapshots"));
        let policy = SnapshotPolicy { count: 1, min_gap: MIN, margin: MIN * 30 };
        assert!(Schedule::plan(&seed(1), &seat(1), &exam("k1"), window(45), &policy).is_err());
        let policy = SnapshotPolicy { count: MAX_SCHEDULED + 1, ..SnapshotPolicy::default() };
        assert_eq!(
            Schedule::plan(&seed(1), &seat(1), &exam("k1"), window(45), &policy),
            Err(PlanError::TooMany(MAX_SCHEDULED + 1))
        );
        let none = SnapshotPolicy { count: 0, ..SnapshotPolicy::default() };
        assert!(Schedule::plan(&seed(1), &seat(1), &exam("k1"), window(1), &none).unwrap().is_empty());
    }

    #[test]
    fn next_pending_skips_what_was_taken() {
        let plan = Schedule::plan(&seed(9), &seat(1), &exam("k1"), window(45), &SnapshotPolicy::default()).unwrap();
        assert_eq!(plan.next_pending(&BTreeSet::new()), Some((0, plan.at(0).unwrap())));
        assert_eq!(plan.next_pending(&BTreeSet::from([0, 1])), Some((2, plan.at(2).unwrap())));
        assert_eq!(plan.next_pending(&(0..5).collect()), None);
    }

    #[test]
    fn seeds_parse_from_hex_and_stay_secret() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let s = ScheduleSeed::from_hex(hex).unwrap();
        assert_eq!(s.0[1], 0x11);
        assert_eq!(format!("{s:?}"), "ScheduleSeed(<secret>)");
        assert!(ScheduleSeed::from_hex("abc").is_err());
        assert!(ScheduleSeed::from_hex(&"zz".repeat(32)).is_err());
        let plan = Schedule::plan(&s, &seat(1), &exam("k1"), window(45), &SnapshotPolicy::default()).unwrap();
        assert_eq!(format!("{plan:?}"), "Schedule(5 snapshots, <times secret>)");
    }
}
