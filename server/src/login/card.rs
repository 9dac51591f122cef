//! Checks of an ID card the examiner read at the console PC (login mode (a)).
//! The server recomputes the check character itself: the card JSON's
//! `id_number_valid` comes from the console's agent and is never trusted.

use examgate_device_sdk::idcard::id_check_valid;
use examgate_protocol::idcard::{CardTypeName, CodedValue, IdCard};
use serde::Serialize;

/// The card's problems, each a word of [`CardCheck::problems`](examgate_protocol::login::CardCheck).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardProblem {
    /// No ID number or no dates: a reader that gave identifiers only.
    Unreadable,
    CheckCharacter,
    NotYetValid,
    Expired,
}

impl CardProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            CardProblem::Unreadable => "unreadable",
            CardProblem::CheckCharacter => "check_character",
            CardProblem::NotYetValid => "not_yet_valid",
            CardProblem::Expired => "expired",
        }
    }
}

/// What the card itself says, before any booking is looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardFindings {
    /// The ID number as bookings store it (an `x` check character upper-cased), if the card has one.
    pub id_number: Option<String>,
    pub problems: Vec<CardProblem>,
}

/// Whether an ID number's check character is right: ISO 7064 MOD 11-2 for
/// 18 characters; the old foreigner permit's 15 (3 letters, 12 digits) have
/// none and are checked for shape.
pub fn id_number_valid(id: &str, card_type: Option<CardTypeName>) -> bool {
    match id.len() {
        18 => id_check_valid(id),
        15 if card_type == Some(CardTypeName::ForeignerOld) => {
            let b = id.as_bytes();
            b[..3].iter().all(u8::is_ascii_uppercase) && b[3..].iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// Checks a card on `today` (`YYYY-MM-DD`): the check character and the
/// validity dates (`valid_until` `null` is 长期, no expiry).
pub fn check(card: &IdCard, today: &str) -> CardFindings {
    let mut problems = Vec::new();
    let id_number = card.id_number.as_deref().map(|id| id.trim().to_ascii_uppercase()).filter(|id| !id.is_empty());
    match &id_number {
        None => problems.push(CardProblem::Unreadable),
        Some(id) if !id_number_valid(id, card.card_type) => problems.push(CardProblem::CheckCharacter),
        Some(_) => {}
    }
    // Dates are `YYYY-MM-DD`, so text order is date order.
    let mut unreadable = false;
    match card.valid_from.as_deref().filter(|d| is_date(d)) {
        None => unreadable = true,
        Some(from) if from > today => problems.push(CardProblem::NotYetValid),
        Some(_) => {}
    }
    match card.valid_until.as_deref() {
        Some(until) if !is_date(until) => unreadable = true,
        Some(until) if until < today => problems.push(CardProblem::Expired),
        _ => {}
    }
    if unreadable && !problems.contains(&CardProblem::Unreadable) {
        problems.push(CardProblem::Unreadable);
    }
    CardFindings { id_number, problems }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// The card as the console page shows it beside the roster photo (a
/// `card_read` event): the printed fields and the decoded photo, if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CardView {
    pub card_type: Option<CardTypeName>,
    pub name: Option<String>,
    pub english_name: Option<String>,
    pub sex: Option<CodedValue>,
    pub nation: Option<CodedValue>,
    pub birth_date: Option<String>,
    pub id_number: Option<String>,
    pub address: Option<String>,
    pub issuer: Option<String>,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    /// JPEG, standard base64, when the console's agent has a WLT decoder.
    pub photo_jpeg: Option<String>,
}

impl From<&IdCard> for CardView {
    fn from(c: &IdCard) -> CardView {
        CardView {
            card_type: c.card_type,
            name: c.name.clone(),
            english_name: c.english_name.clone(),
            sex: c.sex.clone(),
            nation: c.nation.clone(),
            birth_date: c.birth_date.clone(),
            id_number: c.id_number.clone(),
            address: c.address.clone(),
            issuer: c.issuer.clone(),
            valid_from: c.valid_from.clone(),
            valid_until: c.valid_until.clone(),
            photo_jpeg: c.photo_jpeg.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use examgate_protocol::idcard::CardSourceName;

    fn card(id: &str, from: &str, until: Option<&str>) -> IdCard {
        IdCard {
            card_type: Some(CardTypeName::Resident),
            name: Some("张三".into()),
            english_name: None,
            sex: None,
            nation: None,
            birth_date: Some("1949-12-31".into()),
            address: None,
            id_number: Some(id.into()),
            // Never trusted: the server computes its own.
            id_number_valid: Some(true),
            issuer: None,
            valid_from: Some(from.into()),
            valid_until: until.map(Into::into),
            chip_serial: None,
            photo_wlt: None,
            photo_sha256: None,
            photo_jpeg: None,
            source: CardSourceName::PcscDecoded,
        }
    }

    fn problems(c: &IdCard) -> Vec<&'static str> {
        check(c, "2026-11-25").problems.iter().map(|p| p.as_str()).collect()
    }

    #[test]
    fn a_valid_card_has_no_problems_and_long_term_cards_never_expire() {
        assert_eq!(problems(&card("11010519491231002X", "2015-03-01", Some("2035-03-01"))), Vec::<&str>::new());
        assert_eq!(problems(&card("11010519491231002x", "2015-03-01", None)), Vec::<&str>::new());
        assert_eq!(
            check(&card("11010519491231002x", "2015-03-01", None), "2026-11-25").id_number.as_deref(),
            Some("11010519491231002X")
        );
    }

    #[test]
    fn each_problem_is_named() {
        assert_eq!(problems(&card("110105194912310021", "2015-03-01", None)), ["check_character"]);
        assert_eq!(problems(&card("11010519491231002X", "2015-03-01", Some("2026-11-24"))), ["expired"]);
        assert_eq!(problems(&card("11010519491231002X", "2026-11-26", None)), ["not_yet_valid"]);
        // The last day printed is still valid.
        assert_eq!(problems(&card("11010519491231002X", "2016-11-25", Some("2026-11-25"))), Vec::<&str>::new());
        let mut bare = card("x", "2015-03-01", None);
        bare.id_number = None;
        bare.valid_from = None;
        assert_eq!(problems(&bare), ["unreadable"]);
    }
}
