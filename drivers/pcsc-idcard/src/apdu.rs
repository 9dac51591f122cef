//! The bytes of a decoded-card read, parsed once.

use examgate_device_sdk::idcard::{PHOTO_LEN, TEXT_LEN};

pub(crate) const GET_UID: [u8; 5] = [0xFF, 0xCA, 0x00, 0x00, 0x00];
pub(crate) const GET_CHIP_SERIAL: [u8; 5] = [0x00, 0x36, 0x00, 0x00, 0x08];
pub(crate) const BLOCKS: u8 = 6;
pub(crate) const RECORD_LEN: usize = 4 + TEXT_LEN + PHOTO_LEN;

pub(crate) fn read_block(n: u8) -> [u8; 5] {
    [0xFF, 0xB0, n, 0x00, 0x00]
}

/// Split an R-APDU into data and status word.
pub(crate) fn split(response: &[u8]) -> Option<(&[u8], [u8; 2])> {
    if response.len() < 2 {
        return None;
    }
    let (data, sw) = response.split_at(response.len() - 2);
    Some((data, [sw[0], sw[1]]))
}

/// A reader presents the decoded card when ATR bytes 13-14 are `90 00`.
pub(crate) fn atr_says_decoded(atr: &[u8]) -> bool {
    atr.get(13..15) == Some(&[0x90, 0x00][..])
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("decoded-card record is {0} bytes, expected {RECORD_LEN}")]
    WrongLength(usize),
    #[error(
        "decoded-card record announces text length {text} and photo length {photo}, expected {TEXT_LEN} and {PHOTO_LEN}"
    )]
    WrongLengths { text: u16, photo: u16 },
}

/// Split the 1284-byte record into text block and WLT photo.
pub fn parse_record(record: &[u8]) -> Result<(Vec<u8>, Vec<u8>), RecordError> {
    if record.len() != RECORD_LEN {
        return Err(RecordError::WrongLength(record.len()));
    }
    let text = u16::from_be_bytes([record[0], record[1]]);
    let photo = u16::from_be_bytes([record[2], record[3]]);
    if usize::from(text) != TEXT_LEN || usize::from(photo) != PHOTO_LEN {
        return Err(RecordError::WrongLengths { text, photo });
    }
    Ok((record[4..4 + TEXT_LEN].to_vec(), record[4 + TEXT_LEN..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_well_formed_record() {
        let mut r = vec![0x01, 0x00, 0x04, 0x00];
        r.extend(std::iter::repeat_n(0x41, TEXT_LEN));
        r.extend(std::iter::repeat_n(0x57, PHOTO_LEN));
        let (text, photo) = parse_record(&r).unwrap();
        assert_eq!(text.len(), 256);
        assert!(photo.iter().all(|b| *b == 0x57));
    }

    #[test]
    fn refuses_wrong_lengths() {
        assert_eq!(parse_record(&[0; 10]), Err(RecordError::WrongLength(10)));
        let mut r = vec![0x00, 0xFF, 0x04, 0x00];
        r.resize(RECORD_LEN, 0);
        assert_eq!(parse_record(&r), Err(RecordError::WrongLengths { text: 255, photo: 1024 }));
    }

    #[test]
    fn recognises_decoded_reader_atrs() {
        let mut atr = vec![0x3B, 0x8B, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x90, 0x00, 0x00];
        assert!(atr_says_decoded(&atr));
        atr[13] = 0;
        assert!(!atr_says_decoded(&atr));
        assert!(!atr_says_decoded(&[0x3B, 0x80]));
    }

    #[test]
    fn splits_status_words() {
        assert_eq!(split(&[1, 2, 0x90, 0x00]), Some((&[1u8, 2][..], [0x90, 0x00])));
        assert_eq!(split(&[0x90]), None);
    }
}
