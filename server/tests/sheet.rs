//! The score sheet end to end, on SQLite and PostgreSQL: candidates with
//! Chinese, Uyghur (Arabic script) and Mongolian names are admitted, answer,
//! submit and have a snapshot taken through the real API; `examgate-server
//! sheet render` (the real binary) makes each sheet; poppler's pdftotext,
//! pdffonts and pdfimages read it as any reader would, zbarimg decodes its QR
//! from pdftoppm's picture, `sheet verify` accepts it, and refuses a sheet with
//! one byte changed in each signed field (naming it) or signed by another key.

#[macro_use]
mod common;

use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use common::exam::{admit, centre, id_number};
use common::{Harness, TestAgent, TestDb};
use examgate_server::crypto::sha256_hex;
use examgate_server::exam::key::ServerKey;
use examgate_server::exam::{BankVersion, ExamDef, Item, ItemKind, Section};
use examgate_server::now_ms;
use examgate_server::seal::aad;
use examgate_server::sheet::pdf::{self, Fonts};
use examgate_server::sheet::qr::{self, Facts};
use examgate_server::sheet::{SheetConfig, Sources, make, verify_pdf};
use examgate_server::store::{NewBankImport, NewCandidate, NewImport};
use serde_json::json;

const SERVER: &str = env!("CARGO_BIN_EXE_examgate-server");

/// (booking, name, language)
const CANDIDATES: [(&str, &str, &str); 3] =
    [("20261208-101", "张伟", "zh-CN"), ("20261208-102", "ئابدۇرېھىم", "ug"), ("20261208-103", "ᠪᠠᠲᠤ", "mn-Mong")];

/// A real JPEG (the sheet embeds and decodes its header), different per seed.
fn jpeg(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(90, 120, |x, y| {
        image::Rgb([(x as u8).wrapping_mul(seed), (y as u8).wrapping_add(seed), seed.wrapping_mul(37)])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

fn item(n: u32) -> Item {
    Item { shuffle: false, ..common::exam::item(n, &["zh-CN", "ug", "mn-Mong", "en"], None) }
}

async fn setup(db: TestDb) -> (Harness, String, Vec<TestAgent>) {
    let h = centre(db).await;
    let console = h.console().await;
    let exam = ExamDef {
        id: "T1".into(),
        name: "Theory".into(),
        minutes: 30,
        pass_score: Some(2),
        sections: vec![Section {
            id: "s1".into(),
            categories: vec!["1".into()],
            kind: Some(ItemKind::Single),
            select: 2,
            points: Some(2),
            shuffle: false,
        }],
        shuffle: false,
    };
    let import = NewBankImport {
        actor: "test".into(),
        source: "bank.json".into(),
        source_sha256: "0".repeat(64),
        previous: None,
        bank: Some(BankVersion::new((1..=3).map(item).collect())),
        media: vec![],
        exams: vec![exam],
    };
    h.db.store.import_bank(import, now_ms()).await.unwrap();

    let today = h.state.clock.today(&h.state.config);
    let rows = CANDIDATES
        .iter()
        .enumerate()
        .map(|(i, (booking, name, language))| {
            let first17 = format!("11010519491231{:03}", i);
            NewCandidate {
                booking_number: (*booking).into(),
                id_number: id_number(&first17),
                name: (*name).into(),
                session: format!("{today} 09:00"),
                exam_date: today.clone(),
                language: (*language).into(),
                photo: h.state.sealer.seal(&aad::photo(booking), &jpeg(10 + i as u8)).unwrap(),
                templates: h.state.sealer.seal(&aad::templates(booking), b"[]").unwrap(),
                template_count: 1,
                purge_at: now_ms() + 86_400_000,
                exam: None,
            }
        })
        .collect();
    let import = NewImport { id: "imp1".into(), actor: "test".into(), source: "r.json".into(), sha256: "0".repeat(64) };
    h.db.store.import_roster(import, rows, now_ms()).await.unwrap();

    let mut agents = Vec::new();
    for (i, (booking, _, _)) in CANDIDATES.iter().enumerate() {
        let n = i as u8 + 1;
        let agent = TestAgent::new(&format!("02:00:00:00:02:{n:02x}"), &format!("10.0.2.{n}"));
        h.bind(&agent, &n.to_string(), &console).await;
        // Looked up at the seat, the examiner admits: the paper is drawn.
        admit(&h, &console, &agent, booking).await;
        let paper = h.db.store.paper_of_booking(booking).await.unwrap().expect("a paper");
        let items = paper.drawn_items().unwrap();
        // An in-exam snapshot, then one right answer and the submission.
        let snap = jpeg(50 + n);
        let body = json!({"exam": "T1", "created_at": examgate_protocol::Timestamp::now().to_string(),
            "item": {"kind": "snapshot", "reason": "scheduled", "flags": [], "jpeg": B64.encode(&snap), "sha256": sha256_hex(&snap)}});
        let r = h.send(agent.delivery(&format!("snap-{n}"), &body)).await;
        assert!(r.status.is_success(), "{}", r.text());
        let answer = json!({"exam": "T1", "created_at": "2026-12-08T09:10:00.000Z",
            "item": {"kind": "exam_answer", "booking_number": booking, "paper_id": paper.paper_id, "item": items[0].id,
                     "choices": ["B"], "seq": 1, "answered_at": "2026-12-08T09:10:00.000Z"}});
        let r = h.send(agent.delivery(&format!("ans-{n}"), &answer)).await;
        assert!(r.status.is_success(), "{}", r.text());
        let submit = json!({"exam": "T1", "created_at": "2026-12-08T09:20:00.000Z",
            "item": {"kind": "exam_submit", "booking_number": booking, "paper_id": paper.paper_id, "seq": 2, "reason": "candidate"}});
        let r = h.send(agent.delivery(&format!("sub-{n}"), &submit)).await;
        assert!(r.status.is_success(), "{}", r.text());
        agents.push(agent);
    }
    (h, console, agents)
}

fn server(h: &Harness, args: &[&str]) -> Output {
    Command::new(SERVER)
        .arg("--data-dir")
        .arg(h.db.dir.path())
        .arg("--database")
        .arg(&h.db.url)
        .args(args)
        .output()
        .unwrap()
}

fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (scripts/install-deps.sh)"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

both_databases!(sheets_in_three_scripts_verify_and_every_changed_field_is_named);

async fn sheets_in_three_scripts_verify_and_every_changed_field_is_named(db: TestDb) {
    let (h, _console, _agents) = setup(db).await;
    let dir = tempfile::tempdir().unwrap();
    let public = String::from_utf8(server(&h, &["sheet", "key"]).stdout).unwrap().trim().to_owned();
    assert_eq!(B64.decode(&public).unwrap().len(), 32);
    assert_eq!(public, h.state.server_key.public_key_b64().unwrap());

    for (booking, name, _) in CANDIDATES {
        let file = dir.path().join(format!("{booking}.pdf"));
        let f = file.to_str().unwrap();
        let out = server(&h, &["sheet", "render", booking, "-o", f]);
        assert!(out.status.success(), "{}", stderr(&out));

        // The name is extractable text; fonts are embedded subsets; the pictures are there.
        let text = tool("pdftotext", &["-enc", "UTF-8", f, "-"]);
        let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let reversed: String = name.chars().rev().collect();
        assert!(squeezed.contains(name) || squeezed.contains(&reversed), "{name} not in {text}");
        assert!(text.contains(&format!("Booking number: {booking} [")), "{text}");
        let fonts = tool("pdffonts", &[f]);
        let font_lines: Vec<&str> = fonts.lines().skip(2).collect();
        assert!(!font_lines.is_empty());
        for line in &font_lines {
            // name+subset prefix; emb sub columns both yes.
            assert!(line.split_whitespace().next().unwrap().contains('+'), "not a subset: {line}");
            assert!(line.contains("yes yes"), "not embedded as a subset: {line}");
        }
        let family = match booking {
            "20261208-101" => "NotoSansCJK",
            "20261208-102" => "NotoNaskhArabic",
            _ => "NotoSansMongolian",
        };
        assert!(fonts.contains(family), "{family} not in\n{fonts}");
        let images = tool("pdfimages", &["-list", f]);
        let read = pdf::read(&std::fs::read(&file).unwrap()).unwrap();
        let code = qr::parse(read.code.as_deref().expect("the code in the Keywords")).unwrap();
        // Roster photo and the in-exam snapshot (an examiner's admission has no verification snapshot).
        assert_eq!(code.facts.photos.len(), 2, "{:?}", code.facts);
        assert_eq!(images.lines().skip(2).filter(|l| l.contains("jpeg")).count(), 2, "{images}");
        assert_eq!((code.facts.name.as_str(), code.facts.booking.as_str()), (name, booking));
        assert_eq!((code.facts.score, code.facts.passed), (2, Some(true)));

        // A third-party reader decodes the QR from the rendered page: the signed text.
        let png = dir.path().join(booking);
        tool("pdftoppm", &["-png", "-r", "200", "-singlefile", f, png.to_str().unwrap()]);
        let decoded = tool("zbarimg", &["--raw", "-q", png.with_extension("png").to_str().unwrap()]);
        assert_eq!(decoded.trim(), read.code.as_deref().unwrap());
        let out = server(&h, &["sheet", "verify", "--qr", decoded.trim()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let out = server(&h, &["sheet", "verify", f, "--qr", decoded.trim()]);
        assert!(out.status.success(), "{}", stderr(&out));
    }

    // Forgeries of the first sheet, made with the same renderer.
    let sheet = {
        let config = SheetConfig::default();
        let src = Sources {
            store: h.db.store.as_ref(),
            sealer: &h.state.sealer,
            snapshots: &h.state.snapshots,
            key: &h.state.server_key,
            config: &config,
        };
        make(&src, CANDIDATES[0].0).await.unwrap()
    };
    let fonts = Fonts::debian().unwrap();
    let genuine = sheet.pdf(&fonts).unwrap();
    assert!(verify_pdf(&genuine, None, &public).unwrap().ok());

    let changed = |f: &Facts, field: &str| -> Facts {
        let mut f = f.clone();
        let bump = |s: &mut String| {
            let mut b = s.clone().into_bytes();
            let i = b.len() - 1;
            b[i] = if b[i] == b'1' {
                b'2'
            } else if b[i].is_ascii_alphanumeric() {
                b'1'
            } else {
                b[i] ^ 1
            };
            *s = String::from_utf8(b).unwrap_or_else(|_| format!("{s}x"));
        };
        match field {
            "booking" => bump(&mut f.booking),
            "id_number" => bump(&mut f.id_number),
            "name" => f.name = f.name.replace('伟', "玮"),
            "exam" => bump(&mut f.exam),
            "seat" => bump(&mut f.seat),
            "started_at" => f.started_at += 1000,
            "submitted_at" => f.submitted_at += 1000,
            "score" => f.score += 1,
            "passed" => f.passed = Some(false),
            "paper_sha256" => bump(&mut f.paper_sha256),
            "photos" => {}
            other => panic!("{other}"),
        }
        f
    };
    let fields = [
        "booking",
        "id_number",
        "name",
        "exam",
        "seat",
        "started_at",
        "submitted_at",
        "score",
        "passed",
        "paper_sha256",
        "photos",
    ];
    for field in fields {
        // The printed sheet changed, its code kept: the field is named.
        let forged_facts = changed(&sheet.facts, field);
        let mut pictures = sheet.pictures.clone();
        if field == "photos" {
            let p = &mut pictures[0].jpeg;
            let i = p.len() - 3;
            p[i] ^= 1;
        }
        let forged = pdf::render(&forged_facts, &sheet.code, &pictures, &fonts).unwrap();
        let verdict = verify_pdf(&forged, None, &public).unwrap();
        assert!(!verdict.ok());
        assert!(
            verdict.problems.iter().any(|p| p.starts_with(&format!("{field}:"))),
            "{field}: {:?}",
            verdict.problems
        );
        if field == "photos" {
            continue;
        }
        // The code changed by one byte in that field, its signature kept: it fails and names the field.
        let json = serde_json::to_vec(&forged_facts).unwrap();
        let sig = sheet.code.rsplit('.').next().unwrap();
        let forged_code = format!("EXG1.{}.{sig}", B64URL.encode(&json));
        let verdict = verify_pdf(&genuine, Some(&forged_code), &public).unwrap();
        assert!(!verdict.signed_by_key, "{field}");
        assert!(
            verdict.problems.iter().any(|p| p.starts_with(&format!("{field}:"))),
            "{field}: {:?}",
            verdict.problems
        );
        let path = dir.path().join(format!("forged-{field}.pdf"));
        std::fs::write(&path, &forged).unwrap();
        let out = server(&h, &["sheet", "verify", path.to_str().unwrap()]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(&format!("{field}:")), "{field}: {}", stderr(&out));
    }

    // Signed by another centre: same facts, another key.
    let other = ServerKey::with_key_file(dir.path().join("other.ed25519"));
    let code = qr::sign(&sheet.facts, &other).unwrap();
    let path = dir.path().join("other.pdf");
    std::fs::write(&path, pdf::render(&sheet.facts, &code, &sheet.pictures, &fonts).unwrap()).unwrap();
    let out = server(&h, &["sheet", "verify", path.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("signature"), "{}", stderr(&out));
    let out = server(&h, &["sheet", "verify", path.to_str().unwrap(), "--key", &other.public_key_b64().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}
