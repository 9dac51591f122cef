//! ID cards at the edge: what a reader read ([`CardRead`]) becomes the
//! card JSON of the API and the CLI ([`IdCard`]), the same in both.
//!
//! The WLT photo is proprietary and never decoded here: its bytes travel as
//! base64 with their SHA-256. ID numbers and photos are personal data: they
//! go to the caller, never to a log ([`log_tag`] is what logs get).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use examgate_device_sdk::CardRead;
use examgate_device_sdk::idcard::{CardDate, CardFields, CardParseError, CardSource, CardType, IdentityCard};
use examgate_protocol::idcard::{CardSourceName, CardTypeName, CodedValue, IdCard};

use crate::selector::DeviceSelector;

/// Where a read came from, by the kind of reader: a SAM module decodes the
/// card itself; a PC/SC reader (or a plugin) gives the decoded card when it
/// has a SAM inside, identifiers only when it has none.
pub fn card_source(selector: &DeviceSelector, read: &CardRead) -> CardSource {
    match selector {
        DeviceSelector::Sam(_) => CardSource::Sam,
        _ if read.text.is_empty() => CardSource::PcscIdentifiers,
        _ => CardSource::PcscDecoded,
    }
}

/// Parse a read into a card.
pub fn decode(read: &CardRead, source: CardSource) -> Result<IdentityCard, CardParseError> {
    IdentityCard::from_read(read, source)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn date(d: CardDate) -> String {
    d.to_string()
}

fn type_name(t: CardType) -> CardTypeName {
    match t {
        CardType::Resident => CardTypeName::Resident,
        CardType::ForeignerOld => CardTypeName::ForeignerOld,
        CardType::ForeignerNew => CardTypeName::ForeignerNew,
        CardType::HkMoTw => CardTypeName::HkMoTw,
    }
}

fn source_name(s: CardSource) -> CardSourceName {
    match s {
        CardSource::PcscDecoded => CardSourceName::PcscDecoded,
        CardSource::PcscIdentifiers => CardSourceName::PcscIdentifiers,
        CardSource::Sam => CardSourceName::Sam,
    }
}

/// The card as JSON: printed fields `null` when the reader gave identifiers
/// only; dates `YYYY-MM-DD`; `valid_until` `null` for no expiry (长期);
/// sex and nation with their Chinese labels; the chip serial in hex; the
/// WLT photo in standard base64 with its SHA-256 in hex.
pub fn to_json(card: &IdentityCard) -> IdCard {
    let f: Option<&CardFields> = card.fields.as_ref();
    IdCard {
        card_type: f.map(|f| type_name(f.card_type)),
        name: f.map(|f| f.name.clone()),
        english_name: f.and_then(|f| f.english_name.as_deref().and_then(non_empty)),
        sex: f.map(|f| CodedValue { code: f.sex.code().to_string(), label: f.sex.label().to_owned() }),
        nation: f
            .and_then(|f| f.nation)
            .map(|n| CodedValue { code: format!("{:02}", n.code()), label: n.label().to_owned() }),
        birth_date: f.map(|f| date(f.birth_date)),
        address: f.and_then(|f| non_empty(&f.address)),
        id_number: f.map(|f| f.id_number.clone()),
        id_number_valid: f.map(CardFields::id_number_valid),
        issuer: f.and_then(|f| non_empty(&f.issuer)),
        valid_from: f.map(|f| date(f.valid_from)),
        valid_until: f.and_then(|f| f.valid_until).map(date),
        chip_serial: (!card.chip_serial.is_empty()).then(|| hex(&card.chip_serial)),
        photo_wlt: (!card.photo_wlt.is_empty()).then(|| STANDARD.encode(&card.photo_wlt)),
        photo_sha256: card.photo_sha256().map(|h| hex(&h)),
        photo_jpeg: None,
        source: source_name(card.source),
    }
}

/// What a log may say about a card: its type and source and the start of
/// the photo's hash, never the ID number, the name or the photo.
pub fn log_tag(card: &IdentityCard) -> String {
    let kind = card.fields.as_ref().map_or("identifiers only", |f| f.card_type.as_str());
    let photo = card.photo_sha256().map(|h| hex(&h[..6])).unwrap_or_else(|| "none".into());
    format!("{kind} card from {} (photo {photo})", card.source.as_str())
}

/// The card for a person at a terminal: one field a line, labelled in
/// English and Chinese. The ID number is shown whole: the examiner reads it.
pub fn human(card: &IdCard) -> String {
    let mut lines: Vec<(&str, String)> = Vec::new();
    let type_label = card.card_type.map(|t| match t {
        CardTypeName::Resident => "resident identity card (居民身份证)",
        CardTypeName::ForeignerOld => "foreigner's permanent residence card, 2017 (外国人永久居留身份证)",
        CardTypeName::ForeignerNew => "foreigner's permanent residence card, 2023 (外国人永久居留身份证)",
        CardTypeName::HkMoTw => "Hong Kong/Macao/Taiwan residence permit (港澳台居民居住证)",
    });
    let source = match card.source {
        CardSourceName::PcscDecoded => "PC/SC reader with SAM (pcsc-decoded)",
        CardSourceName::PcscIdentifiers => {
            "PC/SC reader without SAM (pcsc-identifiers): the card's printed fields cannot be read here"
        }
        CardSourceName::Sam => "GA 467 SAM module (sam)",
    };
    if let Some(t) = type_label {
        lines.push(("card 证件", t.to_owned()));
    }
    let mut push = |label, value: &Option<String>| {
        if let Some(v) = value {
            lines.push((label, v.clone()));
        }
    };
    push("name 姓名", &card.name);
    push("English name 英文姓名", &card.english_name);
    push("sex 性别", &card.sex.as_ref().map(|s| format!("{} ({})", s.label, s.code)));
    push("nation 民族", &card.nation.as_ref().map(|n| format!("{} ({})", n.label, n.code)));
    push("born 出生", &card.birth_date);
    push("address 住址", &card.address);
    let id = card.id_number.as_ref().map(|id| match card.id_number_valid {
        Some(true) => format!("{id} (check character valid)"),
        _ => format!("{id} (CHECK CHARACTER WRONG: not a valid ID number)"),
    });
    push("ID number 公民身份号码", &id);
    push("issuer 签发机关", &card.issuer);
    let validity = card
        .valid_from
        .as_ref()
        .map(|from| format!("{from} – {}", card.valid_until.as_deref().unwrap_or("no expiry (长期)")));
    push("valid 有效期限", &validity);
    push("chip serial", &card.chip_serial);
    let photo = card.photo_sha256.as_ref().map(|h| format!("WLT, sha256 {h} (kept as read; not decoded here)"));
    push("photo 照片", &photo);
    lines.push(("source", source.to_owned()));
    let width = lines.iter().map(|(l, _)| columns(l)).max().unwrap_or(0);
    lines.iter().map(|(l, v)| format!("{l}{}  {v}\n", " ".repeat(width - columns(l)))).collect()
}

/// Terminal columns of a label: Chinese characters take two.
fn columns(s: &str) -> usize {
    s.chars().map(|c| if c >= '\u{2e80}' { 2 } else { 1 }).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The fake resident card, with no expiry (长期).
    fn fields() -> CardFields {
        CardFields { valid_until: None, ..crate::fakes::resident() }
    }

    fn read(text: bool) -> CardRead {
        CardRead {
            text: if text { fields().encode().to_vec() } else { Vec::new() },
            photo: if text { vec![0x57; 1024] } else { Vec::new() },
            chip_serial: vec![0x10, 0xE4, 0x10, 0x01, 0x02, 0x03, 0x04, 0x05],
        }
    }

    #[test]
    fn a_decoded_card_becomes_the_documented_json() {
        let selector: DeviceSelector = "pcsc-idcard".parse().unwrap();
        let read = read(true);
        let card = decode(&read, card_source(&selector, &read)).unwrap();
        let v = serde_json::to_value(to_json(&card)).unwrap();
        assert_eq!(v["card_type"], "resident");
        assert_eq!(v["name"], "张伟");
        assert!(v.get("english_name").is_none());
        assert_eq!(v["sex"], json!({"code": "1", "label": "男"}));
        assert_eq!(v["nation"], json!({"code": "01", "label": "汉"}));
        assert_eq!(v["birth_date"], "1990-03-07");
        assert_eq!(v["id_number"], "110105199003071239");
        assert_eq!(v["id_number_valid"], true);
        assert_eq!(v["valid_from"], "2020-05-01");
        assert_eq!(v["valid_until"], serde_json::Value::Null);
        assert_eq!(v["chip_serial"], "10e4100102030405");
        assert_eq!(v["photo_wlt"].as_str().unwrap().len(), 1368, "1024 bytes in padded base64");
        assert_eq!(v["photo_sha256"].as_str().unwrap().len(), 64);
        assert_eq!(v["source"], "pcsc-decoded");
    }

    #[test]
    fn identifiers_only_and_sam_reads_say_where_they_came_from() {
        let read = read(false);
        let card = decode(&read, card_source(&"pcsc-idcard".parse().unwrap(), &read)).unwrap();
        let v = serde_json::to_value(to_json(&card)).unwrap();
        assert_eq!(v["source"], "pcsc-identifiers");
        for field in ["card_type", "name", "id_number", "id_number_valid", "photo_wlt", "photo_sha256"] {
            assert_eq!(v[field], serde_json::Value::Null, "{field}");
        }
        assert_eq!(v["chip_serial"], "10e4100102030405");
        let sam: DeviceSelector = "sam:serial:/dev/ttyUSB0".parse().unwrap();
        assert_eq!(card_source(&sam, &self::read(true)), CardSource::Sam);
    }

    #[test]
    fn the_human_form_shows_the_whole_id_number_and_logs_never_do() {
        let read = read(true);
        let card = decode(&read, CardSource::PcscDecoded).unwrap();
        let text = human(&to_json(&card));
        assert!(text.contains("110105199003071239 (check character valid)"), "{text}");
        assert!(text.contains("no expiry (长期)"), "{text}");
        assert!(text.contains("男 (1)"), "{text}");
        let tag = log_tag(&card);
        assert!(!tag.contains("1101") && !tag.contains("张伟"), "{tag}");
        assert!(tag.starts_with("resident card from pcsc-decoded"), "{tag}");
    }
}
