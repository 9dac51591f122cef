//! Snapshots through the real agent with the simulated camera: a snapshot
//! is a valid JPEG and is in the store; each scripted fault is flagged and
//! announced; previews; the scheduler in the agent, whose seed never shows;
//! and `examgate-agent snapshot`. Every step awaits an answer or an event.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine;
use examgate_agent::snapshot::{SnapshotId, SnapshotReason, SnapshotStore, StoreLimits};
use examgate_e2e::agent::Agent;
use examgate_protocol::Timestamp;
use futures_util::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(30);

/// A config whose snapshot store is in `dir`, plus `extra` lines of the table.
fn config(dir: &Path, extra: &str) -> String {
    let path = dir.join("agent.toml");
    let text =
        format!("[snapshots]\ndir = \"{}\"\nseat = \"A-017\"\nexam = \"k1-am\"\n{extra}", dir.join("store").display());
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

async fn next_event(socket: &mut Socket, wanted: impl Fn(&Value) -> bool) -> Value {
    tokio::time::timeout(WAIT, async {
        loop {
            match socket.next().await.expect("the stream stays open").expect("a message") {
                Message::Text(text) => {
                    let event: Value = serde_json::from_str(&text).expect("JSON event");
                    if wanted(&event) {
                        return event;
                    }
                }
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected message {other:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no such event within {WAIT:?}"))
}

async fn snapshot(agent: &Agent, body: Value) -> Value {
    let r = Client::new().post(agent.url("/v1/camera/snapshot")).json(&body).send().await.expect("POST snapshot");
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.expect("JSON")
}

async fn sim(agent: &Agent, device: &str, command: &str) {
    let r = Client::new()
        .post(agent.url(&format!("/v1/sim/{device}/command")))
        .json(&json!({ "command": command }))
        .send()
        .await
        .expect("POST sim command");
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "{command}");
}

fn flags(v: &Value) -> Vec<&str> {
    v["record"]["flags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect()
}

fn decode_jpeg(bytes: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg).expect("a valid JPEG");
    (image.width(), image.height())
}

fn hex_sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_snapshot_is_a_valid_jpeg_in_the_store_and_every_fault_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    let agent = Agent::start(&[
        "--config",
        &config,
        "--device",
        "sim:camera",
        "--device",
        "sim:camera?name=OBS Virtual Camera",
    ])
    .await;
    let (mut socket, _) = tokio_tungstenite::connect_async(agent.ws_url("/v1/events")).await.expect("connect");

    let v = snapshot(&agent, json!({"reason": "identity_verification"})).await;
    assert_eq!(flags(&v), Vec::<&str>::new(), "{}", v["record"]);
    let jpeg = base64::engine::general_purpose::STANDARD.decode(v["jpeg"].as_str().unwrap()).unwrap();
    assert_eq!(decode_jpeg(&jpeg), (640, 480));
    let record = &v["record"];
    assert_eq!(record["sha256"], hex_sha256(&jpeg));
    assert_eq!((record["seat"].as_str(), record["exam"].as_str()), (Some("A-017"), Some("k1-am")));
    assert_eq!(record["reason"], "identity_verification");
    let id = record["id"].as_i64().unwrap();
    let taken = next_event(&mut socket, |e| e["type"] == "snapshot_taken").await;
    assert_eq!((taken["device"].as_str(), taken["snapshot"]["id"].as_i64()), (Some("sim-cam-0"), Some(id)));
    // Stored durably, picture and record, readable by the agent's user only.
    let store = SnapshotStore::open(&dir.path().join("store"), StoreLimits::default()).unwrap();
    let stored = store.get(SnapshotId(id)).unwrap().expect("the snapshot is in the store");
    assert_eq!(stored.image.as_ref().unwrap().jpeg, jpeg);
    assert_eq!(stored.reason, SnapshotReason::IdentityVerification);
    let mode = std::fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // Lens covered: dark.
    sim(&agent, "sim-cam-0", "cover").await;
    let v = snapshot(&agent, json!({"device": "sim-cam-0"})).await;
    assert!(flags(&v).contains(&"dark"), "{}", v["record"]);
    let fault = next_event(&mut socket, |e| e["type"] == "camera_fault").await;
    assert!(fault["flags"].as_array().unwrap().contains(&json!("dark")), "{fault}");
    assert_eq!(fault["snapshot"], v["record"]["id"]);
    sim(&agent, "sim-cam-0", "subject").await;

    // A frozen feed: the same frame again.
    sim(&agent, "sim-cam-0", "freeze").await;
    snapshot(&agent, json!({"device": "sim-cam-0"})).await;
    let v = snapshot(&agent, json!({"device": "sim-cam-0"})).await;
    assert!(flags(&v).contains(&"frozen"), "{}", v["record"]);
    sim(&agent, "sim-cam-0", "unfreeze").await;

    // A camera named like OBS's virtual camera.
    let v = snapshot(&agent, json!({"device": "sim-cam-0@2"})).await;
    assert_eq!(flags(&v), ["virtual_camera"], "{}", v["record"]);

    // Unplugged: a camera_fault at once, and snapshots record the camera missing.
    sim(&agent, "sim-cam-0", "unplug").await;
    let fault = next_event(&mut socket, |e| {
        e["type"] == "camera_fault" && e["snapshot"].is_null() && e["device"] == "sim-cam-0"
    })
    .await;
    assert_eq!(fault["flags"], json!(["camera_missing"]));
    let v = snapshot(&agent, json!({"device": "sim-cam-0"})).await;
    assert_eq!(flags(&v), ["camera_missing"]);
    assert_eq!(v["jpeg"], Value::Null);
    let stored = store.get(SnapshotId(v["record"]["id"].as_i64().unwrap())).unwrap().expect("stored too");
    assert!(stored.image.is_none());
    sim(&agent, "sim-cam-0", "plug").await;
    next_event(&mut socket, |e| e["type"] == "device_attached" && e["device"] == "sim-cam-0").await;
    assert_eq!(flags(&snapshot(&agent, json!({"device": "sim-cam-0"})).await), Vec::<&str>::new());
}

#[tokio::test]
async fn previews_are_one_jpeg_or_an_mjpeg_stream() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    let agent = Agent::start(&["--config", &config, "--device", "sim:camera?scene=cover"]).await;
    let client = Client::new();
    let r = client.get(agent.url("/v1/camera/preview")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert!(r.headers()["x-examgate-flags"].to_str().unwrap().contains("dark"));
    let (w, h) = decode_jpeg(&r.bytes().await.unwrap());
    assert!(w <= 320 && h <= 240, "a small preview: {w}x{h}");

    let mut r = client.get(agent.url("/v1/camera/preview?format=mjpeg&fps=2")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "multipart/x-mixed-replace; boundary=examgate-frame");
    let mut buffer = Vec::new();
    let frames = tokio::time::timeout(WAIT, async {
        let mut frames = Vec::new();
        while frames.len() < 2 {
            buffer.extend_from_slice(&r.chunk().await.unwrap().expect("the stream goes on"));
            // Parse whole parts off the front of the buffer.
            while let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
                assert!(head.starts_with("--examgate-frame\r\nContent-Type: image/jpeg\r\n"), "{head}");
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .expect("a Content-Length")
                    .parse()
                    .unwrap();
                let start = head_end + 4;
                if buffer.len() < start + length + 2 {
                    break;
                }
                frames.push(buffer[start..start + length].to_vec());
                buffer.drain(..start + length + 2);
            }
        }
        frames
    })
    .await
    .expect("two frames of the stream");
    for frame in frames {
        decode_jpeg(&frame);
    }
}

#[tokio::test]
async fn the_scheduler_takes_the_exams_snapshots_and_its_seed_never_shows() {
    let seed: String = (0..32).map(|i| format!("{:02x}", 0x5a ^ (i * 37 % 256))).collect();
    // Margins that leave one instant, five seconds from now, in a window
    // that ends half a minute later: both snapshots are due then.
    let start = Timestamp::from_unix_millis(Timestamp::now().unix_millis() - 25_000);
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &format!(
            "schedule_seed = \"{seed}\"\nexam_start = \"{start}\"\nexam_minutes = 1\ncount = 2\nmin_gap_s = 0\nmargin_s = 30\n"
        ),
    );
    let agent = Agent::start(&["--config", &config, "--device", "sim:camera"]).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(agent.ws_url("/v1/events")).await.expect("connect");
    // Those taken before the stream opened are in the store; the rest come as events.
    let store = SnapshotStore::open(&dir.path().join("store"), StoreLimits::default()).unwrap();
    let scheduled = |r: &&examgate_agent::snapshot::SnapshotRecord| matches!(r.reason, SnapshotReason::Scheduled(_));
    let mut ids: BTreeSet<i64> = store.pending(100).unwrap().iter().filter(scheduled).map(|r| r.id.0).collect();
    let mut seen = Vec::new();
    while ids.len() < 2 {
        let event = next_event(&mut socket, |e| e["type"] == "snapshot_taken").await;
        assert_eq!(event["snapshot"]["reason"], "scheduled", "{event}");
        ids.insert(event["snapshot"]["id"].as_i64().unwrap());
        seen.push(event.to_string());
    }
    let reasons: Vec<SnapshotReason> = store.pending(100).unwrap().into_iter().map(|r| r.reason).collect();
    assert_eq!(reasons, [SnapshotReason::Scheduled(0), SnapshotReason::Scheduled(1)]);

    let client = Client::new();
    for path in ["/v1/health", "/v1/devices", "/v1/openapi.json"] {
        let body = client.get(agent.url(path)).send().await.unwrap().text().await.unwrap();
        assert!(!body.contains(&seed), "{path} shows the seed");
    }
    let v = snapshot(&agent, json!({})).await;
    assert!(!v.to_string().contains(&seed));
    assert!(seen.iter().all(|e| !e.contains(&seed)));
    assert!(!agent.log().contains(&seed), "the log shows the seed:\n{}", agent.log());
}

fn agent_cli(args: &[&str]) -> Output {
    Command::new(examgate_e2e::agent_binary()).args(args).env("NO_COLOR", "1").output().expect("run examgate-agent")
}

#[test]
fn the_snapshot_command_writes_a_checked_jpeg() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("seat.jpg");
    let out = agent_cli(&["snapshot", "--device", "sim:camera", "-o", out_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("640x480 JPEG") && printed.contains("flags: none"), "{printed}");
    assert_eq!(decode_jpeg(&std::fs::read(&out_path).unwrap()), (640, 480));
    assert_eq!(std::fs::metadata(&out_path).unwrap().permissions().mode() & 0o777, 0o600);

    let covered = dir.path().join("covered.jpg");
    let out = agent_cli(&["snapshot", "--device", "sim:camera?scene=cover", "-o", covered.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("flags: dark"), "{}", String::from_utf8_lossy(&out.stdout));

    let out =
        agent_cli(&["snapshot", "--device", "webcam:NoSuchCamera", "-o", dir.path().join("x.jpg").to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("finds no camera"), "{stderr}");
    assert!(!dir.path().join("x.jpg").exists());

    let help = agent_cli(&["snapshot", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("-o, --output"));
}

#[tokio::test]
async fn a_camera_plugin_in_a_driver_host_takes_checked_snapshots_too() {
    let plugin = examgate_e2e::artifact("libexamgate_sim_camera_plugin.so");
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    let selector = format!("plugin:{}", plugin.display());
    let agent = Agent::start(&["--config", &config, "--device", &selector]).await;
    let devices: Value = Client::new().get(agent.url("/v1/devices")).send().await.unwrap().json().await.unwrap();
    let camera = devices["devices"][0]["id"].as_str().expect("the plugin's camera").to_owned();
    assert_eq!(devices["devices"][0]["classes"], json!(["camera"]));

    let v = snapshot(&agent, json!({})).await;
    assert_eq!(flags(&v), Vec::<&str>::new(), "{}", v["record"]);
    let jpeg = base64::engine::general_purpose::STANDARD.decode(v["jpeg"].as_str().unwrap()).unwrap();
    decode_jpeg(&jpeg);
    sim(&agent, &camera, "cover").await;
    let v = snapshot(&agent, json!({"device": camera})).await;
    assert!(flags(&v).contains(&"dark"), "{}", v["record"]);
}
