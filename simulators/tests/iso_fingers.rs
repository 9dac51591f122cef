//! The simulated reader's ISO 19794-2 / ANSI 378 fingers, read and scored by examgate's own
//! minutiae codec and matcher (which the simulator does not use to write them).

use std::time::Duration;

use examgate_device_sdk::{DeviceId, DriverFactory, SimCommand, Template, TemplateFormat};
use examgate_minutiae::{Standard, match_templates, parse_template};
use examgate_sim::{SimFingerprintConfig, SimFingerprintFactory, SimTemplateFormat};

const FINGERS: u32 = 24;
const CAPTURES: usize = 5;
const ENROLMENTS: [u64; 2] = [1, 2];

fn factory(format: SimTemplateFormat) -> SimFingerprintFactory {
    SimFingerprintFactory::new(SimFingerprintConfig { finger: None, format, ..Default::default() })
}

/// `CAPTURES` live captures of each finger, through the reader as the agent drives it.
fn live_captures(factory: &SimFingerprintFactory) -> Vec<Vec<Template>> {
    let handle = factory.handle("sim-fp-0").unwrap();
    let mut device = factory.open(&DeviceId::new("sim-fp-0").unwrap()).unwrap();
    let reader = device.as_fingerprint().unwrap();
    (1..=FINGERS)
        .map(|finger| {
            handle.apply(&SimCommand::PlaceFinger(finger)).unwrap();
            (0..CAPTURES).map(|_| reader.get_template(Duration::from_secs(5)).unwrap()).collect()
        })
        .collect()
}

/// Lowest genuine and highest impostor score of every enrolment against every capture.
fn extremes(enrolling: &SimFingerprintFactory, live: &[Vec<Template>]) -> (u16, u16) {
    let (mut genuine_min, mut impostor_max) = (u16::MAX, 0);
    for finger in 1..=FINGERS {
        for k in ENROLMENTS {
            let enrolled = enrolling.template_for(finger, k);
            for (other, captures) in (1..=FINGERS).zip(live) {
                for capture in captures {
                    let score = match_templates(capture, &enrolled).unwrap().get();
                    if other == finger {
                        genuine_min = genuine_min.min(score);
                    } else {
                        impostor_max = impostor_max.max(score);
                    }
                }
            }
        }
    }
    (genuine_min, impostor_max)
}

#[test]
fn genuine_pairs_score_above_800_and_impostor_pairs_below() {
    let f = factory(SimTemplateFormat::Iso19794_2);
    let live = live_captures(&f);
    let (genuine_min, impostor_max) = extremes(&f, &live);
    eprintln!("iso: weakest genuine {genuine_min}, strongest impostor {impostor_max}");
    assert!(genuine_min > 800, "weakest genuine score {genuine_min}");
    assert!(impostor_max < 800, "strongest impostor score {impostor_max}");
}

#[test]
fn ansi_records_match_each_other_and_iso_ones() {
    let ansi = factory(SimTemplateFormat::Ansi378);
    let live = live_captures(&ansi);
    let (genuine_min, impostor_max) = extremes(&ansi, &live);
    eprintln!("ansi: weakest genuine {genuine_min}, strongest impostor {impostor_max}");
    assert!(genuine_min > 800 && impostor_max < 800, "genuine {genuine_min}, impostor {impostor_max}");
    // ISO enrolment, ANSI capture: the same fingers in the other standard.
    let (genuine_min, impostor_max) = extremes(&factory(SimTemplateFormat::Iso19794_2), &live);
    eprintln!("iso vs ansi: weakest genuine {genuine_min}, strongest impostor {impostor_max}");
    assert!(genuine_min > 800 && impostor_max < 800, "genuine {genuine_min}, impostor {impostor_max}");
}

#[test]
fn records_parse_with_examgate_minutiae() {
    for (format, standard, sdk) in [
        (SimTemplateFormat::Iso19794_2, Standard::Iso19794_2_2005, TemplateFormat::Iso19794_2),
        (SimTemplateFormat::Ansi378, Standard::Ansi378_2004, TemplateFormat::Ansi378),
    ] {
        let f = factory(format);
        for finger in 1..=FINGERS {
            let t = f.template_for(finger, 1);
            assert_eq!(t.format, sdk);
            assert_eq!(TemplateFormat::detect(&t.data, &[]), Some(sdk.clone()), "told apart by the length field");
            let record = parse_template(&t).unwrap_or_else(|e| panic!("{format} finger {finger}: {e}"));
            assert_eq!(record.standard, standard);
            assert_eq!((record.width, record.height), (300, 400));
            assert_eq!((record.x_resolution, record.y_resolution), (197, 197));
            assert_eq!(record.views.len(), 1);
            let view = &record.views[0];
            assert_eq!(view.quality, t.quality);
            assert!((20..=80).contains(&view.minutiae.len()), "{} minutiae", view.minutiae.len());
            assert!(view.minutiae.iter().all(|m| m.x < 300 && m.y < 400 && m.quality == 60));
        }
    }
}

#[test]
fn the_same_minutiae_in_both_standards() {
    let (iso, ansi) = (factory(SimTemplateFormat::Iso19794_2), factory(SimTemplateFormat::Ansi378));
    let a = parse_template(&iso.template_for(7, 1)).unwrap().views.remove(0).minutiae;
    let b = parse_template(&ansi.template_for(7, 1)).unwrap().views.remove(0).minutiae;
    assert_eq!(a.len(), b.len());
    for (m, n) in a.iter().zip(&b) {
        assert_eq!((m.x, m.y, m.kind), (n.x, n.y, n.kind));
        // 1.40625° against 2° units: within half of each.
        let d = (m.angle.degrees() - n.angle.degrees()).rem_euclid(360.0);
        assert!(d.min(360.0 - d) <= 1.71, "{} vs {}", m.angle.degrees(), n.angle.degrees());
    }
}

#[test]
fn the_same_seed_gives_the_same_fingers_and_another_seed_others() {
    let f = factory(SimTemplateFormat::Iso19794_2);
    assert_eq!(f.template_for(3, 1), factory(SimTemplateFormat::Iso19794_2).template_for(3, 1));
    assert_ne!(f.template_for(3, 1).data, f.template_for(3, 2).data, "each impression is a fresh one");
    let other = SimFingerprintFactory::new(SimFingerprintConfig {
        seed: 99,
        format: SimTemplateFormat::Iso19794_2,
        ..Default::default()
    });
    assert!(!match_templates(&other.template_for(3, 1), &f.template_for(3, 1)).unwrap().is_match());
}

#[test]
fn the_default_format_is_still_the_vendor_one() {
    let t = SimFingerprintFactory::default().template_for(1, 1);
    assert_eq!(t.format, TemplateFormat::Vendor("examgate-sim".into()));
    assert!(t.data.starts_with(b"EGSF"));
    let iso: SimFingerprintConfig = "format=iso19794-2&finger=3".parse().unwrap();
    assert_eq!((iso.format, iso.finger), (SimTemplateFormat::Iso19794_2, Some(3)));
}
