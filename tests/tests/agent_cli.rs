//! The `examgate-agent` subcommands, run as a person or a script would.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use examgate_e2e::agent::{Agent, sim_binary};

fn agent(args: &[&str]) -> Output {
    Command::new(examgate_e2e::agent_binary()).args(args).env("NO_COLOR", "1").output().expect("run examgate-agent")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `examgate-sim fingerprint-template` into a file.
fn sim_template(dir: &Path, name: &str, args: &[&str]) -> String {
    let out = Command::new(sim_binary()).arg("fingerprint-template").args(args).output().expect("run examgate-sim");
    assert!(out.status.success(), "{}", stderr(&out));
    let path = dir.join(name);
    std::fs::write(&path, &out.stdout).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["devices", "--help"],
        &["plugin", "--help"],
        &["plugin", "check", "--help"],
        &["get-template", "--help"],
        &["match", "--help"],
    ] {
        let out = agent(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).contains("Usage: examgate-agent"), "{args:?}: {}", stdout(&out));
    }
    assert!(stdout(&agent(&["--help"])).contains("sim:fingerprint"));
}

#[test]
fn get_template_prints_base64_or_minus_one() {
    let out = agent(&["get-template", "--device", "sim:fingerprint"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let template = stdout(&out);
    assert!(template.trim().starts_with("RUdTRg"), "{template}");
    assert!(!template.contains(' '));

    let out = agent(&["get-template", "--device", "sim:fingerprint?finger=none", "--timeout-ms", "100"]);
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "-1\n");
    assert!(stderr(&out).contains("no finger on the sensor"), "{}", stderr(&out));

    // A module that is not there: -1 and a line naming the port.
    let out = agent(&["get-template", "--device", "as60x:/nonexistent/ttyUSB0", "--timeout-ms", "200"]);
    assert_eq!((out.status.success(), stdout(&out).as_str()), (false, "-1\n"));
    assert!(stderr(&out).contains("/nonexistent/ttyUSB0"), "{}", stderr(&out));
}

#[test]
fn match_compares_files_of_raw_or_base64_templates() {
    let dir = tempfile::tempdir().unwrap();
    let enrolled = sim_template(dir.path(), "enrolled.bin", &["--finger", "1", "--impression", "1"]);
    let same = sim_template(dir.path(), "same.b64", &["--finger", "1", "--impression", "2", "--base64"]);
    let other = sim_template(dir.path(), "other.bin", &["--finger", "2"]);

    let out = agent(&["match", &same, &enrolled]);
    assert!(out.status.success(), "{}", stderr(&out));
    let score: u32 = stdout(&out).trim().parse().expect("a score");
    assert!(score > 800, "the same finger scored {score}");

    let out = agent(&["match", &other, &enrolled, "--device", "sim:fingerprint"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let score: u32 = stdout(&out).trim().parse().expect("a score");
    assert!((1..=800).contains(&score), "another finger scored {score}");

    let mut iso = b"FMR\0 20\0".to_vec();
    iso.extend_from_slice(&30u32.to_be_bytes());
    iso.resize(30, 0);
    let iso_path = dir.path().join("iso.bin");
    std::fs::write(&iso_path, iso).unwrap();
    let iso = iso_path.to_str().unwrap();
    let out = agent(&["match", iso, iso]);
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "-1\n");
    assert!(stderr(&out).contains("is not a valid iso19794-2 record"), "{}", stderr(&out));

    let out = agent(&["match", iso, &enrolled]);
    assert_eq!(stdout(&out), "-1\n");
    assert!(stderr(&out).contains("cannot compare templates"), "{}", stderr(&out));
}

#[test]
fn devices_lists_what_the_selectors_find() {
    let out = agent(&["devices", "--json", "--device", "sim:fingerprint?readers=2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ids: Vec<&str> = v["devices"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["sim-fp-0", "sim-fp-1"]);
    assert_eq!(v["devices"][0]["state"], "ready");

    let out = agent(&["devices", "--device", "sim:fingerprint"]);
    assert!(stdout(&out).lines().next().unwrap().starts_with("ID"), "{}", stdout(&out));
    assert!(stdout(&out).contains("sim-fp-0"));

    let out = agent(&["devices", "--device", "usb:1234"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unknown device selector \"usb:1234\""), "{}", stderr(&out));
}

#[test]
fn plugin_check_runs_the_conformance_suite() {
    let out = agent(&["plugin", "check", examgate_e2e::rust_plugin().to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("passed conformance"), "{}", stdout(&out));
}

#[test]
fn run_refuses_a_bad_config_with_a_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "capture_timeout = 15\n").unwrap();
    let out = agent(&["run", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unknown field `capture_timeout`"), "{}", stderr(&out));
    let out = agent(&["run", "--listen", "127.0.0.1:0", "--device", "as60x:/dev/ttyUSB0?baud=12345"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("device as60x:/dev/ttyUSB0?baud=12345: "), "{}", stderr(&out));
}

#[tokio::test]
async fn sigterm_stops_the_agent_gracefully() {
    let agent = Agent::start(&["--device", "sim:fingerprint"]).await;
    let status = tokio::task::spawn_blocking(move || agent.terminate(Duration::from_secs(15))).await.unwrap();
    assert!(status.success(), "{status}");
}
