//! Second-generation ID cards: the 256-byte GA 467 text block parsed into an
//! [`IdentityCard`], and built back from one (for simulators).
//!
//! Four layouts share the block, told apart by the character at byte 248:
//! a space for resident cards, `I` for the old foreigner permanent residence
//! card, `Y` for the 2023 one, `J` for Hong Kong/Macao/Taiwan residence
//! permits. Text is UCS-2 little-endian, padded with spaces.

mod nation;

use std::fmt;

/// Size of the text block.
pub const TEXT_LEN: usize = 256;
/// Size of the WLT photo.
pub const PHOTO_LEN: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CardType {
    Resident,
    /// Foreigner's permanent residence ID card, 2017 layout (`I`).
    ForeignerOld,
    /// Foreigner's permanent residence ID card, 2023 layout (`Y`).
    ForeignerNew,
    /// Hong Kong / Macao / Taiwan residence permit (`J`).
    HkMoTw,
}

impl CardType {
    pub fn as_str(self) -> &'static str {
        match self {
            CardType::Resident => "resident",
            CardType::ForeignerOld => "foreigner_old",
            CardType::ForeignerNew => "foreigner_new",
            CardType::HkMoTw => "hk_mo_tw",
        }
    }

    fn marker(self) -> char {
        match self {
            CardType::Resident => ' ',
            CardType::ForeignerOld => 'I',
            CardType::ForeignerNew => 'Y',
            CardType::HkMoTw => 'J',
        }
    }
}

/// Sex code of GB/T 2261.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sex {
    Unknown,
    Male,
    Female,
    Unspecified,
}

impl Sex {
    pub fn from_code(code: u8) -> Option<Sex> {
        Some(match code {
            0 => Sex::Unknown,
            1 => Sex::Male,
            2 => Sex::Female,
            9 => Sex::Unspecified,
            _ => return None,
        })
    }
    pub fn code(self) -> u8 {
        match self {
            Sex::Unknown => 0,
            Sex::Male => 1,
            Sex::Female => 2,
            Sex::Unspecified => 9,
        }
    }
    /// Label as printed on the card.
    pub fn label(self) -> &'static str {
        match self {
            Sex::Unknown => "未知",
            Sex::Male => "男",
            Sex::Female => "女",
            Sex::Unspecified => "未说明",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            Sex::Unknown => "unknown",
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Unspecified => "unspecified",
        }
    }
}

/// A nation (ethnic group) of GB/T 3304.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Nation(u8);

impl Nation {
    pub fn from_code(code: u8) -> Option<Nation> {
        nation::lookup(code).map(|_| Nation(code))
    }
    pub fn code(self) -> u8 {
        self.0
    }
    pub fn label(self) -> &'static str {
        nation::lookup(self.0).map(|n| n.0).unwrap_or("")
    }
    pub fn label_en(self) -> &'static str {
        nation::lookup(self.0).map(|n| n.1).unwrap_or("")
    }
    /// Every code, in order.
    pub fn all() -> impl Iterator<Item = Nation> {
        nation::NATIONS.iter().map(|(c, _, _)| Nation(*c))
    }
}

/// A calendar date from the card (`YYYYMMDD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CardDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl CardDate {
    pub fn new(year: u16, month: u8, day: u8) -> Option<CardDate> {
        let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((1..=days).contains(&day) && (1900..=2200).contains(&year)).then_some(CardDate { year, month, day })
    }

    /// Parse the card's `YYYYMMDD`.
    pub fn parse_compact(s: &str) -> Option<CardDate> {
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        CardDate::new(s[0..4].parse().ok()?, s[4..6].parse().ok()?, s[6..8].parse().ok()?)
    }

    /// Parse `YYYY-MM-DD`.
    pub fn parse_iso(s: &str) -> Option<CardDate> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        CardDate::parse_compact(&format!("{}{}{}", &s[0..4], &s[5..7], &s[8..10]))
    }

    pub fn compact(self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for CardDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Where a card's data came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CardSource {
    /// A PC/SC reader with a built-in SAM that presents the decoded card.
    PcscDecoded,
    /// A PC/SC reader without SAM: identifiers only.
    PcscIdentifiers,
    /// A GA 467 SAM module.
    Sam,
}

impl CardSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CardSource::PcscDecoded => "pcsc-decoded",
            CardSource::PcscIdentifiers => "pcsc-identifiers",
            CardSource::Sam => "sam",
        }
    }
}

/// The printed fields of a card, decoded from its text block.
#[derive(Clone, PartialEq, Eq)]
pub struct CardFields {
    pub card_type: CardType,
    pub name: String,
    pub english_name: Option<String>,
    pub sex: Sex,
    /// Resident cards only.
    pub nation: Option<Nation>,
    pub birth_date: CardDate,
    /// Resident and HK/MO/TW cards; empty otherwise.
    pub address: String,
    pub id_number: String,
    pub issuer: String,
    pub valid_from: CardDate,
    /// `None` means no expiry (`长期`).
    pub valid_until: Option<CardDate>,
    /// Foreigner cards: ISO 3166 three-letter nationality.
    pub nationality: Option<String>,
}

impl fmt::Debug for CardFields {
    // ID numbers are personal data: never shown whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardFields")
            .field("card_type", &self.card_type)
            .field("id_number", &mask_id(&self.id_number))
            .finish_non_exhaustive()
    }
}

/// `110105********0015`-style mask for logs.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 6))
}

/// Why a text block could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CardParseError {
    #[error("card text is {0} bytes, expected {TEXT_LEN}")]
    WrongLength(usize),
    #[error("card text field {field} is not valid UCS-2")]
    BadText { field: &'static str },
    #[error("unknown card type marker {0:?} at byte 248")]
    UnknownType(char),
    #[error("card field {field} holds {value:?}, not {expected}")]
    BadField { field: &'static str, value: String, expected: &'static str },
}

fn field(text: &[u8], range: std::ops::Range<usize>, name: &'static str) -> Result<String, CardParseError> {
    let units: Vec<u16> = text[range].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    let s = String::from_utf16(&units).map_err(|_| CardParseError::BadText { field: name })?;
    Ok(s.trim_end_matches([' ', '\0', '\u{3000}']).to_owned())
}

fn date(text: &[u8], range: std::ops::Range<usize>, name: &'static str) -> Result<CardDate, CardParseError> {
    let s = field(text, range, name)?;
    CardDate::parse_compact(&s).ok_or(CardParseError::BadField { field: name, value: s, expected: "a date YYYYMMDD" })
}

fn sex(text: &[u8], range: std::ops::Range<usize>) -> Result<Sex, CardParseError> {
    let s = field(text, range, "sex")?;
    s.parse::<u8>().ok().and_then(Sex::from_code).ok_or(CardParseError::BadField {
        field: "sex",
        value: s,
        expected: "a sex code 0, 1, 2 or 9",
    })
}

/// "长期" (long-term) means no expiry.
const NO_EXPIRY: &str = "长期";

fn expiry(text: &[u8], range: std::ops::Range<usize>) -> Result<Option<CardDate>, CardParseError> {
    let s = field(text, range.clone(), "valid_until")?;
    if s == NO_EXPIRY { Ok(None) } else { date(text, range, "valid_until").map(Some) }
}

impl CardFields {
    /// Parse a 256-byte text block.
    pub fn parse(text: &[u8]) -> Result<CardFields, CardParseError> {
        if text.len() != TEXT_LEN {
            return Err(CardParseError::WrongLength(text.len()));
        }
        let marker = field(text, 248..250, "card_type")?;
        let card_type = match marker.as_str() {
            "" => CardType::Resident,
            "I" => CardType::ForeignerOld,
            "Y" => CardType::ForeignerNew,
            "J" => CardType::HkMoTw,
            other => return Err(CardParseError::UnknownType(other.chars().next().unwrap_or('?'))),
        };
        match card_type {
            CardType::Resident | CardType::HkMoTw => {
                let nation = if card_type == CardType::Resident {
                    let code = field(text, 32..36, "nation")?;
                    Some(code.parse::<u8>().ok().and_then(Nation::from_code).ok_or(CardParseError::BadField {
                        field: "nation",
                        value: code,
                        expected: "a GB/T 3304 nation code (01-56, 97, 98)",
                    })?)
                } else {
                    None
                };
                Ok(CardFields {
                    card_type,
                    name: field(text, 0..30, "name")?,
                    english_name: None,
                    sex: sex(text, 30..32)?,
                    nation,
                    birth_date: date(text, 36..52, "birth_date")?,
                    address: field(text, 52..122, "address")?,
                    id_number: field(text, 122..158, "id_number")?,
                    issuer: field(text, 158..188, "issuer")?,
                    valid_from: date(text, 188..204, "valid_from")?,
                    valid_until: expiry(text, 204..220)?,
                    nationality: None,
                })
            }
            CardType::ForeignerOld => Ok(CardFields {
                card_type,
                english_name: Some(field(text, 0..120, "english_name")?),
                sex: sex(text, 120..122)?,
                id_number: field(text, 122..152, "id_number")?,
                nationality: Some(field(text, 152..158, "nationality")?),
                name: field(text, 158..188, "name")?,
                valid_from: date(text, 188..204, "valid_from")?,
                valid_until: expiry(text, 204..220)?,
                birth_date: date(text, 220..236, "birth_date")?,
                issuer: String::new(),
                nation: None,
                address: String::new(),
            }),
            CardType::ForeignerNew => {
                let mut english = field(text, 52..122, "english_name")?;
                let rest = field(text, 220..242, "english_name")?;
                if !rest.is_empty() {
                    // The first part is space-padded only when the name is short.
                    english = format!("{:<35}{rest}", english).trim_end().to_owned();
                }
                Ok(CardFields {
                    card_type,
                    name: field(text, 0..30, "name")?,
                    english_name: Some(english),
                    sex: sex(text, 30..32)?,
                    birth_date: date(text, 36..52, "birth_date")?,
                    id_number: field(text, 122..158, "id_number")?,
                    valid_from: date(text, 188..204, "valid_from")?,
                    valid_until: expiry(text, 204..220)?,
                    nationality: Some(field(text, 242..248, "nationality")?),
                    issuer: String::new(),
                    nation: None,
                    address: String::new(),
                })
            }
        }
    }

    /// Build the 256-byte text block (what a card or SAM would send).
    /// Fields too long for their slot are cut: callers taking fields from
    /// people (card files) check lengths first.
    pub fn encode(&self) -> [u8; TEXT_LEN] {
        let mut out = [0u8; TEXT_LEN];
        put(&mut out, 0..TEXT_LEN, "");
        let date = |d: CardDate| d.compact();
        let until = self.valid_until.map(date).unwrap_or_else(|| NO_EXPIRY.to_owned());
        match self.card_type {
            CardType::Resident | CardType::HkMoTw => {
                put(&mut out, 0..30, &self.name);
                put(&mut out, 30..32, &self.sex.code().to_string());
                // Bytes 32-36 are the nation on resident cards, reserved on J cards.
                if let (CardType::Resident, Some(n)) = (self.card_type, self.nation) {
                    put(&mut out, 32..36, &format!("{:02}", n.code()));
                }
                put(&mut out, 36..52, &date(self.birth_date));
                put(&mut out, 52..122, &self.address);
                put(&mut out, 122..158, &self.id_number);
                put(&mut out, 158..188, &self.issuer);
            }
            CardType::ForeignerOld => {
                put(&mut out, 0..120, self.english_name.as_deref().unwrap_or(""));
                put(&mut out, 120..122, &self.sex.code().to_string());
                put(&mut out, 122..152, &self.id_number);
                put(&mut out, 152..158, self.nationality.as_deref().unwrap_or(""));
                put(&mut out, 158..188, &self.name);
                put(&mut out, 220..236, &date(self.birth_date));
                put(&mut out, 236..240, "20");
            }
            CardType::ForeignerNew => {
                let english = self.english_name.as_deref().unwrap_or("");
                let (first, rest): (String, String) =
                    (english.chars().take(35).collect(), english.chars().skip(35).collect());
                put(&mut out, 0..30, &self.name);
                put(&mut out, 30..32, &self.sex.code().to_string());
                put(&mut out, 32..36, "00");
                put(&mut out, 36..52, &date(self.birth_date));
                put(&mut out, 52..122, &first);
                put(&mut out, 122..158, &self.id_number);
                put(&mut out, 220..242, &rest);
                put(&mut out, 242..248, self.nationality.as_deref().unwrap_or(""));
            }
        }
        put(&mut out, 188..204, &date(self.valid_from));
        put(&mut out, 204..220, &until);
        put(&mut out, 248..250, &self.card_type.marker().to_string());
        out
    }

    /// Whether the ID number's check character is right: ISO 7064 MOD 11-2
    /// for 18-character numbers; the 15-character old foreigner permit
    /// number (3 letters, 12 digits) has no check character and is checked
    /// for shape only.
    pub fn id_number_valid(&self) -> bool {
        match self.id_number.chars().count() {
            18 => id_check_valid(&self.id_number),
            15 if self.card_type == CardType::ForeignerOld => {
                let b = self.id_number.as_bytes();
                b[..3].iter().all(u8::is_ascii_uppercase) && b[3..].iter().all(u8::is_ascii_digit)
            }
            _ => false,
        }
    }
}

/// Write `s` as UCS-2LE into `range`, space-padded.
fn put(out: &mut [u8], range: std::ops::Range<usize>, s: &str) {
    let units: Vec<u16> = s.encode_utf16().collect();
    for (i, slot) in out[range].chunks_exact_mut(2).enumerate() {
        let u = units.get(i).copied().unwrap_or(u16::from(b' '));
        slot.copy_from_slice(&u.to_le_bytes());
    }
}

/// The ISO 7064 MOD 11-2 check character of the first 17 digits.
pub fn id_check_char(first17: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += c.to_digit(10)? * w;
    }
    Some(CHECK[(sum % 11) as usize] as char)
}

/// Whether an 18-character ID number ends in its check character.
pub fn id_check_valid(id: &str) -> bool {
    if id.len() != 18 || !id.is_ascii() {
        return false;
    }
    let last = id.as_bytes()[17].to_ascii_uppercase() as char;
    id_check_char(&id[..17]) == Some(last)
}

#[cfg(test)]
mod tests;

/// A card as examgate reports it: the printed fields (when the reader could
/// decode the card), the chip serial, and the WLT photo kept as bytes with
/// its SHA-256. The WLT photo is proprietary; examgate never pretends to
/// decode it.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityCard {
    pub fields: Option<CardFields>,
    pub chip_serial: Vec<u8>,
    pub photo_wlt: Vec<u8>,
    pub source: CardSource,
}

impl fmt::Debug for IdentityCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityCard")
            .field("fields", &self.fields)
            .field("photo_wlt", &format_args!("{} bytes", self.photo_wlt.len()))
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl IdentityCard {
    /// Decode what a reader returned. A read with no text block is an
    /// identifiers-only card (`source` says so); a text block must parse.
    pub fn from_read(read: &crate::CardRead, source: CardSource) -> Result<IdentityCard, CardParseError> {
        let fields = if read.text.is_empty() { None } else { Some(CardFields::parse(&read.text)?) };
        Ok(IdentityCard { fields, chip_serial: read.chip_serial.clone(), photo_wlt: read.photo.clone(), source })
    }

    pub fn photo_sha256(&self) -> Option<[u8; 32]> {
        use sha2::Digest;
        (!self.photo_wlt.is_empty()).then(|| sha2::Sha256::digest(&self.photo_wlt).into())
    }
}
