//! The sample records in tests/data are what the generator and the encoder produce, and
//! they score as their README says.

use examgate_device_sdk::{Template, TemplateFormat};
use examgate_minutiae::synthetic::{Finger, ImpressionParams, impression};
use examgate_minutiae::{Standard, encode, match_templates};

fn samples() -> [(&'static str, Vec<u8>); 3] {
    let params = ImpressionParams::default();
    [
        ("finger1_impression1.iso.fmr", encode(&impression(&Finger::new(1), 1, &params)).unwrap()),
        (
            "finger1_impression2.ansi.fmr",
            encode(&impression(&Finger::new(1), 2, &params).converted_to(Standard::Ansi378_2004)).unwrap(),
        ),
        ("finger2_impression1.iso.fmr", encode(&impression(&Finger::new(2), 1, &params)).unwrap()),
    ]
}

#[test]
fn sample_files_are_what_the_generator_makes() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for (name, bytes) in samples() {
        let path = dir.join(name);
        if std::env::var_os("EXAMGATE_WRITE_SAMPLES").is_some() {
            std::fs::write(&path, &bytes).unwrap();
        }
        let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(stored == bytes, "{name} drifted; rerun with EXAMGATE_WRITE_SAMPLES=1 if that is intended");
    }
}

#[test]
fn samples_score_as_documented() {
    let [(_, a), (_, b), (_, c)] = samples();
    let a = Template::new(TemplateFormat::Iso19794_2, a);
    let b = Template::new(TemplateFormat::Ansi378, b);
    let c = Template::new(TemplateFormat::Iso19794_2, c);
    assert!(match_templates(&a, &b).unwrap().is_match());
    assert!(!match_templates(&a, &c).unwrap().is_match());
    assert!(!match_templates(&b, &c).unwrap().is_match());
}
