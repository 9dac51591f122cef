//! Issue 14 at the seat, with real processes: an exam-centre server with a
//! small JSON bank and exam rules, a seat PC (agent `run --link-dir` on a
//! simulated ISO fingerprint reader, and its `link run`), a candidate
//! admitted by their finger. The paper arrives at the seat as a signed
//! package; the seat page's calls are made over HTTP as the page makes them.
//!
//! - Answers survive `kill -9` of the agent (same answers, position, flags,
//!   deadline), answering goes on while the server is killed, and when it is
//!   back the outbox delivers: the server holds every change once (its audit
//!   rows, one per change) and the final answers; submit brings the result.
//! - A spare PC given the seat downloads the paper again (resuming a stale
//!   partial download, refusing it by its SHA-256 and starting over) and
//!   continues with every answer the server holds.
//! - At the deadline the agent submits by itself (reason timeout) and the
//!   result follows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use examgate_e2e::agent::Agent;
use examgate_e2e::centre::{self, Booking, Centre, Console, LinkRun, server_cli, today, write_roster};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Generous for a loaded machine; a step normally takes well under a second.
const WAIT: Duration = Duration::from_secs(90);

const SEAT_DEVICES: [&str; 2] = ["--device", "sim:fingerprint?format=iso19794-2"];

/// Six items in category 1: two of each kind, in English only.
fn bank_json() -> Value {
    let item = |id: &str, kind: &str, choices: &[&str], correct: &[&str]| {
        let texts: BTreeMap<&str, String> = choices.iter().map(|c| (*c, format!("choice {c} of {id}"))).collect();
        json!({"id": id, "category": "1", "type": kind, "choices": choices, "correct": correct,
               "text": {"en": {"prompt": format!("Question {id}?"), "choices": texts}}})
    };
    json!({"format": "examgate-bank", "version": 1, "items": [
        item("Q1", "true_false", &["T", "F"], &["T"]),
        item("Q2", "true_false", &["T", "F"], &["F"]),
        item("Q3", "single", &["A", "B", "C", "D"], &["B"]),
        item("Q4", "single", &["A", "B", "C", "D"], &["C"]),
        item("Q5", "multiple", &["A", "B", "C", "D"], &["A", "C"]),
        item("Q6", "multiple", &["A", "B", "C", "D"], &["B", "D"]),
    ]})
}

/// A server with users, the bank, exam `T{minutes}` (all six items) as the default, today's roster.
async fn centre(dir: &Path, minutes: u32) -> (Centre, Console, Vec<Booking>) {
    let data = dir.join("server");
    let roster_dir = dir.join("roster");
    let bookings = write_roster(&today(), &roster_dir);
    centre::add_users(&data);
    let bank = dir.join("bank.json");
    std::fs::write(&bank, bank_json().to_string()).unwrap();
    server_cli(&data, &["bank", "import", bank.to_str().unwrap()], "");
    let rules = dir.join(format!("T{minutes}.toml"));
    let text = format!(
        "id = \"T{minutes}\"\nname = \"Test {minutes}\"\nminutes = {minutes}\npass_score = 4\n\n\
         [[section]]\ncategory = \"1\"\ncount = 6\n"
    );
    std::fs::write(&rules, text).unwrap();
    server_cli(&data, &["bank", "import", rules.to_str().unwrap()], "");
    let roster = roster_dir.join("roster.csv");
    server_cli(&data, &["roster", "import", roster.to_str().unwrap()], "");
    let config = dir.join("server.toml");
    std::fs::write(&config, format!("[exam]\ndefault = \"T{minutes}\"\ngrace_secs = 30\n")).unwrap();
    let centre = Centre::serve_with(&data, &["--config", config.to_str().unwrap()]).await;
    let console = centre.console().await;
    (centre, console, bookings)
}

/// A PC of the centre: its state directory, agent, link and event stream.
struct Pc {
    state: PathBuf,
    agent: Agent,
    events: Socket,
    link: Option<LinkRun>,
}

async fn start_agent(state: &Path) -> (Agent, Socket) {
    let mut args = vec!["--link-dir".to_owned(), state.display().to_string()];
    args.extend(SEAT_DEVICES.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let agent = Agent::start(&args).await;
    let (events, _) = tokio_tungstenite::connect_async(agent.ws_url("/v1/events")).await.expect("the event stream");
    (agent, events)
}

/// Enrols a PC (MAC ending in `n`) and starts its agent and link; approved as `seat` unless `None`.
async fn pc(centre: &Centre, console: &Console, dir: &Path, name: &str, n: u8, seat: Option<&str>) -> (Pc, String) {
    let state = dir.join(format!("pc-{name}"));
    let key = centre.enrol(&state, &format!("02:00:00:00:20:{n:02x}"));
    if let Some(seat) = seat {
        console.approve(seat, &key, "seat").await;
    }
    let (agent, events) = start_agent(&state).await;
    let link = LinkRun::start(&state, &agent.url(""));
    (Pc { state, agent, events, link: Some(link) }, key)
}

async fn call(agent: &Agent, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let mut r = reqwest::Client::new().request(method, agent.url(path));
    if !body.is_null() {
        r = r.json(&body);
    }
    let r = r.send().await.expect("the agent answers");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn exam_state(agent: &Agent) -> Value {
    let (status, body) = call(agent, reqwest::Method::GET, "/v1/exam", Value::Null).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn answer(agent: &Agent, item: &str, choices: &[&str]) -> Value {
    let (status, body) =
        call(agent, reqwest::Method::PUT, &format!("/v1/exam/answers/{item}"), json!({"choices": choices})).await;
    assert_eq!(status, 200, "answer {item}: {body}");
    body
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

/// Polls `GET /v1/exam` until `ok` holds (after a restart there is no event to await).
async fn await_exam(agent: &Agent, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let state = exam_state(agent).await;
        if ok(&state) {
            return state;
        }
        assert!(Instant::now() < deadline, "{what} within {WAIT:?}: {state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Candidate `k` logs in at the seat with their enrolled finger and is admitted.
async fn admit(pc: &Pc, k: &Booking) {
    let post = |path: &'static str, body: Value| call(&pc.agent, reqwest::Method::POST, path, body);
    let (status, found) =
        post("/v1/login/lookup", json!({"kind": "booking_number", "value": k.booking_number, "source": "keyboard"}))
            .await;
    assert_eq!((status, found["status"].as_str()), (200, Some("found")), "{found}");
    let (status, body) = post("/v1/sim/sim-fp-0/command", json!({"command": format!("finger {}", k.number)})).await;
    assert_eq!(status, 204, "{body}");
    let (status, live) = post("/v1/fingerprint/template", json!({})).await;
    assert_eq!(status, 200, "{live}");
    let (status, verdict) = post("/v1/login/verify", live).await;
    assert_eq!((status, verdict["verdict"].as_str()), (200, Some("match")), "{verdict}");
    let (status, done) = post("/v1/login/finish", json!({})).await;
    assert_eq!((status, done), (200, json!({"outcome": "admitted"})));
}

/// The audit rows of the server about exam answers of `paper_id`.
async fn audited_answers(console: &Console, paper_id: &str) -> Vec<Value> {
    let (status, audit) = console.get("/api/v1/audit?limit=10000").await;
    assert_eq!(status, 200, "{audit}");
    let rows = audit.as_array().or_else(|| audit["rows"].as_array()).cloned().unwrap_or_default();
    rows.into_iter().filter(|r| r["action"] == "exam_answer" && r.to_string().contains(paper_id)).collect()
}

/// The console's progress row of `paper_id`.
async fn progress(console: &Console, paper_id: &str) -> Value {
    let (status, view) = console.get("/api/v1/exam/progress").await;
    assert_eq!(status, 200, "{view}");
    view["seats"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["paper_id"] == paper_id).cloned())
        .unwrap_or_else(|| panic!("paper {paper_id} is not in the console's progress: {view}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_survive_killing_the_agent_and_the_server_and_submitting_brings_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let (mut centre, console, bookings) = centre(dir.path(), 30).await;
    let (mut seat, _) = pc(&centre, &console, dir.path(), "1", 1, Some("1")).await;
    console.await_connected(&["1"]).await;
    let k = &bookings[2];
    admit(&seat, k).await;

    // The paper arrives: checked, unpacked, announced; served from the agent's disk.
    let ready = next_event(&mut seat.events, "exam_ready").await;
    let paper_id = ready["paper_id"].as_str().unwrap().to_owned();
    let state = exam_state(&seat.agent).await;
    assert_eq!((state["state"].as_str(), state["total"].as_u64()), (Some("ready"), Some(6)), "{state}");
    assert_eq!(state["booking_number"], k.booking_number.as_str());
    assert!(state["deadline"].as_i64().unwrap() > state["server_now"].as_i64().unwrap() + 25 * 60_000, "{state}");
    let (status, paper) = call(&seat.agent, reqwest::Method::GET, "/v1/exam/paper", Value::Null).await;
    assert_eq!(status, 200, "{paper}");
    let items: Vec<String> =
        paper["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().into()).collect();
    assert_eq!(items.len(), 6);
    let kind = |id: &str| {
        paper["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap()["kind"].as_str().unwrap().to_owned()
    };
    let first_choice = |id: &str| -> String {
        let item = paper["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap().clone();
        item["choices"][0]["id"].as_str().unwrap().to_owned()
    };
    let (status, started) = call(&seat.agent, reqwest::Method::POST, "/v1/exam/start", Value::Null).await;
    assert_eq!((status, started["state"].as_str()), (200, Some("in_progress")), "{started}");

    // Answers, a flag and a position; then the agent is killed and comes back with all of it.
    let mut changes = 0u64;
    for id in &items[..3] {
        let saved = answer(&seat.agent, id, &[&first_choice(id)]).await;
        changes += 1;
        assert_eq!(saved["seq"].as_u64(), Some(changes), "{saved}");
    }
    let (status, _) =
        call(&seat.agent, reqwest::Method::PUT, &format!("/v1/exam/flags/{}", items[1]), json!({"flagged": true}))
            .await;
    assert_eq!(status, 200);
    let (status, _) = call(&seat.agent, reqwest::Method::PUT, "/v1/exam/position", json!({"item": items[2]})).await;
    assert_eq!(status, 200);
    let before = exam_state(&seat.agent).await;
    drop(seat.agent); // SIGKILL
    let (agent, events) = start_agent(&seat.state).await;
    seat.agent = agent;
    seat.events = events;
    // Its link run hands the server's commands to the agent's new address.
    seat.link = Some(LinkRun::start(&seat.state, &seat.agent.url("")));
    let after = await_exam(&seat.agent, "the restarted agent serves the paper", |s| s["state"] == "in_progress").await;
    for field in ["paper_id", "deadline", "answers", "flagged", "current", "started_at"] {
        assert_eq!(after[field], before[field], "{field} after kill -9: {after}");
    }
    // The clock offset is measured again when the restarted agent checks the manifest.
    let offset = |s: &Value| s["server_offset_ms"].as_i64().unwrap();
    assert!((offset(&after) - offset(&before)).abs() < 2_000, "{before} {after}");
    assert_eq!(after["current"], items[2].as_str());

    // The server dies; the candidate goes on answering; the outbox holds the changes.
    await_exam(&seat.agent, "the outbox drained", |s| s["pending_outbox"] == 0).await;
    centre.kill().await;
    for id in &items[3..] {
        let choices: Vec<String> =
            if kind(id) == "multiple" { vec!["A".into(), "B".into()] } else { vec![first_choice(id)] };
        let choices: Vec<&str> = choices.iter().map(String::as_str).collect();
        answer(&seat.agent, id, &choices).await;
        changes += 1;
    }
    answer(&seat.agent, &items[0], &[]).await; // a change of mind: cleared
    changes += 1;
    let offline = exam_state(&seat.agent).await;
    assert!(offline["pending_outbox"].as_u64().unwrap() > 0, "{offline}");
    centre.restart().await;
    let delivered = await_exam(&seat.agent, "the outbox delivered", |s| s["pending_outbox"] == 0).await;
    let console = centre.console().await;
    let rows = audited_answers(&console, &paper_id).await;
    assert_eq!(rows.len() as u64, changes, "every change stored once on the server: {rows:?}");
    let row = progress(&console, &paper_id).await;
    let answered = delivered["answers"].as_object().unwrap().len() as u64;
    assert_eq!(row["answered"].as_u64(), Some(answered), "the server holds what the seat holds: {row}");

    // Submit: the result comes with the answer (or just after, as exam_result).
    let (status, done) = call(&seat.agent, reqwest::Method::POST, "/v1/exam/submit", Value::Null).await;
    assert_eq!((status, done["reason"].as_str()), (200, Some("candidate")), "{done}");
    let finished = await_exam(&seat.agent, "the result", |s| s["state"] == "finished").await;
    let result = &finished["result"];
    assert_eq!((result["max_score"].as_f64(), result["reason"].as_str()), (Some(6.0), Some("candidate")), "{finished}");
    let (status, late) =
        call(&seat.agent, reqwest::Method::PUT, &format!("/v1/exam/answers/{}", items[0]), json!({"choices": []}))
            .await;
    assert_eq!((status, late["error"]["kind"].as_str()), (409, Some("submitted")), "{late}");
    let row = progress(&console, &paper_id).await;
    assert_eq!((row["state"].as_str(), row["score"].as_f64()), (Some("submitted"), result["score"].as_f64()), "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spare_pc_given_the_seat_continues_with_the_answers_the_server_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (centre, console, bookings) = centre(dir.path(), 30).await;
    let (mut first, _) = pc(&centre, &console, dir.path(), "1", 1, Some("1")).await;
    console.await_connected(&["1"]).await;
    let k = &bookings[3];
    admit(&first, k).await;
    let ready = next_event(&mut first.events, "exam_ready").await;
    let paper_id = ready["paper_id"].as_str().unwrap().to_owned();
    let paper = call(&first.agent, reqwest::Method::GET, "/v1/exam/paper", Value::Null).await.1;
    let ids: Vec<(String, String)> = paper["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap().to_owned(), i["choices"][1]["id"].as_str().unwrap().to_owned()))
        .collect();
    for (id, choice) in &ids[..3] {
        answer(&first.agent, id, &[choice]).await;
    }
    let held = await_exam(&first.agent, "the outbox delivered", |s| s["pending_outbox"] == 0).await;

    // The PC breaks down; a spare is enrolled and given the seat.
    first.link.take();
    drop(first);
    // The spare holds a stale partial download of that paper (not its bytes): the agent resumes
    // it with a Range request, finds the whole's SHA-256 wrong, starts over and gets it right.
    let papers = dir.path().join("pc-spare/exam/papers");
    std::fs::create_dir_all(&papers).unwrap();
    std::fs::write(papers.join(format!("{paper_id}.tar.part")), [0x5a_u8; 700]).unwrap();
    let (spare, key) = pc(&centre, &console, dir.path(), "spare", 2, None).await;
    let (status, body) = console.post("/api/v1/seats/1/rebind", json!({"key_id": key})).await;
    assert_eq!(status, 200, "rebind: {body}");
    let resumed = await_exam(&spare.agent, "the spare PC has the paper", |s| {
        s["state"] == "in_progress" || s["state"] == "ready"
    })
    .await;
    assert_eq!(resumed["paper_id"], paper_id.as_str());
    assert!(spare.agent.log().contains("SHA-256"), "the stale download was refused: {}", spare.agent.log());
    assert_eq!(resumed["answers"], held["answers"], "every answer the server holds: {resumed}");
    assert_eq!(resumed["deadline"], held["deadline"]);
    let saved = answer(&spare.agent, &ids[3].0, &[&ids[3].1]).await;
    assert!(saved["seq"].as_u64().unwrap() > 3, "seq goes on past the server's: {saved}");
    let (status, done) = call(&spare.agent, reqwest::Method::POST, "/v1/exam/submit", Value::Null).await;
    assert_eq!(status, 200, "{done}");
    let finished = await_exam(&spare.agent, "the result", |s| s["state"] == "finished").await;
    let row = progress(&console, &paper_id).await;
    assert_eq!(row["answered"].as_u64(), Some(4), "{row}");
    assert_eq!(row["score"].as_f64(), finished["result"]["score"].as_f64(), "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_deadline_the_agent_submits_by_itself_and_the_result_follows() {
    let dir = tempfile::tempdir().unwrap();
    let (centre, console, bookings) = centre(dir.path(), 1).await;
    let (mut seat, _) = pc(&centre, &console, dir.path(), "1", 1, Some("1")).await;
    console.await_connected(&["1"]).await;
    let k = &bookings[1];
    admit(&seat, k).await;
    let ready = next_event(&mut seat.events, "exam_ready").await;
    let paper = call(&seat.agent, reqwest::Method::GET, "/v1/exam/paper", Value::Null).await.1;
    let item = &paper["items"][0];
    answer(&seat.agent, item["id"].as_str().unwrap(), &[item["choices"][0]["id"].as_str().unwrap()]).await;
    // Nobody submits: the agent does, at the deadline on the server's clock.
    let submitted = next_event(&mut seat.events, "exam_submitted").await;
    assert_eq!(
        (submitted["paper_id"].clone(), submitted["reason"].as_str()),
        (ready["paper_id"].clone(), Some("timeout"))
    );
    let state = exam_state(&seat.agent).await;
    assert!(state["submitted_at"].as_i64().unwrap() >= state["deadline"].as_i64().unwrap(), "{state}");
    next_event(&mut seat.events, "exam_result").await;
    let finished = exam_state(&seat.agent).await;
    assert_eq!(
        (finished["state"].as_str(), finished["result"]["reason"].as_str()),
        (Some("finished"), Some("timeout"))
    );
    let (status, late) = call(
        &seat.agent,
        reqwest::Method::PUT,
        &format!("/v1/exam/answers/{}", item["id"].as_str().unwrap()),
        json!({"choices": []}),
    )
    .await;
    assert_eq!(status, 409, "{late}");
}
