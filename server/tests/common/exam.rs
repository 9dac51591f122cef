//! The exam fixture the exam, invigilation and sheet tests share: a small
//! bank with exam T1, candidates booked for today, a centre taking T1, seats
//! bound from the console, admission by the examiner and answer deliveries.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use examgate_protocol::login::paths;
use examgate_server::crypto::sha256_hex;
use examgate_server::exam::{BankVersion, ChoiceId, ExamDef, Item, ItemKind, Media, Section, Translation, score};
use examgate_server::now_ms;
use examgate_server::seal::aad;
use examgate_server::store::{NewBankImport, NewCandidate, NewImport, NewMediaFile};
use serde_json::{Value, json};

use super::{Harness, Reply, TestAgent, TestDb};

pub const A: &str = "20261125001";
pub const B: &str = "20261125002";

/// A tiny PNG (the server stores media by hash; it does not decode them).
pub fn png() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend([7u8; 40]);
    v
}

pub fn item(n: u32, languages: &[&str], media: Option<&Media>) -> Item {
    let ids = ["A", "B", "C"];
    Item {
        id: format!("q{n}"),
        category: "1".into(),
        kind: ItemKind::Single,
        points: 1,
        correct: vec!["B".into()],
        shuffle: true,
        choices: ids.iter().map(|c| ChoiceId { id: (*c).into(), fixed: false }).collect(),
        translations: languages
            .iter()
            .map(|l| {
                let t = Translation {
                    prompt: format!("{l}: question {n}"),
                    choices: ids.iter().map(|c| ((*c).to_owned(), format!("{l} {c}"))).collect(),
                    media: media.into_iter().cloned().collect(),
                };
                ((*l).to_owned(), t)
            })
            .collect(),
    }
}

/// Five items (one with a picture, one only in Chinese) and an exam of three at 2 points, pass at 4.
pub async fn import_bank(h: &Harness) {
    let bytes = png();
    let media =
        Media { path: "img/sign.png".into(), mime: "image/png".into(), sha256: sha256_hex(&bytes), size: 40 + 8 };
    let items = vec![
        item(1, &["zh-CN", "en"], Some(&media)),
        item(2, &["zh-CN", "en"], None),
        item(3, &["zh-CN"], None),
        item(4, &["zh-CN", "en"], None),
        item(5, &["en", "zh-CN"], None),
    ];
    let exam = ExamDef {
        id: "T1".into(),
        name: "Theory".into(),
        minutes: 30,
        pass_score: Some(4),
        sections: vec![Section {
            id: "s1".into(),
            categories: vec!["1".into()],
            kind: Some(ItemKind::Single),
            select: 3,
            points: Some(2),
            shuffle: true,
        }],
        shuffle: false,
    };
    let import = NewBankImport {
        actor: "test".into(),
        source: "bank.json".into(),
        source_sha256: "0".repeat(64),
        previous: None,
        bank: Some(BankVersion::new(items)),
        media: vec![NewMediaFile { sha256: sha256_hex(&bytes), mime: "image/png".into(), data: bytes }],
        exams: vec![exam],
    };
    h.db.store.import_bank(import, now_ms()).await.unwrap();
}

pub fn id_number(first17: &str) -> String {
    format!("{first17}{}", examgate_device_sdk::idcard::id_check_char(first17).unwrap())
}

pub async fn import_roster(h: &Harness, bookings: &[(&str, &str)]) {
    let today = h.state.clock.today(&h.state.config);
    let rows = bookings
        .iter()
        .enumerate()
        .map(|(i, (number, language))| NewCandidate {
            booking_number: (*number).into(),
            id_number: id_number(&format!("11010519491231{:03}", i)),
            name: format!("candidate {i}"),
            session: format!("{today} 09:00"),
            exam_date: today.clone(),
            language: (*language).into(),
            photo: h.state.sealer.seal(&aad::photo(number), &super::jpeg(7)).unwrap(),
            templates: h.state.sealer.seal(&aad::templates(number), b"[]").unwrap(),
            template_count: 1,
            purge_at: now_ms() + 86_400_000,
            exam: None,
        })
        .collect();
    let import = NewImport {
        id: examgate_server::ids::random_hex(8),
        actor: "test".into(),
        source: "r.json".into(),
        sha256: "0".repeat(64),
    };
    h.db.store.import_roster(import, rows, now_ms()).await.unwrap();
}

/// A harness whose centre takes exam T1 by default.
pub async fn centre(db: TestDb) -> Harness {
    let mut h = Harness::new(db).await;
    let mut config = (*h.state.config).clone();
    config.exam.default = Some("T1".into());
    h.state.config = Arc::new(config);
    h
}

pub async fn seat(h: &Harness, console: &str, seat: &str, n: u8) -> TestAgent {
    let agent = TestAgent::new(&format!("02:00:00:00:01:{n:02x}"), &format!("10.0.1.{n}"));
    h.bind(&agent, seat, console).await;
    agent
}

pub async fn post(h: &Harness, agent: &TestAgent, path: &str, body: Value) -> Reply {
    h.send(agent.signed("POST", path, body.to_string().into_bytes())).await
}

/// The candidate looks themselves up at the seat, the seat asks the examiner, who admits them.
pub async fn admit(h: &Harness, console: &str, agent: &TestAgent, booking: &str) {
    let r =
        post(h, agent, paths::LOOKUP, json!({"kind": "booking_number", "value": booking, "source": "keyboard"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = post(
        h,
        agent,
        paths::ASK_EXAMINER,
        json!({"booking_number": booking, "failures": 0, "reason": "device_fault"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = h.post(&format!("/api/v1/roster/{booking}/admit"), console, json!({"reason": "checked by hand"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

pub fn answer(booking: &str, paper: &str, item: &str, choices: &[&str], seq: u64) -> Value {
    json!({
        "exam": "T1",
        "created_at": "2026-11-25T09:10:00.000Z",
        "item": {"kind": "exam_answer", "booking_number": booking, "paper_id": paper, "item": item,
                 "choices": choices, "seq": seq, "answered_at": "2026-11-25T09:10:00.000Z"}
    })
}

pub async fn deliver(h: &Harness, agent: &TestAgent, key: &str, body: &Value) -> Reply {
    h.send(agent.delivery(key, body)).await
}

/// The score the server's own scoring gives for `answers` on the stored paper.
pub async fn recomputed(h: &Harness, paper_id: &str, answers: &[(&str, &str)]) -> score::Score {
    let paper = h.db.store.paper(paper_id).await.unwrap().unwrap();
    let bank = h.db.store.bank_version(&paper.bank_version).await.unwrap().unwrap();
    let answers: BTreeMap<String, Vec<String>> =
        answers.iter().map(|(i, c)| ((*i).to_owned(), vec![(*c).to_owned()])).collect();
    score::score(&paper.exam().unwrap(), &bank, &paper.paper().unwrap(), &answers).unwrap()
}
