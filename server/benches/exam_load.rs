//! The exam under load (`make bench-exam`, issue 14): in one run,
//!
//! - the synchronised start: 1,000 seats enrolled, each candidate looked up at
//!   their seat (claimed) and the examiner called, then every candidate
//!   admitted at once through the console API (`POST /api/v1/roster/{b}/admit`,
//!   64 requests in flight), which draws each paper; each seat, as soon as its
//!   admission answers, fetches the manifest, checks the server's signature,
//!   downloads the package and checks its size and SHA-256 and every file
//!   (the agent's own code, `examgate-fleet exam`). Time from the start to each
//!   package at its seat: p50, p99, max;
//! - seats taking the exam (`EXAM_SIZES`, default `2000,5000,10000`): an
//!   answer every 20-30 s each as an `ExamAnswer` delivery with its
//!   idempotency key, a heartbeat every 5 s, for `EXAM_SECS` (default 60):
//!   answer p50/p99 and the server's peak RSS;
//! - saturated answers (64 workers back to back over 256 admitted seats)
//!   against a bare axum handler on the deliveries path over the same TLS.
//!
//! On SQLite and on PostgreSQL with fsync, synchronous commit and full-page
//! writes on, as a centre runs it (`EXAM_DATABASES`, default `sqlite,postgres`).
//! The bank is the simulator's (`examgate-sim bank`) imported with
//! `examgate-server bank import`; the roster is written here (N bookings of
//! C1 Subject One, the simulator's photo and template for every row).

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

const EXAM: &str = "c1-subject-one";

fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("bench path");
    exe.parent().and_then(|d| d.parent()).expect("target/release/deps/<bench>").to_owned()
}

fn binary(name: &str) -> PathBuf {
    let p = release_dir().join(name);
    assert!(p.exists(), "{} is missing: make bench-exam builds it", p.display());
    p
}

/// Today on this machine's clock, as the server reads it (`[roster] utc_offset` defaults to it).
fn today() -> String {
    let out = Command::new("date").arg("+%F").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The simulator's bank and a roster of `n` bookings `B1..Bn`, all today, for C1 Subject One.
fn inputs(tmp: &Path, n: usize) -> (PathBuf, PathBuf) {
    let bank = tmp.join("bank");
    if !bank.exists() {
        run(Command::new(binary("examgate-sim")).arg("bank").arg("--out").arg(&bank));
        run(Command::new(binary("examgate-sim"))
            .args(["roster", "--date", &today(), "--count", "1", "--out"])
            .arg(tmp.join("one")));
    }
    let dir = tmp.join(format!("roster-{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(tmp.join("one/photos/1.jpg"), dir.join("photo.jpg")).unwrap();
    std::fs::copy(tmp.join("one/templates/1.iso"), dir.join("finger.iso")).unwrap();
    let today = today();
    let mut csv = String::from("booking_number,id_number,name,session,language,photo,templates,exam\n");
    for i in 1..=n {
        // 17 digits (region, a birth date from the index, 3 digits) and the MOD 11-2 check.
        let body = format!(
            "110105{}{:02}{:02}{:03}",
            1970 + (i / 1000) / 28 % 30,
            1 + (i / 1000) / 28 / 30 % 12,
            1 + (i / 1000) % 28,
            i % 1000
        );
        const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = body.bytes().zip(W).map(|(b, w)| u32::from(b - b'0') * w).sum();
        let check = b"10X98765432"[(sum % 11) as usize] as char;
        csv.push_str(&format!("B{i},{body}{check},Candidate {i},{today} 09:00,en,photo.jpg,finger.iso,{EXAM}\n"));
    }
    std::fs::write(dir.join("roster.csv"), csv).unwrap();
    (bank, dir.join("roster.csv"))
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

/// A server with the simulator's bank, a roster of `n` and the console's two users.
fn start_server(tmp: &Path, data: &Path, database: &str, n: usize) -> Server {
    let (bank, roster) = inputs(tmp, n);
    let server = || {
        let mut c = Command::new(binary("examgate-server"));
        c.args(["--database", database, "--data-dir"]).arg(data);
        c
    };
    std::fs::create_dir_all(data).unwrap();
    run(server().args(["bank", "import"]).arg(&bank));
    let mut import = Command::new(binary("examgate-server"));
    import.args(["roster", "import"]).arg(&roster).args(["--database", database, "--data-dir"]).arg(data);
    run(&mut import);
    for (user, role) in [("examiner1", "examiner"), ("invigilator1", "invigilator")] {
        let mut c = server()
            .args(["user", "add", user, "--role", role])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(b"bench-password\n").unwrap();
        assert!(c.wait().unwrap().success());
    }
    let mut child = server()
        .args(["serve", "--listen", "127.0.0.1:0"])
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

fn fleet(url: &str, pin: &str, work: &Path, args: &[&str]) -> Value {
    let out = Command::new(binary("examgate-fleet"))
        .arg("exam")
        .args(["--server", url, "--pin", pin, "--json", "--work-dir"])
        .arg(work)
        .args(["--examiner", "examiner1:bench-password", "--invigilator", "invigilator1:bench-password"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "fleet exam {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("fleet output ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// The baseline: a deliveries handler that does no work, over the same TLS.
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
                examgate_protocol::link::paths::DELIVERIES,
                post(|| async {
                    (
                        [("content-type", "application/json")],
                        r#"{"idempotency_key":"exam-bare-1","stored":"new","received_at":"2026-01-01T00:00:00.000Z"}"#,
                    )
                }),
            );
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("https://{}", rx.recv().unwrap()), pin)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.into())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Db {
    Sqlite,
    /// fsync, synchronous_commit and full-page writes on, as a centre runs it.
    Postgres,
}

impl Db {
    fn parse(s: &str) -> Db {
        match s {
            "sqlite" => Db::Sqlite,
            "postgres" => Db::Postgres,
            _ => panic!("EXAM_DATABASES: sqlite or postgres, not {s:?}"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres (fsync on)",
        }
    }

    fn url(self, data: &Path) -> String {
        match self {
            Db::Sqlite => format!("sqlite:{}", data.join("examgate.db").display()),
            Db::Postgres => postgres::fresh_durable_database(),
        }
    }
}

fn ms(v: &Value) -> String {
    format!(
        "{:.1} / {:.1} / {:.1}",
        v["p50_ms"].as_f64().unwrap(),
        v["p99_ms"].as_f64().unwrap(),
        v["max_ms"].as_f64().unwrap()
    )
}

fn main() {
    let sizes: Vec<usize> = env_or("EXAM_SIZES", "2000,5000,10000")
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("EXAM_SIZES: numbers"))
        .collect();
    let start_seats: usize = env_or("EXAM_START_SEATS", "1000").parse().expect("EXAM_START_SEATS: a number");
    let secs = env_or("EXAM_SECS", "60");
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("seats");
    println!("{} cores, load average {} at the start", cores(), load_average());

    let mut rows = Vec::new();
    // Saturated answers: 64 workers back to back, 10 s, over 256 seats on 64 connections.
    let saturate =
        ["--seats", "256", "--clients", "64", "--saturate", "64", "--duration-secs", "10", "--warmup-secs", "1"];
    let (bare_url, bare_pin) = start_bare(&tmp.path().join("bare"));
    let mut bare = saturate.to_vec();
    bare.push("--bare");
    let b = fleet(&bare_url, &bare_pin, &work, &bare);
    let bare_rate = b["answers"]["per_sec"].as_f64().unwrap();
    println!("bare axum handler over TLS: {bare_rate:.0} answers/s");
    rows.push(format!(
        "| (bare handler) | saturated, 64 workers | {bare_rate:.0} answers/s | | | | {} |",
        load_average()
    ));

    for db in env_or("EXAM_DATABASES", "sqlite,postgres").split(',').map(str::trim).map(Db::parse) {
        let label = db.label();

        // The synchronised start.
        let data = tmp.path().join(format!("{label}-start"));
        let url = db.url(&data);
        let server = start_server(tmp.path(), &data, &url, start_seats);
        let (stop, peak) = rss_sampler(server.child.id());
        let n = start_seats.to_string();
        let r = fleet(&server.url, &server.pin, &work, &["--seats", &n, "--duration-secs", "0"]);
        stop.store(true, Ordering::Relaxed);
        let rss = peak.join().unwrap();
        drop(server);
        let (admit, at_seat) = (&r["admit"], &r["package_at_seat"]);
        println!(
            "{label}, start of {n}: admitted {} ({} failed) in {:.2} s, admit p50/p99/max {} ms; packages at seat {} ({} failed, first: {}), from the start p50/p99/max {} ms; {:.0} bytes per package; RSS {rss:.0} MiB",
            admit["count"],
            admit["errors"],
            r["admitted_all_secs"].as_f64().unwrap(),
            ms(admit),
            at_seat["count"],
            at_seat["errors"],
            at_seat["first_error"],
            ms(at_seat),
            r["package_bytes"].as_f64().unwrap()
        );
        rows.push(format!(
            "| {label} | synchronised start, {n} admitted at once ({:.2} s to admit all) | {} packages at seat, {} failed; admit p50/p99/max {} ms | package at seat from the start, p50 / p99 / max: {} ms | | {rss:.0} | {} |",
            r["admitted_all_secs"].as_f64().unwrap(),
            at_seat["count"],
            at_seat["errors"].as_u64().unwrap() + admit["errors"].as_u64().unwrap(),
            ms(admit),
            ms(at_seat),
            load_average()
        ));

        // Saturated answers against the bare handler.
        let data = tmp.path().join(format!("{label}-saturated"));
        let url = db.url(&data);
        let server = start_server(tmp.path(), &data, &url, 256);
        let r = fleet(&server.url, &server.pin, &work, &saturate);
        drop(server);
        let rate = r["answers"]["per_sec"].as_f64().unwrap();
        println!(
            "{label}: {rate:.0} answers/s saturated ({:.0}% of the bare handler), {}",
            100.0 * rate / bare_rate,
            ms(&r["answers"])
        );
        rows.push(format!(
            "| {label} | saturated, 64 workers | {rate:.0} answers/s ({:.0}% of bare), {} failed | {} | | | {} |",
            100.0 * rate / bare_rate,
            r["answers"]["errors"],
            ms(&r["answers"]),
            load_average()
        ));

        // Seats taking the exam on schedule.
        for &n in &sizes {
            let data = tmp.path().join(format!("{label}-{n}"));
            let url = db.url(&data);
            let server = start_server(tmp.path(), &data, &url, n);
            let (stop, peak) = rss_sampler(server.child.id());
            let seats = n.to_string();
            let r = fleet(
                &server.url,
                &server.pin,
                &work,
                &["--seats", &seats, "--duration-secs", &secs, "--warmup-secs", "30"],
            );
            stop.store(true, Ordering::Relaxed);
            let rss = peak.join().unwrap();
            drop(server);
            let (an, hb) = (&r["answers"], &r["heartbeats"]);
            println!(
                "{label}, {n} seats: answers {} ok / {} failed ({}), {:.0}/s, p50/p99/max {} ms; heartbeats {} failed, p50/p99/max {} ms; admission of all {:.1} s, packages p99 {:.0} ms; server peak RSS {rss:.0} MiB",
                an["count"],
                an["errors"],
                an["first_error"],
                an["per_sec"].as_f64().unwrap(),
                ms(an),
                hb["errors"],
                ms(hb),
                r["admitted_all_secs"].as_f64().unwrap(),
                r["package_at_seat"]["p99_ms"].as_f64().unwrap()
            );
            rows.push(format!(
                "| {label} | {n} seats answering every 20-30 s, heartbeat every 5 s, {secs} s | {:.0} answers/s, {} failed; heartbeats {} failed | {} | {} | {rss:.0} | {} |",
                an["per_sec"].as_f64().unwrap(),
                an["errors"],
                hb["errors"],
                ms(an),
                ms(hb),
                load_average()
            ));
        }
    }
    println!(
        "\n| database | load | result | answer (or as named) p50 / p99 / max ms | heartbeat p50 / p99 / max ms | server peak RSS MiB | load average |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    println!("\n{} cores, load average {} at the end", cores(), load_average());
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
