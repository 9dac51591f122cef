//! A seat whose vendor plugin cannot be loaded still serves: `examgate-agent
//! run` with each deliberately broken plugin beside `sim:fingerprint` answers
//! `/v1/health` (degraded, 200), captures with the simulated reader, lists
//! the broken selector as failed with its reason, and loads the plugin once
//! the vendor replaces the file, without a restart. Through a real
//! `examgate-server` and `link run` the failure reaches the console as one
//! `device_fault` alert for the seat. `plugin check` still refuses such a
//! plugin, and a selector that cannot be parsed still stops `run`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use examgate_e2e::agent::Agent;
use examgate_e2e::centre::{Centre, LinkRun, PATIENCE, add_users};
use examgate_test_plugins::Broken;
use futures_util::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// How long a replaced plugin may take to be picked up (the agent looks every 2 s).
const DEADLINE: Duration = Duration::from_secs(30);

/// A plugin whose entry point never returns a descriptor: it crashes, exits or
/// hangs while the driver host loads it.
#[derive(Clone, Copy, Debug)]
enum AtLoad {
    Segfault,
    Abort,
    Exit,
    Hang,
}

const AT_LOAD_SOURCE: &str = r#"
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

/* The loader calls this first; it never gets a descriptor back. */
const void *examgate_plugin_entry(void) {
#if defined(AT_LOAD_SEGFAULT)
    *(volatile int *)0 = 1;
#elif defined(AT_LOAD_ABORT)
    abort();
#elif defined(AT_LOAD_EXIT)
    _exit(3);
#elif defined(AT_LOAD_HANG)
    for (;;) pause();
#endif
    return NULL;
}
"#;

impl AtLoad {
    fn define(self) -> &'static str {
        match self {
            AtLoad::Segfault => "-DAT_LOAD_SEGFAULT",
            AtLoad::Abort => "-DAT_LOAD_ABORT",
            AtLoad::Exit => "-DAT_LOAD_EXIT",
            AtLoad::Hang => "-DAT_LOAD_HANG",
        }
    }

    /// What the agent says of it.
    fn reason(self) -> &'static str {
        match self {
            AtLoad::Segfault => "died while loading it (killed by signal 11 (SIGSEGV))",
            AtLoad::Abort => "died while loading it (killed by signal 6 (SIGABRT))",
            AtLoad::Exit => "died while loading it (exited with status 3)",
            AtLoad::Hang => "loading it did not finish within",
        }
    }

    /// Compiles the plugin into `dir` with the system C compiler (`$CC`, else
    /// `cc`, as tests/plugins' build script does); its path.
    fn build(self, dir: &Path) -> PathBuf {
        let source = dir.join("at_load.c");
        std::fs::write(&source, AT_LOAD_SOURCE).unwrap();
        let out = dir.join(format!("libat_load_{self:?}.so").to_lowercase());
        let cc = std::env::var("CC").unwrap_or_default();
        let mut words = cc.split_whitespace();
        let program = words.next().unwrap_or("cc");
        let built = Command::new(program)
            .args(words)
            .args(["-std=c11", "-Wall", "-Werror", "-shared", "-fPIC", self.define(), "-o"])
            .arg(&out)
            .arg(&source)
            .output()
            .expect("run the C compiler (Debian: apt-get install gcc, or set CC)");
        assert!(built.status.success(), "cc: {}", String::from_utf8_lossy(&built.stderr));
        out
    }
}

async fn get(agent: &Agent, path: &str) -> (StatusCode, Value) {
    let r = Client::new().get(agent.url(path)).send().await.expect("the agent answers");
    (r.status(), r.json().await.expect("JSON"))
}

/// The entry of `selector` in `GET /v1/devices`.
async fn selector(agent: &Agent, selector: &str) -> Value {
    let (_, list) = get(agent, "/v1/devices").await;
    let found = list["selectors"].as_array().and_then(|s| s.iter().find(|s| s["selector"] == selector).cloned());
    found.unwrap_or_else(|| panic!("{selector} is not listed: {list}"))
}

/// Polls `GET /v1/devices` (with a deadline) until `selector` is in `state`.
async fn await_state(agent: &Agent, wanted: &str, state: &str) -> Value {
    let end = Instant::now() + DEADLINE;
    loop {
        let entry = selector(agent, wanted).await;
        if entry["state"] == state {
            return entry;
        }
        assert!(Instant::now() < end, "{wanted} is not {state}: {entry}\n{}", agent.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One capture with the simulated reader through the legacy interface.
async fn legacy_template(agent: &Agent) -> String {
    let r = Client::new().post(agent.url("/legacy/GetTemplate")).send().await.expect("the agent answers");
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

/// The agent with `plugin` beside `sim:fingerprint` serves, degraded, and lists
/// the plugin failed with `reason`; the simulated reader captures.
async fn serves_beside(plugin: &Path, reason: &str) {
    let device = format!("plugin:{}", plugin.display());
    let agent = Agent::start(&["--device", &device, "--device", "sim:fingerprint"]).await;

    let (status, health) = get(&agent, "/v1/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!((health["devices"].as_u64(), health["devices_ready"].as_u64()), (Some(1), Some(1)), "{health}");
    assert_eq!(health["missing"][0]["selector"], device.as_str(), "{health}");
    assert_eq!(health["missing"][0]["state"], "failed", "{health}");

    let failed = selector(&agent, &device).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    let why = failed["reason"].as_str().unwrap_or_default();
    assert!(why.contains(reason), "{device}: expected {reason:?} in {failed}");
    assert!(failed["next_retry"].is_string() && failed["failures"].as_u64() >= Some(1), "{failed}");
    assert_eq!(failed["devices"], json!([]), "{failed}");
    assert_eq!(selector(&agent, "sim:fingerprint").await["state"], "ready");

    let template = legacy_template(&agent).await;
    assert_ne!(template.trim(), "-1", "{device}: the simulated reader did not capture\n{}", agent.log());
    let log = agent.log();
    assert!(log.contains("the device stays failed, trying again in"), "{log}");
}

#[tokio::test]
async fn a_plugin_the_loader_refuses_leaves_the_seat_serving() {
    for (broken, reason) in [
        (Broken::WrongAbi, "ABI version 999, this agent speaks 1"),
        (Broken::ShortStruct, "descriptor struct_size 8"),
        (Broken::NoEntry, "no `examgate_plugin_entry` symbol"),
        (Broken::NullDescriptor, "examgate_plugin_entry returned NULL"),
        (Broken::MissingOps, "libbroken_missing_ops.so: "),
    ] {
        serves_beside(&broken.path(), reason).await;
    }
    let dir = tempfile::tempdir().unwrap();
    serves_beside(&dir.path().join("libnot_installed_yet.so"), "cannot open shared object file").await;
}

#[tokio::test]
async fn a_plugin_that_crashes_or_hangs_while_loading_leaves_the_seat_serving() {
    let dir = tempfile::tempdir().unwrap();
    for kind in [AtLoad::Segfault, AtLoad::Abort, AtLoad::Exit, AtLoad::Hang] {
        serves_beside(&kind.build(dir.path()), kind.reason()).await;
    }
}

/// The plugins whose defect is in an operation load fine: their selector is
/// ready, and their fault costs one call later (agent_broken_plugins.rs).
#[tokio::test]
async fn a_plugin_that_fails_only_in_an_operation_loads_at_start() {
    let plugins: Vec<PathBuf> = [Broken::Segfault, Broken::Abort, Broken::Exit, Broken::Hang, Broken::BadScore]
        .iter()
        .map(|b| b.path())
        .chain([examgate_e2e::panicking_plugin()])
        .collect();
    for plugin in plugins {
        let device = format!("plugin:{}", plugin.display());
        let agent = Agent::start(&["--device", &device, "--device", "sim:fingerprint"]).await;
        let entry = await_state(&agent, &device, "ready").await;
        assert_eq!(entry["devices"].as_array().map(Vec::len), Some(1), "{entry}");
        let (status, health) = get(&agent, "/v1/health").await;
        assert_eq!((status, health["status"].as_str()), (StatusCode::OK, Some("ok")), "{health}");
        // The example and panicking plugins call their reader sim-fp-0 too.
        let sim = selector(&agent, "sim:fingerprint").await["devices"][0].clone();
        let r = Client::new()
            .post(agent.url("/v1/fingerprint/template"))
            .json(&json!({"device": sim}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{device}");
    }
}

/// A vendor copies the new file beside the old one and renames it over, as
/// package managers do.
fn replace(path: &Path, with: &Path) {
    let staged = path.with_extension("so.new");
    std::fs::copy(with, &staged).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

#[tokio::test]
async fn replacing_the_broken_file_makes_the_device_ready_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let crashing = dir.path().join("libvendor_fp.so");
    std::fs::copy(AtLoad::Segfault.build(dir.path()), &crashing).unwrap();
    let missing = dir.path().join("libvendor_late.so");
    let (crashing_sel, missing_sel) =
        (format!("plugin:{}", crashing.display()), format!("plugin:{}", missing.display()));
    let agent =
        Agent::start(&["--device", &crashing_sel, "--device", &missing_sel, "--device", "sim:fingerprint"]).await;
    assert!(selector(&agent, &crashing_sel).await["reason"].as_str().unwrap().contains("SIGSEGV"));
    assert!(selector(&agent, &missing_sel).await["reason"].as_str().unwrap().contains("cannot open"));
    let (events, _) = tokio_tungstenite::connect_async(agent.ws_url("/v1/events")).await.expect("the event stream");
    let mut events = events.map(|m| serde_json::from_str::<Value>(m.unwrap().to_text().unwrap()).unwrap());

    // Replaced by another broken file: tried at once, announced for the new reason.
    replace(&crashing, &Broken::WrongAbi.path());
    let failed = tokio::time::timeout(DEADLINE, async {
        loop {
            let e = events.next().await.expect("the stream stays open");
            if e["type"] == "device_failed" && e["device"] == crashing_sel.as_str() {
                return e;
            }
        }
    })
    .await
    .expect("device_failed within the deadline");
    assert!(failed["reason"].as_str().unwrap().contains("ABI version 999"), "{failed}");
    assert!(failed["next_retry"].is_string(), "{failed}");

    // The working plugin, in place of the broken one and where none was.
    replace(&crashing, &examgate_e2e::rust_plugin());
    std::fs::copy(examgate_e2e::rust_plugin(), &missing).unwrap();
    for wanted in [&crashing_sel, &missing_sel] {
        let ready = await_state(&agent, wanted, "ready").await;
        assert_eq!(ready["failures"], 0, "{ready}");
        let id = ready["devices"][0].as_str().expect("a device").to_owned();
        // The example plugin starts with no finger; its simulation hooks place one.
        let r = Client::new()
            .post(agent.url(&format!("/v1/sim/{id}/command")))
            .json(&json!({"command": "finger 1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{id}");
        let r = Client::new()
            .post(agent.url("/v1/fingerprint/template"))
            .json(&json!({"device": id}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{id}: {}", r.text().await.unwrap());
    }
    let (_, health) = get(&agent, "/v1/health").await;
    assert_eq!((health["status"].as_str(), health["devices"].as_u64()), (Some("ok"), Some(3)), "{health}");
    assert!(agent.log().contains("the plugin's file changed; loading it now"), "{}", agent.log());
}

#[tokio::test]
async fn a_failed_plugin_reaches_the_console_as_one_device_fault_alert() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("centre");
    std::fs::create_dir_all(&data).unwrap();
    add_users(&data);
    let centre = Centre::serve(&data).await;
    let console = centre.console().await;
    let state = dir.path().join("pc-7");
    let key = centre.enrol(&state, "02:00:00:00:13:07");
    console.approve("7", &key, "seat").await;

    let plugin = format!("plugin:{}", Broken::WrongAbi.path().display());
    let link_dir = state.display().to_string();
    let agent = Agent::start(&["--link-dir", &link_dir, "--device", &plugin, "--device", "sim:fingerprint"]).await;
    let _link = LinkRun::start(&state, &agent.url(""));

    let is_fault = |a: &&Value| a["kind"] == "device_fault" && a["seat"] == "7";
    let end = Instant::now() + PATIENCE;
    let alert = loop {
        let (status, alerts) = console.get("/api/v1/alerts").await;
        assert_eq!(status, 200, "{alerts}");
        if let Some(a) = alerts.as_array().and_then(|a| a.iter().find(is_fault)) {
            break a.clone();
        }
        assert!(Instant::now() < end, "no device_fault alert: {alerts}\n{}", agent.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let message = alert["message"].as_str().unwrap();
    assert!(message.contains(&plugin) && message.contains("ABI version 999"), "{alert}");

    // The seat map shows the failed plugin of seat 7; heartbeats go on
    // reporting it, and the alert stays the only one for that device.
    let seat = |map: &Value| map["seats"].as_array().and_then(|s| s.iter().find(|s| s["seat"] == "7").cloned());
    let (_, map) = console.get("/api/v1/seats").await;
    let first_seen = seat(&map).and_then(|s| s["last_seen"].as_i64()).expect("seat 7 was seen");
    let end = Instant::now() + PATIENCE;
    loop {
        let (_, map) = console.get("/api/v1/seats").await;
        let s = seat(&map).expect("seat 7");
        let later = s["last_seen"].as_i64().is_some_and(|t| t >= first_seen + 3_000);
        if later {
            let devices = s["devices"].as_array().cloned().unwrap_or_default();
            let failed = devices.iter().find(|d| d["id"] == plugin.as_str()).expect("the plugin in the seat map");
            assert_eq!((failed["state"].as_str(), failed["class"].as_str()), (Some("failed"), Some("plugin")));
            break;
        }
        assert!(Instant::now() < end, "seat 7 sent no heartbeats for 3 s: {map}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, alerts) = console.get("/api/v1/alerts").await;
    assert_eq!(alerts.as_array().unwrap().iter().filter(is_fault).count(), 1, "{alerts}");
    let (_, audit) = console.get("/api/v1/audit").await;
    assert!(audit.to_string().contains("alert device_fault: seat 7"), "not audited: {audit}");
}

#[test]
fn plugin_check_still_refuses_a_plugin_the_seat_would_serve_around() {
    let dir = tempfile::tempdir().unwrap();
    for plugin in [Broken::WrongAbi.path(), AtLoad::Segfault.build(dir.path()), dir.path().join("libmissing.so")] {
        let out = Command::new(examgate_e2e::agent_binary())
            .args(["plugin", "check"])
            .arg(&plugin)
            .env("RUST_LOG", "off")
            .output()
            .expect("run examgate-agent plugin check");
        assert!(!out.status.success(), "{} passed the check", plugin.display());
        let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        let file = plugin.file_name().unwrap().to_string_lossy().into_owned();
        assert!(said.contains(&format!("plugin {file}: ")), "{said}");
    }
}

#[test]
fn a_selector_that_cannot_be_parsed_still_stops_run() {
    let run = |args: &[&str]| {
        Command::new(examgate_e2e::agent_binary())
            .args(["run", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "off")
            .output()
            .expect("run examgate-agent")
    };
    let out = run(&["--device", "plgin:/x", "--device", "sim:fingerprint"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(r#"unknown device selector "plgin:/x"; expected sim:fingerprint"#), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "devices = [\"sim:fingerprint\", \"plgin:/x\"]\n").unwrap();
    let out = run(&["--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("devices[1]") && stderr.contains(r#"unknown device selector "plgin:/x""#), "{stderr}");
}
