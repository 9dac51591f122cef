//! Golden records written by hand from the layouts of ISO/IEC 19794-2:2005 and ANSI INCITS
//! 378-2004 (protocols.md section 3), round trips, and one test per malformed class.

use examgate_device_sdk::TemplateFormat;
use examgate_minutiae::{
    Angle, EncodeError, MinutiaKind, RecordError, Standard, detect_standard, encode, parse, parse_ansi, parse_iso,
};

/// ISO 19794-2:2005, one view (right index, quality 80), two minutiae, no extended data.
const ISO_GOLDEN: &[u8] = &[
    b'F', b'M', b'R', 0, b' ', b'2', b'0', 0, // magic and version
    0x00, 0x00, 0x00, 0x2A, // record length 42
    0x00, 0x00, // capture equipment
    0x01, 0x2C, 0x01, 0x90, // 300 x 400 pixels
    0x00, 0xC5, 0x00, 0xC5, // 197 x 197 px/cm (500 dpi)
    0x01, 0x00, // one finger view, reserved
    0x02, 0x00, 0x50, 0x02, // right index, view 0 / live plain, quality 80, 2 minutiae
    0x40, 0x64, 0x00, 0x78, 0x40, 0x3C, // ending at (100, 120), 64 * 1.40625 = 90 deg, q 60
    0x80, 0x96, 0x00, 0xC8, 0x80, 0x46, // bifurcation at (150, 200), 180 deg, q 70
    0x00, 0x00, // no extended data
];

/// The same record in ANSI 378-2004: product id 0x0033/0x0001, angles in 2-degree units.
const ANSI_GOLDEN: &[u8] = &[
    b'F', b'M', b'R', 0, b' ', b'2', b'0', 0, // magic and version
    0x00, 0x2C, // record length 44
    0x00, 0x33, 0x00, 0x01, // CBEFF product identifier: owner, type
    0x00, 0x00, // capture equipment
    0x01, 0x2C, 0x01, 0x90, // 300 x 400 pixels
    0x00, 0xC5, 0x00, 0xC5, // 197 x 197 px/cm
    0x01, 0x00, // one finger view, reserved
    0x02, 0x00, 0x50, 0x02, // right index, view 0 / live plain, quality 80, 2 minutiae
    0x40, 0x64, 0x00, 0x78, 0x2D, 0x3C, // ending at (100, 120), 45 * 2 = 90 deg, q 60
    0x80, 0x96, 0x00, 0xC8, 0x5A, 0x46, // bifurcation at (150, 200), 180 deg, q 70
    0x00, 0x00, // no extended data
];

fn with_length_iso(mut bytes: Vec<u8>) -> Vec<u8> {
    let len = bytes.len() as u32;
    bytes[8..12].copy_from_slice(&len.to_be_bytes());
    bytes
}

#[test]
fn golden_files_in_tests_data_are_these_bytes() {
    assert_eq!(include_bytes!("data/golden_iso19794_2.fmr"), ISO_GOLDEN);
    assert_eq!(include_bytes!("data/golden_ansi378.fmr"), ANSI_GOLDEN);
}

#[test]
fn reads_the_golden_iso_record() {
    let r = parse(ISO_GOLDEN).unwrap();
    assert_eq!(r.standard, Standard::Iso19794_2_2005);
    assert_eq!((r.width, r.height, r.x_resolution, r.y_resolution), (300, 400, 197, 197));
    assert_eq!(r.views.len(), 1);
    let v = &r.views[0];
    assert_eq!((v.position, v.view_number, v.impression_type, v.quality), (2, 0, 0, 80));
    assert_eq!(v.minutiae.len(), 2);
    let m = v.minutiae[0];
    assert_eq!((m.kind, m.x, m.y, m.quality), (MinutiaKind::RidgeEnding, 100, 120, 60));
    assert_eq!(m.angle.degrees(), 90.0);
    assert_eq!(v.minutiae[1].kind, MinutiaKind::Bifurcation);
    assert_eq!(v.minutiae[1].angle.degrees(), 180.0);
    assert!(v.extended_data.is_empty());
}

#[test]
fn reads_the_golden_ansi_record() {
    let r = parse(ANSI_GOLDEN).unwrap();
    assert_eq!(r.standard, Standard::Ansi378_2004);
    assert_eq!((r.product_owner, r.product_type), (0x33, 1));
    assert_eq!(r.views[0].minutiae[0].angle.degrees(), 90.0);
    assert_eq!(r.views[0].minutiae[1].angle.degrees(), 180.0);
}

#[test]
fn golden_records_encode_back_to_the_same_bytes() {
    assert_eq!(encode(&parse(ISO_GOLDEN).unwrap()).unwrap(), ISO_GOLDEN);
    assert_eq!(encode(&parse(ANSI_GOLDEN).unwrap()).unwrap(), ANSI_GOLDEN);
}

#[test]
fn converts_iso_to_ansi_and_back() {
    let iso = parse(ISO_GOLDEN).unwrap();
    let mut ansi = iso.converted_to(Standard::Ansi378_2004);
    ansi.product_owner = 0x33;
    ansi.product_type = 1;
    assert_eq!(encode(&ansi).unwrap(), ANSI_GOLDEN);
    assert_eq!(encode(&parse(ANSI_GOLDEN).unwrap().converted_to(Standard::Iso19794_2_2005)).unwrap(), ISO_GOLDEN);
}

#[test]
fn angle_conversion_rounds_to_the_nearest_unit() {
    // 45 deg is ISO 32 exactly and ANSI 22.5: rounds half up to 23 (46 deg).
    assert_eq!(Angle::from_iso(32).to_ansi(), 23);
    // 359 deg in ANSI would be 179.5: wraps to 0.
    assert_eq!(Angle::from_degrees(359.5).to_ansi(), 0);
    assert_eq!(Angle::from_ansi(179).unwrap().to_iso(), 255); // 358 deg = 254.58 ISO units
    assert_eq!(Angle::from_ansi(180), None);
    for unit in 0..=255u8 {
        assert_eq!(Angle::from_iso(unit).to_iso(), unit);
    }
    for unit in 0..180u8 {
        assert_eq!(Angle::from_ansi(unit).unwrap().to_ansi(), unit);
    }
}

#[test]
fn iso_round_trip_through_ansi_moves_angles_by_under_two_degrees() {
    let record = examgate_minutiae::synthetic::impression(
        &examgate_minutiae::synthetic::Finger::new(11),
        1,
        &Default::default(),
    );
    let back = record.converted_to(Standard::Ansi378_2004).converted_to(Standard::Iso19794_2_2005);
    for (a, b) in record.views[0].minutiae.iter().zip(&back.views[0].minutiae) {
        assert_eq!((a.x, a.y, a.kind), (b.x, b.y, b.kind));
        let d = (a.angle.degrees() - b.angle.degrees()).rem_euclid(360.0);
        // At most 1 degree to ANSI's grid, then 0.71 back to ISO's.
        assert!(d.min(360.0 - d) <= 1.75, "{a:?} -> {b:?}");
    }
    // And the ANSI bytes parse back to the same ANSI record.
    let ansi = record.converted_to(Standard::Ansi378_2004);
    assert_eq!(parse_ansi(&encode(&ansi).unwrap()).unwrap(), ansi);
}

#[test]
fn ansi_to_iso_clamps_qualities_and_drops_the_product_id() {
    let mut iso = parse(ISO_GOLDEN).unwrap();
    iso.views[0].minutiae[0].quality = 200; // some ISO writers use other scales
    let ansi = iso.converted_to(Standard::Ansi378_2004);
    assert_eq!(ansi.views[0].minutiae[0].quality, 100);
    let back = parse(ANSI_GOLDEN).unwrap().converted_to(Standard::Iso19794_2_2005);
    assert_eq!((back.product_owner, back.product_type), (0, 0));
}

#[test]
fn reads_several_views_and_keeps_extended_data() {
    let mut bytes = ISO_GOLDEN[..24].to_vec();
    bytes[22] = 2; // two views
    // View 1: as the golden one, with a 6-byte extended data block (type 0x0102, length 2).
    bytes.extend_from_slice(&ISO_GOLDEN[24..40]);
    bytes.extend_from_slice(&[0x00, 0x06, 0x01, 0x02, 0x00, 0x02, 0xAA, 0xBB]);
    // View 2: left index, view number 1, one minutia.
    bytes.extend_from_slice(&[0x07, 0x10, 0x40, 0x01, 0x40, 0x10, 0x00, 0x20, 0x00, 0x30, 0x00, 0x00]);
    let bytes = with_length_iso(bytes);
    let r = parse(&bytes).unwrap();
    assert_eq!(r.views.len(), 2);
    assert_eq!(r.views[0].extended_data, [0x01, 0x02, 0x00, 0x02, 0xAA, 0xBB]);
    assert_eq!((r.views[1].position, r.views[1].view_number, r.views[1].minutiae.len()), (7, 1, 1));
    assert_eq!(encode(&r).unwrap(), bytes);
}

#[test]
fn reads_ansi_records_with_the_long_length_field() {
    // Length 0 followed by a 4-byte length: required from 64 KiB, allowed below.
    let mut bytes = ANSI_GOLDEN[..8].to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 48]);
    bytes.extend_from_slice(&ANSI_GOLDEN[10..]);
    let r = parse(&bytes).unwrap();
    assert_eq!(r.standard, Standard::Ansi378_2004);
    assert_eq!(r.views[0].minutiae.len(), 2);
}

#[test]
fn writes_the_long_ansi_length_only_when_needed() {
    let mut record = parse(ANSI_GOLDEN).unwrap();
    let view = record.views[0].clone();
    record.views = vec![view; 200];
    for v in &mut record.views {
        v.minutiae = vec![v.minutiae[0]; 60];
    }
    let bytes = encode(&record).unwrap();
    assert!(bytes.len() > 0xFFFF);
    assert_eq!(&bytes[8..10], &[0, 0]);
    assert_eq!(parse(&bytes).unwrap(), record);
}

#[test]
fn detection_agrees_with_the_sdk() {
    let mut long = ANSI_GOLDEN[..8].to_vec();
    long.extend_from_slice(&[0, 0, 0, 0, 0, 48]);
    long.extend_from_slice(&ANSI_GOLDEN[10..]);
    for (bytes, sdk, ours) in [
        (ISO_GOLDEN.to_vec(), TemplateFormat::Iso19794_2, Standard::Iso19794_2_2005),
        (ANSI_GOLDEN.to_vec(), TemplateFormat::Ansi378, Standard::Ansi378_2004),
        (long, TemplateFormat::Ansi378, Standard::Ansi378_2004),
    ] {
        assert_eq!(TemplateFormat::detect(&bytes, &[]), Some(sdk));
        assert_eq!(detect_standard(&bytes).unwrap(), ours);
    }
}

fn check_error(bytes: &[u8], expected: RecordError) {
    assert_eq!(parse(bytes), Err(expected.clone()), "{}", expected);
    assert!(!expected.to_string().is_empty());
}

#[test]
fn rejects_records_that_are_not_minutiae_records() {
    check_error(b"XMR\0 20\0\0\0\0\x2A", RecordError::BadMagic);
    check_error(b"", RecordError::Truncated { part: "record header", offset: 0, needed: 8, available: 0 });
    check_error(b"FMR", RecordError::Truncated { part: "record header", offset: 0, needed: 8, available: 3 });
    check_error(b"FMR\0 030\0\0\0\0\0", RecordError::BadVersion { found: *b" 030" });
}

#[test]
fn rejects_truncated_records() {
    check_error(
        &ISO_GOLDEN[..10],
        RecordError::Truncated { part: "record length", offset: 0, needed: 12, available: 10 },
    );
    // A length field that agrees with a buffer too short for the header.
    let short = with_length_iso(ISO_GOLDEN[..20].to_vec());
    check_error(&short, RecordError::Truncated { part: "record header", offset: 12, needed: 12, available: 8 });
    // Cut in the middle: the length field no longer matches.
    check_error(
        &ISO_GOLDEN[..30],
        RecordError::RecordLength { standard: Standard::Iso19794_2_2005, declared: 42, actual: 30 },
    );
}

#[test]
fn rejects_a_wrong_record_length() {
    let mut padded = ISO_GOLDEN.to_vec();
    padded.extend_from_slice(&[0; 8]);
    check_error(&padded, RecordError::RecordLength { standard: Standard::Iso19794_2_2005, declared: 42, actual: 50 });
    let mut ansi = ANSI_GOLDEN.to_vec();
    ansi[9] = 0x40;
    check_error(&ansi, RecordError::RecordLength { standard: Standard::Ansi378_2004, declared: 64, actual: 44 });
    assert!(matches!(parse_ansi(ISO_GOLDEN), Err(RecordError::RecordLength { .. })));
    assert!(matches!(parse_iso(ANSI_GOLDEN), Err(RecordError::RecordLength { .. })));
}

#[test]
fn rejects_records_without_views() {
    let mut bytes = ISO_GOLDEN[..24].to_vec();
    bytes[22] = 0;
    check_error(&with_length_iso(bytes), RecordError::NoFingerViews);
}

#[test]
fn rejects_view_counts_that_overrun_the_record() {
    let mut bytes = ISO_GOLDEN.to_vec();
    bytes[22] = 3;
    check_error(&bytes, RecordError::ViewCountOverrun { declared: 3, parsed: 1 });
}

#[test]
fn rejects_minutia_counts_that_overrun_the_record() {
    let mut bytes = ISO_GOLDEN.to_vec();
    bytes[27] = 5;
    check_error(&bytes, RecordError::MinutiaCountOverrun { view: 0, count: 5, needed: 30, available: 14 });
    bytes[27] = 255;
    check_error(&bytes, RecordError::MinutiaCountOverrun { view: 0, count: 255, needed: 1530, available: 14 });
}

#[test]
fn rejects_extended_data_that_overruns_the_record() {
    let mut bytes = ISO_GOLDEN.to_vec();
    bytes[40..42].copy_from_slice(&100u16.to_be_bytes());
    check_error(&bytes, RecordError::ExtendedDataOverrun { view: 0, length: 100, available: 0 });
}

#[test]
fn rejects_bytes_that_no_count_accounts_for() {
    let mut bytes = ISO_GOLDEN.to_vec();
    bytes.extend_from_slice(&[1, 2, 3]);
    check_error(&with_length_iso(bytes), RecordError::TrailingBytes { unused: 3 });
}

#[test]
fn rejects_reserved_minutia_types() {
    let mut bytes = ISO_GOLDEN.to_vec();
    bytes[28] |= 0xC0;
    check_error(&bytes, RecordError::BadMinutiaType { view: 0, index: 0 });
}

#[test]
fn rejects_minutiae_outside_the_image() {
    let mut bytes = ISO_GOLDEN.to_vec();
    bytes[34..36].copy_from_slice(&(0x8000u16 | 300).to_be_bytes()); // x = width
    check_error(
        &bytes,
        RecordError::CoordinateOutOfRange { view: 0, index: 1, x: 300, y: 200, width: 300, height: 400 },
    );
    let mut bytes = ISO_GOLDEN.to_vec();
    bytes[30..32].copy_from_slice(&400u16.to_be_bytes()); // y = height
    check_error(
        &bytes,
        RecordError::CoordinateOutOfRange { view: 0, index: 0, x: 100, y: 400, width: 300, height: 400 },
    );
}

#[test]
fn rejects_ansi_angles_and_qualities_out_of_range() {
    let mut bytes = ANSI_GOLDEN.to_vec();
    bytes[34] = 180;
    check_error(&bytes, RecordError::AngleOutOfRange { view: 0, index: 0, angle: 180 });
    let mut bytes = ANSI_GOLDEN.to_vec();
    bytes[41] = 101;
    check_error(
        &bytes,
        RecordError::QualityOutOfRange { what: "minutia 1 of finger view 0 quality".into(), value: 101 },
    );
    let mut bytes = ANSI_GOLDEN.to_vec();
    bytes[28] = 101;
    check_error(&bytes, RecordError::QualityOutOfRange { what: "finger view 0 quality".into(), value: 101 });
    // ISO takes any angle byte.
    let mut bytes = ISO_GOLDEN.to_vec();
    bytes[32] = 255;
    assert!(parse(&bytes).is_ok());
}

#[test]
fn a_view_without_minutiae_parses_but_cannot_be_matched() {
    let mut bytes = ISO_GOLDEN[..28].to_vec();
    bytes[27] = 0;
    bytes.extend_from_slice(&[0, 0]);
    let record = parse(&with_length_iso(bytes)).unwrap();
    assert!(record.views[0].minutiae.is_empty());
    assert_eq!(
        examgate_minutiae::PreparedTemplate::from_record(&record).unwrap_err(),
        RecordError::NoMinutiae { view: 0 }
    );
}

#[test]
fn refuses_to_encode_what_does_not_fit() {
    let mut record = parse(ISO_GOLDEN).unwrap();
    record.views[0].minutiae[0].x = 0x4000;
    assert_eq!(encode(&record), Err(EncodeError::FieldOutOfRange { view: 0, field: "minutia x", value: 0x4000 }));
    let mut record = parse(ISO_GOLDEN).unwrap();
    record.views[0].minutiae = vec![record.views[0].minutiae[0]; 256];
    assert_eq!(encode(&record), Err(EncodeError::TooManyMinutiae { view: 0, count: 256 }));
    let mut record = parse(ANSI_GOLDEN).unwrap();
    record.views[0].minutiae[1].quality = 101;
    assert!(matches!(encode(&record), Err(EncodeError::FieldOutOfRange { field: "minutia quality", .. })));
}
