//! The exam on the server: a paper drawn at admission, its signed manifest
//! and package, answers stored once, every refusal, submission and its score,
//! the deadline closer and a restart mid-exam. Against SQLite and PostgreSQL.

#[macro_use]
mod common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::exam::{
    A, B, admit, answer, centre, deliver, id_number, import_bank, import_roster, post, recomputed, seat,
};
use common::{Harness, Reply, TestAgent, TestDb};
use examgate_protocol::exam::{PaperDoc, PaperManifest, paths as exam_paths};
use examgate_protocol::link::{Command, paths as link_paths};
use examgate_protocol::login::paths;
use examgate_server::crypto::sha256_hex;
use examgate_server::exam::key;
use examgate_server::hub::ConsoleEvent;
use examgate_server::now_ms;
use serde_json::{Value, json};

async fn get(h: &Harness, agent: &TestAgent, path: &str) -> Reply {
    h.send(agent.signed("GET", path, vec![])).await
}

fn submit(booking: &str, paper: &str, seq: u64) -> Value {
    json!({
        "exam": "T1",
        "created_at": "2026-11-25T09:30:00.000Z",
        "item": {"kind": "exam_submit", "booking_number": booking, "paper_id": paper, "seq": seq, "reason": "candidate"}
    })
}

fn refused(r: &Reply, kind: &str) {
    assert_eq!((r.status, r.kind().as_str()), (StatusCode::CONFLICT, kind), "{}", r.text());
}

both_databases!(
    a_whole_attempt_from_admission_to_result,
    refusals_the_deadline_closer_and_a_restart,
    a_spare_pc_continues_and_a_backup_keeps_the_attempt,
    a_card_at_the_console_then_finishing_at_the_seat_draws_the_paper,
    without_a_bank_the_candidate_is_admitted_and_the_console_alerted,
);

async fn a_whole_attempt_from_admission_to_result(db: TestDb) {
    let h = centre(db).await;
    let console = h.console().await;
    import_bank(&h).await;
    import_roster(&h, &[(A, "en")]).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let server_key = get(&h, &s1, link_paths::STATUS).await.json()["server_key"].as_str().unwrap().to_owned();
    admit(&h, &console, &s1, A).await;

    // Paper drawn in the admission, audited with its seed, bank version and hash; exam_ready is queued.
    let paper = h.db.store.paper_of_booking(A).await.unwrap().expect("a paper at admission");
    let audit = h.audit_actions().await;
    let drawn: Vec<_> = audit.iter().filter(|(a, _, _)| a == "paper_drawn").collect();
    assert_eq!(drawn.len(), 1, "{audit:?}");
    for part in [paper.seed.to_string(), paper.bank_version.clone(), paper.paper_sha256.clone()] {
        assert!(drawn[0].2.contains(&part), "{} lacks {part}", drawn[0].2);
    }
    let commands: Vec<Command> =
        h.db.store
            .pending_commands(&s1.key_id)
            .await
            .unwrap()
            .iter()
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect();
    assert!(commands.contains(&Command::ExamReady { booking_number: A.into(), paper_id: paper.paper_id.clone() }));
    assert_eq!(paper.deadline - paper.drawn_at, 30 * 60_000);
    assert_eq!((paper.item_count, paper.max_score), (3, 6));

    // The manifest is signed by the key the seat pinned at enrolment.
    let r = get(&h, &s1, exam_paths::PAPER).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let manifest: PaperManifest = serde_json::from_slice(&r.body).unwrap();
    assert!(key::verify_manifest(&manifest, &server_key));
    let mut forged = manifest.clone();
    forged.deadline += 600_000;
    assert!(!key::verify_manifest(&forged, &server_key));
    assert_eq!((manifest.paper_id.as_str(), manifest.language.as_str()), (paper.paper_id.as_str(), "en"));

    // The package is what the manifest says, file by file, and a range resumes it.
    let r = get(&h, &s1, exam_paths::PACKAGE).await;
    assert_eq!(r.status, StatusCode::OK);
    let tar = r.body.clone();
    assert_eq!((tar.len() as u64, sha256_hex(&tar)), (manifest.package.size, manifest.package.sha256.clone()));
    let mut files = BTreeMap::new();
    for entry in tar::Archive::new(tar.as_slice()).entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        files.insert(path, bytes);
    }
    assert_eq!(files.len(), manifest.files.len());
    for f in &manifest.files {
        let bytes = &files[&f.path];
        assert_eq!((bytes.len() as u64, sha256_hex(bytes)), (f.size, f.sha256.clone()), "{}", f.path);
    }
    let doc: PaperDoc = serde_json::from_slice(&files["paper.json"]).unwrap();
    let drawn = paper.drawn_items().unwrap();
    assert_eq!(
        doc.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        drawn.iter().map(|i| i.id.clone()).collect::<Vec<_>>()
    );
    for (shown, d) in doc.items.iter().zip(&drawn) {
        assert_eq!(shown.choices.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), d.choices, "display order");
        let expected = if shown.id == "q3" { "zh-CN" } else { "en" };
        assert_eq!(shown.language, expected, "q3 has no English and falls back to Chinese");
        assert!(shown.media.iter().all(|m| files.contains_key(&m.path)));
    }
    let mut ranged = s1.signed("GET", exam_paths::PACKAGE, vec![]);
    ranged.headers_mut().insert("range", "bytes=700-".parse().unwrap());
    let r = h.send(ranged).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.body, tar[700..]);

    // Answers: stored once per idempotency key, the highest seq per item held.
    let (q1, q2) = (drawn[0].id.clone(), drawn[1].id.clone());
    let pid = paper.paper_id.clone();
    let mut events = h.state.hub.subscribe();
    let r = deliver(&h, &s1, "a-1", &answer(A, &pid, &q1, &["A"], 1)).await;
    assert_eq!((r.status, r.json()["stored"].as_str()), (StatusCode::CREATED, Some("new")), "{}", r.text());
    let r = deliver(&h, &s1, "a-1", &answer(A, &pid, &q1, &["A"], 1)).await;
    assert_eq!((r.status, r.json()["stored"].as_str()), (StatusCode::OK, Some("duplicate")));
    assert_eq!(deliver(&h, &s1, "a-3", &answer(A, &pid, &q1, &["B"], 3)).await.status, StatusCode::CREATED);
    assert_eq!(deliver(&h, &s1, "a-2", &answer(A, &pid, &q1, &["C"], 2)).await.status, StatusCode::CREATED);
    assert_eq!(deliver(&h, &s1, "a-4", &answer(A, &pid, &q2, &["A"], 4)).await.status, StatusCode::CREATED);
    let held = get(&h, &s1, exam_paths::ANSWERS).await.json();
    assert_eq!(held[&q1], json!({"choices": ["B"], "seq": 3}), "a lower seq after a higher one does not win");
    assert_eq!(held[&q2], json!({"choices": ["A"], "seq": 4}));
    let progress = h.get("/api/v1/exam/progress", &console).await.json();
    assert_eq!((progress["seats"][0]["answered"].as_u64(), progress["seats"][0]["total"].as_u64()), (Some(2), Some(3)));

    // Consoles heard each stored answer (a duplicate is no news), with the count answered.
    let mut heard = Vec::new();
    while let Ok(e) = events.try_recv() {
        heard.push(e);
    }
    let progress_events: Vec<u32> = heard
        .iter()
        .filter_map(|e| match e {
            ConsoleEvent::ExamProgress { paper_id, answered, total: 3, .. } if *paper_id == pid => Some(*answered),
            _ => None,
        })
        .collect();
    assert_eq!(progress_events, vec![1, 1, 1, 2], "{heard:?}");

    // Submission: the server's score from its stored answers, once.
    let r = deliver(&h, &s1, "s-5", &submit(A, &pid, 5)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(deliver(&h, &s1, "s-5", &submit(A, &pid, 5)).await.json()["stored"], "duplicate");
    let submitted: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e, ConsoleEvent::ExamSubmitted { paper_id, max_score: 6, .. } if *paper_id == pid))
        .collect();
    assert_eq!(submitted.len(), 1, "one exam_submitted, none for the retry");
    let expected = recomputed(&h, &pid, &[(&q1, "B"), (&q2, "A")]).await;
    let result = get(&h, &s1, &format!("{}?paper_id={pid}", exam_paths::RESULT)).await.json();
    assert_eq!(result["state"], "submitted");
    assert_eq!(result["result"]["score"].as_f64(), Some(f64::from(expected.score)));
    assert_eq!(result["result"]["max_score"].as_f64(), Some(6.0));
    assert_eq!(result["result"]["passed"].as_bool(), expected.passed);
    assert_eq!(result["result"]["reason"], "candidate");
    refused(&deliver(&h, &s1, "a-6", &answer(A, &pid, &q2, &["B"], 6)).await, "paper_closed");
    let commands = h.db.store.pending_commands(&s1.key_id).await.unwrap();
    assert!(commands.iter().any(|c| c.body.contains("exam_result")));
    let actions: Vec<String> = h.audit_actions().await.into_iter().map(|(a, _, _)| a).collect();
    for a in ["exam_answer", "exam_submitted", "exam_scored", "exam_refused"] {
        assert!(actions.iter().any(|x| x == a), "no {a} row");
    }
    let summary = h.get("/api/v1/exam/summary", &console).await.json();
    assert_eq!(summary["sessions"][0]["submitted"], 1);
    let exposure = h.get("/api/v1/exam/exposure", &console).await.json();
    assert_eq!(exposure["items"].as_array().unwrap().len(), 3);
}

async fn refusals_the_deadline_closer_and_a_restart(db: TestDb) {
    let h = centre(db).await;
    let console = h.console().await;
    import_bank(&h).await;
    import_roster(&h, &[(A, "zh-CN"), (B, "ar")]).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let s2 = seat(&h, &console, "2", 2).await;
    admit(&h, &console, &s1, A).await;
    admit(&h, &console, &s2, B).await;
    let pa = h.db.store.paper_of_booking(A).await.unwrap().unwrap();
    let pb = h.db.store.paper_of_booking(B).await.unwrap().unwrap();
    let qa = pa.drawn_items().unwrap()[0].clone();
    let not_on_a = ["q1", "q2", "q3", "q4", "q5"]
        .into_iter()
        .find(|q| pa.drawn_items().unwrap().iter().all(|d| d.id != *q))
        .unwrap();

    refused(&deliver(&h, &s1, "r1", &answer(B, &pa.paper_id, &qa.id, &["A"], 1)).await, "wrong_candidate");
    refused(&deliver(&h, &s2, "r2", &answer(A, &pa.paper_id, &qa.id, &["A"], 1)).await, "not_at_seat");
    refused(&deliver(&h, &s1, "r3", &answer(A, &pa.paper_id, not_on_a, &["A"], 1)).await, "not_on_paper");
    refused(&deliver(&h, &s1, "r4", &answer(A, &pa.paper_id, &qa.id, &["Z"], 1)).await, "no_such_choice");
    refused(&deliver(&h, &s1, "r5", &answer(A, &pa.paper_id, &qa.id, &["A", "B"], 1)).await, "no_such_choice");
    refused(&deliver(&h, &s1, "r6", &answer(A, "p-nope", &qa.id, &["A"], 1)).await, "unknown_paper");
    // Past the deadline and its grace nothing is taken; given time back, it is again.
    let now = now_ms();
    h.db.store.move_deadline(&pa.paper_id, now - 31_000, "test", "test", now).await.unwrap();
    refused(&deliver(&h, &s1, "r7", &answer(A, &pa.paper_id, &qa.id, &["A"], 1)).await, "after_deadline");
    h.db.store.move_deadline(&pa.paper_id, now + 600_000, "test", "test", now).await.unwrap();
    assert_eq!(deliver(&h, &s1, "ok1", &answer(A, &pa.paper_id, &qa.id, &["B"], 2)).await.status, StatusCode::CREATED);
    let refusals = h.audit_actions().await.into_iter().filter(|(a, _, _)| a == "exam_refused").count();
    assert_eq!(refusals, 7, "every refusal is a row of the audit chain");

    // B answers one item and its seat never comes back; the server restarts mid-exam.
    let qb = pb.drawn_items().unwrap()[1].clone();
    assert_eq!(deliver(&h, &s2, "b1", &answer(B, &pb.paper_id, &qb.id, &["B"], 1)).await.status, StatusCode::CREATED);
    let restarted = examgate_server::store::open(&h.db.url).await.unwrap();
    assert_eq!(restarted.paper_of_booking(B).await.unwrap().unwrap(), pb);
    let held = restarted.held_answers(&pb.paper_id).await.unwrap();
    assert_eq!(
        held.iter().map(|a| (a.item_id.clone(), a.choices.clone(), a.seq)).collect::<Vec<_>>(),
        vec![(qb.id.clone(), vec!["B".to_owned()], 1)]
    );
    let mut state = examgate_server::api::AppState::new(restarted, (*h.state.config).clone());
    state.clock = h.state.clock;

    // At the deadline plus grace the closer scores B with what the server holds.
    let due = pb.deadline + h.state.config.exam.grace_ms + 1;
    let closed = examgate_server::exam::deadline::close_overdue(&state, due).await.unwrap();
    let ids: Vec<_> = closed.iter().map(|p| p.paper_id.clone()).collect();
    assert!(ids.contains(&pb.paper_id), "{ids:?}");
    let b = state.store.paper(&pb.paper_id).await.unwrap().unwrap();
    let expected = recomputed(&h, &pb.paper_id, &[(&qb.id, "B")]).await;
    assert_eq!((b.score, b.passed, b.answered), (Some(expected.score), expected.passed, Some(1)));
    assert_eq!(b.reason, Some(examgate_protocol::exam::SubmitReason::Timeout));
    // Closing again finds nothing more to close for B.
    let again = examgate_server::exam::deadline::close_overdue(&state, due).await.unwrap();
    assert!(again.iter().all(|p| p.paper_id != pb.paper_id));
    refused(&deliver(&h, &s2, "b2", &answer(B, &pb.paper_id, &qb.id, &["A"], 2)).await, "paper_closed");
}

async fn a_spare_pc_continues_and_a_backup_keeps_the_attempt(db: TestDb) {
    let h = centre(db).await;
    let console = h.console().await;
    import_bank(&h).await;
    import_roster(&h, &[(A, "ar")]).await;
    let frozen = seat(&h, &console, "1", 1).await;
    admit(&h, &console, &frozen, A).await;
    let paper = h.db.store.paper_of_booking(A).await.unwrap().unwrap();
    let q = paper.drawn_items().unwrap();
    let r = deliver(&h, &frozen, "f-1", &answer(A, &paper.paper_id, &q[0].id, &["C"], 1)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // The frozen PC's seat goes to a spare: it fetches the same paper and what the server holds, and goes on.
    let spare = TestAgent::new("02:00:00:00:01:99", "10.0.1.99");
    assert!(h.send(spare.enrol_request()).await.status.is_success());
    let r = h.post("/api/v1/seats/1/rebind", &console, json!({"key_id": spare.key_id})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let manifest: PaperManifest = serde_json::from_slice(&get(&h, &spare, exam_paths::PAPER).await.body).unwrap();
    assert_eq!((manifest.paper_id.as_str(), manifest.deadline), (paper.paper_id.as_str(), paper.deadline));
    assert_eq!(manifest.language, "ar");
    let held = get(&h, &spare, exam_paths::ANSWERS).await.json();
    assert_eq!(held, json!({ q[0].id.clone(): {"choices": ["C"], "seq": 1} }));
    let r = deliver(&h, &spare, "s-2", &answer(A, &paper.paper_id, &q[1].id, &["B"], 2)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = deliver(&h, &frozen, "f-3", &answer(A, &paper.paper_id, &q[2].id, &["B"], 3)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "the frozen PC no longer speaks for the seat: {}", r.text());

    // A backup restored into a fresh database holds the paper and every answer.
    let file = h.db.dir.path().join("centre.backup");
    examgate_server::backup::backup(h.db.store.as_ref(), &h.state.snapshots, &file).await.unwrap();
    let other = h.db.fresh_like().await;
    let files = examgate_server::snapshots::SnapshotFiles::new(other.dir.path().join("snapshots"));
    examgate_server::backup::restore(other.store.as_ref(), &files, &file).await.unwrap();
    assert_eq!(other.store.paper(&paper.paper_id).await.unwrap().unwrap(), paper);
    assert_eq!(
        other.store.held_answers(&paper.paper_id).await.unwrap(),
        h.db.store.held_answers(&paper.paper_id).await.unwrap()
    );
    assert_eq!(other.store.exposure().await.unwrap(), h.db.store.exposure().await.unwrap());
}

async fn a_card_at_the_console_then_finishing_at_the_seat_draws_the_paper(db: TestDb) {
    let h = centre(db).await;
    let console = h.console().await;
    import_bank(&h).await;
    import_roster(&h, &[(A, "zh-CN")]).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let pc = TestAgent::new("02:00:00:00:02:01", "10.0.2.1");
    assert!(h.send(pc.enrol_request()).await.status.is_success());
    let r = h.post("/api/v1/seats/C1/approve", &console, json!({"key_id": pc.key_id, "role": "console"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let card = json!({
        "card_type": "resident", "name": "candidate 0", "sex": {"code": "1", "label": "男"},
        "nation": {"code": "01", "label": "汉"}, "birth_date": "1949-12-31", "address": "北京市东城区",
        "id_number": id_number("11010519491231000"), "id_number_valid": true, "issuer": "北京市公安局东城分局",
        "valid_from": "2015-03-01", "valid_until": null, "chip_serial": null, "photo_wlt": null, "photo_sha256": null,
        "photo_jpeg": null, "source": "pcsc-decoded"
    });
    let r = post(&h, &pc, paths::CONSOLE_CARD, json!({ "card": card })).await;
    assert_eq!(r.json()["seat"], "1", "{}", r.text());
    assert!(h.db.store.paper_of_booking(A).await.unwrap().is_none(), "no paper before admission");
    let r = post(&h, &s1, paths::FINISH, json!({"booking_number": A, "snapshot_sha256": "cd".repeat(32)})).await;
    assert_eq!(r.json()["candidate"]["state"], "admitted", "{}", r.text());
    let paper = h.db.store.paper_of_booking(A).await.unwrap().expect("the paper drawn at admission");
    assert_eq!((paper.seat.as_str(), paper.exam_id.as_str(), paper.language.as_str()), ("1", "T1", "zh-CN"));
    // Finishing again draws nothing new.
    post(&h, &s1, paths::FINISH, json!({"booking_number": A, "snapshot_sha256": "cd".repeat(32)})).await;
    assert_eq!(h.db.store.paper_of_booking(A).await.unwrap().unwrap(), paper);
    let drawn = h.audit_actions().await.into_iter().filter(|(a, _, _)| a == "paper_drawn").count();
    assert_eq!(drawn, 1);
}

async fn without_a_bank_the_candidate_is_admitted_and_the_console_alerted(db: TestDb) {
    let h = centre(db).await;
    let console = h.console().await;
    import_roster(&h, &[(A, "en")]).await;
    let s1 = seat(&h, &console, "1", 1).await;
    admit(&h, &console, &s1, A).await;
    let c = h.db.store.candidate(A).await.unwrap().unwrap();
    assert_eq!(examgate_server::store::candidate_state_str(c.state), "admitted");
    assert!(h.db.store.paper_of_booking(A).await.unwrap().is_none());
    let alerts = h.db.store.alerts(examgate_server::store::AlertFilter::Open).await.unwrap();
    let alert = alerts.iter().find(|a| a.kind == "exam_unavailable").expect("an exam_unavailable alert");
    assert!(alert.message.contains("exam T1 is not defined") && alert.message.contains(A), "{}", alert.message);
    assert_eq!(get(&h, &s1, exam_paths::PAPER).await.status, StatusCode::NOT_FOUND);
}
