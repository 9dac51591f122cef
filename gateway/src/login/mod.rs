//! Identity verification at login, the seat agent's side (issue 8, both modes).
//!
//! - Mode (a): the examiner reads the card at the console PC, whose agent
//!   runs with the role [`Role::Console`] and sends each card to the server;
//!   the server assigns a seat and pushes `candidate_assigned` to it, which
//!   `link run` hands to the seat's agent (`POST /v1/link/commands`).
//! - Mode (b): the seat page looks the candidate up (the enrolled templates
//!   stay here, in [`CurrentLogin`]), captures a finger, and the agent runs
//!   `MatchSampleTemplate` against every enrolled template, takes a
//!   verification snapshot and sends the signed evidence.
//!
//! [`Login`] holds what the agent needs for it: the synchronous link client
//! (from `run --link-dir`), the machine's role, the current login and the
//! hashes of recent captures ([`CapturedTemplates`]). The HTTP side lives in
//! `api/login.rs`.

pub mod captured;
pub mod current;
pub mod forward;

use std::sync::{Arc, Mutex, MutexGuard};

use examgate_device_sdk::Score;
use examgate_protocol::login::MATCH_THRESHOLD;

pub use captured::{CAPTURE_WINDOW, CapturedTemplates};
pub use current::{Change, CurrentLogin, LoginMode, assigned, change_for, event_for};

use crate::error::AppError;
use crate::link::client::LinkClient;
use crate::link::outbox::Outbox;

/// What this PC is to the exam centre.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// A candidate's seat.
    #[default]
    Seat,
    /// The examiner's console PC: its ID card reader feeds login mode (a).
    Console,
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "seat" => Ok(Role::Seat),
            "console" => Ok(Role::Console),
            _ => Err(format!("role = {s:?}: write \"seat\" or \"console\"")),
        }
    }
}

/// How the agent takes part in login: set up by `run` from `--link-dir` and `--console`.
#[derive(Clone, Debug, Default)]
pub struct LoginSettings {
    /// The enrolled link to the server; `None` without an enrolment (login answers `no_server`).
    pub server: Option<Arc<LinkClient>>,
    /// The enrolment's outbox, which `link run` delivers: snapshots go there.
    pub outbox: Option<Outbox>,
    pub role: Role,
}

/// The agent's login state, shared by the handlers.
#[derive(Debug, Default)]
pub struct Login {
    server: Option<Arc<LinkClient>>,
    outbox: Option<Outbox>,
    role: Role,
    current: Mutex<Option<CurrentLogin>>,
    captured: CapturedTemplates,
}

impl Login {
    pub fn new(settings: LoginSettings) -> Login {
        Login { server: settings.server, outbox: settings.outbox, role: settings.role, ..Login::default() }
    }

    pub fn server(&self) -> Option<&Arc<LinkClient>> {
        self.server.as_ref()
    }

    pub fn outbox(&self) -> Option<&Outbox> {
        self.outbox.as_ref()
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The current login (hold the guard briefly, never across an await).
    pub fn current(&self) -> MutexGuard<'_, Option<CurrentLogin>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn captured(&self) -> &CapturedTemplates {
        &self.captured
    }

    /// Applies a command the server pushed to the current login.
    pub fn apply(&self, change: Change) {
        let mut current = self.current();
        match change {
            Change::None => {}
            Change::Assigned { booking_number, name, language } => {
                *current = Some(assigned(booking_number, name, language));
            }
            Change::Decided { booking_number, decision } => {
                if current.as_ref().is_some_and(|c| c.booking_number == booking_number) {
                    *current = None;
                } else {
                    tracing::info!(?decision, "a decision about a candidate not at this seat now; ignored");
                }
            }
            Change::Released { booking_number } => {
                if current.as_ref().is_some_and(|c| c.booking_number == booking_number) {
                    *current = None;
                } else {
                    tracing::info!("a release of a candidate not at this seat now; ignored");
                }
            }
        }
    }
}

/// The outcome of comparing a live template with every enrolled one.
#[derive(Debug)]
pub enum Best {
    /// The best score and which enrolled template gave it; `-1` when no
    /// comparison could be made (the seeds' failed `MatchSampleTemplate`).
    Scored { index: usize, score: i32 },
    /// No comparison succeeded and one failed in a way a retry can mend (a
    /// busy reader): no attempt is counted.
    Retry(AppError),
}

impl Best {
    /// Whether a score passes (the seeds' rule: above 800).
    pub fn is_match(score: i32) -> bool {
        score > MATCH_THRESHOLD
    }
}

/// The best of the comparisons, in enrolled order: the highest score (the
/// first on a tie); if none succeeded, a retryable error, else `-1`.
pub fn best_score(results: Vec<Result<Score, AppError>>) -> Best {
    let mut best: Option<(usize, i32)> = None;
    let mut retry = None;
    for (index, result) in results.into_iter().enumerate() {
        match result {
            Ok(score) => {
                let score = i32::from(score.get());
                if best.is_none_or(|(_, b)| score > b) {
                    best = Some((index, score));
                }
            }
            Err(e) if e.retry() && retry.is_none() => retry = Some(e),
            Err(e) => tracing::info!(index, "an enrolled template could not be compared: {e}"),
        }
    }
    match (best, retry) {
        (Some((index, score)), _) => Best::Scored { index, score },
        (None, Some(e)) => Best::Retry(e),
        (None, None) => Best::Scored { index: 0, score: -1 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use examgate_device_sdk::DeviceError;

    fn s(n: u32) -> Result<Score, AppError> {
        Ok(Score::new(n).unwrap())
    }

    #[test]
    fn the_best_score_wins_and_names_its_template() {
        let Best::Scored { index, score } = best_score(vec![s(120), s(912), s(912), s(40)]) else { panic!() };
        assert_eq!((index, score), (1, 912));
        assert!(Best::is_match(score));
        assert!(!Best::is_match(800), "800 itself is not a match");
    }

    #[test]
    fn a_template_that_cannot_be_compared_does_not_hide_one_that_can() {
        let mismatch = Err(AppError::Device(DeviceError::FormatMismatch("x".into())));
        let Best::Scored { index, score } = best_score(vec![mismatch, s(850)]) else { panic!() };
        assert_eq!((index, score), (1, 850));
    }

    #[test]
    fn nothing_comparable_is_minus_one_but_a_busy_reader_is_a_retry() {
        let mismatch = || Err(AppError::Device(DeviceError::FormatMismatch("x".into())));
        let Best::Scored { index, score } = best_score(vec![mismatch(), mismatch()]) else { panic!() };
        assert_eq!((index, score), (0, -1));
        let busy = Err(AppError::Device(DeviceError::Busy("reader".into())));
        assert!(matches!(best_score(vec![mismatch(), busy]), Best::Retry(_)));
    }

    #[test]
    fn an_assignment_replaces_the_current_login_and_its_decision_ends_it() {
        let login = Login::default();
        login.apply(Change::Assigned { booking_number: "1".into(), name: "a".into(), language: "en".into() });
        login.apply(Change::Assigned { booking_number: "2".into(), name: "b".into(), language: "fr".into() });
        assert_eq!(login.current().as_ref().unwrap().booking_number, "2");
        let decided = |b: &str| Change::Decided {
            booking_number: b.into(),
            decision: examgate_protocol::login::Decision::Admitted,
        };
        login.apply(decided("1"));
        assert!(login.current().is_some(), "a decision about someone else leaves this login alone");
        login.apply(decided("2"));
        assert!(login.current().is_none());
    }

    #[test]
    fn a_release_ends_the_login_of_that_candidate_only() {
        let login = Login::default();
        login.apply(Change::Assigned { booking_number: "1".into(), name: "a".into(), language: "en".into() });
        login.apply(Change::Released { booking_number: "2".into() });
        assert!(login.current().is_some(), "a release of someone else leaves this login alone");
        login.apply(Change::Released { booking_number: "1".into() });
        assert!(login.current().is_none());
    }

    #[test]
    fn roles_parse_from_the_config_words() {
        assert_eq!("console".parse::<Role>(), Ok(Role::Console));
        assert_eq!("seat".parse::<Role>(), Ok(Role::Seat));
        assert!("examiner".parse::<Role>().is_err());
    }
}
