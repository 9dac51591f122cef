//! Records written by another implementation: a Python script lays out ISO
//! 19794-2 and ANSI 378 records byte by byte from the standards, sharing no
//! code with this crate. They parse, and they match as they should.

use std::process::Command;

use examgate_device_sdk::{Template, TemplateFormat};
use examgate_minutiae::match_templates;

#[test]
fn records_from_an_independent_writer_parse_and_match() {
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent/write_records.py");
    let status = Command::new("python3").arg(script).arg(dir.path()).status().expect("python3 runs");
    assert!(status.success());
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    let (a, b, c) = (read("a.iso"), read("b.ansi"), read("c.iso"));

    assert_eq!(TemplateFormat::detect(&a, &[]), Some(TemplateFormat::Iso19794_2));
    assert_eq!(TemplateFormat::detect(&b, &[]), Some(TemplateFormat::Ansi378));
    let a = Template::new(TemplateFormat::Iso19794_2, a);
    let b = Template::new(TemplateFormat::Ansi378, b);
    let c = Template::new(TemplateFormat::Iso19794_2, c);

    let genuine = match_templates(&b, &a).expect("same finger compares");
    assert!(genuine.is_match(), "same finger, other impression, ANSI against ISO: {genuine}");
    let impostor = match_templates(&c, &a).expect("other finger compares");
    assert!(!impostor.is_match(), "another finger: {impostor}");
}
