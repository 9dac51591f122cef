//! `examgate-sim roster`: the files a server imports, and that candidate K's templates are
//! simulated finger K's.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use examgate_device_sdk::idcard::id_check_valid;
use examgate_device_sdk::{DeviceId, DriverFactory, SimCommand, Template, TemplateFormat};
use examgate_minutiae::{Standard, match_templates, parse_template};
use examgate_sim::card_file::CardFile;
use examgate_sim::roster::{CSV_HEADER, FOREIGNER_CARD_HOLDER, LANGUAGES, RESIDENT_CARD_HOLDER};
use examgate_sim::{SimFingerprintConfig, SimFingerprintFactory, SimTemplateFormat};

const COUNT: usize = 8;

fn run_roster(dir: &Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_examgate-sim"))
        .args(["roster", "--date", "2026-11-25", "--out"])
        .arg(dir)
        .args(["--count", &COUNT.to_string(), "--session", "13:30"])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The roster's rows as fields; none of the generated fields needs quoting.
fn rows(dir: &Path) -> Vec<Vec<String>> {
    let csv = std::fs::read_to_string(dir.join("roster.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(CSV_HEADER));
    lines.map(|l| l.split(',').map(str::to_owned).collect()).collect()
}

/// A live capture of `finger` on a simulated reader of the default seed.
fn live_capture(format: SimTemplateFormat, finger: u32) -> Template {
    let factory = SimFingerprintFactory::new(SimFingerprintConfig { finger: None, format, ..Default::default() });
    factory.handle("sim-fp-0").unwrap().apply(&SimCommand::PlaceFinger(finger)).unwrap();
    let mut device = factory.open(&DeviceId::new("sim-fp-0").unwrap()).unwrap();
    device.as_fingerprint().unwrap().get_template(Duration::from_secs(5)).unwrap()
}

#[test]
fn writes_a_well_formed_roster_whose_templates_are_the_candidates_fingers() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = run_roster(dir.path(), &[]);
    let rows = rows(dir.path());
    assert_eq!(rows.len(), COUNT);
    let summary: Vec<&str> = stdout.lines().collect();
    assert_eq!(summary.len(), COUNT);
    assert_eq!(summary[0], "1 20261125001 1101************39 张伟 zh-CN finger 1");

    let mut ids = std::collections::HashSet::new();
    let mut languages = std::collections::HashSet::new();
    for (k, row) in (1..).zip(&rows) {
        let [booking, id, name, session, language, photo, templates] = row.as_slice() else {
            panic!("row {k} has {} fields: {row:?}", row.len());
        };
        assert_eq!(booking, &format!("20261125{k:03}"));
        assert!(id_check_valid(id), "row {k}: {id}");
        assert!(ids.insert(id.clone()), "row {k}: {id} twice");
        assert!(!name.is_empty());
        assert_eq!(session, "2026-11-25 13:30");
        assert!(LANGUAGES.contains(&language.as_str()), "{language}");
        languages.insert(language.clone());
        assert_eq!(photo, &format!("photos/{k}.jpg"));
        let jpeg = std::fs::read(dir.path().join(photo)).unwrap();
        assert!(jpeg.len() <= 100 * 1024, "photo {k}: {} bytes", jpeg.len());
        let picture = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
        assert!(picture.height() > picture.width(), "a portrait");
        assert!(summary[k as usize - 1].starts_with(&format!("{k} {booking} ")));
        assert!(summary[k as usize - 1].ends_with(&format!(" {language} finger {k}")));

        let files: Vec<&str> = templates.split(';').collect();
        assert_eq!(files.len(), if k == 2 { 2 } else { 1 }, "row {k}: {templates}");
        let live = live_capture(SimTemplateFormat::Iso19794_2, k);
        let next_finger = live_capture(SimTemplateFormat::Iso19794_2, k + 1);
        for file in files {
            assert!(file.starts_with(&format!("templates/{k}")) && file.ends_with(".iso"), "{file}");
            let data = std::fs::read(dir.path().join(file)).unwrap();
            let format = TemplateFormat::detect(&data, &[]).unwrap();
            assert_eq!(format, TemplateFormat::Iso19794_2, "{file}: ISO told by its header");
            let enrolled = Template::new(format, data);
            assert_eq!(parse_template(&enrolled).unwrap().standard, Standard::Iso19794_2_2005);
            let genuine = match_templates(&live, &enrolled).unwrap();
            let impostor = match_templates(&next_finger, &enrolled).unwrap();
            assert!(genuine.is_match(), "candidate {k} vs finger {k}: {}", genuine.get());
            assert!(!impostor.is_match(), "candidate {k} vs finger {}: {}", k + 1, impostor.get());
        }
    }
    assert_eq!(rows[0][4], "zh-CN");
    assert_eq!(languages.len(), COUNT, "every candidate a different language");
    assert_eq!((rows[0][1].as_str(), rows[0][2].as_str()), (RESIDENT_CARD_HOLDER.id_number, RESIDENT_CARD_HOLDER.name));
    assert_eq!(
        (rows[1][1].as_str(), rows[1][2].as_str()),
        (FOREIGNER_CARD_HOLDER.id_number, FOREIGNER_CARD_HOLDER.name)
    );
}

#[test]
fn vendor_rosters_name_their_format_and_match_on_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    run_roster(dir.path(), &["--format", "examgate-sim"]);
    let rows = rows(dir.path());
    assert_eq!(rows[1][6], "vendor:examgate-sim:templates/2.tpl;vendor:examgate-sim:templates/2-2.tpl");
    let data = std::fs::read(dir.path().join("templates/3.tpl")).unwrap();
    let enrolled = Template::new(TemplateFormat::Vendor("examgate-sim".into()), data);
    let live = live_capture(SimTemplateFormat::ExamgateSim, 3);
    assert!(examgate_sim::fingerprint::match_sim_templates(&live, &enrolled).unwrap().is_match());
    let other = live_capture(SimTemplateFormat::ExamgateSim, 4);
    assert!(!examgate_sim::fingerprint::match_sim_templates(&other, &enrolled).unwrap().is_match());
}

#[test]
fn the_same_seed_and_day_give_the_same_roster() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert_eq!(run_roster(a.path(), &["--seed", "5"]), run_roster(b.path(), &["--seed", "5"]));
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    for file in ["roster.csv", "photos/4.jpg", "templates/4.iso"] {
        assert_eq!(read(a.path(), file), read(b.path(), file), "{file}");
    }
}

#[test]
fn the_card_holders_are_those_of_the_card_files() {
    let cards = Path::new(env!("CARGO_MANIFEST_DIR")).join("cards");
    for (file, holder) in [("resident.toml", RESIDENT_CARD_HOLDER), ("foreigner-2023.toml", FOREIGNER_CARD_HOLDER)] {
        let card = CardFile::load(cards.join(file)).unwrap();
        assert_eq!((card.fields.name.as_str(), card.fields.id_number.as_str()), (holder.name, holder.id_number));
    }
}

#[test]
fn refuses_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--date", "2026-02-30", "--out"][..],
        &["--date", "2026-11-25", "--session", "25:00", "--out"],
        &["--date", "2026-11-25", "--count", "0", "--out"],
        &["--date", "2026-11-25", "--format", "wsq", "--out"],
        &["--date", "2026-11-25", "--colour", "red", "--out"],
    ] {
        let out =
            Command::new(env!("CARGO_BIN_EXE_examgate-sim")).arg("roster").args(args).arg(dir.path()).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    }
    assert!(!dir.path().join("roster.csv").exists());
}
