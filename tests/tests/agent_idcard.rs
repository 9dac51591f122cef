//! ID cards through the real agent: PC/SC readers on a pcscd of the test's
//! own with vpcd and the simulated card, a GA 467 SAM module on the PTY
//! simulator, and the `read-card` / `decode-sam` commands.
//!
//! The pcscd tests hold `Pcscd::start`'s lock, so they run one at a time;
//! every step awaits an event or an acknowledgement, nothing sleeps.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine;
use examgate_e2e::agent::Agent;
use examgate_e2e::pcscd::{Pcscd, SLOT0, SLOT0_ADDR, SLOT1, SLOT1_ADDR};
use examgate_e2e::sim::SimProcess;
use examgate_sim::card_file::CardFile;
use examgate_sim::vpcd::{self, CardImage, CardProfile, VirtualCard};
use futures_util::StreamExt;
use reqwest::Client;
use serde_json::{Value, json};
use sha2::Digest;
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(20);

fn cards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../simulators/cards")
}

fn resident_file() -> PathBuf {
    cards_dir().join("resident.toml")
}

/// `simulators/cards/resident.toml` as a virtual card on vpcd.
fn virtual_card(profile: CardProfile) -> VirtualCard {
    let card = CardFile::load(resident_file()).expect("the sample card loads");
    let photo: [u8; 1024] = card.photo.as_slice().try_into().expect("a 1024-byte photo");
    let serial = card.chip_serial;
    let image = CardImage {
        text: card.fields.encode(),
        photo,
        chip_serial: serial,
        pupi: [serial[0], serial[1], serial[2], serial[3]],
    };
    VirtualCard { image, profile }
}

/// The sample card as the agent must give it, field by field.
fn resident_json(source: &str) -> Value {
    let photo = std::fs::read(cards_dir().join("sample-photo.wlt")).unwrap();
    let sha: String = sha2::Sha256::digest(&photo).iter().map(|b| format!("{b:02x}")).collect();
    json!({
        "card_type": "resident",
        "name": "张伟",
        "sex": {"code": "1", "label": "男"},
        "nation": {"code": "01", "label": "汉"},
        "birth_date": "1990-03-07",
        "address": "北京市朝阳区建国路1号院2号楼301",
        "id_number": "110105199003071239",
        "id_number_valid": true,
        "issuer": "北京市公安局朝阳分局",
        "valid_from": "2020-05-01",
        "valid_until": "2040-05-01",
        "chip_serial": "10e4100102030405",
        "photo_wlt": base64::engine::general_purpose::STANDARD.encode(&photo),
        "photo_sha256": sha,
        "source": source,
    })
}

fn identifiers_json() -> Value {
    json!({
        "card_type": null,
        "name": null,
        "sex": null,
        "birth_date": null,
        "address": null,
        "id_number": null,
        "id_number_valid": null,
        "issuer": null,
        "valid_from": null,
        "valid_until": null,
        "chip_serial": "10e4100102030405",
        "photo_wlt": null,
        "photo_sha256": null,
        "source": "pcsc-identifiers",
    })
}

/// The next event of `kind` about `device`, skipping others.
async fn next_event(socket: &mut Socket, kind: &str, device: &str) -> Value {
    tokio::time::timeout(WAIT, async {
        loop {
            match socket.next().await.expect("the stream stays open").expect("a message") {
                Message::Text(text) => {
                    let event: Value = serde_json::from_str(&text).expect("JSON event");
                    if event["type"] == kind && event["device"] == device {
                        return event;
                    }
                }
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected message {other:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} event for {device} within {WAIT:?}"))
}

async fn read_card(agent: &Agent, body: Value) -> (u16, Value) {
    let r = Client::new().post(agent.url("/v1/idcard/read")).json(&body).send().await.expect("POST /v1/idcard/read");
    (r.status().as_u16(), r.json().await.expect("JSON"))
}

fn agent_cli(args: &[&str]) -> Output {
    Command::new(examgate_e2e::agent_binary()).args(args).env("NO_COLOR", "1").output().expect("run examgate-agent")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One line on stderr, nothing on stdout, a non-zero exit.
fn assert_one_line_failure(out: &Output, words: &[&str]) {
    assert!(!out.status.success(), "must fail: {}", text(&out.stdout));
    assert_eq!(text(&out.stdout), "", "nothing on stdout");
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("examgate-agent: "), "{stderr}");
    for w in words {
        assert!(stderr.contains(w), "{w:?} not in {stderr}");
    }
}

#[tokio::test]
async fn pcsc_cards_come_and_go_as_events_and_read_field_by_field() {
    let mut pcscd = Pcscd::start();
    let agent = Agent::start(&["--device", "pcsc-idcard:Virtual PCD"]).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(agent.ws_url("/v1/events")).await.expect("connect");

    // A reader with a built-in SAM presenting the decoded card, on slot 0.
    let decoded = vpcd::spawn(SLOT0_ADDR.into(), virtual_card(CardProfile::Decoded));
    next_event(&mut socket, "card_inserted", SLOT0).await;
    let (status, card) = read_card(&agent, json!({"device": SLOT0})).await;
    assert_eq!(status, 200, "{card}");
    assert_eq!(card, resident_json("pcsc-decoded"));

    decoded.remove();
    next_event(&mut socket, "card_removed", SLOT0).await;
    let (status, body) = read_card(&agent, json!({"device": SLOT0, "timeout_ms": 200})).await;
    assert_eq!((status, body["error"]["kind"].as_str()), (422, Some("no_card")), "{body}");

    decoded.insert();
    next_event(&mut socket, "card_inserted", SLOT0).await;
    let (_, card) = read_card(&agent, json!({"device": SLOT0})).await;
    assert_eq!(card["name"], "张伟", "re-inserted: {card}");

    // A bare card (a reader without SAM) on slot 1: identifiers only.
    let _bare = vpcd::spawn(SLOT1_ADDR.into(), virtual_card(CardProfile::Identifiers));
    next_event(&mut socket, "card_inserted", SLOT1).await;
    let (status, card) = read_card(&agent, json!({"device": SLOT1})).await;
    assert_eq!(status, 200, "{card}");
    assert_eq!(card, identifiers_json());

    // The command line reads the same card as the API.
    let out = tokio::task::spawn_blocking(|| agent_cli(&["read-card", "--json", "--reader", SLOT0])).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("read-card --json prints JSON");
    assert_eq!(printed, resident_json("pcsc-decoded"));
    let out = tokio::task::spawn_blocking(|| agent_cli(&["read-card", "--reader", SLOT0])).await.unwrap();
    let human = text(&out.stdout);
    assert!(human.contains("张伟") && human.contains("110105199003071239 (check character valid)"), "{human}");
    assert!(human.contains("2020-05-01 – 2040-05-01"), "{human}");

    decoded.remove();
    next_event(&mut socket, "card_removed", SLOT0).await;
    let out = tokio::task::spawn_blocking(|| agent_cli(&["read-card", "--reader", SLOT0, "--timeout-ms", "200"]))
        .await
        .unwrap();
    assert_one_line_failure(&out, &["no card on the reader"]);
    let out = tokio::task::spawn_blocking(|| agent_cli(&["read-card", "--reader", "No Such Reader"])).await.unwrap();
    assert_one_line_failure(&out, &["no PC/SC reader whose name contains \"No Such Reader\""]);

    // pcscd killed and restarted under the running agent: the reader comes
    // back by itself and the card reads again.
    pcscd.restart();
    decoded.insert();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let card = loop {
        let (status, card) = read_card(&agent, json!({"device": SLOT0, "timeout_ms": 2000})).await;
        if status == 200 {
            break card;
        }
        assert!(std::time::Instant::now() < deadline, "no read after the pcscd restart: {card}");
    };
    assert_eq!(card, resident_json("pcsc-decoded"));
    assert!(!agent.log().contains("110105199003071239"), "the ID number reached the log:\n{}", agent.log());
}

#[tokio::test]
async fn a_sam_module_reads_the_card_through_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("sam");
    let card = resident_file();
    let mut sam = SimProcess::spawn([
        OsStr::new("sam"),
        OsStr::new("--pty"),
        OsStr::new("--empty"),
        OsStr::new("--link"),
        link.as_os_str(),
        OsStr::new("--card"),
        card.as_os_str(),
    ]);
    let selector = format!("sam:serial:{}", link.display());
    let agent = Agent::start(&["--device", &selector]).await;
    let device = link.to_str().unwrap().to_owned();
    let devices: Value = Client::new().get(agent.url("/v1/devices")).send().await.unwrap().json().await.unwrap();
    assert_eq!(devices["devices"][0]["id"], device.as_str(), "{devices}");
    assert_eq!(devices["devices"][0]["classes"], json!(["idcard"]));
    assert_eq!(devices["devices"][0]["state"], "ready", "{devices}");

    let (mut socket, _) = tokio_tungstenite::connect_async(agent.ws_url("/v1/events")).await.expect("connect");
    sam.script("insert 1");
    next_event(&mut socket, "card_inserted", &device).await;
    let (status, card) = read_card(&agent, json!({})).await;
    assert_eq!(status, 200, "{card}");
    assert_eq!(card, resident_json("sam"));

    sam.script("remove");
    next_event(&mut socket, "card_removed", &device).await;
    let (status, body) = read_card(&agent, json!({"timeout_ms": 300})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["retry"], true);
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../drivers/sam/tests/data").join(name)
}

/// A reply frame with a right checksum around `data`, after SW1 SW2 SW3.
fn frame(sw3: u8, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0xAA, 0xAA, 0xAA, 0x96, 0x69];
    f.extend_from_slice(&u16::try_from(data.len() + 4).unwrap().to_be_bytes());
    f.extend_from_slice(&[0, 0, sw3]);
    f.extend_from_slice(data);
    f.push(f[5..].iter().fold(0, |a, b| a ^ b));
    f
}

#[test]
fn read_card_and_decode_sam_have_help() {
    for command in ["read-card", "decode-sam"] {
        let out = agent_cli(&[command, "--help"]);
        assert!(out.status.success(), "{command}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("--json"), "{command}: {}", text(&out.stdout));
    }
}

#[test]
fn decode_sam_prints_good_frames_and_refuses_bad_ones_in_one_line() {
    let good = data("reply_30_01_resident.bin");
    let out = agent_cli(&["decode-sam", "--json", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let card: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(card["name"], "王小明");
    assert_eq!(card["nation"], json!({"code": "03", "label": "回"}));
    assert_eq!(card["valid_until"], Value::Null, "长期");
    assert_eq!(card["chip_serial"], Value::Null, "a read reply carries no chip serial");
    assert_eq!(card["source"], "sam");

    let hk = data("reply_30_10_hk.bin");
    let out = agent_cli(&["decode-sam", hk.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("810000199208080022"), "{}", text(&out.stdout));

    // From standard input.
    let mut child = Command::new(examgate_e2e::agent_binary())
        .args(["decode-sam", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(&good).unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["id_number"], "640104197612310010");

    let good_bytes = std::fs::read(&good).unwrap();
    let mut bad_checksum = good_bytes.clone();
    bad_checksum[500] ^= 0x40;
    let mut bad_preamble = good_bytes.clone();
    bad_preamble[3] = 0x97;
    let mut wrong_length = good_bytes.clone();
    wrong_length[6] += 1;
    let truncated = good_bytes[..200].to_vec();
    // The SAM's "no card found" (SW3 80) in a reply.
    let sw3_error = frame(0x80, &[]);
    // A right frame whose text block is cut short.
    let text_cut = {
        let payload = &good_bytes[10..good_bytes.len() - 1];
        let mut short = payload[..4].to_vec();
        short.extend_from_slice(&payload[4..100]);
        frame(0x90, &short)
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes, why) in [
        ("bad-checksum.bin", bad_checksum, "bad checksum"),
        ("bad-preamble.bin", bad_preamble, "bad preamble"),
        ("wrong-length.bin", wrong_length, "its header and LEN need"),
        ("truncated.bin", truncated, "truncated frame: 200 bytes"),
        ("sw3-error.bin", sw3_error, "SW3 80"),
        ("text-cut.bin", text_cut, "truncated text"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let out = agent_cli(&["decode-sam", path.to_str().unwrap()]);
        assert_one_line_failure(&out, &[name, why]);
        let out = agent_cli(&["decode-sam", "--json", path.to_str().unwrap()]);
        assert_one_line_failure(&out, &[name, why]);
    }
    let out = agent_cli(&["decode-sam", "/nonexistent/reply.bin"]);
    assert_one_line_failure(&out, &["cannot read /nonexistent/reply.bin"]);
}
