//! ISO 19794-2 and ANSI 378 templates through the real agent: REST, the
//! legacy interface and `examgate-agent match`, with the sample records of
//! `drivers/minutiae/tests/data` (finger 1 twice, finger 2 once).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use examgate_e2e::agent::{Agent, sim_binary};
use examgate_minutiae::{Standard, encode, parse};
use reqwest::Client;
use serde_json::{Value, json};

fn sample_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../drivers/minutiae/tests/data").join(name)
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(sample_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Finger 1's second impression, from the ANSI sample converted to ISO: an
/// ISO record of the same finger as `finger1_impression1.iso.fmr`.
fn iso_of_second_impression() -> Vec<u8> {
    let record = parse(&sample("finger1_impression2.ansi.fmr")).expect("the ANSI sample parses");
    encode(&record.converted_to(Standard::Iso19794_2_2005)).expect("encodes as ISO")
}

/// The ISO sample with its first view's minutia count raised past the
/// record's end: still recognised as ISO (its length field is right), and
/// corrupt inside.
fn corrupt_iso() -> Vec<u8> {
    let mut bytes = sample("finger1_impression1.iso.fmr");
    bytes[27] = 0xFF;
    bytes
}

fn b64(bytes: &[u8]) -> String {
    examgate_agent::templates::encode(bytes)
}

async fn rest_match(agent: &Agent, template: &[u8], enrolled: &[u8]) -> (u16, Value) {
    let r = Client::new()
        .post(agent.url("/v1/fingerprint/match"))
        .json(&json!({"template": b64(template), "enrolled": b64(enrolled)}))
        .send()
        .await
        .expect("POST /v1/fingerprint/match");
    (r.status().as_u16(), r.json().await.expect("JSON"))
}

async fn legacy_match(agent: &Agent, template: &[u8], enrolled: &[u8]) -> (String, String) {
    let client = Client::new();
    let form = [("Template", b64(template)), ("OldTemplate", b64(enrolled))];
    let score = client
        .post(agent.url("/legacy/MatchSampleTemplate"))
        .header("x-examgate-caller", "formats")
        .form(&form)
        .send()
        .await
        .expect("POST MatchSampleTemplate")
        .text()
        .await
        .unwrap();
    let message = client
        .get(agent.url("/legacy/ErrorMessage"))
        .header("x-examgate-caller", "formats")
        .send()
        .await
        .expect("GET ErrorMessage")
        .text()
        .await
        .unwrap();
    (score, message)
}

fn score_of(body: &Value) -> u64 {
    body["score"].as_u64().unwrap_or_else(|| panic!("no score in {body}"))
}

#[tokio::test]
async fn iso_and_ansi_templates_match_through_rest_and_the_legacy_interface() {
    let agent = Agent::start(&["--device", "sim:fingerprint"]).await;
    let iso1 = sample("finger1_impression1.iso.fmr");
    let iso1b = iso_of_second_impression();
    let ansi1 = sample("finger1_impression2.ansi.fmr");
    let iso2 = sample("finger2_impression1.iso.fmr");

    let (status, same) = rest_match(&agent, &iso1b, &iso1).await;
    assert_eq!(status, 200, "{same}");
    assert!(score_of(&same) > 800 && same["match"] == true, "ISO, same finger: {same}");
    let (_, mixed) = rest_match(&agent, &ansi1, &iso1).await;
    assert!(score_of(&mixed) > 800 && mixed["match"] == true, "ANSI against ISO, same finger: {mixed}");
    let (_, other) = rest_match(&agent, &iso2, &iso1).await;
    assert!(score_of(&other) <= 800 && other["match"] == false, "another finger: {other}");
    let (_, other) = rest_match(&agent, &iso2, &ansi1).await;
    assert!(score_of(&other) <= 800, "another finger, ISO against ANSI: {other}");

    let (score, message) = legacy_match(&agent, &iso1, &ansi1).await;
    let score: u32 = score.parse().unwrap_or_else(|_| panic!("not a score: {score:?}"));
    assert!(score > 800, "legacy, ISO against ANSI of the same finger: {score}");
    assert_eq!(message, "");
    let (score, _) = legacy_match(&agent, &iso2, &iso1).await;
    assert!(score.parse::<u32>().unwrap() <= 800, "legacy, another finger: {score}");
}

#[tokio::test]
async fn a_corrupt_record_or_a_mix_the_agent_cannot_compare_is_minus_one_and_a_clear_message() {
    let agent = Agent::start(&["--device", "sim:fingerprint"]).await;
    let iso1 = sample("finger1_impression1.iso.fmr");

    let (score, message) = legacy_match(&agent, &corrupt_iso(), &iso1).await;
    assert_eq!(score, "-1");
    assert!(message.contains("Template is not a valid iso19794-2 record"), "{message}");
    assert!(message.contains("minutiae"), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");

    let (status, body) = rest_match(&agent, &iso1, &corrupt_iso()).await;
    assert_eq!((status, body["error"]["kind"].as_str()), (400, Some("invalid_argument")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("enrolled is not a valid iso19794-2 record"), "{body}");

    // A simulator template against an ISO record: no matcher can compare them.
    let sim = Command::new(sim_binary()).args(["fingerprint-template", "--finger", "1"]).output().unwrap();
    assert!(sim.status.success());
    let (score, message) = legacy_match(&agent, &iso1, &sim.stdout).await;
    assert_eq!(score, "-1");
    assert!(message.contains("Template is iso19794-2 but OldTemplate is vendor:examgate-sim"), "{message}");
    assert!(message.contains("cannot compare these two formats"), "{message}");
}

fn agent_cli(args: &[&str]) -> Output {
    Command::new(examgate_e2e::agent_binary()).args(args).env("NO_COLOR", "1").output().expect("run examgate-agent")
}

#[test]
fn match_compares_iso_and_ansi_files_and_refuses_a_corrupt_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = |p: PathBuf| p.to_str().unwrap().to_owned();
    let iso1 = path(sample_path("finger1_impression1.iso.fmr"));
    let ansi1 = path(sample_path("finger1_impression2.ansi.fmr"));
    let iso2 = path(sample_path("finger2_impression1.iso.fmr"));

    let out = agent_cli(&["match", &iso1, &ansi1]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let score: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(score > 800, "ISO against ANSI of the same finger: {score}");

    let out = agent_cli(&["match", &iso2, &ansi1]);
    let score: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(score <= 800, "another finger: {score}");

    // Base64 text in a file is read too.
    let text = dir.path().join("iso1b.txt");
    std::fs::write(&text, b64(&iso_of_second_impression())).unwrap();
    let out = agent_cli(&["match", text.to_str().unwrap(), &iso1]);
    let score: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(score > 800, "ISO, same finger: {score}");

    let corrupt = dir.path().join("corrupt.fmr");
    std::fs::write(&corrupt, corrupt_iso()).unwrap();
    let out = agent_cli(&["match", corrupt.to_str().unwrap(), &iso1]);
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "-1\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("corrupt.fmr is not a valid iso19794-2 record"), "{stderr}");
}
