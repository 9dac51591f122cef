//! The ID card as JSON, the same in the agent API (`POST /v1/idcard/read`)
//! and the CLI (`read-card --json`, `decode-sam --json`).

use serde::{Deserialize, Serialize};

/// `POST /v1/idcard/read`; an empty body means all defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdCardRequest {
    /// Reader id; default: the first attached ID card reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// How long to wait for a card; default: the agent's capture timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// A code with its printed label (`{"code": "1", "label": "男"}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodedValue {
    pub code: String,
    pub label: String,
}

/// Where the card's data came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CardSourceName {
    #[serde(rename = "pcsc-decoded")]
    PcscDecoded,
    #[serde(rename = "pcsc-identifiers")]
    PcscIdentifiers,
    #[serde(rename = "sam")]
    Sam,
}

/// The card type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardTypeName {
    Resident,
    ForeignerOld,
    ForeignerNew,
    HkMoTw,
}

/// A second-generation ID card. Printed fields are `null` when the reader
/// gave identifiers only (`source` = `pcsc-identifiers`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdCard {
    pub card_type: Option<CardTypeName>,
    pub name: Option<String>,
    /// Only on card types that carry one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_name: Option<String>,
    pub sex: Option<CodedValue>,
    /// Resident cards only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nation: Option<CodedValue>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    pub address: Option<String>,
    pub id_number: Option<String>,
    pub id_number_valid: Option<bool>,
    pub issuer: Option<String>,
    pub valid_from: Option<String>,
    /// `null` for no expiry (长期).
    pub valid_until: Option<String>,
    /// Hex, where read.
    pub chip_serial: Option<String>,
    /// Standard base64 of the 1024-byte WLT photo, where read.
    pub photo_wlt: Option<String>,
    pub photo_sha256: Option<String>,
    /// The photo as a JPEG (standard base64), only when a vendor's WLT
    /// decoder plugin is installed; examgate never decodes WLT itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_jpeg: Option<String>,
    pub source: CardSourceName,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_card_json_shape() {
        let card = IdCard {
            card_type: Some(CardTypeName::Resident),
            name: Some("张三".into()),
            english_name: None,
            sex: Some(CodedValue { code: "1".into(), label: "男".into() }),
            nation: Some(CodedValue { code: "01".into(), label: "汉".into() }),
            birth_date: Some("1949-12-31".into()),
            address: Some("北京".into()),
            id_number: Some("11010519491231002X".into()),
            id_number_valid: Some(true),
            issuer: Some("北京市公安局".into()),
            valid_from: Some("2015-03-01".into()),
            valid_until: None,
            chip_serial: Some("10e4100102030405".into()),
            photo_wlt: Some("AAAA".into()),
            photo_sha256: Some("ab".into()),
            photo_jpeg: None,
            source: CardSourceName::PcscDecoded,
        };
        let v = serde_json::to_value(&card).unwrap();
        assert_eq!(v["card_type"], "resident");
        assert_eq!(v["sex"]["label"], "男");
        assert_eq!(v["valid_until"], serde_json::Value::Null);
        assert!(v.get("english_name").is_none());
        assert_eq!(v["source"], "pcsc-decoded");
        let back: IdCard = serde_json::from_value(v).unwrap();
        assert_eq!(back, card);
    }
}
