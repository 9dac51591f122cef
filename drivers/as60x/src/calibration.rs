//! The module's raw Match score onto the seeds' scale (1..=1000, above 800
//! a match).
//!
//! The module reports two things: its verdict (confirmation `00` match,
//! `08` no match, by the threshold of its security level) and a raw score
//! (0 to a few hundred; a template against itself scores highest). Neither
//! its algorithm nor its thresholds are published, so the mapping is
//! anchored on the verdict: a pair the module rejects never scores above
//! 800, whatever its raw score. On top, a raw score below [`Calibration::floor`]
//! stays at or below 800 even when the module accepts it (a module set to a
//! permissive security level). So 800 sits at or above the module's own
//! threshold.
//!
//! Below the line the raw score rises linearly from 1 (raw 0) to 800 (raw
//! `floor`); above it from 801 (raw `floor`) to 1000 (raw `ceiling` and
//! more). The defaults rest on the simulator's scores (`cargo bench -p
//! examgate-as60x`, kept in BENCHMARKS.md, "Fingerprint module (AS60x)"):
//! impostor pairs at most 28 raw, genuine pairs p10 107 and p50 184 with
//! 1.25 % under 50. The floor is the simulated module's level-3 threshold
//! (50), the lowest it may be; hobbyist logs of real AS608 / R307 modules
//! report matches from about 50 up to 200-300.

use examgate_device_sdk::Score;

use crate::reply::{MatchOutcome, Verdict};

/// Where the raw score crosses 800 and where it reaches 1000.
///
/// ```
/// use examgate_as60x::{Calibration, MatchOutcome, Verdict};
/// let c = Calibration::default();
/// let score = |verdict, score| c.score(MatchOutcome { verdict, score }).get();
/// assert_eq!(score(Verdict::Match, 50), 801);
/// assert_eq!(score(Verdict::Match, 300), 1000);
/// assert_eq!(score(Verdict::NoMatch, 0), 1);
/// assert_eq!(score(Verdict::NoMatch, 120), 800, "the module said no");
/// assert!(score(Verdict::Match, 40) <= 800, "below the floor");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calibration {
    /// The least raw score that maps above 800 (when the module also says match).
    pub floor: u16,
    /// The raw score that maps to 1000.
    pub ceiling: u16,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration { floor: 50, ceiling: 300 }
    }
}

impl Calibration {
    pub fn score(&self, outcome: MatchOutcome) -> Score {
        let floor = i64::from(self.floor.max(1));
        let ceiling = i64::from(self.ceiling).max(floor + 1);
        let raw = i64::from(outcome.score);
        match outcome.verdict {
            Verdict::Match if raw >= floor => Score::saturating(801 + (raw - floor) * 199 / (ceiling - floor)),
            _ => Score::saturating((1 + raw * 799 / floor).min(800)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(verdict: Verdict, score: u16) -> MatchOutcome {
        MatchOutcome { verdict, score }
    }

    #[test]
    fn the_module_verdict_bounds_the_score() {
        let c = Calibration::default();
        for raw in (0..=u16::MAX).step_by(7) {
            let no = c.score(outcome(Verdict::NoMatch, raw));
            assert!(!no.is_match(), "raw {raw} rejected by the module scored {no}");
            let yes = c.score(outcome(Verdict::Match, raw));
            assert_eq!(yes.is_match(), raw >= c.floor, "raw {raw}");
        }
    }

    #[test]
    fn the_score_rises_with_the_raw_score() {
        let c = Calibration::default();
        for verdict in [Verdict::Match, Verdict::NoMatch] {
            let scores: Vec<u16> = (0..=400).map(|raw| c.score(outcome(verdict, raw)).get()).collect();
            assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{verdict:?}");
        }
        assert_eq!(c.score(outcome(Verdict::Match, 175)).get(), 900);
        assert_eq!(c.score(outcome(Verdict::NoMatch, 25)).get(), 400);
    }

    #[test]
    fn a_degenerate_calibration_stays_on_the_scale() {
        let c = Calibration { floor: 0, ceiling: 0 };
        assert_eq!(c.score(outcome(Verdict::Match, 0)).get(), 1);
        assert_eq!(c.score(outcome(Verdict::Match, 5)).get(), 1000);
    }
}
