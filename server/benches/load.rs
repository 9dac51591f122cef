//! The server under a fleet of seats (`make bench-server`): in one run,
//!
//! - heartbeat throughput of the real server (signature, clock, nonce,
//!   binding, seat claim) against a bare axum handler over the same TLS that
//!   does no work, both saturated by `examgate-fleet --saturate`;
//! - p50/p99 heartbeat and snapshot latency, and the server's peak RSS, with
//!   10,000 and 20,000 seats on schedule (a heartbeat every 5 s, a snapshot
//!   every 2 minutes), on SQLite and on PostgreSQL;
//! - on PostgreSQL, the statements and commits the server sends per
//!   heartbeat (`pg_stat_statements`, `pg_stat_database`).
//!
//! PostgreSQL runs as a centre runs it: fsync, synchronous commit and
//! full-page writes on. `postgres-fsync-off` (the tests' settings) is an
//! extra saturated row, labelled as such.
//!
//! Latencies are measured by the fleet, on the same two cores as the server.
//! `LOAD_SECS` sets how long each scheduled run lasts (default 60),
//! `LOAD_SIZES` the seat counts (default `10000,20000`), `LOAD_DATABASES`
//! which databases (default `sqlite,postgres,postgres-fsync-off`). More
//! than 10,000 seats share connections two to a PC's client: this machine
//! allows 20,000 open files per process. `LOAD_SERVER` names another
//! `examgate-server` binary to run instead (a before/after comparison).

#[path = "../tests/common/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use examgate_server::config::Config;
use serde_json::Value;

fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("bench path");
    exe.parent().and_then(|d| d.parent()).expect("target/release/deps/<bench>").to_owned()
}

/// `LOAD_SERVER` may name another server binary, to compare two builds.
fn binary(name: &str) -> PathBuf {
    let p = match std::env::var_os("LOAD_SERVER") {
        Some(p) if name == "examgate-server" => PathBuf::from(p),
        _ => release_dir().join(name),
    };
    assert!(p.exists(), "{} is missing: cargo build --release -p examgate-server -p examgate-fleet", p.display());
    p
}

struct Server {
    child: Child,
    url: String,
    pin: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(data: &Path, database: &str) -> Server {
    for (user, role) in [("examiner1", "examiner"), ("invigilator1", "invigilator")] {
        let mut c = Command::new(binary("examgate-server"))
            .args(["user", "add", user, "--role", role, "--database", database, "--data-dir"])
            .arg(data)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(b"bench-password\n").unwrap();
        assert!(c.wait().unwrap().success());
    }
    let mut child = Command::new(binary("examgate-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", database, "--data-dir"])
        .arg(data)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let (mut url, mut pin) = (String::new(), String::new());
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            url = rest.split('/').take(3).collect::<Vec<_>>().join("/");
        }
        if let Some(rest) = line.split("certificate pin: ").nth(1) {
            pin = rest.split_whitespace().next().unwrap().to_owned();
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Server { child, url, pin }
}

/// Samples a process's resident memory every 200 ms while a run lasts; the peak in MiB.
fn rss_sampler(pid: u32) -> (Arc<AtomicBool>, std::thread::JoinHandle<f64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let handle = std::thread::spawn(move || {
        let peak = AtomicU64::new(0);
        while !s.load(Ordering::Relaxed) {
            if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                && let Some(kb) = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))
            {
                let kb: u64 = kb.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
                peak.fetch_max(kb, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        peak.load(Ordering::Relaxed) as f64 / 1024.0
    });
    (stop, handle)
}

fn fleet(url: &str, pin: &str, args: &[&str]) -> Value {
    let out = Command::new(binary("examgate-fleet"))
        .args(["--server", url, "--pin", pin, "--json"])
        .args(["--examiner", "examiner1:bench-password", "--invigilator", "invigilator1:bench-password"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "fleet {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("fleet output ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// The baseline: a heartbeat handler that does no work, over the same TLS.
fn start_bare(dir: &Path) -> (String, String) {
    let config = Config::with_data_dir(dir);
    let identity = examgate_server::tls::load_or_create(&config.tls).unwrap();
    let pin = identity.pin.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(tcp.local_addr().unwrap()).unwrap();
            let listener = examgate_server::tls::TlsListener::new(tcp, identity.config).unwrap();
            let app = Router::new().route(
                examgate_protocol::link::paths::HEARTBEAT,
                post(|| async {
                    (
                        [("content-type", "application/json")],
                        r#"{"seat":"X1","server_time":"2026-01-01T00:00:00.000Z"}"#,
                    )
                }),
            );
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("https://{}", rx.recv().unwrap()), pin)
}

/// The 1-minute load average: the machine is shared, and a run under a neighbour's build says so.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}

fn secs() -> String {
    std::env::var("LOAD_SECS").unwrap_or_else(|_| "60".into())
}

/// A database the bench runs against.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Db {
    Sqlite,
    /// fsync, synchronous_commit and full-page writes on, as a centre runs it.
    Postgres,
    /// The tests' settings: an extra row, not a centre's.
    PostgresFsyncOff,
}

impl Db {
    fn parse(s: &str) -> Db {
        match s {
            "sqlite" => Db::Sqlite,
            "postgres" => Db::Postgres,
            "postgres-fsync-off" => Db::PostgresFsyncOff,
            _ => panic!("LOAD_DATABASES: sqlite, postgres or postgres-fsync-off, not {s:?}"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres (fsync on)",
            Db::PostgresFsyncOff => "postgres, fsync off (extra row)",
        }
    }

    fn url(self, data: &Path) -> String {
        match self {
            Db::Sqlite => format!("sqlite:{}", data.join("examgate.db").display()),
            Db::Postgres => {
                let url = postgres::fresh_durable_database();
                postgres::psql(&url, "CREATE EXTENSION pg_stat_statements");
                url
            }
            Db::PostgresFsyncOff => postgres::fresh_database_blocking(),
        }
    }
}

/// Statements (`pg_stat_statements` calls, BEGIN and COMMIT included) and
/// commits PostgreSQL has counted for the database at `url` so far.
fn pg_counts(url: &str) -> (f64, f64) {
    // Backends report their transaction counts when idle, at most once a second.
    std::thread::sleep(Duration::from_millis(2500));
    let out = postgres::psql(
        url,
        "SELECT (SELECT COALESCE(SUM(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid \
         WHERE d.datname = current_database()), \
         (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())",
    );
    let mut f = out.trim().split('|').map(|v| v.parse::<f64>().expect("a count"));
    (f.next().expect("statements"), f.next().expect("commits"))
}

/// Statements and commits per heartbeat in a saturated run on PostgreSQL:
/// the run's counts less those of enrolling the same seats without load.
fn pg_cost(tmp: &Path, saturate: &[&str]) -> (f64, f64) {
    let data = tmp.join("postgres-enrol-only");
    let url = Db::Postgres.url(&data);
    let server = start_server(&data, &url);
    let before = pg_counts(&url);
    let mut enrol_only: Vec<&str> = saturate.iter().copied().take_while(|a| *a != "--duration-secs").collect();
    enrol_only.extend(["--duration-secs", "0", "--warmup-secs", "0"]);
    fleet(&server.url, &server.pin, &enrol_only);
    let after = pg_counts(&url);
    drop(server);
    let enrol = (after.0 - before.0, after.1 - before.1);

    let data = tmp.join("postgres-counted");
    let url = Db::Postgres.url(&data);
    let server = start_server(&data, &url);
    let before = pg_counts(&url);
    let r = fleet(&server.url, &server.pin, saturate);
    let after = pg_counts(&url);
    let sent = r["heartbeats_sent"].as_f64().unwrap();
    ((after.0 - before.0 - enrol.0) / sent, (after.1 - before.1 - enrol.1) / sent)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("LOAD_SIZES")
        .unwrap_or_else(|_| "10000,20000".into())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("LOAD_SIZES: numbers"))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    println!("{} cores, load average {} at the start", cores(), load_average());

    // Throughput: 64 workers back to back, 10 s, 256 seats over 64 connections.
    let saturate = ["--seats", "256", "--clients", "64", "--saturate", "64", "--duration-secs", "10"];
    let (bare_url, bare_pin) = start_bare(&tmp.path().join("bare"));
    let mut no_enrol = saturate.to_vec();
    no_enrol.push("--no-enrol");
    let bare = fleet(&bare_url, &bare_pin, &no_enrol);
    let bare_rate = bare["heartbeats"]["per_sec"].as_f64().unwrap();
    println!("bare axum handler over TLS: {bare_rate:.0} heartbeats/s");

    let mut rows = Vec::new();
    let mut costs = Vec::new();
    let kinds = std::env::var("LOAD_DATABASES").unwrap_or_else(|_| "sqlite,postgres,postgres-fsync-off".into());
    for db in kinds.split(',').map(str::trim).map(Db::parse) {
        let label = db.label();
        let data = tmp.path().join(format!("{label}-throughput"));
        let url = db.url(&data);
        let server = start_server(&data, &url);
        let r = fleet(&server.url, &server.pin, &saturate);
        let rate = r["heartbeats"]["per_sec"].as_f64().unwrap();
        println!(
            "{label}: {rate:.0} heartbeats/s saturated ({:.0}% of the bare handler), p50 {:.2} ms, p99 {:.2} ms, {} errors",
            100.0 * rate / bare_rate,
            r["heartbeats"]["p50_ms"].as_f64().unwrap(),
            r["heartbeats"]["p99_ms"].as_f64().unwrap(),
            r["heartbeats"]["errors"]
        );
        rows.push(format!(
            "| {label} | saturated, 64 workers | {rate:.0}/s ({:.0}% of bare {bare_rate:.0}/s), {} failed | {:.2} | {:.2} | | | {} |",
            100.0 * rate / bare_rate,
            r["heartbeats"]["errors"],
            r["heartbeats"]["p50_ms"].as_f64().unwrap(),
            r["heartbeats"]["p99_ms"].as_f64().unwrap(),
            load_average()
        ));
        drop(server);
        if db == Db::Postgres {
            let (statements, commits) = pg_cost(tmp.path(), &saturate);
            println!("{label}: {statements:.2} statements and {commits:.2} commits per heartbeat (saturated)");
            costs.push(format!("| {label} | {statements:.2} | {commits:.2} |"));
        }
        if db == Db::PostgresFsyncOff {
            continue;
        }

        for &n in &sizes {
            let data = tmp.path().join(format!("{label}-{n}"));
            let url = db.url(&data);
            let server = start_server(&data, &url);
            let (stop, peak) = rss_sampler(server.child.id());
            let seats = n.to_string();
            let secs = secs();
            // One connection per seat up to 10,000; beyond, two seats share one.
            let clients = n.min(n.div_ceil(2).max(10_000)).to_string();
            let r =
                fleet(&server.url, &server.pin, &["--seats", &seats, "--clients", &clients, "--duration-secs", &secs]);
            stop.store(true, Ordering::Relaxed);
            let rss = peak.join().unwrap();
            let hb = &r["heartbeats"];
            let sn = &r["snapshots"];
            println!(
                "{label}, {n} seats: heartbeats {} ok / {} failed, {:.0}/s, p50 {:.2} ms, p99 {:.2} ms; snapshots {} ok / {} failed, p50 {:.2} ms, p99 {:.2} ms; server peak RSS {rss:.0} MiB; enrolment {:.0} s",
                hb["count"],
                hb["errors"],
                hb["per_sec"].as_f64().unwrap(),
                hb["p50_ms"].as_f64().unwrap(),
                hb["p99_ms"].as_f64().unwrap(),
                sn["count"],
                sn["errors"],
                sn["p50_ms"].as_f64().unwrap(),
                sn["p99_ms"].as_f64().unwrap(),
                r["enrol_secs"].as_f64().unwrap()
            );
            rows.push(format!(
                "| {label} | {n} seats on schedule ({clients} connections), {secs} s | {:.0}/s, {} failed; snapshots {} failed | {:.2} | {:.2} | {:.2} / {:.2} | {rss:.0} | {} |",
                hb["per_sec"].as_f64().unwrap(),
                hb["errors"],
                sn["errors"],
                hb["p50_ms"].as_f64().unwrap(),
                hb["p99_ms"].as_f64().unwrap(),
                sn["p50_ms"].as_f64().unwrap(),
                sn["p99_ms"].as_f64().unwrap(),
                load_average()
            ));
        }
    }
    println!(
        "\n| database | load | heartbeats | p50 ms | p99 ms | snapshot p50 / p99 ms | server peak RSS MiB | load average |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    if !costs.is_empty() {
        println!("\n| database | statements per heartbeat | commits per heartbeat |");
        println!("|---|---|---|");
        for c in costs {
            println!("{c}");
        }
    }
    println!("\n{} cores, load average {} at the end", cores(), load_average());
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
