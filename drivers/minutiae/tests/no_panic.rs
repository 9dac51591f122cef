//! No byte string makes a parser or the matcher panic.

use examgate_device_sdk::{Template, TemplateFormat};
use examgate_minutiae::synthetic::{Finger, ImpressionParams, impression};
use examgate_minutiae::{PreparedTemplate, encode, match_templates, parse, parse_ansi, parse_iso};
use proptest::prelude::*;

fn valid_iso() -> Vec<u8> {
    encode(&impression(&Finger::new(42), 1, &ImpressionParams::default())).unwrap()
}

/// Parse every way there is, and match whatever parses against a real impression.
fn exercise(bytes: &[u8]) {
    let _ = parse_iso(bytes);
    let _ = parse_ansi(bytes);
    if let Ok(record) = parse(bytes) {
        let reference = PreparedTemplate::from_record(&parse(&valid_iso()).unwrap()).unwrap();
        for view in 0..record.views.len() {
            if let Ok(p) = PreparedTemplate::new(&record, view) {
                let _ = p.score(&reference);
                let _ = reference.score(&p);
                let _ = p.score(&p);
            }
        }
        let _ = encode(&record);
    }
    for format in [TemplateFormat::Iso19794_2, TemplateFormat::Ansi378] {
        let t = Template::new(format, bytes.to_vec());
        let _ = match_templates(&t, &t);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        exercise(&bytes);
    }

    #[test]
    fn arbitrary_bytes_behind_the_magic(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut bytes = b"FMR\0 20\0".to_vec();
        bytes.extend_from_slice(&tail);
        exercise(&bytes);
    }

    /// A valid record with bytes changed, cut or added, and its length field sometimes
    /// fixed up so that parsing gets past the length check.
    #[test]
    fn mutated_records(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        cut_it in any::<bool>(),
        fix_length in any::<bool>(),
    ) {
        let mut bytes = valid_iso();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if cut_it {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        if fix_length && bytes.len() >= 12 {
            let len = bytes.len() as u32;
            bytes[8..12].copy_from_slice(&len.to_be_bytes());
        }
        exercise(&bytes);
    }

    /// Any well-formed record, however odd its minutiae (duplicates, all in one spot).
    #[test]
    fn odd_but_valid_records(
        points in proptest::collection::vec((0u16..300, 0u16..400, any::<u8>()), 1..90),
    ) {
        let mut record = impression(&Finger::new(1), 1, &ImpressionParams::default());
        let template = record.views[0].minutiae[0];
        record.views[0].minutiae = points
            .iter()
            .map(|&(x, y, a)| examgate_minutiae::Minutia { x, y, angle: examgate_minutiae::Angle::from_iso(a), ..template })
            .collect();
        let bytes = encode(&record).unwrap();
        exercise(&bytes);
        let p = PreparedTemplate::from_record(&record).unwrap();
        prop_assert!(p.score(&p).get() >= 1);
    }
}

#[test]
fn identical_minutiae_stacked_on_one_spot() {
    let mut record = impression(&Finger::new(1), 1, &ImpressionParams::default());
    let m = record.views[0].minutiae[0];
    record.views[0].minutiae = vec![m; 255];
    let p = PreparedTemplate::from_record(&record).unwrap();
    let _ = p.score(&p);
    exercise(&encode(&record).unwrap());
}
