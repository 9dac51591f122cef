//! A candidate's attempt: who may answer which paper until when, as pure
//! rules the store applies inside its transactions and the agent endpoints
//! apply on receipt. Every refusal is a 409 with its kind (the seat's outbox
//! gives up on it) and a row of the audit chain.
//!
//! ```
//! use examgate_server::exam::attempt::{Open, check_open};
//! let open = Open { closed: false, deadline: 1_000, grace_ms: 30_000 };
//! assert!(check_open(&open, 31_000).is_ok());
//! assert_eq!(check_open(&open, 31_001).unwrap_err().kind, "after_deadline");
//! ```

use std::collections::BTreeSet;

use examgate_protocol::login::CandidateState;

use super::paper::PaperItem;

/// Why the server will not take an answer or a submission.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExamRefusal {
    /// `unknown_paper`, `wrong_candidate`, `not_at_seat`, `not_on_paper`,
    /// `no_such_choice`, `after_deadline`, `paper_closed`.
    pub kind: &'static str,
    pub message: String,
}

impl ExamRefusal {
    pub fn new(kind: &'static str, message: impl Into<String>) -> ExamRefusal {
        ExamRefusal { kind, message: message.into() }
    }
}

/// Where a paper's attempt stands in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Open {
    pub closed: bool,
    pub deadline: i64,
    /// `[exam] grace_secs`: how long after the deadline an answer still in the link is taken.
    pub grace_ms: i64,
}

/// The paper still takes answers at `now`.
pub fn check_open(open: &Open, now: i64) -> Result<(), ExamRefusal> {
    if open.closed {
        return Err(ExamRefusal::new("paper_closed", "the paper is already submitted: nothing more is taken"));
    }
    if now > open.deadline.saturating_add(open.grace_ms) {
        return Err(ExamRefusal::new(
            "after_deadline",
            format!("the paper's time ended at {} (with {} s grace)", open.deadline, open.grace_ms / 1000),
        ));
    }
    Ok(())
}

/// Who sends: the booking the seat names and the seat it is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sender<'a> {
    pub booking_number: &'a str,
    pub seat: &'a str,
}

/// Where the paper's candidate stands now, from the roster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holder<'a> {
    /// The paper's booking number.
    pub booking_number: &'a str,
    /// The seat the paper was drawn (or moved) to.
    pub paper_seat: &'a str,
    pub candidate_state: CandidateState,
    pub candidate_seat: Option<&'a str>,
}

/// The sender speaks for the paper's candidate, admitted at the sender's seat.
pub fn check_sender(holder: &Holder<'_>, sender: &Sender<'_>) -> Result<(), ExamRefusal> {
    if holder.booking_number != sender.booking_number {
        return Err(ExamRefusal::new(
            "wrong_candidate",
            format!("the paper is not booking {}'s", sender.booking_number),
        ));
    }
    let admitted_here = holder.candidate_state == CandidateState::Admitted
        && holder.candidate_seat == Some(sender.seat)
        && holder.paper_seat == sender.seat;
    if !admitted_here {
        return Err(ExamRefusal::new(
            "not_at_seat",
            format!("booking {} is not admitted at seat {}", sender.booking_number, sender.seat),
        ));
    }
    Ok(())
}

/// The item is on the paper and every choice is one of its own, none twice.
pub fn check_choices(items: &[PaperItem], item: &str, choices: &[String]) -> Result<(), ExamRefusal> {
    let Some(drawn) = items.iter().find(|i| i.id == item) else {
        return Err(ExamRefusal::new("not_on_paper", format!("item {item} is not on this paper")));
    };
    let mut seen = BTreeSet::new();
    for c in choices {
        if !drawn.choices.contains(c) || !seen.insert(c.as_str()) {
            return Err(ExamRefusal::new(
                "no_such_choice",
                format!("item {item} has no choice {c} (or it is given twice)"),
            ));
        }
    }
    Ok(())
}

/// Lower-case hex of 1-128 printable ASCII characters: what ids from a seat may be.
pub fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<PaperItem> {
        vec![PaperItem { id: "q1".into(), section: "s".into(), choices: vec!["B".into(), "A".into()] }]
    }

    #[test]
    fn an_answer_is_taken_until_the_deadline_and_its_grace() {
        let open = Open { closed: false, deadline: 100, grace_ms: 30_000 };
        assert!(check_open(&open, 100).is_ok());
        assert!(check_open(&open, 30_100).is_ok());
        assert_eq!(check_open(&open, 30_101).unwrap_err().kind, "after_deadline");
        let closed = Open { closed: true, ..open };
        assert_eq!(check_open(&closed, 0).unwrap_err().kind, "paper_closed");
    }

    #[test]
    fn only_the_papers_candidate_admitted_at_its_seat_may_answer() {
        let holder = Holder {
            booking_number: "b1",
            paper_seat: "7",
            candidate_state: CandidateState::Admitted,
            candidate_seat: Some("7"),
        };
        assert!(check_sender(&holder, &Sender { booking_number: "b1", seat: "7" }).is_ok());
        let other = check_sender(&holder, &Sender { booking_number: "b2", seat: "7" }).unwrap_err();
        assert_eq!(other.kind, "wrong_candidate");
        let elsewhere = check_sender(&holder, &Sender { booking_number: "b1", seat: "8" }).unwrap_err();
        assert_eq!(elsewhere.kind, "not_at_seat");
        let released = Holder { candidate_state: CandidateState::Booked, candidate_seat: None, ..holder };
        assert_eq!(
            check_sender(&released, &Sender { booking_number: "b1", seat: "7" }).unwrap_err().kind,
            "not_at_seat"
        );
    }

    #[test]
    fn items_and_choices_must_be_the_papers_own() {
        let s = |v: &[&str]| v.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
        assert!(check_choices(&items(), "q1", &s(&["A"])).is_ok());
        assert!(check_choices(&items(), "q1", &[]).is_ok(), "an empty list clears the answer");
        assert_eq!(check_choices(&items(), "q2", &s(&["A"])).unwrap_err().kind, "not_on_paper");
        assert_eq!(check_choices(&items(), "q1", &s(&["C"])).unwrap_err().kind, "no_such_choice");
        assert_eq!(check_choices(&items(), "q1", &s(&["A", "A"])).unwrap_err().kind, "no_such_choice");
    }
}
