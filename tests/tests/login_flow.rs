//! Issue 8 end to end at the API level, with real processes: an exam-centre
//! server on SQLite with a day's roster imported from `examgate-sim roster`,
//! the examiner's console PC (an agent approved as `console`, reading the
//! candidate's ID card through pcscd and vpcd) and seat agents on simulated
//! ISO 19794-2 fingerprint readers and cameras, each with its `link run`.
//!
//! - Mode (a): the card on the console's reader seats the candidate; the
//!   seat's page hears `candidate_assigned` with their name and finishes.
//! - Mode (b): a candidate looks themselves up at a seat and places the
//!   enrolled finger; the seat's score (and the server's re-computed one) pass.
//! - Failure: three wrong fingers bring the examiner, who admits with a
//!   typed reason; the seat hears `login_decision`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use examgate_e2e::agent::Agent;
use examgate_e2e::centre::{self, Booking, Centre, Console, LinkRun, server_cli, today, write_roster};
use examgate_e2e::pcscd::{Pcscd, SLOT0, SLOT0_ADDR};
use examgate_sim::card_file::CardFile;
use examgate_sim::vpcd::{self, CardImage, CardProfile, VirtualCard};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Generous for a loaded machine; a step normally takes well under a second.
const WAIT: Duration = Duration::from_secs(60);

const SEAT_DEVICES: [&str; 4] = ["--device", "sim:fingerprint?format=iso19794-2", "--device", "sim:camera"];

/// `simulators/cards/resident.toml` (张伟, candidate 1 of a simulated roster) as a virtual card.
fn resident_card() -> VirtualCard {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../simulators/cards/resident.toml");
    let card = CardFile::load(path).expect("the sample card loads");
    let photo: [u8; 1024] = card.photo.as_slice().try_into().expect("a 1024-byte photo");
    let serial = card.chip_serial;
    let image = CardImage {
        text: card.fields.encode(),
        photo,
        chip_serial: serial,
        pupi: [serial[0], serial[1], serial[2], serial[3]],
    };
    VirtualCard { image, profile: CardProfile::Decoded }
}

/// A server with the users and today's simulated roster; the console logged in.
async fn centre(dir: &Path) -> (Centre, Console, Vec<Booking>) {
    let data = dir.join("server");
    let roster_dir = dir.join("roster");
    let bookings = write_roster(&today(), &roster_dir);
    assert!(bookings.len() >= 4, "the simulated roster lists its candidates: {bookings:?}");
    centre::add_users(&data);
    let roster = roster_dir.join("roster.csv");
    server_cli(&data, &["roster", "import", roster.to_str().unwrap()], "");
    let centre = Centre::serve(&data).await;
    let console = centre.console().await;
    (centre, console, bookings)
}

/// A PC of the centre: its agent, its link and its event stream.
struct Pc {
    seat: String,
    agent: Agent,
    events: Socket,
    _link: LinkRun,
}

/// Enrols a PC (MAC ending in `n`), approves it as `seat` in `role`, and starts its agent (`args` added) and link.
async fn pc(centre: &Centre, console: &Console, dir: &Path, (seat, n): (&str, u8), role: &str, args: &[&str]) -> Pc {
    let state: PathBuf = dir.join(format!("pc-{seat}"));
    let key = centre.enrol(&state, &format!("02:00:00:00:10:{n:02x}"));
    console.approve(seat, &key, role).await;
    let config = state.join("agent.toml");
    let snapshots = state.join("snapshots");
    let mut text = format!("[snapshots]\ndir = \"{}\"\nseat = \"{seat}\"\nexam = \"k1-am\"\n", snapshots.display());
    let mut all = vec!["--config".to_owned(), config.display().to_string()];
    // The console takes its enrolment and role from the config, the seats from the command line.
    if role == "console" {
        text.push_str(&format!("[link]\nstate_dir = \"{}\"\nrole = \"console\"\n", state.display()));
    } else {
        all.extend(["--link-dir".to_owned(), state.display().to_string()]);
    }
    std::fs::write(&config, text).unwrap();
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let agent = Agent::start(&all).await;
    let (events, _) = tokio_tungstenite::connect_async(agent.ws_url("/v1/events")).await.expect("the event stream");
    let link = LinkRun::start(&state, &agent.url(""));
    Pc { seat: seat.to_owned(), agent, events, _link: link }
}

async fn post(agent: &Agent, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new().post(agent.url(path)).json(&body).send().await.expect("the agent answers");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(agent: &Agent, path: &str) -> Value {
    reqwest::Client::new().get(agent.url(path)).send().await.expect("the agent answers").json().await.expect("JSON")
}

/// The next event of type `kind`, skipping others.
async fn next_event(events: &mut Socket, kind: &str) -> Value {
    tokio::time::timeout(WAIT, async {
        loop {
            match events.next().await.expect("the event stream stays open").expect("a message") {
                Message::Text(text) => {
                    let event: Value = serde_json::from_str(&text).expect("a JSON event");
                    if event["type"] == kind {
                        return event;
                    }
                }
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected message {other:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} event within {WAIT:?}"))
}

/// Places simulated finger `finger` on the seat's reader and captures it as the seat page does.
async fn capture(pc: &Pc, finger: u32) -> Value {
    let (status, body) =
        post(&pc.agent, "/v1/sim/sim-fp-0/command", json!({"command": format!("finger {finger}")})).await;
    assert_eq!(status, 204, "{body}");
    let (status, live) = post(&pc.agent, "/v1/fingerprint/template", json!({})).await;
    assert_eq!(status, 200, "{live}");
    assert_eq!(live["format"], "iso19794-2");
    live
}

async fn lookup(pc: &Pc, booking: &str) -> Value {
    let (status, body) =
        post(&pc.agent, "/v1/login/lookup", json!({"kind": "booking_number", "value": booking, "source": "keyboard"}))
            .await;
    assert_eq!(status, 200, "lookup {booking} at seat {}: {body}", pc.seat);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_at_the_console_seats_the_candidate_and_a_finger_at_a_seat_admits_another() {
    let _pcscd = Pcscd::start();
    let dir = tempfile::tempdir().unwrap();
    let (centre, console, bookings) = centre(dir.path()).await;
    let reader = format!("pcsc-idcard:{SLOT0}");
    let _desk = pc(&centre, &console, dir.path(), ("console-1", 9), "console", &["--device", &reader]).await;
    let mut seats = [
        pc(&centre, &console, dir.path(), ("1", 1), "seat", &SEAT_DEVICES).await,
        pc(&centre, &console, dir.path(), ("2", 2), "seat", &SEAT_DEVICES).await,
    ];
    console.await_connected(&["console-1", "1", "2"]).await;

    // Mode (a): the examiner puts the card on the console's reader; the server picks a seat.
    let _card = vpcd::spawn(SLOT0_ADDR.into(), resident_card());
    let [one, two] = &mut seats;
    let (assigned, at, other) = tokio::select! {
        e = next_event(&mut one.events, "candidate_assigned") => (e, 0, 1),
        e = next_event(&mut two.events, "candidate_assigned") => (e, 1, 0),
    };
    let (x, y) = (&seats[at], &seats[other]);
    assert_eq!(assigned["name"], "张伟", "{assigned}");
    assert_eq!(assigned["booking_number"], bookings[0].booking_number.as_str(), "candidate 1 holds the card");
    let language = assigned["language"].as_str().unwrap().to_owned();
    assert!(!language.is_empty());
    let state = get(&x.agent, "/v1/login/state").await;
    assert_eq!(state["server"], "connected", "{state}");
    assert_eq!(state["seat"], x.seat.as_str());
    assert_eq!(state["candidate"]["booking_number"], bookings[0].booking_number.as_str(), "{state}");
    assert_eq!(
        (state["candidate"]["state"].as_str(), state["candidate"]["mode"].as_str()),
        (Some("assigned"), Some("card_at_console"))
    );
    // The console sees the candidate at that seat.
    let (status, roster) = console.get("/api/v1/roster").await;
    assert_eq!(status, 200, "{roster}");
    let row = roster_row(&roster, &bookings[0].booking_number);
    assert_eq!((row["seat"].as_str(), row["state"].as_str()), (Some(x.seat.as_str()), Some("assigned")), "{row}");
    // The seat page greets them and, after the photo step, finishes.
    let (status, done) = post(&x.agent, "/v1/login/finish", json!({"snapshot_sha256": null})).await;
    assert_eq!((status, &done), (200, &json!({"outcome": "admitted"})));

    // Mode (b) at the other seat: the admitted candidate cannot log in twice …
    let again = lookup(y, &bookings[0].booking_number).await;
    assert_eq!(again["status"], "already_admitted", "{again}");
    assert!(again["message"].as_str().is_some_and(|m| !m.is_empty()));
    // … candidate 3 looks themselves up and places finger 3, the one enrolled.
    let k = &bookings[2];
    let found = lookup(y, &k.booking_number).await;
    assert_eq!((found["status"].as_str(), found["state"].as_str()), (Some("found"), Some("verifying")), "{found}");
    assert!(found.get("templates").is_none(), "the enrolled templates stay in the agent: {found}");
    let live = capture(y, k.number).await;
    let (status, verdict) = post(&y.agent, "/v1/login/verify", live.clone()).await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["verdict"], "match", "{verdict}");
    assert!(verdict["score"].as_i64().unwrap() > 800, "{verdict}");
    assert_eq!((verdict["failures"].as_u64(), verdict.get("disagreed")), (Some(0), None), "{verdict}");
    let y_events = &mut seats[other].events;
    let snapshot = next_event(y_events, "snapshot_taken").await;
    assert_eq!(snapshot["snapshot"]["reason"], "identity_verification", "{snapshot}");
    let y = &seats[other];
    // One capture, one attempt: the same template again is refused.
    let (status, replay) = post(&y.agent, "/v1/login/verify", live).await;
    assert_eq!((status, replay["error"]["kind"].as_str()), (400, Some("not_captured_here")), "{replay}");
    let (status, done) = post(&y.agent, "/v1/login/finish", json!({})).await;
    assert_eq!((status, &done), (200, &json!({"outcome": "admitted"})));
    let (_, roster) = console.get("/api/v1/roster").await;
    let row = roster_row(&roster, &k.booking_number);
    assert_eq!((row["seat"].as_str(), row["state"].as_str()), (Some(y.seat.as_str()), Some("admitted")), "{row}");

    // The evidence: the seat's signed attempt, the server's own score agreeing, the snapshot named …
    let sha = snapshot["snapshot"]["sha256"].as_str().expect("sim:camera took a picture").to_owned();
    let (status, evidence) = console.get(&format!("/api/v1/roster/{}/evidence", k.booking_number)).await;
    assert_eq!(status, 200, "{evidence}");
    let attempts = evidence["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{evidence}");
    let a = &attempts[0];
    assert_eq!((a["attempt"].as_u64(), a["verdict"].as_str()), (Some(1), Some("match")), "{a}");
    assert_eq!((&a["score"], &a["server_score"]), (&verdict["score"], &verdict["score"]), "{a}");
    assert_eq!((a["snapshot_sha256"].as_str(), &a["signature_valid"]), (Some(sha.as_str()), &json!(true)), "{a}");
    // … and the snapshot itself delivered through the seat's outbox.
    await_snapshot(&console, &sha).await;
}

/// Waits until the server holds the snapshot `sha` (delivered by the seat's `link run`).
async fn await_snapshot(console: &Console, sha: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (status, _) = console.get(&format!("/api/v1/snapshots/{sha}")).await;
        if status == 200 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "snapshot {sha} never reached the server ({status})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_wrong_fingers_bring_the_examiner_who_admits_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (centre, console, bookings) = centre(dir.path()).await;
    let mut seat = pc(&centre, &console, dir.path(), ("1", 1), "seat", &SEAT_DEVICES).await;
    console.await_connected(&["1"]).await;

    let k = &bookings[3];
    let found = lookup(&seat, &k.booking_number).await;
    assert_eq!(found["status"], "found", "{found}");
    // A template the seat's reader never produced (here: the candidate's own finger, made elsewhere) is refused.
    let forged = std::process::Command::new(examgate_e2e::agent::sim_binary())
        .args(["fingerprint-template", "--finger", &k.number.to_string(), "--format", "iso19794-2", "--base64"])
        .output()
        .unwrap();
    let forged = String::from_utf8(forged.stdout).unwrap().trim().to_owned();
    let (status, body) =
        post(&seat.agent, "/v1/login/verify", json!({"template": forged, "format": "iso19794-2"})).await;
    assert_eq!((status, body["error"]["kind"].as_str()), (400, Some("not_captured_here")), "{body}");

    let wrong = k.number + 1;
    for attempt in 1..=3u64 {
        let live = capture(&seat, wrong).await;
        let (status, verdict) = post(&seat.agent, "/v1/login/verify", live).await;
        assert_eq!(status, 200, "{verdict}");
        assert_eq!(verdict["verdict"], "no_match", "{verdict}");
        assert!(verdict["score"].as_i64().unwrap() <= 800, "{verdict}");
        assert_eq!(verdict["failures"].as_u64(), Some(attempt), "{verdict}");
        let expected = if attempt < 3 { "verifying" } else { "waiting_for_examiner" };
        assert_eq!(verdict["state"], expected, "{verdict}");
    }
    // No fourth attempt: the examiner decides now.
    let live = capture(&seat, k.number).await;
    let (status, body) = post(&seat.agent, "/v1/login/verify", live).await;
    assert_eq!(status, 409, "{body}");
    let (status, asked) =
        post(&seat.agent, "/v1/login/ask-examiner", json!({"failures": 3, "reason": "three_failures"})).await;
    assert_eq!((status, &asked), (200, &json!({"state": "waiting_for_examiner"})));
    let (status, done) = post(&seat.agent, "/v1/login/finish", json!({"snapshot_sha256": null})).await;
    assert_eq!((status, &done), (200, &json!({"outcome": "waiting_for_examiner"})));

    // The examiner compares the candidate with the roster photo and admits them, saying why.
    let reason = "compared with the roster photo and the ID card in person";
    let (status, body) =
        console.post(&format!("/api/v1/roster/{}/admit", k.booking_number), json!({"reason": reason})).await;
    assert_eq!(status, 200, "{body}");
    let decision = next_event(&mut seat.events, "login_decision").await;
    assert_eq!(
        (decision["booking_number"].as_str(), decision["decision"].as_str()),
        (Some(k.booking_number.as_str()), Some("admitted")),
        "{decision}"
    );
    let state = get(&seat.agent, "/v1/login/state").await;
    assert_eq!(state["candidate"]["state"], "admitted", "{state}");
    let (_, audit) = console.get("/api/v1/audit").await;
    assert!(audit.to_string().contains(reason), "the reason is audited: {audit}");
    let (_, evidence) = console.get(&format!("/api/v1/roster/{}/evidence", k.booking_number)).await;
    let attempts = evidence["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 3, "three attempts counted, the refused fourth not: {evidence}");
    for (n, a) in attempts.iter().enumerate() {
        assert_eq!((a["attempt"].as_u64(), a["verdict"].as_str()), (Some(n as u64 + 1), Some("no_match")), "{a}");
        assert_eq!((&a["score"], &a["signature_valid"]), (&a["server_score"], &json!(true)), "{a}");
    }
}

/// The console's roster row of a booking.
fn roster_row<'a>(roster: &'a Value, booking: &str) -> &'a Value {
    let rows = roster.as_array().or_else(|| roster["candidates"].as_array()).expect("a roster list");
    rows.iter().find(|r| r["booking_number"] == booking).unwrap_or_else(|| panic!("{booking} not in {roster}"))
}
