use std::fmt;

/// Scores above this value are a match (the seeds' rule: "above 800").
pub const MATCH_THRESHOLD: u16 = 800;

/// A similarity score on the seeds' scale, 1..=1000.
///
/// ```
/// use examgate_device_sdk::Score;
/// let s = Score::new(801).unwrap();
/// assert!(s.is_match());
/// assert!(!Score::new(800).unwrap().is_match());
/// assert!(Score::new(0).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Score(u16);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("score {0} is outside 1..=1000")]
pub struct ScoreError(pub u32);

impl Score {
    pub const MIN: Score = Score(1);
    pub const MAX: Score = Score(1000);

    pub fn new(value: u32) -> Result<Score, ScoreError> {
        if (1..=1000).contains(&value) { Ok(Score(value as u16)) } else { Err(ScoreError(value)) }
    }

    /// Clamp any number onto the scale; for calibrated mappings that may
    /// round just outside it.
    pub fn saturating(value: i64) -> Score {
        Score(value.clamp(1, 1000) as u16)
    }

    pub fn get(self) -> u16 {
        self.0
    }

    /// True when the score is above [`MATCH_THRESHOLD`].
    pub fn is_match(self) -> bool {
        self.0 > MATCH_THRESHOLD
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_seeds_scale() {
        assert_eq!(Score::new(0), Err(ScoreError(0)));
        assert_eq!(Score::new(1001), Err(ScoreError(1001)));
        assert_eq!(Score::new(1).unwrap(), Score::MIN);
        assert_eq!(Score::new(1000).unwrap(), Score::MAX);
    }

    #[test]
    fn match_means_strictly_above_800() {
        assert!(!Score::new(800).unwrap().is_match());
        assert!(Score::new(801).unwrap().is_match());
    }

    #[test]
    fn saturating_clamps_onto_the_scale() {
        assert_eq!(Score::saturating(-5).get(), 1);
        assert_eq!(Score::saturating(5000).get(), 1000);
        assert_eq!(Score::saturating(640).get(), 640);
    }
}
