//! The templates this agent's own readers produced lately, remembered by
//! SHA-256 only: `POST /v1/login/verify` accepts nothing else, so a page (or
//! anything else on the PC) cannot submit a template it got from elsewhere.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// How long a captured template may be used for verification.
pub const CAPTURE_WINDOW: Duration = Duration::from_secs(120);

/// More captures than anyone makes in two minutes; the oldest go first.
const MAX_REMEMBERED: usize = 64;

/// Hashes of recent captures with when they were made. The live template
/// itself is never kept here.
#[derive(Debug, Default)]
pub struct CapturedTemplates {
    recent: Mutex<VecDeque<([u8; 32], Instant)>>,
}

fn digest(template: &[u8]) -> [u8; 32] {
    Sha256::digest(template).into()
}

impl CapturedTemplates {
    /// A reader of this agent produced `template` just now.
    pub fn remember(&self, template: &[u8]) {
        self.remember_at(template, Instant::now());
    }

    pub fn remember_at(&self, template: &[u8], now: Instant) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.retain(|(_, at)| now.saturating_duration_since(*at) <= CAPTURE_WINDOW);
        while recent.len() >= MAX_REMEMBERED {
            recent.pop_front();
        }
        recent.push_back((digest(template), now));
    }

    /// How long ago a reader of this agent produced `template`; `None` if
    /// none did within [`CAPTURE_WINDOW`].
    pub fn age(&self, template: &[u8]) -> Option<Duration> {
        self.age_at(template, Instant::now())
    }

    pub fn age_at(&self, template: &[u8], now: Instant) -> Option<Duration> {
        let d = digest(template);
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent
            .iter()
            .rev()
            .filter(|(h, _)| *h == d)
            .map(|(_, at)| now.saturating_duration_since(*at))
            .find(|age| *age <= CAPTURE_WINDOW)
    }

    /// The template was used for an attempt the server received: it cannot be used again.
    pub fn forget(&self, template: &[u8]) {
        let d = digest(template);
        self.recent.lock().unwrap_or_else(|p| p.into_inner()).retain(|(h, _)| *h != d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_templates_captured_here_within_two_minutes() {
        let c = CapturedTemplates::default();
        let t0 = Instant::now();
        c.remember_at(b"live template", t0);
        assert_eq!(c.age_at(b"live template", t0 + Duration::from_secs(119)), Some(Duration::from_secs(119)));
        assert_eq!(c.age_at(b"live template", t0 + Duration::from_secs(121)), None, "too old");
        assert_eq!(c.age_at(b"a template from elsewhere", t0), None);
    }

    #[test]
    fn a_template_used_for_an_attempt_cannot_be_used_again() {
        let c = CapturedTemplates::default();
        c.remember(b"a");
        c.remember(b"b");
        c.forget(b"a");
        assert!(c.age(b"a").is_none());
        assert!(c.age(b"b").is_some());
    }

    #[test]
    fn remembers_a_bounded_number_oldest_first_out() {
        let c = CapturedTemplates::default();
        let t0 = Instant::now();
        for n in 0..MAX_REMEMBERED + 3 {
            c.remember_at(&n.to_le_bytes(), t0);
        }
        assert!(c.age_at(&0usize.to_le_bytes(), t0).is_none());
        assert!(c.age_at(&(MAX_REMEMBERED + 2).to_le_bytes(), t0).is_some());
        assert_eq!(c.recent.lock().unwrap().len(), MAX_REMEMBERED);
    }
}
