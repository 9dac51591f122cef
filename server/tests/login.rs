//! Identity verification at login through the server's API: seats look
//! candidates up and send signed fingerprint attempts whose scores the server
//! re-computes; the console PC sends cards and the server assigns seats; the
//! examiner admits, refuses and releases; the console locks when idle.
//! Real signed requests, candidates imported through the roster store with
//! the state's sealer. Against both databases.

#[macro_use]
mod common;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::{Harness, Reply, TestAgent, TestDb};
use examgate_device_sdk::idcard::id_check_char;
use examgate_device_sdk::{Template, TemplateFormat};
use examgate_protocol::link::Command;
use examgate_protocol::login::{TemplateData, paths};
use examgate_server::hub::ConsoleEvent;
use examgate_server::now_ms;
use examgate_server::roster;
use examgate_server::seal::aad;
use examgate_server::store::{NewCandidate, NewImport};
use serde_json::{Value, json};

fn sample(name: &str) -> Vec<u8> {
    let path = format!("{}/../drivers/minutiae/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Finger 1 (ISO), the same finger again (ANSI), and another finger (ISO).
fn fingers() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    (
        sample("finger1_impression1.iso.fmr"),
        sample("finger1_impression2.ansi.fmr"),
        sample("finger2_impression1.iso.fmr"),
    )
}

/// What an honest seat's `MatchSampleTemplate` says (the agent runs the same matcher).
fn honest_score(live: &[u8], enrolled: &[u8]) -> i32 {
    let t = |b: &[u8]| Template::new(TemplateFormat::detect(b, &[]).unwrap(), b.to_vec());
    i32::from(examgate_minutiae::match_templates(&t(live), &t(enrolled)).unwrap().get())
}

fn format_of(bytes: &[u8]) -> String {
    TemplateFormat::detect(bytes, &[]).unwrap().to_string()
}

/// An 18-character ID number with its right check character.
fn id_number(first17: &str) -> String {
    format!("{first17}{}", id_check_char(first17).unwrap())
}

/// The same number with a wrong check character.
fn bad_id_number(first17: &str) -> String {
    let right = id_check_char(first17).unwrap();
    format!("{first17}{}", if right == '0' { '1' } else { '0' })
}

/// The exam centre's day by the harness's clock (fixed when the test started).
fn today(h: &Harness) -> String {
    h.state.clock.today(&h.state.config)
}

/// The day after [`today`].
fn tomorrow(h: &Harness) -> String {
    let day: roster::ExamDate = today(h).parse().unwrap();
    roster::ExamDate::from_days_since_epoch(day.days_since_epoch() + 1).to_string()
}

struct Booking<'a> {
    number: &'a str,
    id: String,
    name: &'a str,
    date: String,
    templates: Vec<Vec<u8>>,
}

/// Imports bookings through the roster store, sealed with the state's sealer.
async fn import(h: &Harness, bookings: Vec<Booking<'_>>) {
    let sealer = &h.state.sealer;
    let rows = bookings
        .into_iter()
        .map(|b| {
            let templates: Vec<TemplateData> =
                b.templates.iter().map(|t| TemplateData { format: format_of(t), data: B64.encode(t) }).collect();
            NewCandidate {
                booking_number: b.number.into(),
                id_number: b.id,
                name: b.name.into(),
                session: format!("{} 09:00", b.date),
                exam_date: b.date,
                language: "zh-CN".into(),
                photo: sealer.seal(&aad::photo(b.number), &common::jpeg(7)).unwrap(),
                templates: sealer.seal(&aad::templates(b.number), &serde_json::to_vec(&templates).unwrap()).unwrap(),
                template_count: templates.len() as u32,
                purge_at: now_ms() + 86_400_000,
                exam: None,
            }
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

/// A seat PC bound as `seat`, with a heartbeat so that it is online.
async fn seat(h: &Harness, console: &str, seat: &str, n: u8) -> TestAgent {
    let agent = TestAgent::new(&format!("02:00:00:00:01:{n:02x}"), &format!("10.0.1.{n}"));
    h.bind(&agent, seat, console).await;
    let r = h.send(agent.heartbeat(Some(seat))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    agent
}

/// The examiner's console PC, approved with the role `console`.
async fn console_pc(h: &Harness, console: &str, seat: &str) -> TestAgent {
    let agent = TestAgent::new("02:00:00:00:02:01", "10.0.2.1");
    let r = h.send(agent.enrol_request()).await;
    assert!(r.status.is_success(), "{}", r.text());
    let r = h
        .post(&format!("/api/v1/seats/{seat}/approve"), console, json!({"key_id": agent.key_id, "role": "console"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    agent
}

async fn post(h: &Harness, agent: &TestAgent, path: &str, body: Value) -> Reply {
    h.send(agent.signed("POST", path, body.to_string().into_bytes())).await
}

async fn lookup_id(h: &Harness, agent: &TestAgent, id: &str) -> Reply {
    post(h, agent, paths::LOOKUP, json!({"kind": "id_number", "value": id, "source": "keyboard"})).await
}

async fn lookup_booking(h: &Harness, agent: &TestAgent, booking: &str) -> Reply {
    post(h, agent, paths::LOOKUP, json!({"kind": "booking_number", "value": booking, "source": "keyboard"})).await
}

async fn attempt(h: &Harness, agent: &TestAgent, booking: &str, n: u32, live: &[u8], score: i32) -> Reply {
    let body = json!({
        "booking_number": booking,
        "attempt": n,
        "live": {"format": format_of(live), "data": B64.encode(live)},
        "enrolled_index": 0,
        "score": score,
        "snapshot_sha256": "ab".repeat(32),
        "captured_at": "2026-11-25T09:00:00.000Z"
    });
    post(h, agent, paths::VERIFY, body).await
}

async fn finish(h: &Harness, agent: &TestAgent, booking: &str) -> Reply {
    post(h, agent, paths::FINISH, json!({"booking_number": booking, "snapshot_sha256": "cd".repeat(32)})).await
}

async fn open_alerts(h: &Harness, kind: &str) -> Vec<Value> {
    let alerts = h.db.store.alerts(examgate_server::store::AlertFilter::Open).await.unwrap();
    alerts.into_iter().filter(|a| a.kind == kind).map(|a| serde_json::to_value(a).unwrap()).collect()
}

async fn pending(h: &Harness, agent: &TestAgent) -> Vec<Command> {
    let rows = h.db.store.pending_commands(&agent.key_id).await.unwrap();
    rows.iter().map(|r| serde_json::from_str(&r.body).unwrap()).collect()
}

async fn candidate_state(h: &Harness, booking: &str) -> (String, Option<String>, u32) {
    let c = h.db.store.candidate(booking).await.unwrap().unwrap();
    (examgate_server::store::candidate_state_str(c.state).to_owned(), c.seat_no, c.failures)
}

/// Runs SQL on the test database behind the server's back.
async fn sql(db: &TestDb, statement: &str, text: Option<&str>) {
    let statement = sqlx::AssertSqlSafe(statement.to_owned());
    if db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let q = sqlx::query(statement);
        let q = match text {
            Some(t) => q.bind(t),
            None => q,
        };
        q.execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let q = sqlx::query(statement);
        let q = match text {
            Some(t) => q.bind(t),
            None => q,
        };
        q.execute(&pool).await.unwrap();
        pool.close().await;
    }
}

const A: &str = "20261125001";
const B: &str = "20261125002";

fn a_and_b(h: &Harness) -> Vec<Booking<'static>> {
    let (enrolled, _, other) = fingers();
    vec![
        Booking {
            number: A,
            id: id_number("11010519491231002"),
            name: "张三",
            date: today(h),
            templates: vec![enrolled],
        },
        Booking {
            number: B, id: id_number("44030119900101123"), name: "李四", date: today(h), templates: vec![other]
        },
    ]
}

both_databases!(
    a_seat_looks_up_by_id_or_booking_number_and_gets_the_templates,
    unknown_other_days_and_other_seats_candidates_are_refused_with_their_reason,
    a_genuine_finger_agrees_with_the_server_and_finishing_admits,
    an_inflated_impostor_score_is_refused_counted_and_alerted,
    three_failures_call_the_examiner,
    the_examiner_admits_with_a_typed_reason_and_the_seat_is_told,
    the_examiner_refuses_and_releases,
    finishing_without_a_match_waits_for_the_examiner,
    a_card_at_the_console_gets_a_free_seat_at_random,
    a_cards_problems_are_named,
    only_the_console_pc_may_send_cards_and_it_gets_no_candidates,
    the_console_locks_when_idle,
    the_console_pc_is_approved_from_the_shell_too,
    evidence_signatures_re_verify_and_an_altered_body_fails,
    a_restored_centre_keeps_every_login_and_its_evidence,
    a_spare_pc_takes_over_the_seat_with_its_candidate,
    nothing_is_parsed_for_a_caller_without_an_open_console,
);

async fn a_seat_looks_up_by_id_or_booking_number_and_gets_the_templates(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    import(&h, a_and_b(&h)).await;
    let s1 = seat(&h, &console, "1", 1).await;
    // An ID number typed with a lower-case x still finds the booking.
    let r = lookup_id(&h, &s1, &id_number("11010519491231002").to_lowercase()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (v["booking_number"].as_str(), v["name"].as_str(), v["state"].as_str()),
        (Some(A), Some("张三"), Some("verifying"))
    );
    assert_eq!(v["templates"][0]["data"], B64.encode(fingers().0));
    assert_eq!(v["templates"][0]["format"], "iso19794-2");
    assert_eq!(candidate_state(&h, A).await, ("verifying".into(), Some("1".into()), 0));
    // Looking the same candidate up again changes nothing.
    let r = lookup_booking(&h, &s1, A).await;
    assert_eq!((r.status, r.json()["state"].as_str()), (StatusCode::OK, Some("verifying")));
    // Another candidate at the same seat releases the half-identified one.
    let r = lookup_booking(&h, &s1, B).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(candidate_state(&h, A).await, ("booked".into(), None, 0));
    assert_eq!(candidate_state(&h, B).await, ("verifying".into(), Some("1".into()), 0));
    let audit = h.audit_actions().await;
    let claimed: Vec<_> = audit.iter().filter(|(a, _, _)| a == "candidate_claimed").collect();
    assert_eq!(claimed.len(), 2, "{audit:?}");
    assert_eq!((claimed[0].1.as_str(), claimed[0].2.as_str()), ("candidate:20261125001", "claimed at seat 1"));
    assert!(audit.iter().any(|(a, s, _)| a == "candidate_released" && s == "candidate:20261125001"));
    assert!(!audit.iter().any(|(_, s, d)| s.contains("11010519491231002") || d.contains("11010519491231002")));
    // The seat map shows the seat's candidate.
    let map = h.get("/api/v1/seats", &console).await.json();
    let s = &map["seats"][0];
    assert_eq!((s["role"].as_str(), s["candidate"]["booking_number"].as_str()), (Some("seat"), Some(B)));
    assert_eq!(s["candidate"]["state"], "verifying");
    let state = h.send(s1.signed("GET", paths::STATE, vec![])).await;
    assert_eq!(state.json()["candidate"]["booking_number"], B, "{}", state.text());
}

async fn unknown_other_days_and_other_seats_candidates_are_refused_with_their_reason(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let mut bookings = a_and_b(&h);
    bookings[1].date = "2030-01-02".into();
    import(&h, bookings).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let s2 = seat(&h, &console, "2", 2).await;
    let r = lookup_id(&h, &s1, &id_number("12345619800101000")).await;
    assert_eq!((r.status, r.kind()), (StatusCode::NOT_FOUND, "not_found".into()), "{}", r.text());
    let r = lookup_booking(&h, &s1, "999").await;
    assert_eq!(r.kind(), "not_found");
    for r in [lookup_booking(&h, &s1, B).await, lookup_id(&h, &s1, &id_number("44030119900101123")).await] {
        assert_eq!((r.status, r.kind()), (StatusCode::CONFLICT, "not_today".into()), "{}", r.text());
        assert!(r.message().contains("2030-01-02"), "{}", r.message());
    }
    assert_eq!(lookup_booking(&h, &s1, A).await.status, StatusCode::OK);
    let r = lookup_booking(&h, &s2, A).await;
    assert_eq!((r.status, r.kind()), (StatusCode::CONFLICT, "assigned_elsewhere".into()));
    assert!(r.message().contains("seat 1"), "{}", r.message());
    let r = post(&h, &s1, paths::LOOKUP, json!({"kind": "booking_number", "value": "", "source": "keyboard"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

async fn a_genuine_finger_agrees_with_the_server_and_finishing_admits(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    import(&h, a_and_b(&h)).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let (enrolled, genuine, _) = fingers();
    assert_eq!(lookup_booking(&h, &s1, A).await.status, StatusCode::OK);
    let score = honest_score(&genuine, &enrolled);
    assert!(score > 800, "{score}");
    let r = attempt(&h, &s1, A, 1, &genuine, score).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!((v["verdict"].as_str(), v["server_score"].as_i64()), (Some("match"), Some(i64::from(score))));
    assert_eq!((v["failures"].as_u64(), v["state"].as_str()), (Some(0), Some("verifying")));
    let r = finish(&h, &s1, A).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["candidate"]["state"], "admitted");
    assert_eq!(candidate_state(&h, A).await, ("admitted".into(), Some("1".into()), 0));
    let finished: Vec<_> = h.audit_actions().await.into_iter().filter(|(a, _, _)| a == "login_finished").collect();
    assert_eq!(finished.len(), 1);
    assert!(
        finished[0].2.contains("fingerprint matched") && finished[0].2.contains(&"cd".repeat(32)),
        "{:?}",
        finished
    );
    // Admitted here, the candidate cannot be claimed anywhere, and the seat takes nobody else.
    let r = lookup_booking(&h, &s1, A).await;
    assert_eq!(r.kind(), "already_admitted");
    let r = lookup_booking(&h, &s1, B).await;
    assert_eq!((r.status, r.kind()), (StatusCode::CONFLICT, "seat_busy".into()), "{}", r.text());
}

async fn an_inflated_impostor_score_is_refused_counted_and_alerted(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    import(&h, a_and_b(&h)).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let (enrolled, _, impostor) = fingers();
    assert!(honest_score(&impostor, &enrolled) <= 800);
    lookup_booking(&h, &s1, A).await;
    let r = attempt(&h, &s1, A, 1, &impostor, 950).await;
    assert_eq!((r.status, r.kind()), (StatusCode::CONFLICT, "score_disagrees".into()), "{}", r.text());
    assert_eq!(candidate_state(&h, A).await, ("verifying".into(), Some("1".into()), 1));
    let alerts = open_alerts(&h, "score_disagreement").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["seat"], "1");
    let rows = h.db.store.verifications(A).await.unwrap();
    assert_eq!((rows.len(), rows[0].verdict.as_str(), rows[0].score), (1, "disagreed", 950));
    assert!(h.audit_actions().await.iter().any(|(a, s, _)| a == "score_disagreement" && s == "seat:1"));
    // The finish that follows does not admit.
    let r = finish(&h, &s1, A).await;
    assert_eq!(r.json()["candidate"]["state"], "waiting_for_examiner");
}

async fn three_failures_call_the_examiner(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    import(&h, a_and_b(&h)).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let (enrolled, _, impostor) = fingers();
    let score = honest_score(&impostor, &enrolled);
    lookup_booking(&h, &s1, A).await;
    for n in 1..=3u32 {
        let r = attempt(&h, &s1, A, n, &impostor, score).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = r.json();
        assert_eq!((v["verdict"].as_str(), v["failures"].as_u64()), (Some("no_match"), Some(u64::from(n))));
        let expected = if n < 3 { "verifying" } else { "waiting_for_examiner" };
        assert_eq!(v["state"], expected);
    }
    let alerts = open_alerts(&h, "examiner_needed").await;
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0]["message"].as_str().unwrap().contains("seat 1"), "{:?}", alerts);
    let r = attempt(&h, &s1, A, 4, &impostor, score).await;
    assert_eq!((r.status, r.kind()), (StatusCode::CONFLICT, "waiting_for_examiner".into()));
    // The seat then asks for the examiner (the page always does after three
    // failures): the state stays, and the open alert is not raised twice.
    let ask = json!({"booking_number": A, "failures": 3, "reason": "three_failures"});
    let r = post(&h, &s1, paths::ASK_EXAMINER, ask.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["candidate"]["state"], "waiting_for_examiner");
    assert_eq!(open_alerts(&h, "examiner_needed").await.len(), 1);
    // Once the examiner has cleared it, asking again raises a new one.
    let id = alerts[0]["id"].as_str().unwrap();
    let r = h.post(&format!("/api/v1/alerts/{id}/clear"), &console, json!({})).await;
    assert!(r.status.is_success(), "{}", r.text());
    assert!(open_alerts(&h, "examiner_needed").await.is_empty());
    let r = post(&h, &s1, paths::ASK_EXAMINER, ask).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(open_alerts(&h, "examiner_needed").await.len(), 1);
}

async fn the_examiner_admits_with_a_typed_reason_and_the_seat_is_told(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    import(&h, a_and_b(&h)).await;
    let s1 = seat(&h, &console, "1", 1).await;
    lookup_booking(&h, &s1, A).await;
    let r =
        post(&h, &s1, paths::ASK_EXAMINER, json!({"booking_number": A, "failures": 0, "reason": "device_fault"})).await;
    assert_eq!(r.json()["candidate"]["state"], "waiting_for_examiner", "{}", r.text());
    for bad in [json!({}), json!({"reason": "  ok  "}), json!({"reason": "x".repeat(501)})] {
        let r = h.post(&format!("/api/v1/roster/{A}/admit"), &console, bad).await;
        assert_eq!((r.status, r.kind()), (StatusCode::BAD_REQUEST, "reason_required".into()), "{}", r.text());
    }
    let reason = "fingerprint reader broken; face and ID card checked by hand";
    let r = h.post(&format!("/api/v1/roster/{A}/admit"), &console, json!({"reason": reason})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!((r.json()["state"].as_str(), r.json()["seat"].as_str()), (Some("admitted"), Some("1")));
    let decision = json!({"type": "login_decision", "booking_number": A, "decision": "admitted"});
    let commands: Vec<Value> = pending(&h, &s1).await.iter().map(|c| serde_json::to_value(c).unwrap()).collect();
    assert_eq!(commands, vec![decision]);
    let audit = h.audit_actions().await;
    let admitted: Vec<_> = audit.iter().filter(|(a, _, _)| a == "examiner_admitted").collect();
    assert_eq!(admitted.len(), 1);
    assert!(admitted[0].2.contains(reason) && admitted[0].2.contains("seat 1"), "{admitted:?}");
    assert!(admitted[0].0 == "examiner_admitted" && admitted[0].1 == "candidate:20261125001");
    // The seat now finishes into the examiner's admission.
    let r = finish(&h, &s1, A).await;
    assert_eq!(r.json()["candidate"]["state"], "admitted", "{}", r.text());
    // A second decision on the same candidate is refused.
    let r = h.post(&format!("/api/v1/roster/{A}/refuse"), &console, json!({"reason": "changed my mind"})).await;
    assert_eq!(r.kind(), "already_admitted");
}

async fn the_examiner_refuses_and_releases(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    import(&h, a_and_b(&h)).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let s2 = seat(&h, &console, "2", 2).await;
    lookup_booking(&h, &s2, B).await;
    let r =
        h.post(&format!("/api/v1/roster/{B}/refuse"), &console, json!({"reason": "not the person on the card"})).await;
    assert_eq!((r.status, r.json()["state"].as_str()), (StatusCode::OK, Some("refused")), "{}", r.text());
    let refused =
        Command::LoginDecision { booking_number: B.into(), decision: examgate_protocol::login::Decision::Refused };
    assert_eq!(pending(&h, &s2).await, vec![refused]);
    let r = lookup_booking(&h, &s2, B).await;
    assert_eq!(r.kind(), "refused");
    assert!(h.audit_actions().await.iter().any(|(a, _, d)| a == "examiner_refused" && d.contains("not the person")));
    // A candidate released from seat 1 may log in at seat 2 (whose refused candidate holds nothing).
    lookup_booking(&h, &s1, A).await;
    let r = h.post(&format!("/api/v1/roster/{A}/release"), &console, json!({})).await;
    assert_eq!((r.status, r.json()["state"].as_str()), (StatusCode::OK, Some("booked")), "{}", r.text());
    assert_eq!(candidate_state(&h, A).await, ("booked".into(), None, 0));
    assert!(h.audit_actions().await.iter().any(|(a, _, d)| a == "candidate_released" && d.contains("from seat 1")));
    // Seat 1 is told, so its page starts over for the next candidate.
    assert_eq!(pending(&h, &s1).await, vec![Command::CandidateReleased { booking_number: A.into() }]);
    let r = lookup_booking(&h, &s2, A).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = h.post("/api/v1/roster/nope/admit", &console, json!({"reason": "a good reason"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn finishing_without_a_match_waits_for_the_examiner(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    import(&h, a_and_b(&h)).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let s2 = seat(&h, &console, "2", 2).await;
    lookup_booking(&h, &s1, A).await;
    let r = finish(&h, &s2, A).await;
    assert_eq!((r.status, r.kind()), (StatusCode::CONFLICT, "not_claimed".into()));
    let r = finish(&h, &s1, A).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["candidate"]["state"], "waiting_for_examiner");
    assert_eq!(open_alerts(&h, "examiner_needed").await.len(), 1);
    // A match sent from another seat never counts here.
    let (enrolled, genuine, _) = fingers();
    let r = attempt(&h, &s2, A, 1, &genuine, honest_score(&genuine, &enrolled)).await;
    assert_eq!(r.kind(), "not_claimed");
}

fn card(id: &str, from: &str, until: Option<&str>) -> Value {
    json!({
        "card_type": "resident", "name": "张三", "sex": {"code": "1", "label": "男"},
        "nation": {"code": "01", "label": "汉"}, "birth_date": "1949-12-31", "address": "北京市东城区",
        "id_number": id, "id_number_valid": true, "issuer": "北京市公安局东城分局",
        "valid_from": from, "valid_until": until, "chip_serial": null, "photo_wlt": null, "photo_sha256": null,
        "photo_jpeg": B64.encode(common::jpeg(9)), "source": "pcsc-decoded"
    })
}

async fn read_card(h: &Harness, console_pc: &TestAgent, card: Value) -> Reply {
    post(h, console_pc, paths::CONSOLE_CARD, json!({ "card": card })).await
}

async fn a_card_at_the_console_gets_a_free_seat_at_random(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let ids = ["11010519491231002", "11010519500101003", "11010519510101004", "11010519520101005"];
    let date = today(&h);
    let numbers = ["20261125011", "20261125012", "20261125013", "20261125014"];
    let mut bookings: Vec<Booking> = ids
        .iter()
        .zip(numbers)
        .map(|(id, number)| Booking {
            number,
            id: id_number(id),
            name: "王五",
            date: date.clone(),
            templates: vec![fingers().0],
        })
        .collect();
    bookings.push(Booking {
        number: A,
        id: id_number("44030119900101123"),
        name: "张三",
        date,
        templates: vec![fingers().0],
    });
    import(&h, bookings).await;
    let seats = [
        seat(&h, &console, "1", 1).await,
        seat(&h, &console, "2", 2).await,
        seat(&h, &console, "3", 3).await,
        seat(&h, &console, "4", 4).await,
    ];
    let pc = console_pc(&h, &console, "C1").await;
    // Seat 1 is taken by a candidate identifying there.
    assert_eq!(lookup_booking(&h, &seats[0], A).await.status, StatusCode::OK);
    let mut events = h.state.hub.subscribe();
    let mut given = Vec::new();
    for (i, id) in ids.iter().take(3).enumerate() {
        let r = read_card(&h, &pc, card(&id_number(id), "2015-03-01", None)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = r.json();
        assert_eq!((v["accepted"].as_bool(), v["problems"].as_array().map(Vec::len)), (Some(true), Some(0)), "{v}");
        assert_eq!(v["booking_number"], numbers[i]);
        let seat = v["seat"].as_str().unwrap().to_owned();
        assert!(["2", "3", "4"].contains(&seat.as_str()), "seat {seat}: never the console, never an occupied seat");
        assert!(!given.contains(&seat), "seat {seat} given twice");
        assert_eq!(candidate_state(&h, numbers[i]).await, ("assigned".into(), Some(seat.clone()), 0));
        given.push(seat);
    }
    // Each seat was told whom it gets; reading a card again gives the same seat and sends nothing new.
    let first_seat = &seats[given[0].parse::<usize>().unwrap() - 1];
    let assigned =
        Command::CandidateAssigned {
            booking_number: numbers[0].into(), name: "王五".into(), language: "zh-CN".into()
        };
    assert_eq!(pending(&h, first_seat).await, vec![assigned.clone()]);
    let r = read_card(&h, &pc, card(&id_number(ids[0]), "2015-03-01", None)).await;
    assert_eq!((r.json()["accepted"].as_bool(), r.json()["seat"].as_str()), (Some(true), Some(given[0].as_str())));
    assert_eq!(pending(&h, first_seat).await, vec![assigned]);
    // No seat is left for the fourth.
    let r = read_card(&h, &pc, card(&id_number(ids[3]), "2015-03-01", None)).await;
    assert_eq!((r.json()["accepted"].as_bool(), r.json()["problems"].clone()), (Some(false), json!(["no_free_seat"])));
    // The console page heard of each card, with the roster photo's address.
    let mut reads = Vec::new();
    let mut updates = 0;
    while let Ok(ev) = events.try_recv() {
        match &ev {
            ConsoleEvent::CardRead(read) => {
                let json = serde_json::to_value(&ev).unwrap();
                assert_eq!((&json["type"], &json["check"]["seat"]), (&json!("card_read"), &json!(read.check.seat)));
                reads.push(read.clone());
            }
            ConsoleEvent::CandidateUpdated { .. } => {
                assert_eq!(serde_json::to_value(&ev).unwrap()["type"], "candidate_updated");
                updates += 1;
            }
            _ => {}
        }
    }
    assert_eq!((reads.len(), updates), (5, 3), "three assignments, each told once");
    assert_eq!(reads[0].photo_url.as_deref(), Some("/api/v1/roster/20261125011/photo"));
    assert_eq!(reads[0].card.name.as_deref(), Some("张三"));
    // Mode (a): the assigned seat finishes without a fingerprint.
    let r = finish(&h, first_seat, numbers[0]).await;
    assert_eq!(r.json()["candidate"]["state"], "admitted", "{}", r.text());
    assert_eq!(r.json()["candidate"]["mode"], "card_at_console");
    // The assigned candidate's lookup at that seat is answered as assigned, elsewhere refused.
    let second_seat = &seats[given[1].parse::<usize>().unwrap() - 1];
    let r = lookup_booking(&h, second_seat, numbers[1]).await;
    assert_eq!(r.json()["state"], "assigned", "{}", r.text());
    let r = lookup_booking(&h, &seats[0], numbers[1]).await;
    assert_eq!(r.kind(), "assigned_elsewhere");
}

async fn a_cards_problems_are_named(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    import(&h, a_and_b(&h)).await;
    seat(&h, &console, "1", 1).await;
    let pc = console_pc(&h, &console, "C1").await;
    let good = id_number("11010519491231002");
    let today = today(&h);
    let cases = [
        (card(&bad_id_number("11010519491231002"), "2015-03-01", None), "check_character"),
        (card(&good, "2005-03-01", Some("2015-03-01")), "expired"),
        (card(&good, &tomorrow(&h), None), "not_yet_valid"),
        (card(&id_number("12345619800101000"), "2015-03-01", None), "no_booking_today"),
    ];
    for (card, problem) in cases {
        let r = read_card(&h, &pc, card).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = r.json();
        assert_eq!((v["accepted"].as_bool(), v["seat"].clone()), (Some(false), Value::Null), "{problem}: {v}");
        assert_eq!(v["problems"], json!([problem]), "{v}");
    }
    assert_eq!(candidate_state(&h, A).await, ("booked".into(), None, 0));
    // The card that expires today is still valid today.
    let r = read_card(&h, &pc, card(&good, "2015-03-01", Some(&today))).await;
    assert_eq!(r.json()["accepted"], true, "{}", r.text());
    let reads: Vec<_> = h.audit_actions().await.into_iter().filter(|(a, _, _)| a == "card_read_at_console").collect();
    assert_eq!(reads.len(), 5);
    // A card whose number fails its check is not looked up: it is nobody's.
    assert_eq!((reads[0].1.as_str(), reads[0].2.as_str()), ("unknown", "problems: check_character; no seat"));
    assert_eq!((reads[1].1.as_str(), reads[1].2.as_str()), ("candidate:20261125001", "problems: expired; no seat"));
    assert_eq!(reads[3].1, "unknown");
    assert_eq!(reads[4].2, "problems: none; seat 1");
    assert!(reads.iter().all(|(_, s, d)| !s.contains(&good[..17]) && !d.contains(&good[..17])));
}

async fn only_the_console_pc_may_send_cards_and_it_gets_no_candidates(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    import(&h, a_and_b(&h)).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let pc = console_pc(&h, &console, "C1").await;
    let r = read_card(&h, &s1, card(&id_number("11010519491231002"), "2015-03-01", None)).await;
    assert_eq!((r.status, r.kind()), (StatusCode::FORBIDDEN, "not_a_console".into()), "{}", r.text());
    let r = lookup_booking(&h, &pc, A).await;
    assert_eq!((r.status, r.kind()), (StatusCode::FORBIDDEN, "not_a_seat".into()), "{}", r.text());
    let r = h.send(pc.signed("GET", paths::STATE, vec![])).await;
    assert_eq!(r.kind(), "not_a_seat");
    let map = h.get("/api/v1/seats", &console).await.json();
    let roles: Vec<(&str, &str)> = map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["seat"].as_str().unwrap(), s["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [("1", "seat"), ("C1", "console")]);
}

async fn the_console_locks_when_idle(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let s = h.get("/api/v1/session", &console).await.json();
    assert_eq!(s["idle_ms"], 15 * 60_000);
    assert!(s["last_active"].as_i64().unwrap() > 0, "login sets last_active: {s}");
    // Activity moves last_active on.
    let earlier = now_ms() - 5 * 60_000;
    sql(&h.db, &format!("UPDATE sessions SET last_active = {earlier}"), None).await;
    let r = h.post("/api/v1/session/activity", &console, json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert!(h.get("/api/v1/session", &console).await.json()["last_active"].as_i64().unwrap() > earlier);
    // So does any console POST; GETs do not.
    let nearly_idle = now_ms() - 10 * 60_000;
    sql(&h.db, &format!("UPDATE sessions SET last_active = {nearly_idle}"), None).await;
    assert_eq!(h.get("/api/v1/seats", &console).await.status, StatusCode::OK);
    assert_eq!(h.get("/api/v1/session", &console).await.json()["last_active"], nearly_idle);
    let r = h.post("/api/v1/alerts/none/clear", &console, json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(h.get("/api/v1/session", &console).await.json()["last_active"].as_i64().unwrap() > nearly_idle);
    // Idle past the limit: locked, and gone for both.
    let idle = now_ms() - 16 * 60_000;
    sql(&h.db, &format!("UPDATE sessions SET last_active = {idle}"), None).await;
    let r = h.get("/api/v1/seats", &console).await;
    assert_eq!((r.status, r.kind()), (StatusCode::UNAUTHORIZED, "locked".into()), "{}", r.text());
    let r = h.get("/api/v1/session", &console).await;
    assert_eq!((r.status, r.kind()), (StatusCode::UNAUTHORIZED, "unauthorized".into()));
    assert!(
        h.audit_actions()
            .await
            .iter()
            .any(|(a, s, d)| a == "session_locked" && s == "console" && d.contains("15 minutes"))
    );
    // Logging in again needs both.
    let body = json!({"username": common::EXAMINER.0, "password": common::EXAMINER.1});
    let r = h.post("/api/v1/session/login", &console, body).await;
    assert_eq!(r.json()["open"], false, "{}", r.text());
}

async fn evidence_signatures_re_verify_and_an_altered_body_fails(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    import(&h, a_and_b(&h)).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let (enrolled, genuine, impostor) = fingers();
    lookup_booking(&h, &s1, A).await;
    attempt(&h, &s1, A, 1, &impostor, honest_score(&impostor, &enrolled)).await;
    attempt(&h, &s1, A, 2, &genuine, honest_score(&genuine, &enrolled)).await;
    let r = h.get(&format!("/api/v1/roster/{A}/evidence"), &console).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!((v["booking_number"].as_str(), v["failures"].as_u64()), (Some(A), Some(1)));
    let attempts = v["attempts"].as_array().unwrap();
    let verdicts: Vec<&str> = attempts.iter().map(|a| a["verdict"].as_str().unwrap()).collect();
    assert_eq!(verdicts, ["no_match", "match"]);
    assert!(attempts.iter().all(|a| a["signature_valid"] == true), "{v}");
    assert_eq!(attempts[1]["server_score"], attempts[1]["score"]);
    assert_eq!(attempts[1]["snapshot_sha256"], "ab".repeat(32));
    // A body swapped in the database, even one sealed with the right key, no longer carries the seat's signature.
    let rows = h.db.store.verifications(A).await.unwrap();
    let id = &rows[1].id;
    let sealed = h.state.sealer.open(&aad::verification_body(id), rows[1].body.as_deref().unwrap()).unwrap();
    let forged = String::from_utf8(sealed).unwrap().replace("\"attempt\":2", "\"attempt\":3");
    let resealed = h.state.sealer.seal(&aad::verification_body(id), forged.as_bytes()).unwrap();
    sql(&h.db, &format!("UPDATE verifications SET body = $1 WHERE id = '{id}'"), Some(&resealed)).await;
    let v = h.get(&format!("/api/v1/roster/{A}/evidence"), &console).await.json();
    let valid: Vec<&Value> = v["attempts"].as_array().unwrap().iter().map(|a| &a["signature_valid"]).collect();
    assert_eq!(valid, [&json!(true), &json!(false)]);
    // And one that is not even sealed text fails too.
    sql(&h.db, &format!("UPDATE verifications SET body = $1 WHERE id = '{}'", rows[0].id), Some("AAAA")).await;
    let v = h.get(&format!("/api/v1/roster/{A}/evidence"), &console).await.json();
    assert_eq!(v["attempts"][0]["signature_valid"], false);
}

/// A crashed server replaced from its backup: each candidate stands where they stood, and
/// the evidence still opens and verifies, given the roster key (which no backup carries).
async fn a_restored_centre_keeps_every_login_and_its_evidence(db: TestDb) {
    use examgate_server::backup;
    use examgate_server::snapshots::SnapshotFiles;
    let h = Harness::new(db).await;
    let console = h.console().await;
    import(&h, a_and_b(&h)).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let s2 = seat(&h, &console, "2", 2).await;
    // A's finger is finger 1; B enrolled finger 2, so finger 1 is a wrong finger for B.
    let (enrolled_a, finger1, enrolled_b) = fingers();
    lookup_booking(&h, &s1, A).await;
    attempt(&h, &s1, A, 1, &finger1, honest_score(&finger1, &enrolled_a)).await;
    assert_eq!(finish(&h, &s1, A).await.json()["candidate"]["state"], "admitted");
    lookup_booking(&h, &s2, B).await;
    for n in 1..=3 {
        let r = attempt(&h, &s2, B, n, &finger1, honest_score(&finger1, &enrolled_b)).await;
        assert_eq!(r.json()["verdict"], "no_match", "{}", r.text());
    }
    let file = h.db.dir.path().join("centre.backup");
    backup::backup(h.db.store.as_ref(), &h.state.snapshots, &file).await.unwrap();

    let restored = h.db.fresh_like().await;
    let files = SnapshotFiles::new(restored.dir.path().join("snapshots"));
    backup::restore(restored.store.as_ref(), &files, &file).await.unwrap();
    // Without the roster key the restored centre has its rows but cannot open what is sealed.
    let keyless = Harness { state: restored.state(), db: restored };
    let cookie = keyless.console().await;
    assert!(keyless.get(&format!("/api/v1/roster/{A}/photo"), &cookie).await.status.is_server_error());
    let (db, state) = (keyless.db, keyless.state);
    drop(state);
    // With the key copied over, everything opens again.
    std::fs::copy(h.db.dir.path().join("roster.key"), db.dir.path().join("roster.key")).unwrap();
    let r2 = Harness { state: db.state(), db };
    let cookie = r2.console().await;
    assert_eq!(candidate_state(&r2, A).await, ("admitted".into(), Some("1".into()), 0));
    assert_eq!(candidate_state(&r2, B).await, ("waiting_for_examiner".into(), Some("2".into()), 3));
    let photo = r2.get(&format!("/api/v1/roster/{A}/photo"), &cookie).await;
    assert_eq!(photo.status, StatusCode::OK, "{}", photo.text());
    let v = r2.get(&format!("/api/v1/roster/{B}/evidence"), &cookie).await.json();
    let attempts = v["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{v}");
    assert!(attempts.iter().all(|a| a["signature_valid"] == true && a["verdict"] == "no_match"), "{v}");
    // The examiner goes on where the crash left off.
    let r = r2.post(&format!("/api/v1/roster/{B}/admit"), &cookie, json!({"reason": "identity checked by hand"})).await;
    assert_eq!((r.status, r.json()["state"].as_str()), (StatusCode::OK, Some("admitted")), "{}", r.text());
}

/// The seeds' remedy for a frozen exam PC: the examiner gives its seat to a spare. The
/// candidate the console sent there goes with the seat: the spare's page asks who is there
/// (`GET …/login/state`) when it opens.
async fn a_spare_pc_takes_over_the_seat_with_its_candidate(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    import(&h, a_and_b(&h)).await;
    let crashed = seat(&h, &console, "1", 1).await;
    let pc = console_pc(&h, &console, "C1").await;
    let r = read_card(&h, &pc, card(&id_number("11010519491231002"), "2015-03-01", None)).await;
    assert_eq!(r.json()["seat"], "1", "{}", r.text());

    let spare = TestAgent::new("02:00:00:00:01:99", "10.0.1.99");
    assert!(h.send(spare.enrol_request()).await.status.is_success());
    let r = h.post("/api/v1/seats/1/rebind", &console, json!({"key_id": spare.key_id})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // The frozen PC may no longer speak for the seat; the spare finds the candidate there.
    assert_eq!(h.send(crashed.signed("GET", paths::STATE, vec![])).await.status, StatusCode::FORBIDDEN);
    let r = h.send(spare.signed("GET", paths::STATE, vec![])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!((r.json()["seat"].as_str(), r.json()["candidate"]["booking_number"].as_str()), (Some("1"), Some(A)));
    assert_eq!(r.json()["candidate"]["state"], "assigned");
    // And finishes the login the frozen PC could not.
    let r = finish(&h, &spare, A).await;
    assert_eq!(r.json()["candidate"]["state"], "admitted", "{}", r.text());
}

/// Outside an open console a request is refused before its body is read: a malformed
/// body from nobody is 401, not a parse error that would say what the API expects.
async fn nothing_is_parsed_for_a_caller_without_an_open_console(db: TestDb) {
    let h = Harness::new(db).await;
    import(&h, a_and_b(&h)).await;
    for path in [format!("/api/v1/roster/{A}/admit"), "/api/v1/roster/import".into(), "/api/v1/seats/1/approve".into()]
    {
        let r = h.post(&path, "", json!({"not": "a field"})).await;
        assert_eq!((r.status, r.kind()), (StatusCode::UNAUTHORIZED, "unauthorized".into()), "{path}: {}", r.text());
    }
    // One login of the two: the console is still closed.
    let body = json!({"username": common::EXAMINER.0, "password": common::EXAMINER.1});
    let r = h.post("/api/v1/session/login", "", body).await;
    let cookie = r.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let r = h.post(&format!("/api/v1/roster/{A}/admit"), &cookie, json!({"not": "a field"})).await;
    assert_eq!((r.status, r.kind()), (StatusCode::FORBIDDEN, "console_closed".into()), "{}", r.text());
}

async fn the_console_pc_is_approved_from_the_shell_too(db: TestDb) {
    let h = Harness::new(db).await;
    let pc = TestAgent::new("02:00:00:00:02:01", "10.0.2.1");
    assert!(h.send(pc.enrol_request()).await.status.is_success());
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_examgate-server"))
            .args(args)
            .args(["--database", &h.db.url, "--data-dir"])
            .arg(h.db.dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = run(&["seat", "approve", "C1", "--key", &pc.key_id, "--role", "boss"]);
    assert!(!ok && out.contains("seat or console"), "{out}");
    let (ok, out) = run(&["seat", "approve", "C1", "--key", &pc.key_id, "--role", "console"]);
    assert!(ok && out.contains("seat C1 bound to") && out.ends_with("as console\n"), "{out}");
    let (ok, out) = run(&["seat", "rebind", "C1", "--key", &pc.key_id, "--role", "seat"]);
    assert!(!ok && out.contains("--role is for approve"), "{out}");
    let machine = h.db.store.machine(&pc.key_id).await.unwrap().unwrap();
    assert_eq!(machine.role, examgate_server::store::MachineRole::Console);
    let r = read_card(&h, &pc, card(&id_number("12345619800101000"), "2015-03-01", None)).await;
    assert_eq!((r.status, r.json()["problems"].clone()), (StatusCode::OK, json!(["no_booking_today"])), "{}", r.text());
}
