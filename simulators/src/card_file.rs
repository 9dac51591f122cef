//! Card files: one simulated ID card in TOML, the person's printed fields,
//! a WLT photo file and the chip serial. The SAM and PC/SC card simulators
//! read the same files.
//!
//! ```toml
//! card_type = "resident"           # resident | foreigner_old | foreigner_new | hk_mo_tw
//! name = "张伟"
//! sex = 1                          # GB/T 2261.1: 0 unknown, 1 male, 2 female, 9 unspecified
//! nation = 1                       # GB/T 3304 code; resident cards only
//! birth_date = 1990-03-07          # a TOML date or "1990-03-07"
//! address = "北京市朝阳区建国路1号"   # resident and hk_mo_tw cards
//! id_number = "110105199003071239"
//! issuer = "北京市公安局朝阳分局"     # resident and hk_mo_tw cards
//! valid_from = 2020-05-01
//! valid_until = 2040-05-01         # or "长期" (no expiry)
//! photo = "sample-photo.wlt"       # 1024 bytes, relative to this file
//! chip_serial = "10E4100102030405" # 8 bytes, hex
//! # english_name = "SMITH, JOHN"   # foreigner cards
//! # nationality = "USA"            # foreigner cards, ISO 3166 alpha-3
//! # appended_address = "..."       # what 30 03 answers; none by default
//! ```

use std::io;
use std::path::{Path, PathBuf};

use examgate_device_sdk::idcard::{CardDate, CardFields, CardType, Nation, PHOTO_LEN, Sex};
use serde::Deserialize;

/// A card as a card file describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardFile {
    pub fields: CardFields,
    /// The WLT photo, exactly 1024 bytes.
    pub photo: Vec<u8>,
    pub chip_serial: [u8; 8],
    /// The address appended after issue (read with 30 03), if any.
    pub appended_address: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CardFileError {
    #[error("cannot read card file {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("card file {}: {source}", path.display())]
    Toml { path: PathBuf, source: Box<toml::de::Error> },
    #[error("card file {}: {field}: {why}", path.display())]
    Field { path: PathBuf, field: &'static str, why: String },
    #[error("card file {}: cannot read its photo {}: {source}", path.display(), photo.display())]
    Photo { path: PathBuf, photo: PathBuf, source: io::Error },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DateValue {
    Toml(toml::value::Datetime),
    Text(String),
}

impl DateValue {
    fn text(&self) -> String {
        match self {
            DateValue::Toml(d) => d.to_string(),
            DateValue::Text(s) => s.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCard {
    card_type: String,
    #[serde(default)]
    name: String,
    english_name: Option<String>,
    sex: u8,
    nation: Option<u8>,
    birth_date: DateValue,
    #[serde(default)]
    address: String,
    id_number: String,
    #[serde(default)]
    issuer: String,
    valid_from: DateValue,
    valid_until: DateValue,
    nationality: Option<String>,
    photo: PathBuf,
    chip_serial: String,
    appended_address: Option<String>,
}

impl CardFile {
    /// Read and check a card file. The fields must fit the 256-byte text
    /// block as they are (nothing is cut silently).
    pub fn load(path: impl AsRef<Path>) -> Result<CardFile, CardFileError> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|source| CardFileError::Read { path: path.to_owned(), source })?;
        let raw: RawCard = toml::from_str(&text)
            .map_err(|source| CardFileError::Toml { path: path.to_owned(), source: Box::new(source) })?;
        let bad = |field: &'static str, why: String| CardFileError::Field { path: path.to_owned(), field, why };

        let card_type = match raw.card_type.as_str() {
            "resident" => CardType::Resident,
            "foreigner_old" => CardType::ForeignerOld,
            "foreigner_new" => CardType::ForeignerNew,
            "hk_mo_tw" => CardType::HkMoTw,
            other => {
                return Err(bad(
                    "card_type",
                    format!("{other:?} is not resident, foreigner_old, foreigner_new or hk_mo_tw"),
                ));
            }
        };
        let foreigner = matches!(card_type, CardType::ForeignerOld | CardType::ForeignerNew);
        let sex = Sex::from_code(raw.sex).ok_or_else(|| bad("sex", format!("{} is not 0, 1, 2 or 9", raw.sex)))?;
        let nation = match (card_type, raw.nation) {
            (CardType::Resident, Some(code)) => Some(
                Nation::from_code(code)
                    .ok_or_else(|| bad("nation", format!("{code} is not a GB/T 3304 code (1-56, 97, 98)")))?,
            ),
            (CardType::Resident, None) => return Err(bad("nation", "resident cards need one".into())),
            (_, Some(_)) => return Err(bad("nation", "only resident cards carry a nation".into())),
            (_, None) => None,
        };
        if foreigner != raw.english_name.is_some() {
            return Err(bad("english_name", "foreigner cards need one, other cards have none".into()));
        }
        if foreigner != raw.nationality.is_some() {
            return Err(bad("nationality", "foreigner cards need one, other cards have none".into()));
        }
        let date = |field: &'static str, value: &DateValue| {
            let text = value.text();
            CardDate::parse_iso(&text).ok_or_else(|| bad(field, format!("{text:?} is not a date YYYY-MM-DD")))
        };
        let valid_until = match &raw.valid_until {
            DateValue::Text(s) if s == "长期" => None,
            other => Some(date("valid_until", other)?),
        };
        let fields = CardFields {
            card_type,
            name: raw.name,
            english_name: raw.english_name,
            sex,
            nation,
            birth_date: date("birth_date", &raw.birth_date)?,
            address: raw.address,
            id_number: raw.id_number,
            issuer: raw.issuer,
            valid_from: date("valid_from", &raw.valid_from)?,
            valid_until,
            nationality: raw.nationality,
        };
        if let Some(field) = misfit(&fields) {
            return Err(bad(field, "does not fit its slot in the 256-byte text block (too long?)".into()));
        }

        let photo_path = path.parent().unwrap_or(Path::new(".")).join(&raw.photo);
        let photo = std::fs::read(&photo_path).map_err(|source| CardFileError::Photo {
            path: path.to_owned(),
            photo: photo_path.clone(),
            source,
        })?;
        if photo.len() != PHOTO_LEN {
            return Err(bad(
                "photo",
                format!("{} is {} bytes; a WLT photo is {PHOTO_LEN}", photo_path.display(), photo.len()),
            ));
        }
        let chip_serial = parse_serial(&raw.chip_serial)
            .ok_or_else(|| bad("chip_serial", format!("{:?} is not 16 hex digits", raw.chip_serial)))?;
        Ok(CardFile { fields, photo, chip_serial, appended_address: raw.appended_address })
    }

    /// The three parts the card simulators need.
    pub fn into_parts(self) -> (CardFields, Vec<u8>, [u8; 8]) {
        (self.fields, self.photo, self.chip_serial)
    }
}

/// The first field that does not come back from an encode-parse round trip.
fn misfit(fields: &CardFields) -> Option<&'static str> {
    let back = match CardFields::parse(&fields.encode()) {
        Ok(back) => back,
        Err(_) => return Some("(text block)"),
    };
    [
        ("name", back.name == fields.name),
        ("english_name", back.english_name == fields.english_name),
        ("address", back.address == fields.address),
        ("id_number", back.id_number == fields.id_number),
        ("issuer", back.issuer == fields.issuer),
        ("nationality", back.nationality == fields.nationality),
        ("(text block)", back == *fields),
    ]
    .into_iter()
    .find(|(_, same)| !same)
    .map(|(field, _)| field)
}

fn parse_serial(hex: &str) -> Option<[u8; 8]> {
    let hex: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
    if hex.len() != 16 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 8];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cards_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("cards")
    }

    #[test]
    fn sample_cards_load_with_valid_id_numbers() {
        let mut types = Vec::new();
        for entry in std::fs::read_dir(cards_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let card = CardFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
                assert!(card.fields.id_number_valid(), "{}", path.display());
                assert_eq!(card.photo.len(), PHOTO_LEN);
                types.push(card.fields.card_type);
            }
        }
        for t in [CardType::Resident, CardType::ForeignerNew, CardType::HkMoTw] {
            assert!(types.contains(&t), "no sample card of type {t:?}");
        }
    }

    fn write_card(dir: &Path, body: &str) -> PathBuf {
        std::fs::write(dir.join("p.wlt"), [0u8; PHOTO_LEN]).unwrap();
        let path = dir.join("card.toml");
        std::fs::write(&path, body).unwrap();
        path
    }

    const GOOD: &str = r#"
card_type = "resident"
name = "张伟"
sex = 1
nation = 1
birth_date = 1990-03-07
address = "北京市朝阳区建国路1号"
id_number = "110105199003071239"
issuer = "北京市公安局朝阳分局"
valid_from = "2020-05-01"
valid_until = "长期"
photo = "p.wlt"
chip_serial = "10 E4 10 01 02 03 04 05"
"#;

    #[test]
    fn reads_toml_dates_strings_and_no_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let card = CardFile::load(write_card(dir.path(), GOOD)).unwrap();
        assert_eq!(card.fields.birth_date, CardDate::new(1990, 3, 7).unwrap());
        assert_eq!(card.fields.valid_from, CardDate::new(2020, 5, 1).unwrap());
        assert_eq!(card.fields.valid_until, None);
        assert_eq!(card.chip_serial, [0x10, 0xE4, 0x10, 0x01, 0x02, 0x03, 0x04, 0x05]);
    }

    #[test]
    fn bad_card_files_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        for (from, to, field) in [
            ("sex = 1", "sex = 3", "sex"),
            ("nation = 1", "nation = 57", "nation"),
            ("birth_date = 1990-03-07", "birth_date = \"1990-02-30\"", "birth_date"),
            ("chip_serial = \"10 E4 10 01 02 03 04 05\"", "chip_serial = \"10E4\"", "chip_serial"),
            ("name = \"张伟\"", "name = \"张伟张伟张伟张伟张伟张伟张伟张伟\"", "name"),
            ("card_type = \"resident\"", "card_type = \"passport\"", "card_type"),
        ] {
            let path = write_card(dir.path(), &GOOD.replace(from, to));
            match CardFile::load(&path) {
                Err(CardFileError::Field { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{to}: {other:?}"),
            }
        }
        let path = write_card(dir.path(), &GOOD.replace("photo = \"p.wlt\"", "photo = \"missing.wlt\""));
        assert!(matches!(CardFile::load(&path), Err(CardFileError::Photo { .. })));
        let path = write_card(dir.path(), &format!("{GOOD}\nshoe_size = 42\n"));
        assert!(matches!(CardFile::load(&path), Err(CardFileError::Toml { .. })));
    }
}
