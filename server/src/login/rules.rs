//! Where a candidate may go next. A candidate stands in one of the states of
//! [`CandidateState`]; these functions say whether a seat may claim them, may
//! send a fingerprint attempt, or may finish, and why not (a [`Conflict`]
//! with a machine-readable kind the seat page shows a message for).

use examgate_protocol::login::{CandidateState, MAX_FAILURES};

/// Why a login step is refused: `409` with `kind` and a message for a person.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Conflict {
    /// `assigned_elsewhere`, `already_admitted`, `refused`, `seat_busy`,
    /// `not_claimed`, `waiting_for_examiner`, `no_templates`, `score_disagrees`, …
    pub kind: &'static str,
    pub message: String,
}

impl Conflict {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Conflict {
        Conflict { kind, message: message.into() }
    }
}

/// The states in which a candidate occupies their seat.
pub const AT_A_SEAT: [CandidateState; 4] =
    [CandidateState::Assigned, CandidateState::Verifying, CandidateState::WaitingForExaminer, CandidateState::Admitted];

/// Whether a candidate in `state` occupies their seat.
pub fn at_a_seat(state: CandidateState) -> bool {
    AT_A_SEAT.contains(&state)
}

/// A candidate as the rules see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing<'a> {
    pub state: CandidateState,
    pub seat: Option<&'a str>,
}

/// What a lookup at a seat does to the candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimStep {
    /// Booked: the seat claims them (`verifying`, mode `seat`).
    Claim,
    /// Already this seat's (assigned by the examiner, or a repeated lookup): nothing changes.
    AlreadyHere,
}

/// Whether `seat` may claim a candidate standing as `c`.
pub fn claim(c: Standing<'_>, seat: &str) -> Result<ClaimStep, Conflict> {
    let elsewhere = |s: Option<&str>| s.is_some_and(|s| s != seat);
    match c.state {
        CandidateState::Booked => Ok(ClaimStep::Claim),
        CandidateState::Admitted => Err(Conflict::new(
            "already_admitted",
            format!("this candidate has already been admitted at seat {}", c.seat.unwrap_or("?")),
        )),
        CandidateState::Refused => Err(Conflict::new("refused", "the examiner has refused this candidate today")),
        _ if elsewhere(c.seat) => Err(Conflict::new(
            "assigned_elsewhere",
            format!("this candidate belongs at seat {}; please go there or ask the examiner", c.seat.unwrap_or("?")),
        )),
        CandidateState::Assigned | CandidateState::Verifying | CandidateState::WaitingForExaminer => {
            Ok(ClaimStep::AlreadyHere)
        }
    }
}

/// What becomes of the candidate a seat already holds when it claims another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incumbent {
    /// Half-way through identifying: released to `booked`, so they may start again.
    Release,
}

/// Whether a seat holding a candidate in `state` may take another one.
pub fn seat_takes_another(state: CandidateState, seat: &str) -> Result<Incumbent, Conflict> {
    match state {
        CandidateState::Verifying => Ok(Incumbent::Release),
        CandidateState::Admitted => Err(Conflict::new(
            "seat_busy",
            format!("seat {seat} already has an admitted candidate; the examiner must release that candidate first"),
        )),
        // The examiner sent someone here, or must decide on the one here.
        _ => Err(Conflict::new("seat_busy", format!("seat {seat} is held for another candidate; ask the examiner"))),
    }
}

/// Whether `seat` may send a fingerprint attempt for a candidate standing as `c`.
pub fn may_verify(c: Standing<'_>, seat: &str) -> Result<(), Conflict> {
    match (c.state, c.seat) {
        (CandidateState::Verifying, Some(s)) if s == seat => Ok(()),
        (CandidateState::WaitingForExaminer, Some(s)) if s == seat => Err(Conflict::new(
            "waiting_for_examiner",
            format!("{MAX_FAILURES} attempts failed: the examiner decides now"),
        )),
        (CandidateState::Admitted, _) => Err(Conflict::new("already_admitted", "this candidate is already admitted")),
        (CandidateState::Refused, _) => Err(Conflict::new("refused", "the examiner has refused this candidate today")),
        _ => Err(Conflict::new(
            "not_claimed",
            "this seat has not looked this candidate up: enter the ID number or booking number first",
        )),
    }
}

/// The candidate's state after an attempt that brought their failures to `failures`.
pub fn after_attempt(failures: u32) -> CandidateState {
    if failures >= MAX_FAILURES { CandidateState::WaitingForExaminer } else { CandidateState::Verifying }
}

/// Evidence that decides a finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proof {
    /// A `match` attempt at this seat since the claim.
    MatchSinceClaim,
    None,
}

/// The state a finish at `seat` leads to, or why the seat may not finish.
pub fn finish(c: Standing<'_>, mode: Option<&str>, proof: Proof, seat: &str) -> Result<CandidateState, Conflict> {
    let here = c.seat == Some(seat);
    match c.state {
        CandidateState::Admitted if here => Ok(CandidateState::Admitted),
        CandidateState::Assigned if here && mode == Some(MODE_CARD_AT_CONSOLE) => Ok(CandidateState::Admitted),
        CandidateState::Verifying if here && proof == Proof::MatchSinceClaim => Ok(CandidateState::Admitted),
        CandidateState::Verifying | CandidateState::WaitingForExaminer if here => {
            Ok(CandidateState::WaitingForExaminer)
        }
        CandidateState::Refused => Err(Conflict::new("refused", "the examiner has refused this candidate today")),
        _ => Err(Conflict::new("not_claimed", "this candidate is not at this seat")),
    }
}

/// Whether the examiner may admit or refuse a candidate in `state`.
pub fn may_decide(state: CandidateState) -> Result<(), Conflict> {
    match state {
        CandidateState::Admitted => Err(Conflict::new("already_admitted", "this candidate is already admitted")),
        CandidateState::Refused => Err(Conflict::new("refused", "this candidate has already been refused")),
        _ => Ok(()),
    }
}

/// `candidates.mode` of login mode (a).
pub const MODE_CARD_AT_CONSOLE: &str = "card_at_console";
/// `candidates.mode` of login mode (b).
pub const MODE_SEAT: &str = "seat";

#[cfg(test)]
mod tests {
    use super::*;
    use CandidateState::*;

    fn at(state: CandidateState, seat: Option<&str>) -> Standing<'_> {
        Standing { state, seat }
    }

    #[test]
    fn a_seat_claims_a_booked_candidate_and_keeps_its_own() {
        assert_eq!(claim(at(Booked, None), "3"), Ok(ClaimStep::Claim));
        assert_eq!(claim(at(Assigned, Some("3")), "3"), Ok(ClaimStep::AlreadyHere));
        assert_eq!(claim(at(Verifying, Some("3")), "3"), Ok(ClaimStep::AlreadyHere));
    }

    #[test]
    fn a_candidate_held_elsewhere_admitted_or_refused_is_not_claimed() {
        let e = claim(at(Verifying, Some("4")), "3").unwrap_err();
        assert_eq!(e.kind, "assigned_elsewhere");
        assert!(e.message.contains("seat 4"), "{e}");
        assert_eq!(claim(at(Assigned, Some("4")), "3").unwrap_err().kind, "assigned_elsewhere");
        assert_eq!(claim(at(Admitted, Some("3")), "3").unwrap_err().kind, "already_admitted");
        assert_eq!(claim(at(Refused, Some("3")), "3").unwrap_err().kind, "refused");
    }

    #[test]
    fn a_seat_releases_a_half_identified_candidate_but_not_an_admitted_one() {
        assert_eq!(seat_takes_another(Verifying, "3"), Ok(Incumbent::Release));
        assert_eq!(seat_takes_another(Admitted, "3").unwrap_err().kind, "seat_busy");
        assert_eq!(seat_takes_another(Assigned, "3").unwrap_err().kind, "seat_busy");
    }

    #[test]
    fn the_third_failure_calls_the_examiner() {
        assert_eq!(after_attempt(MAX_FAILURES - 1), Verifying);
        assert_eq!(after_attempt(MAX_FAILURES), WaitingForExaminer);
    }

    #[test]
    fn finishing_needs_an_assignment_a_match_or_the_examiner() {
        let v = at(Verifying, Some("3"));
        assert_eq!(finish(v, Some(MODE_SEAT), Proof::MatchSinceClaim, "3"), Ok(Admitted));
        assert_eq!(finish(v, Some(MODE_SEAT), Proof::None, "3"), Ok(WaitingForExaminer));
        assert_eq!(finish(at(Assigned, Some("3")), Some(MODE_CARD_AT_CONSOLE), Proof::None, "3"), Ok(Admitted));
        assert_eq!(finish(at(Admitted, Some("3")), Some(MODE_SEAT), Proof::None, "3"), Ok(Admitted));
        assert_eq!(finish(v, Some(MODE_SEAT), Proof::MatchSinceClaim, "4").unwrap_err().kind, "not_claimed");
    }

    #[test]
    fn attempts_come_only_from_the_claiming_seat() {
        assert_eq!(may_verify(at(Verifying, Some("3")), "3"), Ok(()));
        assert_eq!(may_verify(at(Verifying, Some("3")), "4").unwrap_err().kind, "not_claimed");
        assert_eq!(may_verify(at(Booked, None), "3").unwrap_err().kind, "not_claimed");
        assert_eq!(may_verify(at(WaitingForExaminer, Some("3")), "3").unwrap_err().kind, "waiting_for_examiner");
    }
}
