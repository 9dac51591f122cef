//! What the data of a successful reply holds: the chip serial of a select,
//! the text block and photo of a read, the appended address.

use std::fmt;

use examgate_device_sdk::CardRead;
use examgate_device_sdk::idcard::{PHOTO_LEN, TEXT_LEN};

/// Why a reply's data does not have the documented layout.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("not a card read: the reply holds {0} bytes of data; a 30 01 or 30 10 reply holds at least 1284")]
    NotACardRead(usize),
    #[error("the reply declares a {0}-byte text block; GA 467 text blocks are {TEXT_LEN} bytes")]
    TextLength(usize),
    #[error("the reply declares a {0}-byte photo; GA 467 WLT photos are {PHOTO_LEN} bytes")]
    PhotoLength(usize),
    #[error("the reply declares {0} bytes of fingerprint data; at most 1024 are possible")]
    FingerprintLength(usize),
    #[error("truncated text: the reply declares {declared} bytes of text but holds {available}")]
    TruncatedText { declared: usize, available: usize },
    #[error("truncated photo: the reply declares {declared} bytes of photo but holds {available}")]
    TruncatedPhoto { declared: usize, available: usize },
    #[error("truncated fingerprint data: the reply declares {declared} bytes but holds {available}")]
    TruncatedFingerprint { declared: usize, available: usize },
    #[error("the reply holds {0} bytes after the declared text, photo and fingerprint data")]
    TrailingData(usize),
    #[error("the select-card reply holds {0} bytes; the chip serial is 8")]
    SerialLength(usize),
    #[error("the appended address is {0} bytes, not UCS-2 text")]
    BadAddress(usize),
}

/// The card's 8-byte chip serial, from the select-card reply.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChipSerial(pub [u8; 8]);

impl ChipSerial {
    pub fn parse(data: &[u8]) -> Result<ChipSerial, PayloadError> {
        data.try_into().map(ChipSerial).map_err(|_| PayloadError::SerialLength(data.len()))
    }
}

impl fmt::Display for ChipSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

impl fmt::Debug for ChipSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChipSerial({self})")
    }
}

/// Which read reply a payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReadLayout {
    /// 30 01: text length, photo length, text, photo.
    #[default]
    TextPhoto,
    /// 30 10: a third length (fingerprint) before the text, and the
    /// fingerprint records after the photo.
    TextPhotoFingerprint,
}

impl ReadLayout {
    fn header_len(self) -> usize {
        match self {
            ReadLayout::TextPhoto => 4,
            ReadLayout::TextPhotoFingerprint => 6,
        }
    }

    /// Tell the two layouts apart by the data alone (for saved replies): a
    /// 30 01 payload is exactly 4 + text + photo bytes; otherwise bytes 4-5
    /// of a 30 10 payload are the fingerprint length, which never looks like
    /// the first UCS-2 character of a text block (U+0000, U+0002 or U+0004).
    pub fn detect(data: &[u8]) -> ReadLayout {
        let (text, photo) = (be16(data, 0), be16(data, 2));
        let fingerprint = be16(data, 4);
        match (text, photo, fingerprint) {
            (Some(t), Some(p), _) if data.len() == 4 + t + p => ReadLayout::TextPhoto,
            (_, _, Some(0 | 512 | 1024)) => ReadLayout::TextPhotoFingerprint,
            _ => ReadLayout::TextPhoto,
        }
    }
}

fn be16(data: &[u8], at: usize) -> Option<usize> {
    data.get(at..at + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
}

/// A card as a read reply carries it. The text block is parsed by the SDK
/// ([`examgate_device_sdk::idcard::CardFields::parse`]); the photo stays
/// WLT bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct CardData {
    pub text: [u8; TEXT_LEN],
    pub photo: [u8; PHOTO_LEN],
    /// Fingerprint records (30 10 only; empty when the card has none).
    pub fingerprint: Vec<u8>,
}

impl fmt::Debug for CardData {
    // Personal data: sizes only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardData {{ text, photo, fingerprint: {} bytes }}", self.fingerprint.len())
    }
}

impl CardData {
    /// Parse the data of a successful 30 01 or 30 10 reply.
    pub fn parse(layout: ReadLayout, data: &[u8]) -> Result<CardData, PayloadError> {
        let header = layout.header_len();
        if data.len() < header {
            return Err(PayloadError::NotACardRead(data.len()));
        }
        let (text_len, photo_len) = (be16(data, 0).unwrap_or(0), be16(data, 2).unwrap_or(0));
        let fp_len = if layout == ReadLayout::TextPhotoFingerprint { be16(data, 4).unwrap_or(0) } else { 0 };
        if text_len != TEXT_LEN {
            return Err(PayloadError::TextLength(text_len));
        }
        if photo_len != PHOTO_LEN {
            return Err(PayloadError::PhotoLength(photo_len));
        }
        if fp_len > 1024 {
            return Err(PayloadError::FingerprintLength(fp_len));
        }
        let body = &data[header..];
        let text =
            body.get(..TEXT_LEN).ok_or(PayloadError::TruncatedText { declared: TEXT_LEN, available: body.len() })?;
        let body = &body[TEXT_LEN..];
        let photo =
            body.get(..PHOTO_LEN).ok_or(PayloadError::TruncatedPhoto { declared: PHOTO_LEN, available: body.len() })?;
        let body = &body[PHOTO_LEN..];
        let fingerprint =
            body.get(..fp_len).ok_or(PayloadError::TruncatedFingerprint { declared: fp_len, available: body.len() })?;
        if body.len() > fp_len {
            return Err(PayloadError::TrailingData(body.len() - fp_len));
        }
        Ok(CardData {
            text: text.try_into().expect("sliced to TEXT_LEN"),
            photo: photo.try_into().expect("sliced to PHOTO_LEN"),
            fingerprint: fingerprint.to_vec(),
        })
    }

    /// The reply data that carries this card (what a SAM sends after SW3).
    pub fn encode(&self, layout: ReadLayout) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + TEXT_LEN + PHOTO_LEN + self.fingerprint.len());
        out.extend_from_slice(&(TEXT_LEN as u16).to_be_bytes());
        out.extend_from_slice(&(PHOTO_LEN as u16).to_be_bytes());
        if layout == ReadLayout::TextPhotoFingerprint {
            out.extend_from_slice(&(self.fingerprint.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(&self.text);
        out.extend_from_slice(&self.photo);
        if layout == ReadLayout::TextPhotoFingerprint {
            out.extend_from_slice(&self.fingerprint);
        }
        out
    }

    /// What the SDK's [`examgate_device_sdk::IdCardReader`] returns.
    pub fn into_card_read(self, serial: Option<ChipSerial>) -> CardRead {
        CardRead {
            text: self.text.to_vec(),
            photo: self.photo.to_vec(),
            chip_serial: serial.map(|s| s.0.to_vec()).unwrap_or_default(),
        }
    }
}

/// The appended address (30 03): UCS-2LE, space padded, like the text block.
pub fn parse_appended_address(data: &[u8]) -> Result<String, PayloadError> {
    if !data.len().is_multiple_of(2) {
        return Err(PayloadError::BadAddress(data.len()));
    }
    let units: Vec<u16> = data.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    let s = String::from_utf16(&units).map_err(|_| PayloadError::BadAddress(data.len()))?;
    Ok(s.trim_end_matches([' ', '\0', '\u{3000}']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(fingerprint: usize) -> CardData {
        let mut text = [0; TEXT_LEN];
        text.chunks_exact_mut(2).for_each(|c| c.copy_from_slice(&[0x20, 0x00]));
        CardData { text, photo: [7; PHOTO_LEN], fingerprint: vec![9; fingerprint] }
    }

    #[test]
    fn read_payloads_round_trip_in_both_layouts() {
        let c = card(0);
        let data = c.encode(ReadLayout::TextPhoto);
        assert_eq!(data.len(), 1284);
        assert_eq!(ReadLayout::detect(&data), ReadLayout::TextPhoto);
        assert_eq!(CardData::parse(ReadLayout::TextPhoto, &data).unwrap(), c);
        for fp in [0, 512, 1024] {
            let c = card(fp);
            let data = c.encode(ReadLayout::TextPhotoFingerprint);
            assert_eq!(data.len(), 1286 + fp);
            assert_eq!(&data[6..8], &[0x20, 0x00], "text starts after three lengths");
            assert_eq!(ReadLayout::detect(&data), ReadLayout::TextPhotoFingerprint);
            assert_eq!(CardData::parse(ReadLayout::TextPhotoFingerprint, &data).unwrap(), c);
        }
    }

    #[test]
    fn short_payloads_say_which_part_is_missing() {
        let data = card(0).encode(ReadLayout::TextPhoto);
        let parse = |d: &[u8]| CardData::parse(ReadLayout::TextPhoto, d);
        assert_eq!(parse(&data[..3]), Err(PayloadError::NotACardRead(3)));
        assert_eq!(parse(&data[..104]), Err(PayloadError::TruncatedText { declared: 256, available: 100 }));
        assert_eq!(parse(&data[..1000]), Err(PayloadError::TruncatedPhoto { declared: 1024, available: 740 }));
        assert_eq!(parse(&[&data[..], &[0]].concat()), Err(PayloadError::TrailingData(1)));
        let mut bad = data.clone();
        bad[0] = 0x02;
        assert_eq!(parse(&bad), Err(PayloadError::TextLength(0x0200)));
    }

    #[test]
    fn serials_and_addresses() {
        let s = ChipSerial::parse(&[0x10, 0xE4, 0x10, 0x01, 0x02, 0x03, 0x04, 0x05]).unwrap();
        assert_eq!(s.to_string(), "10E4100102030405");
        assert_eq!(ChipSerial::parse(&[1, 2, 3]), Err(PayloadError::SerialLength(3)));
        let addr: Vec<u8> = "北京市 ".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(parse_appended_address(&addr).unwrap(), "北京市");
        assert_eq!(parse_appended_address(&[0x20]), Err(PayloadError::BadAddress(1)));
    }
}
