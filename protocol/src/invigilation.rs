//! Invigilation during the exam: the typed reasons the console gives for a
//! warning, a forced submission, a pause or an extension. The commands that
//! carry them to the seat are [`crate::link::Command`]'s `Exam*` variants.

use serde::{Deserialize, Serialize};

macro_rules! reason_enum {
    ($(#[$m:meta])* $Name:ident { $($(#[$vm:meta])* $V:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $Name { $($(#[$vm])* $V),+ }

        impl $Name {
            pub const ALL: &'static [$Name] = &[$($Name::$V),+];

            pub fn as_str(self) -> &'static str {
                match self { $($Name::$V => $s),+ }
            }

            pub fn parse(s: &str) -> Option<$Name> {
                match s { $($s => Some($Name::$V),)+ _ => None }
            }
        }
    };
}

reason_enum! {
    /// Why the examiner warns a candidate.
    WarningReason {
        /// Talking to another candidate.
        Talking => "talking",
        /// Looking at another candidate's screen.
        LookingAround => "looking_around",
        /// Notes, a phone or another aid that is not allowed.
        UnauthorisedMaterial => "unauthorised_material",
        /// Disturbing the room.
        Disruption => "disruption",
        Other => "other",
    }
}

reason_enum! {
    /// Why the examiner ends a candidate's attempt.
    ForceReason {
        Cheating => "cheating",
        Illness => "illness",
        /// The candidate asked to stop.
        CandidateRequest => "candidate_request",
        /// The candidate's warnings reached `[exam] warnings_before_action` with `warning_action = "forced_submission"`.
        Warnings => "warnings",
        Other => "other",
    }
}

reason_enum! {
    /// Why the clock stops for a seat or the room.
    PauseReason {
        FireAlarm => "fire_alarm",
        PowerCut => "power_cut",
        /// A PC or the network failed.
        Technical => "technical",
        /// The candidate is unwell or needs a break the rules allow.
        Candidate => "candidate",
        Other => "other",
    }
}

reason_enum! {
    /// Why a seat or the room is given more time.
    ExtensionReason {
        /// The seat could not work for a while (a frozen PC moved to a spare, a power cut).
        Offline => "offline",
        /// Time the rules give this candidate (an accommodation).
        Accommodation => "accommodation",
        Technical => "technical",
        Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_and_write_their_names() {
        for r in ForceReason::ALL {
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(ForceReason::parse(r.as_str()), Some(*r));
        }
        assert_eq!(serde_json::from_str::<WarningReason>("\"looking_around\"").unwrap(), WarningReason::LookingAround);
        assert!(serde_json::from_str::<PauseReason>("\"lunch\"").is_err());
        assert_eq!(ExtensionReason::parse("nap"), None);
    }
}
