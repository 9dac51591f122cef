//! Invigilation from the console: warnings counted and the configured action
//! when they reach the limit, a forced submission scored with what the server
//! holds, pause and resume of the room moving every deadline by the time
//! paused (the deadline closer waits), extensions, reminders pushed once, the
//! offline-time proposal after a rebind, a closed console refused and
//! audited, and the seat's acknowledgement over the real push socket shown
//! as delivered. Against SQLite and PostgreSQL.

#[macro_use]
mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use common::exam::{A, B, admit, answer, centre, deliver, import_bank, import_roster, recomputed, seat};
use common::{Harness, TestAgent, TestDb};
use examgate_protocol::link::{Command, PushMessage, paths as link_paths};
use examgate_server::api::{PeerAddr, app};
use examgate_server::config::WarningAction;
use examgate_server::now_ms;
use examgate_server::store::NewAction;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

both_databases!(
    warnings_are_counted_then_the_paper_is_forced,
    ask_examiner_raises_an_alert_and_a_forced_submission_keeps_its_reason,
    pause_of_the_room_moves_every_deadline_and_the_closer_waits,
    extensions_reminders_and_the_offline_proposal,
    a_closed_console_is_refused_and_audited,
    an_offline_seat_gets_its_commands_in_order_and_the_ack_shows_delivered,
);

async fn with_warnings(db: TestDb, action: WarningAction) -> Harness {
    let mut h = centre(db).await;
    let mut config = (*h.state.config).clone();
    config.exam.warnings_before_action = 2;
    config.exam.warning_action = action;
    h.state.config = Arc::new(config);
    h
}

fn pending(commands: &[examgate_server::store::CommandRow]) -> Vec<Command> {
    commands.iter().map(|r| serde_json::from_str(&r.body).unwrap()).collect()
}

async fn warnings_are_counted_then_the_paper_is_forced(db: TestDb) {
    let h = with_warnings(db, WarningAction::ForcedSubmission).await;
    let console = h.console().await;
    import_bank(&h).await;
    import_roster(&h, &[(A, "zh-CN")]).await;
    let s1 = seat(&h, &console, "1", 1).await;
    admit(&h, &console, &s1, A).await;
    let paper = h.db.store.paper_of_booking(A).await.unwrap().unwrap();
    let pid = paper.paper_id.clone();
    let q1 = paper.drawn_items().unwrap()[0].id.clone();
    assert_eq!(deliver(&h, &s1, "a-1", &answer(A, &pid, &q1, &["B"], 1)).await.status, StatusCode::CREATED);

    // Bad input: a clear error and nothing stored.
    let r = h.post(&format!("/api/v1/exam/{A}/warn"), &console, json!({"reason": "sneezing", "text": "x"})).await;
    assert!(r.status.is_client_error(), "{}", r.text());
    let r = h.post(&format!("/api/v1/exam/{A}/warn"), &console, json!({"reason": "talking", "text": "  "})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = h.post("/api/v1/exam/nobody/warn", &console, json!({"reason": "talking", "text": "quiet"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    assert!(h.db.store.exam_actions(&pid).await.unwrap().is_empty());

    let r =
        h.post(&format!("/api/v1/exam/{A}/warn"), &console, json!({"reason": "talking", "text": "请保持安静"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let first = r.json();
    assert_eq!((first["count"].as_u64(), first["then"].is_null()), (Some(1), true), "{first}");
    assert_eq!(first["delivered"], false);
    let r = h
        .post(&format!("/api/v1/exam/{A}/warn"), &console, json!({"reason": "looking_around", "text": "eyes front"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!((r.json()["count"].as_u64(), r.json()["then"].as_str()), (Some(2), Some("forced_submission")));

    // The second warning reached the limit: submitted, forced, scored from the held answer.
    let closed = h.db.store.paper(&pid).await.unwrap().unwrap();
    assert_eq!(closed.reason.map(|r| r.as_str()), Some("forced"));
    let expected = recomputed(&h, &pid, &[(&q1, "B")]).await;
    assert_eq!(closed.score, Some(expected.score));
    let actions = h.get(&format!("/api/v1/exam/{A}/actions"), &console).await.json();
    let kinds: Vec<(&str, &str)> = actions["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["kind"].as_str().unwrap(), a["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, vec![("warning", "talking"), ("warning", "looking_around"), ("forced_submission", "warnings")]);
    assert_eq!(actions["warnings"], 2);

    // The seat's queue holds both warnings, then the result, in that order.
    let queued = pending(&h.db.store.pending_commands(&s1.key_id).await.unwrap());
    let exam: Vec<&Command> =
        queued.iter().filter(|c| matches!(c, Command::ExamWarning { .. } | Command::ExamResult { .. })).collect();
    assert!(
        matches!(exam.as_slice(), [
            Command::ExamWarning { count: 1, text: t1, .. },
            Command::ExamWarning { count: 2, .. },
            Command::ExamResult { .. }
        ] if t1 == "请保持安静"),
        "{exam:?}"
    );
    let audit = h.audit_actions().await;
    let count = |a: &str| audit.iter().filter(|(x, _, _)| x == a).count();
    assert_eq!((count("exam_warning"), count("exam_forced"), count("exam_scored")), (2, 1, 1), "{audit:?}");

    // A closed paper takes no more warnings, and cannot be forced again.
    let r = h.post(&format!("/api/v1/exam/{A}/warn"), &console, json!({"reason": "talking", "text": "again"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let r = h.post(&format!("/api/v1/exam/{A}/force-submit"), &console, json!({"reason": "cheating"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
}

async fn ask_examiner_raises_an_alert_and_a_forced_submission_keeps_its_reason(db: TestDb) {
    let h = with_warnings(db, WarningAction::AskExaminer).await;
    let console = h.console().await;
    import_bank(&h).await;
    import_roster(&h, &[(A, "ug"), (B, "en")]).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let s2 = seat(&h, &console, "2", 2).await;
    admit(&h, &console, &s1, A).await;
    admit(&h, &console, &s2, B).await;
    for text in ["one", "two"] {
        let r = h.post(&format!("/api/v1/exam/{A}/warn"), &console, json!({"reason": "talking", "text": text})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let alerts = h.get("/api/v1/alerts", &console).await.json();
    assert!(alerts.as_array().unwrap().iter().any(|a| a["kind"] == "warnings_reached"), "{alerts}");
    let a = h.db.store.paper_of_booking(A).await.unwrap().unwrap();
    assert_eq!(a.reason, None, "ask_examiner leaves the paper open");

    // "other" needs a note; illness does not.
    let r = h.post(&format!("/api/v1/exam/{B}/force-submit"), &console, json!({"reason": "other"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = h
        .post(&format!("/api/v1/exam/{B}/force-submit"), &console, json!({"reason": "illness", "note": "felt faint"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!((r.json()["reason"].as_str(), r.json()["forced_reason"].as_str()), (Some("forced"), Some("illness")));
    let b = h.db.store.paper_of_booking(B).await.unwrap().unwrap();
    let expected = recomputed(&h, &b.paper_id, &[]).await;
    assert_eq!((b.score, b.answered), (Some(expected.score), Some(0)));
    let actions = h.db.store.exam_actions(&b.paper_id).await.unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!((actions[0].kind.as_str(), actions[0].note.as_str()), ("forced_submission", "felt faint"));
    assert!(actions[0].command_id.is_some(), "the exam_result command is the action's delivery");
}

async fn pause_of_the_room_moves_every_deadline_and_the_closer_waits(db: TestDb) {
    let h = centre(db).await;
    let console = h.console().await;
    import_bank(&h).await;
    import_roster(&h, &[(A, "en"), (B, "zh-CN")]).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let s2 = seat(&h, &console, "2", 2).await;
    admit(&h, &console, &s1, A).await;
    admit(&h, &console, &s2, B).await;
    let a = h.db.store.paper_of_booking(A).await.unwrap().unwrap();
    let b = h.db.store.paper_of_booking(B).await.unwrap().unwrap();

    let r = h.post("/api/v1/exam/pause", &console, json!({"room": "kitchen", "reason": "fire_alarm"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = h.post("/api/v1/exam/pause", &console, json!({"reason": "fire_alarm"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = h.post("/api/v1/exam/pause", &console, json!({"room": "all", "reason": "fire_alarm"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["actions"].as_array().unwrap().len(), 2, "{}", r.text());
    // Pausing again changes nothing.
    let r = h.post("/api/v1/exam/pause", &console, json!({"room": "all", "reason": "fire_alarm"})).await;
    assert_eq!(r.json()["actions"].as_array().unwrap().len(), 0, "{}", r.text());
    assert_eq!(h.db.store.paused().await.unwrap().len(), 2);

    // Long past every deadline, the closer leaves paused papers open.
    let far = a.deadline.max(b.deadline) + 3_600_000;
    let closed = examgate_server::exam::deadline::close_overdue(&h.state, far).await.unwrap();
    assert!(closed.is_empty(), "{closed:?}");

    // An answer to a paused paper is still taken.
    let q1 = a.drawn_items().unwrap()[0].id.clone();
    assert_eq!(deliver(&h, &s1, "a-1", &answer(A, &a.paper_id, &q1, &["A"], 1)).await.status, StatusCode::CREATED);

    let r = h.post("/api/v1/exam/resume", &console, json!({"room": "all", "reason": "fire_alarm"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let resumed = r.json();
    assert_eq!(resumed["actions"].as_array().unwrap().len(), 2);
    for (paper, seat) in [(&a, &s1), (&b, &s2)] {
        let now = h.db.store.paper(&paper.paper_id).await.unwrap().unwrap();
        let action = h.db.store.exam_actions(&paper.paper_id).await.unwrap().pop().unwrap();
        assert_eq!(action.kind, "resume");
        let moved = action.moved_ms.unwrap();
        assert!(moved >= 0);
        assert_eq!(now.deadline, paper.deadline + moved, "the deadline moved by the time paused");
        let queued = pending(&h.db.store.pending_commands(&seat.key_id).await.unwrap());
        let tail: Vec<&Command> =
            queued.iter().filter(|c| matches!(c, Command::ExamPaused { .. } | Command::ExamResumed { .. })).collect();
        assert!(
            matches!(tail.as_slice(), [Command::ExamPaused { .. }, Command::ExamResumed { deadline, .. }] if *deadline == now.deadline),
            "{tail:?}"
        );
    }
    assert!(h.db.store.paused().await.unwrap().is_empty());

    // In the store, with the clock given: a 90 s pause moves the deadline by exactly 90 s.
    let t0 = now_ms();
    let act =
        |id: &str| NewAction { id: id.into(), reason: "power_cut".into(), note: String::new(), actor: "test".into() };
    let before = h.db.store.paper(&b.paper_id).await.unwrap().unwrap().deadline;
    assert_eq!(h.db.store.pause(std::slice::from_ref(&b.paper_id), act("t-p"), t0).await.unwrap().len(), 1);
    let done = h.db.store.resume(std::slice::from_ref(&b.paper_id), act("t-r"), t0 + 90_000).await.unwrap();
    assert_eq!(done[0].paper.deadline, before + 90_000);
    assert_eq!(h.db.store.paper(&b.paper_id).await.unwrap().unwrap().deadline, before + 90_000);
    let audit = h.audit_actions().await;
    let count = |x: &str| audit.iter().filter(|(a, _, _)| a == x).count();
    assert_eq!((count("exam_paused"), count("exam_resumed")), (3, 3), "{audit:?}");

    // Once resumed, the closer closes them at their (moved) deadline.
    let closed = examgate_server::exam::deadline::close_overdue(&h.state, far + 200_000).await.unwrap();
    assert_eq!(closed.len(), 2);
}

async fn extensions_reminders_and_the_offline_proposal(db: TestDb) {
    let h = centre(db).await;
    let console = h.console().await;
    import_bank(&h).await;
    import_roster(&h, &[(A, "en"), (B, "en")]).await;
    let s1 = seat(&h, &console, "1", 1).await;
    let s2 = seat(&h, &console, "2", 2).await;
    admit(&h, &console, &s1, A).await;
    admit(&h, &console, &s2, B).await;
    let a = h.db.store.paper_of_booking(A).await.unwrap().unwrap();
    let b = h.db.store.paper_of_booking(B).await.unwrap().unwrap();

    for bad in [json!({"minutes": 0, "reason": "technical"}), json!({"minutes": 5, "reason": "other"})] {
        let r = h.post(&format!("/api/v1/exam/{A}/extend"), &console, bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    }
    let r =
        h.post(&format!("/api/v1/exam/{A}/extend"), &console, json!({"minutes": 5, "reason": "accommodation"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = h.post("/api/v1/exam/extend", &console, json!({"room": "all", "minutes": 1, "reason": "technical"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let a2 = h.db.store.paper(&a.paper_id).await.unwrap().unwrap();
    let b2 = h.db.store.paper(&b.paper_id).await.unwrap().unwrap();
    assert_eq!((a2.deadline - a.deadline, b2.deadline - b.deadline), (360_000, 60_000));
    let queued = pending(&h.db.store.pending_commands(&s1.key_id).await.unwrap());
    assert!(queued.contains(&Command::ExamDeadline {
        booking_number: A.into(),
        paper_id: a.paper_id.clone(),
        deadline: a2.deadline,
        reason: examgate_protocol::invigilation::ExtensionReason::Technical,
    }));

    // Reminders: the smallest one due, once per deadline; none for more time than the largest.
    let early = examgate_server::api::invigilation::remind_due(&h.state, b2.deadline - 11 * 60_000).await.unwrap();
    assert_eq!(early, 0);
    let at = b2.deadline - 4 * 60_000;
    let sent = examgate_server::api::invigilation::remind_due(&h.state, at).await.unwrap();
    assert_eq!(sent, 2, "B has 4 minutes left, A about 9 (it has 5 more)");
    assert_eq!(examgate_server::api::invigilation::remind_due(&h.state, at + 1000).await.unwrap(), 0, "once");
    let queued = pending(&h.db.store.pending_commands(&s2.key_id).await.unwrap());
    let reminders: Vec<u32> = queued
        .iter()
        .filter_map(|c| if let Command::ExamReminder { minutes, .. } = c { Some(*minutes) } else { None })
        .collect();
    assert_eq!(reminders, vec![5], "B hears the 5-minute reminder only");
    let queued = pending(&h.db.store.pending_commands(&s1.key_id).await.unwrap());
    assert!(queued.iter().any(|c| matches!(c, Command::ExamReminder { minutes: 10, .. })), "A hears the 10-minute one");

    // No rebind: no proposal.
    let r = h.get(&format!("/api/v1/exam/{A}/extension-proposal"), &console).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    // The seat answers, its PC freezes, a spare takes the seat over and answers again.
    let q = a.drawn_items().unwrap();
    assert_eq!(deliver(&h, &s1, "a-1", &answer(A, &a.paper_id, &q[0].id, &["A"], 1)).await.status, StatusCode::CREATED);
    let spare = TestAgent::new("02:00:00:00:01:99", "10.0.1.99");
    assert!(h.send(spare.enrol_request()).await.status.is_success());
    let r = h.post("/api/v1/seats/1/rebind", &console, json!({"key_id": spare.key_id})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = deliver(&h, &spare, "a-2", &answer(A, &a.paper_id, &q[1].id, &["B"], 2)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let p = h.get(&format!("/api/v1/exam/{A}/extension-proposal"), &console).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text());
    let p = p.json();
    let log_first: i64 = p["first_activity"].as_i64().expect("the spare's first answer");
    let last = p["last_activity"].as_i64().unwrap();
    assert!(last <= p["rebound_at"].as_i64().unwrap() && p["rebound_at"].as_i64().unwrap() <= log_first, "{p}");
    assert_eq!(p["offline_ms"].as_i64(), Some(log_first - last));
    assert_eq!(p["proposed_minutes"].as_i64(), Some((log_first - last + 59_999) / 60_000));
}

async fn a_closed_console_is_refused_and_audited(db: TestDb) {
    let h = centre(db).await;
    let console = h.console().await;
    import_bank(&h).await;
    import_roster(&h, &[(A, "en")]).await;
    let s1 = seat(&h, &console, "1", 1).await;
    admit(&h, &console, &s1, A).await;
    // Only the examiner logged in: the console is not open.
    let body = json!({"username": common::EXAMINER.0, "password": common::EXAMINER.1}).to_string();
    let r = h.send(common::console_request("POST", "/api/v1/session/login", "", Some(body))).await;
    let half = r.headers[axum::http::header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    for (cookie, status) in [(half.as_str(), StatusCode::FORBIDDEN), ("", StatusCode::UNAUTHORIZED)] {
        let r = h.post(&format!("/api/v1/exam/{A}/force-submit"), cookie, json!({"reason": "cheating"})).await;
        assert_eq!(r.status, status, "{}", r.text());
        let r = h.post("/api/v1/exam/pause", cookie, json!({"room": "all", "reason": "other"})).await;
        assert_eq!(r.status, status, "{}", r.text());
    }
    let paper = h.db.store.paper_of_booking(A).await.unwrap().unwrap();
    assert_eq!(paper.reason, None, "nothing happened");
    assert!(h.db.store.paused().await.unwrap().is_empty());
    let refused: Vec<_> = h.audit_actions().await.into_iter().filter(|(a, _, _)| a == "console_refused").collect();
    assert_eq!(refused.len(), 4, "{refused:?}");
    assert!(refused[0].2.contains("force-submit") && refused[0].2.contains("console_closed"), "{refused:?}");
}

/// Serves the harness's app on a loopback port.
async fn serve(h: &Harness) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(h.state.clone()).into_make_service_with_connect_info::<PeerAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_push(ws: &mut Socket) -> PushMessage {
    loop {
        match ws.next().await.expect("socket open").expect("frame") {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(f) => panic!("closed: {f:?}"),
            _ => {}
        }
    }
}

async fn an_offline_seat_gets_its_commands_in_order_and_the_ack_shows_delivered(db: TestDb) {
    let h = centre(db).await;
    let console = h.console().await;
    import_bank(&h).await;
    import_roster(&h, &[(A, "en")]).await;
    // Over loopback the agent's IP is 127.0.0.1.
    let s1 = TestAgent::new("02:00:00:00:00:31", "127.0.0.1");
    h.bind(&s1, "31", &console).await;
    admit(&h, &console, &s1, A).await;
    let addr = serve(&h).await;

    // Queued while the seat is away: a warning, a pause, a resume.
    let r = h.post(&format!("/api/v1/exam/{A}/warn"), &console, json!({"reason": "talking", "text": "quiet"})).await;
    assert_eq!(r.json()["sent_now"], false, "{}", r.text());
    h.post("/api/v1/exam/pause", &console, json!({"seat": "31", "reason": "technical"})).await;
    h.post("/api/v1/exam/resume", &console, json!({"seat": "31", "reason": "technical"})).await;

    let (headers, _) = s1.request_parts("GET", link_paths::PUSH, vec![], &common::Bend::default());
    let mut req = format!("ws://{addr}{}", link_paths::PUSH).into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(axum::http::HeaderName::try_from(k).unwrap(), v.parse().unwrap());
    }
    let mut ws = tokio_tungstenite::connect_async(req).await.expect("push socket").0;
    let mut got = Vec::new();
    while got.len() < 3 {
        let m = next_push(&mut ws).await;
        if matches!(m.command, Command::ExamWarning { .. } | Command::ExamPaused { .. } | Command::ExamResumed { .. }) {
            got.push(m.clone());
        }
        ws.send(Message::Text(json!({"ack": m.id}).to_string().into())).await.unwrap();
    }
    assert!(
        matches!(
            got.iter().map(|m| &m.command).collect::<Vec<_>>().as_slice(),
            [Command::ExamWarning { count: 1, .. }, Command::ExamPaused { .. }, Command::ExamResumed { .. }]
        ),
        "{got:?}"
    );
    // The acknowledgements are recorded by the socket's task: wait for them, then the console shows delivered.
    let mut delivered = Vec::new();
    for _ in 0..200 {
        let v = h.get(&format!("/api/v1/exam/{A}/actions"), &console).await.json();
        delivered = v["actions"].as_array().unwrap().iter().map(|a| a["delivered"].as_bool().unwrap()).collect();
        if delivered.iter().all(|d| *d) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(delivered, vec![true, true, true]);
    // Once acknowledged, a reconnecting seat does not get them again.
    assert!(h.db.store.pending_commands(&s1.key_id).await.unwrap().iter().all(|c| !c.body.contains("exam_warning")));
}
