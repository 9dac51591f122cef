//! Saved SAM replies (the agent's `decode-sam FILE`): frames written from
//! protocols.md by `tests/data/make_replies.py`, independently of this
//! crate, decode field by field; every malformed input class gives its own
//! typed error and one clear line.

use std::path::{Path, PathBuf};

use examgate_device_sdk::idcard::{CardDate, CardParseError, CardSource, CardType, Sex};
use examgate_sam::{FrameError, PayloadError, SamError, Sw3Error, decode_reply_file};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)).unwrap()
}

fn sample_photo() -> Vec<u8> {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../simulators/cards/sample-photo.wlt");
    std::fs::read(path).unwrap()
}

/// Wrap reply data (after SW3) in a frame with a right checksum.
fn frame(sw3: u8, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0xAA, 0xAA, 0xAA, 0x96, 0x69];
    f.extend_from_slice(&u16::try_from(data.len() + 4).unwrap().to_be_bytes());
    f.extend_from_slice(&[0, 0, sw3]);
    f.extend_from_slice(data);
    f.push(f[5..].iter().fold(0, |a, b| a ^ b));
    f
}

#[test]
fn decodes_a_30_01_reply_field_by_field() {
    let card = decode_reply_file(&data("reply_30_01_resident.bin")).unwrap();
    assert_eq!(card.source, CardSource::Sam);
    assert!(card.chip_serial.is_empty(), "a read reply carries no chip serial");
    assert_eq!(card.photo_wlt, sample_photo());
    assert!(card.photo_sha256().is_some());
    let f = card.fields.unwrap();
    assert_eq!(f.card_type, CardType::Resident);
    assert_eq!(f.name, "王小明");
    assert_eq!(f.sex, Sex::Male);
    assert_eq!(f.nation.unwrap().code(), 3);
    assert_eq!(f.nation.unwrap().label(), "回");
    assert_eq!(f.birth_date, CardDate::new(1976, 12, 31).unwrap());
    assert_eq!(f.address, "宁夏回族自治区银川市兴庆区解放西街1号");
    assert_eq!(f.id_number, "640104197612310010");
    assert!(f.id_number_valid());
    assert_eq!(f.issuer, "银川市公安局兴庆区分局");
    assert_eq!(f.valid_from, CardDate::new(2016, 10, 20).unwrap());
    assert_eq!(f.valid_until, None, "长期");
}

#[test]
fn decodes_a_30_10_reply_with_fingerprints() {
    let bytes = data("reply_30_10_hk.bin");
    assert_eq!(bytes.len(), 1809);
    let card = decode_reply_file(&bytes).unwrap();
    assert_eq!(card.photo_wlt, sample_photo());
    let f = card.fields.unwrap();
    assert_eq!(f.card_type, CardType::HkMoTw);
    assert_eq!(f.name, "李嘉欣");
    assert_eq!(f.sex, Sex::Female);
    assert_eq!(f.nation, None);
    assert_eq!(f.id_number, "810000199208080022");
    assert!(f.id_number_valid());
    assert_eq!(f.valid_until, CardDate::new(2025, 1, 1));
}

/// (what is wrong, the bytes, the error, a word the message must carry)
fn malformed() -> Vec<(&'static str, Vec<u8>, SamError, &'static str)> {
    let good = data("reply_30_01_resident.bin");
    let mut bad_checksum = good.clone();
    bad_checksum[500] ^= 0x40;
    let mut bad_preamble = good.clone();
    bad_preamble[3] = 0x97;
    let mut long_len = good.clone();
    long_len[6] += 1;
    let mut short_len = good.clone();
    short_len[6] -= 1;
    let text_cut = {
        let d = &good[10..good.len() - 1];
        frame(0x90, &d[..4 + 100])
    };
    let photo_cut = frame(0x90, &good[10..good.len() - 1 - 24]);
    let mut bad_type = good[10..good.len() - 1].to_vec();
    bad_type[4 + 248] = b'Q';
    vec![
        (
            "bad checksum",
            bad_checksum,
            SamError::Frame(FrameError::BadChecksum { found: good[1294], computed: good[1294] ^ 0x40 }),
            "bad checksum",
        ),
        (
            "bad preamble",
            bad_preamble,
            SamError::Frame(FrameError::BadPreamble { found: vec![0xAA, 0xAA, 0xAA, 0x97, 0x69] }),
            "bad preamble",
        ),
        (
            "file cut short",
            good[..700].to_vec(),
            SamError::Frame(FrameError::Truncated { needed: 1295, available: 700 }),
            "truncated frame",
        ),
        (
            "LEN too long",
            long_len,
            SamError::Frame(FrameError::Truncated { needed: 1296, available: 1295 }),
            "truncated frame",
        ),
        (
            "LEN too short",
            short_len,
            SamError::Frame(FrameError::WrongLength { declared: 0x0507, expected: 1294, actual: 1295 }),
            "wrong length",
        ),
        (
            "bytes after the frame",
            [&good[..], b"\n"].concat(),
            SamError::Frame(FrameError::WrongLength { declared: 0x0508, expected: 1295, actual: 1296 }),
            "wrong length",
        ),
        ("empty file", Vec::new(), SamError::Frame(FrameError::Truncated { needed: 7, available: 0 }), "truncated"),
        (
            "SW3 error",
            vec![0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x41, 0x45],
            SamError::Status(Sw3Error::ReadFailed),
            "SW3 41",
        ),
        (
            "find-card reply",
            vec![0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x08, 0x00, 0x00, 0x9F, 0, 0, 0, 0, 0x97],
            SamError::Payload(PayloadError::NotACardRead(4)),
            "not a card read",
        ),
        (
            "truncated text",
            text_cut,
            SamError::Payload(PayloadError::TruncatedText { declared: 256, available: 100 }),
            "truncated text",
        ),
        (
            "truncated photo",
            photo_cut,
            SamError::Payload(PayloadError::TruncatedPhoto { declared: 1024, available: 1000 }),
            "truncated photo",
        ),
        ("unknown card type", frame(0x90, &bad_type), SamError::Card(CardParseError::UnknownType('Q')), "card type"),
    ]
}

#[test]
fn every_malformed_input_gives_its_typed_error() {
    for (what, bytes, expected, word) in malformed() {
        let err = decode_reply_file(&bytes).unwrap_err();
        assert_eq!(err, expected, "{what}");
        let line = err.to_string();
        assert!(line.contains(word), "{what}: {line:?} should mention {word:?}");
        assert!(!line.contains('\n'), "{what}: one line");
    }
}
