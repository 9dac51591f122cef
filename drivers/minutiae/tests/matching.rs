//! Matcher sanity on small synthetic sets (the full evaluation is examples/evaluate.rs).

use examgate_device_sdk::{DeviceError, ErrorKind, Template, TemplateFormat};
use examgate_minutiae::synthetic::{Finger, ImpressionParams, impression};
use examgate_minutiae::{
    Angle, MinutiaeRecord, PreparedRecord, PreparedTemplate, Standard, encode, match_templates, parse,
};

fn iso(record: &MinutiaeRecord) -> Template {
    Template::new(TemplateFormat::Iso19794_2, encode(record).unwrap())
}

fn prepared(record: &MinutiaeRecord) -> PreparedTemplate {
    PreparedTemplate::from_record(record).unwrap()
}

/// Turn a record by `degrees` about (cx, cy) and shift it, in a larger image.
fn moved(record: &MinutiaeRecord, degrees: f64, shift: (f64, f64)) -> MinutiaeRecord {
    let mut out = record.clone();
    out.width = 600;
    out.height = 700;
    let (cx, cy) = (150.0, 200.0);
    // On the image (y down) a counter-clockwise turn of the finger is a clockwise turn
    // of the coordinates: x' = c*dx + s*dy, y' = -s*dx + c*dy.
    let (s, c) = degrees.to_radians().sin_cos();
    for m in &mut out.views[0].minutiae {
        let (dx, dy) = (f64::from(m.x) - cx, f64::from(m.y) - cy);
        m.x = (cx + 150.0 + shift.0 + c * dx + s * dy).round() as u16;
        m.y = (cy + 150.0 + shift.1 - s * dx + c * dy).round() as u16;
        m.angle = Angle::from_degrees(m.angle.degrees() + degrees);
    }
    out
}

#[test]
fn an_impression_matched_with_itself_scores_the_maximum() {
    let r = impression(&Finger::new(1), 1, &ImpressionParams::default());
    let score = match_templates(&iso(&r), &iso(&r)).unwrap();
    assert!(score.get() >= 990, "{score}");
}

#[test]
fn a_turned_and_shifted_impression_still_matches() {
    let r = impression(&Finger::new(2), 1, &ImpressionParams::default());
    for degrees in [-45.0, -20.0, 10.0, 35.0, 60.0] {
        let score = prepared(&r).score(&prepared(&moved(&r, degrees, (40.0, -25.0))));
        assert!(score.get() >= 950, "{degrees} degrees: {score}");
    }
}

#[test]
fn impressions_of_one_finger_match() {
    let params = ImpressionParams::default();
    let mut matched = 0;
    let mut total = 0;
    for f in 0..10 {
        let finger = Finger::new(100 + f);
        let a = prepared(&impression(&finger, 1, &params));
        for i in 2..5 {
            total += 1;
            if a.score(&prepared(&impression(&finger, i, &params))).is_match() {
                matched += 1;
            }
        }
    }
    // The evaluation corpus misses well under 1%; a handful of pairs here may overlap little.
    assert!(matched >= total - 1, "{matched} of {total} genuine pairs matched");
}

#[test]
fn unrelated_fingers_do_not_match() {
    let params = ImpressionParams::default();
    let prints: Vec<PreparedTemplate> =
        (0..25).map(|f| prepared(&impression(&Finger::new(500 + f), 1, &params))).collect();
    for a in 0..prints.len() {
        for b in a + 1..prints.len() {
            let score = prints[a].score(&prints[b]);
            assert!(!score.is_match(), "fingers {a} and {b}: {score}");
        }
    }
}

#[test]
fn iso_and_ansi_templates_of_one_impression_match_each_other() {
    let finger = Finger::new(3);
    let params = ImpressionParams::default();
    let a = impression(&finger, 1, &params);
    let b = impression(&finger, 2, &params);
    let ansi = Template::new(TemplateFormat::Ansi378, encode(&b.converted_to(Standard::Ansi378_2004)).unwrap());
    assert!(match_templates(&iso(&a), &ansi).unwrap().is_match());
    assert!(match_templates(&ansi, &iso(&a)).unwrap().is_match());
    // The bytes decide: an ANSI record labelled ISO is still read as ANSI.
    let mislabelled = Template::new(TemplateFormat::Iso19794_2, ansi.data.clone());
    assert!(match_templates(&mislabelled, &iso(&a)).unwrap().is_match());
}

#[test]
fn matching_is_roughly_symmetric() {
    let finger = Finger::new(4);
    let params = ImpressionParams::default();
    let a = prepared(&impression(&finger, 1, &params));
    let b = prepared(&impression(&finger, 2, &params));
    let (ab, ba) = (a.score(&b).get() as i32, b.score(&a).get() as i32);
    assert!((ab - ba).abs() <= 60, "{ab} vs {ba}");
}

#[test]
fn other_resolutions_are_scaled_to_500_dpi() {
    let r = impression(&Finger::new(5), 1, &ImpressionParams::default());
    let mut hi = r.clone();
    hi.x_resolution = 394; // 1000 dpi: every coordinate doubles
    hi.y_resolution = 394;
    hi.width *= 2;
    hi.height *= 2;
    for m in &mut hi.views[0].minutiae {
        m.x *= 2;
        m.y *= 2;
    }
    assert!(prepared(&r).score(&prepared(&hi)).get() >= 990);
}

#[test]
fn several_views_match_on_the_best_pair_of_the_same_finger() {
    let params = ImpressionParams::default();
    let mine = Finger::new(6);
    let other = Finger::new(7);
    let mut enrolled = impression(&other, 1, &params);
    enrolled.views[0].position = 2;
    let mut second = impression(&mine, 1, &params).views.remove(0);
    second.position = 2;
    second.view_number = 1;
    enrolled.views.push(second);
    let mut probe = impression(&mine, 2, &params);
    probe.views[0].position = 2;
    let enrolled = PreparedRecord::from_record(&parse(&encode(&enrolled).unwrap()).unwrap()).unwrap();
    assert!(PreparedRecord::from_record(&probe).unwrap().score(&enrolled).is_match());
    // A different finger position is never the same finger.
    probe.views[0].position = 7;
    assert_eq!(PreparedRecord::from_record(&probe).unwrap().score(&enrolled).get(), 1);
}

#[test]
fn vendor_templates_are_a_format_mismatch() {
    let r = impression(&Finger::new(8), 1, &ImpressionParams::default());
    let vendor = Template::new(TemplateFormat::Vendor("as60x".into()), vec![0; 512]);
    let err = match_templates(&vendor, &iso(&r)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FormatMismatch);
    assert!(err.to_string().contains("probe template"), "{err}");
    assert!(err.to_string().contains("as60x"), "{err}");
}

#[test]
fn malformed_records_are_invalid_arguments_that_say_what_is_wrong() {
    let r = impression(&Finger::new(9), 1, &ImpressionParams::default());
    let mut bytes = encode(&r).unwrap();
    bytes.truncate(bytes.len() - 7);
    let cut = Template::new(TemplateFormat::Iso19794_2, bytes);
    match match_templates(&iso(&r), &cut) {
        Err(DeviceError::InvalidArgument(message)) => {
            assert!(message.starts_with("enrolled template"), "{message}");
            assert!(message.contains("length field"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let mut empty = r.clone();
    empty.views[0].minutiae.clear();
    match match_templates(&iso(&empty), &iso(&r)) {
        Err(DeviceError::InvalidArgument(message)) => assert!(message.contains("no minutiae"), "{message}"),
        other => panic!("{other:?}"),
    }
}
