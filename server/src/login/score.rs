//! The server's re-check of a seat's `MatchSampleTemplate` score. For ISO
//! 19794-2 and ANSI 378 templates the server runs the same matcher as the
//! agent (`examgate-minutiae`) on the same bytes, so an honest seat's score
//! is reproduced exactly; a seat that reports otherwise is refused. Vendor
//! formats can only be matched on their reader, so their score is taken as sent.

use examgate_device_sdk::{Template, TemplateFormat};
use examgate_protocol::login::MATCH_THRESHOLD;

/// The score `MatchSampleTemplate` gives when the match itself failed.
pub const FAILED: i32 = -1;

/// Whether a score is one `MatchSampleTemplate` can give: 1..=1000, or -1.
pub fn is_valid_score(score: i32) -> bool {
    score == FAILED || (1..=1000).contains(&score)
}

/// Above 800 is a match (the seeds' rule); -1 never is.
pub fn is_match(score: i32) -> bool {
    score > MATCH_THRESHOLD
}

/// What the server made of a seat's score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recheck {
    /// Both templates are standard records: the server's own score, and whether the seat's agrees.
    Computed { server_score: i32, agrees: bool },
    /// A vendor format on either side: nothing here can compare them.
    NotComparable,
}

/// A standard record's format by its bytes (never by the label a seat gave it,
/// so a record sent as `vendor:…` is still re-checked).
fn standard(bytes: &[u8]) -> Option<TemplateFormat> {
    TemplateFormat::detect(bytes, &[]).filter(|f| matches!(f, TemplateFormat::Iso19794_2 | TemplateFormat::Ansi378))
}

/// Re-computes the score of `live` against `enrolled` where both are standard
/// records. The seat's score agrees iff it lies within `tolerance` of the
/// server's and on the same side of 800.
pub fn recheck(live: &[u8], enrolled: &[u8], seat_score: i32, tolerance: u32) -> Recheck {
    let (Some(live_format), Some(enrolled_format)) = (standard(live), standard(enrolled)) else {
        return Recheck::NotComparable;
    };
    let probe = Template::new(live_format, live.to_vec());
    let enrolled = Template::new(enrolled_format, enrolled.to_vec());
    let server_score = match examgate_minutiae::match_templates(&probe, &enrolled) {
        Ok(score) => i32::from(score.get()),
        // A record that does not parse cannot match, as on the seat.
        Err(_) => FAILED,
    };
    let close = server_score.abs_diff(seat_score) <= tolerance;
    let agrees = close && is_match(server_score) == is_match(seat_score);
    Recheck::Computed { server_score, agrees }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Vec<u8> {
        let path = format!("{}/../drivers/minutiae/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn an_honest_seats_genuine_score_agrees_and_an_inflated_impostor_score_does_not() {
        let (a, b, other) = (
            sample("finger1_impression1.iso.fmr"),
            sample("finger1_impression2.ansi.fmr"),
            sample("finger2_impression1.iso.fmr"),
        );
        let Recheck::Computed { server_score, agrees: true } = recheck(&b, &a, seat(&b, &a), 0) else {
            panic!("an honest seat's score must agree")
        };
        assert!(is_match(server_score), "{server_score}");
        let Recheck::Computed { server_score, agrees } = recheck(&other, &a, 950, 0) else { panic!() };
        assert!(!is_match(server_score) && !agrees, "impostor scored {server_score}");
    }

    /// What the agent's matcher says, computed the way the agent does.
    fn seat(live: &[u8], enrolled: &[u8]) -> i32 {
        let t = |b: &[u8]| Template::new(standard(b).unwrap(), b.to_vec());
        i32::from(examgate_minutiae::match_templates(&t(live), &t(enrolled)).unwrap().get())
    }

    #[test]
    fn tolerance_never_lets_a_score_cross_800() {
        let a = sample("finger1_impression1.iso.fmr");
        let other = sample("finger2_impression1.iso.fmr");
        let honest = seat(&other, &a);
        let Recheck::Computed { agrees, .. } = recheck(&other, &a, honest + 5, 5) else { panic!() };
        assert!(agrees);
        let Recheck::Computed { agrees, .. } = recheck(&other, &a, 801, 1000) else { panic!() };
        assert!(!agrees);
    }

    #[test]
    fn vendor_templates_are_not_comparable_and_broken_records_fail() {
        let a = sample("finger1_impression1.iso.fmr");
        assert_eq!(recheck(&[0xEE; 512], &a, 900, 0), Recheck::NotComparable);
        let mut broken = a.clone();
        broken.truncate(40);
        broken[8..12].copy_from_slice(&40u32.to_be_bytes());
        let Recheck::Computed { server_score, agrees } = recheck(&broken, &a, 900, 0) else { panic!() };
        assert_eq!((server_score, agrees), (FAILED, false));
    }

    #[test]
    fn scores_are_minus_one_or_one_to_a_thousand() {
        assert!(is_valid_score(-1) && is_valid_score(1) && is_valid_score(1000));
        assert!(!is_valid_score(0) && !is_valid_score(-2) && !is_valid_score(1001));
    }
}
