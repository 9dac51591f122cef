//! Issue 7's delivery promise, shown the hard way: a real server and a real
//! agent under load (`examgate-agent link load` queues numbered answers
//! as fast as it can and delivers them), one or the other killed with
//! SIGKILL at random moments, many times, restarted each time. At the end
//! every item the agent ever said it queued is on the server, every number
//! from the first to the last is there exactly once, nothing else is, and
//! the audit chain is intact. Once with the server on its SQLite file, once
//! on a throwaway PostgreSQL.
//!
//! "Random moments" are random counts of items queued since the last kill,
//! read from the agent's output, so the test waits on events, not on time.
//! The seed is printed; `LINK_SIGKILL_SEED=N` replays a run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use examgate_e2e::artifact;
use examgate_e2e::centre::{add_users_at, log_in_both, server_cli_at, start_server};

/// The server tests' throwaway PostgreSQL (std and tempfile only); its async
/// entry point is for the server's tests, unused here.
#[path = "../../server/tests/common/postgres.rs"]
#[allow(dead_code)]
mod postgres;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const ITEMS_PER_ROUND: i64 = 60;
/// Generous: a round normally takes well under a second.
const PATIENCE: Duration = Duration::from_secs(120);

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % n
    }
}

fn start_load(state: &Path, items: i64) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(artifact("examgate-agent"))
        .args(["link", "load", "--max-backoff-ms", "200", "--items", &items.to_string(), "--state-dir"])
        .arg(state)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start examgate-agent link load");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_and_nothing_stored_twice_when_agent_or_server_die_by_sigkill() {
    sigkill_rounds(None, 24).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_with_the_server_on_postgresql() {
    let url = tokio::task::spawn_blocking(postgres::fresh_database_blocking).await.unwrap();
    sigkill_rounds(Some(&url), 12).await;
}

async fn sigkill_rounds(database: Option<&str>, rounds: usize) {
    let seed = std::env::var("LINK_SIGKILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    println!("LINK_SIGKILL_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("server");
    let state: PathBuf = dir.path().join("agent");
    add_users_at(&data, database);

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("https://127.0.0.1:{port}");
    let (mut server, pin) = start_server(&data, database, port).await;
    let enrolled = std::process::Command::new(artifact("examgate-agent"))
        .args(["enrol", "--server", &base, "--pin", &pin, "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(enrolled.status.success(), "enrol: {}", String::from_utf8_lossy(&enrolled.stderr));
    let key = std::fs::read_to_string(state.join("link.toml")).unwrap();
    let key = key.lines().find_map(|l| l.strip_prefix("key_id = ")).unwrap().trim_matches('"').to_owned();
    let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let cookie = log_in_both(&http, &base).await;
    let approved = http
        .post(format!("{base}/api/v1/seats/1/approve"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({"key_id": key}))
        .send()
        .await
        .unwrap();
    assert!(approved.status().is_success(), "approve: {}", approved.text().await.unwrap());

    // Every number the agent said it queued, and how many kills of each.
    let mut said_queued = BTreeMap::new();
    let mut kills = [0usize; 2];
    let mut target = 0;
    let mut agent: Option<(Child, Lines<BufReader<ChildStdout>>)> = None;
    for round in 0..rounds {
        target += ITEMS_PER_ROUND;
        // A fresh agent each round (the last one may have finished or been killed).
        if let Some((mut old, _)) = agent.take() {
            let _ = old.kill().await;
        }
        agent = Some(start_load(&state, target));
        let (child, lines) = agent.as_mut().unwrap();
        let victim_is_server = rng.below(2) == 1;
        let after = rng.below(ITEMS_PER_ROUND as u64 - 5) + 1;
        let mut seen = 0;
        let finished = loop {
            let line = tokio::time::timeout(PATIENCE, lines.next_line()).await.expect("agent output").unwrap();
            let Some(line) = line else { break true };
            if line == "drained" {
                break true;
            }
            if let Some(rest) = line.strip_prefix("queued ") {
                let n: i64 = rest.split_whitespace().next().unwrap().parse().unwrap();
                said_queued.insert(n, rest.split_whitespace().nth(1).unwrap().to_owned());
                seen += 1;
                if seen >= after {
                    break false;
                }
            }
        };
        if finished {
            continue;
        }
        if victim_is_server {
            server.kill().await.unwrap();
            kills[1] += 1;
            // Back on the same port and data; the agent keeps queueing and retrying meanwhile.
            server = start_server(&data, database, port).await.0;
        } else {
            child.kill().await.unwrap();
            kills[0] += 1;
        }
        println!(
            "round {round}: killed the {} after {after} items queued",
            if victim_is_server { "server" } else { "agent" }
        );
    }
    // Let the last agent (or a fresh one) finish everything.
    if let Some((mut old, _)) = agent.take() {
        let _ = old.kill().await;
    }
    let (mut last, mut lines) = start_load(&state, target);
    loop {
        match tokio::time::timeout(PATIENCE, lines.next_line()).await.expect("the agent drains").unwrap() {
            Some(line) if line == "drained" => break,
            Some(line) => {
                if let Some(rest) = line.strip_prefix("queued ") {
                    said_queued.insert(rest.split_whitespace().next().unwrap().parse().unwrap(), String::new());
                }
            }
            None => panic!("the agent stopped before draining its outbox"),
        }
    }
    let _ = last.wait().await;

    let rows: Vec<serde_json::Value> = http
        .get(format!("{base}/api/v1/deliveries?limit=10000"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut stored: BTreeMap<i64, usize> = BTreeMap::new();
    for row in &rows {
        let meta: serde_json::Value = serde_json::from_str(row["metadata"].as_str().unwrap()).unwrap();
        let q = meta["answers"][0]["question"].as_str().unwrap();
        *stored.entry(q.trim_start_matches('q').parse().unwrap()).or_default() += 1;
    }
    let twice: Vec<_> = stored.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    let lost: Vec<_> = said_queued.keys().filter(|n| !stored.contains_key(n)).collect();
    assert!(lost.is_empty(), "queued but lost: {lost:?}");
    let expected: Vec<i64> = (0..target).collect();
    assert_eq!(stored.keys().copied().collect::<Vec<_>>(), expected, "the server holds exactly items 0..{target}");
    assert_eq!(rows.len() as i64, target);
    println!(
        "{} rounds: {} agent kills, {} server kills; {} items queued, {} stored, each once",
        rounds,
        kills[0],
        kills[1],
        said_queued.len(),
        rows.len()
    );
    assert!(kills[0] + kills[1] >= rounds / 2, "too few kills happened: {kills:?}");

    server.kill().await.unwrap();
    let verdict = server_cli_at(&data, database, &["audit", "verify"], "");
    assert!(verdict.contains("audit chain intact"), "{verdict}");
}
