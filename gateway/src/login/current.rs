//! The candidate logging in at this seat now, as the agent keeps them: who
//! they are, where they stand, and (mode b) their enrolled templates, which
//! stay in the agent and are dropped as soon as the login is decided.

use examgate_device_sdk::Template;
use examgate_protocol::login::{CandidateState, Decision, LookupResponse, SeatCandidate};
use examgate_protocol::{Event, Timestamp, link::Command};

/// How the candidate came to this seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginMode {
    /// Mode (a): the examiner read their card at the console and the server assigned this seat.
    CardAtConsole,
    /// Mode (b): they identified themselves at the seat.
    Seat,
}

impl LoginMode {
    /// The name [`SeatCandidate::mode`] carries.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMode::CardAtConsole => "card_at_console",
            LoginMode::Seat => "seat",
        }
    }
}

/// The current login. Its `Debug` shows neither the name nor the templates.
pub struct CurrentLogin {
    pub booking_number: String,
    pub name: String,
    pub language: String,
    pub session: String,
    pub state: CandidateState,
    pub failures: u32,
    /// Attempts the server received for this candidate (the next one is `attempts + 1`).
    pub attempts: u32,
    pub mode: LoginMode,
    /// The enrolled templates, in the server's order (the evidence names one by index).
    pub enrolled: Vec<Template>,
    /// The SHA-256 of the last verification snapshot, for `finish` when the page names none.
    pub snapshot_sha256: Option<String>,
}

impl std::fmt::Debug for CurrentLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentLogin")
            .field("booking_number", &self.booking_number)
            .field("state", &self.state)
            .field("failures", &self.failures)
            .field("attempts", &self.attempts)
            .field("mode", &self.mode)
            .field("enrolled", &self.enrolled.len())
            .finish_non_exhaustive()
    }
}

impl CurrentLogin {
    /// A candidate the server found for this seat, with their templates already parsed.
    pub fn from_lookup(found: &LookupResponse, enrolled: Vec<Template>) -> CurrentLogin {
        CurrentLogin {
            booking_number: found.booking_number.clone(),
            name: found.name.clone(),
            language: found.language.clone(),
            session: found.session.clone(),
            state: found.state,
            failures: found.failures,
            // Earlier failures today were attempts too; the server numbers attempts per candidate.
            attempts: found.failures,
            // A candidate the examiner sent here may still be looked up at the seat.
            mode: if found.state == CandidateState::Assigned { LoginMode::CardAtConsole } else { LoginMode::Seat },
            enrolled,
            snapshot_sha256: None,
        }
    }

    pub fn candidate(&self) -> SeatCandidate {
        SeatCandidate {
            booking_number: self.booking_number.clone(),
            name: self.name.clone(),
            language: self.language.clone(),
            state: self.state,
            failures: self.failures,
            mode: self.mode.as_str().to_owned(),
        }
    }

    /// The login is decided: the templates are no longer needed.
    pub fn settle(&mut self, state: CandidateState) {
        self.state = state;
        if matches!(state, CandidateState::Admitted | CandidateState::Refused) {
            self.enrolled.clear();
        }
    }
}

/// What a command pushed by the server does to the current login.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing (a snapshot request, a warning, a decision about someone else).
    None,
    /// Mode (a): a new candidate replaces whoever was here.
    Assigned { booking_number: String, name: String, language: String },
    /// The examiner decided on the current candidate: the login ends.
    Decided { booking_number: String, decision: Decision },
    /// The examiner released the candidate from this seat: nobody is logging in here.
    Released { booking_number: String },
}

pub fn change_for(command: &Command) -> Change {
    match command {
        Command::CandidateAssigned { booking_number, name, language } => {
            Change::Assigned { booking_number: booking_number.clone(), name: name.clone(), language: language.clone() }
        }
        Command::LoginDecision { booking_number, decision } => {
            Change::Decided { booking_number: booking_number.clone(), decision: *decision }
        }
        Command::CandidateReleased { booking_number } => Change::Released { booking_number: booking_number.clone() },
        Command::SnapshotNow
        | Command::Warning { .. }
        | Command::ExamReady { .. }
        | Command::ExamResult { .. }
        | Command::ExamWarning { .. }
        | Command::ExamPaused { .. }
        | Command::ExamResumed { .. }
        | Command::ExamDeadline { .. }
        | Command::ExamReminder { .. } => Change::None,
    }
}

/// The seat event a pushed command becomes on `/v1/events`; `None` for a
/// snapshot request, which `link run` asks of the camera itself.
pub fn event_for(command: &Command, timestamp: Timestamp) -> Option<Event> {
    match command {
        // The exam's own events come from the agent's exam module once it has acted on them.
        Command::SnapshotNow
        | Command::ExamReady { .. }
        | Command::ExamResult { .. }
        | Command::ExamWarning { .. }
        | Command::ExamPaused { .. }
        | Command::ExamResumed { .. }
        | Command::ExamDeadline { .. }
        | Command::ExamReminder { .. } => None,
        Command::Warning { text } => Some(Event::Warning { timestamp, text: text.clone() }),
        Command::CandidateAssigned { booking_number, name, language } => Some(Event::CandidateAssigned {
            timestamp,
            booking_number: booking_number.clone(),
            name: name.clone(),
            language: language.clone(),
        }),
        Command::LoginDecision { booking_number, decision } => {
            Some(Event::LoginDecision { timestamp, booking_number: booking_number.clone(), decision: *decision })
        }
        Command::CandidateReleased { booking_number } => {
            Some(Event::CandidateReleased { timestamp, booking_number: booking_number.clone() })
        }
    }
}

/// A candidate assigned to this seat at the console (mode a): no templates.
pub fn assigned(booking_number: String, name: String, language: String) -> CurrentLogin {
    CurrentLogin {
        booking_number,
        name,
        language,
        session: String::new(),
        state: CandidateState::Assigned,
        failures: 0,
        attempts: 0,
        mode: LoginMode::CardAtConsole,
        enrolled: Vec::new(),
        snapshot_sha256: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use examgate_device_sdk::TemplateFormat;

    #[test]
    fn every_login_command_becomes_its_seat_event() {
        let t = Timestamp::from_unix_millis(1_700_000_000_000);
        let assigned = Command::CandidateAssigned {
            booking_number: "20261125001".into(),
            name: "张伟".into(),
            language: "zh".into(),
        };
        assert_eq!(
            event_for(&assigned, t),
            Some(Event::CandidateAssigned {
                timestamp: t,
                booking_number: "20261125001".into(),
                name: "张伟".into(),
                language: "zh".into()
            })
        );
        let decided = Command::LoginDecision { booking_number: "20261125001".into(), decision: Decision::Admitted };
        assert_eq!(
            event_for(&decided, t),
            Some(Event::LoginDecision {
                timestamp: t,
                booking_number: "20261125001".into(),
                decision: Decision::Admitted
            })
        );
        let warning = Command::Warning { text: "eyes on your screen".into() };
        assert_eq!(event_for(&warning, t), Some(Event::Warning { timestamp: t, text: "eyes on your screen".into() }));
        assert_eq!(event_for(&Command::SnapshotNow, t), None, "link run takes the snapshot itself");
    }

    #[test]
    fn an_assignment_replaces_the_login_and_a_decision_ends_it() {
        let assigned =
            Command::CandidateAssigned { booking_number: "1".into(), name: "n".into(), language: "en".into() };
        assert_eq!(
            change_for(&assigned),
            Change::Assigned { booking_number: "1".into(), name: "n".into(), language: "en".into() }
        );
        let decided = Command::LoginDecision { booking_number: "1".into(), decision: Decision::Refused };
        assert_eq!(change_for(&decided), Change::Decided { booking_number: "1".into(), decision: Decision::Refused });
        assert_eq!(change_for(&Command::SnapshotNow), Change::None);
        let released = Command::CandidateReleased { booking_number: "1".into() };
        assert_eq!(change_for(&released), Change::Released { booking_number: "1".into() });
        let t = Timestamp::from_unix_millis(0);
        assert_eq!(
            event_for(&released, t),
            Some(Event::CandidateReleased { timestamp: t, booking_number: "1".into() })
        );
    }

    #[test]
    fn a_settled_login_forgets_the_templates_and_debug_hides_the_person() {
        let found = LookupResponse {
            booking_number: "20261125001".into(),
            name: "张伟".into(),
            language: "zh".into(),
            session: "2026-11-25 09:00".into(),
            state: CandidateState::Verifying,
            failures: 1,
            templates: Vec::new(),
        };
        let mut login = CurrentLogin::from_lookup(&found, vec![Template::new(TemplateFormat::Iso19794_2, vec![1, 2])]);
        assert_eq!((login.attempts, login.candidate().mode.as_str()), (1, "seat"));
        let shown = format!("{login:?}");
        assert!(!shown.contains("张伟") && shown.contains("enrolled: 1"), "{shown}");
        login.settle(CandidateState::WaitingForExaminer);
        assert_eq!(login.enrolled.len(), 1, "the examiner may still let them try again");
        login.settle(CandidateState::Admitted);
        assert!(login.enrolled.is_empty());
    }
}
