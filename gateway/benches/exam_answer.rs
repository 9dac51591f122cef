//! An answer at the agent, page to durable: `PUT /v1/exam/answers/{item}`
//! over HTTP on loopback (keep-alive, as the seat page's fetch) until the
//! agent answers, which it does only after the answer is committed to its
//! exam store (SQLite WAL, `synchronous = FULL`: an fsync) and queued in the
//! outbox (a second commit and fsync). Goal (issue 14): p99 under 20 ms.
//!
//! Baselines in the same run, on the same disk:
//! - `GET /v1/exam/paper`: the same HTTP path with no write;
//! - `one fsync'd commit`: a bare SQLite insert with `synchronous = FULL` in WAL,
//!   what one durable write costs at least here.
//!
//! The paper is a real one: a package (tar) and a manifest signed with a key
//! of the bench's own, checked and unpacked as a seat does.
//!
//! Run: `cargo bench -p examgate-agent --bench exam_answer` (`BENCH_DIR=DIR`
//! puts the stores on another disk; default the system's temp directory).

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use examgate_agent::api::{AppState, Settings, app};
use examgate_agent::devices::{DeviceManager, ManagerOptions};
use examgate_agent::exam::Exam;
use examgate_agent::exam::manifest::{ServerKey, verify};
use examgate_agent::link::outbox::Outbox;
use examgate_protocol::exam::{
    ExamInfo, ItemKind, PackageFile, PackageInfo, PaperChoice, PaperDoc, PaperItem, PaperManifest, TextDir,
};
use ring::signature::{Ed25519KeyPair, KeyPair};
use sha2::{Digest, Sha256};

const ITEMS: usize = 100;
const ANSWERS: usize = 1_000;
const WARMUP: usize = 50;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let at = |q: usize| samples[(samples.len() * q / 100).min(samples.len() - 1)];
    (at(50), at(99), *samples.last().unwrap())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// A signed paper of `ITEMS` single-choice items, installed in an exam in `dir`.
fn installed_exam(dir: &std::path::Path, now: i64) -> Exam {
    let doc = PaperDoc {
        paper_id: "bench".into(),
        exam: ExamInfo {
            id: "c1".into(),
            name: "Subject One".into(),
            minutes: 45,
            pass_score: Some(90.0),
            max_score: 100.0,
        },
        language: "zh-CN".into(),
        dir: TextDir::Ltr,
        items: (1..=ITEMS)
            .map(|n| PaperItem {
                id: format!("q{n}"),
                number: n as u32,
                kind: ItemKind::Single,
                language: "zh-CN".into(),
                dir: TextDir::Ltr,
                prompt: format!("第{n}题"),
                media: Vec::new(),
                choices: ["A", "B", "C", "D"]
                    .iter()
                    .map(|c| PaperChoice { id: (*c).into(), text: format!("选项{c}") })
                    .collect(),
            })
            .collect(),
    };
    let json = serde_json::to_vec(&doc).unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    tar.append_data(&mut header, "paper.json", json.as_slice()).unwrap();
    let package = tar.into_inner().unwrap();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let key = B64.encode(pair.public_key().as_ref());
    let mut m = PaperManifest {
        paper_id: "bench".into(),
        booking_number: "20261125001".into(),
        exam: doc.exam.clone(),
        language: "zh-CN".into(),
        deadline: now + 3_600_000,
        server_time: now,
        package: PackageInfo { size: package.len() as u64, sha256: hex(&Sha256::digest(&package)) },
        files: vec![PackageFile {
            path: "paper.json".into(),
            size: json.len() as u64,
            sha256: hex(&Sha256::digest(&json)),
        }],
        server_key: key.clone(),
        signature: String::new(),
    };
    m.signature = B64.encode(pair.sign(&m.signed_bytes()).as_ref());
    verify(&m, &ServerKey::parse(&key).unwrap()).expect("the manifest verifies");
    let outbox = Outbox::open(dir).unwrap();
    let exam = Exam::open(dir, None, outbox, |_| {}).unwrap();
    exam.accept_manifest(&m, 0, now).unwrap();
    exam.partial("bench").append_from(0).unwrap().write_all(&package).unwrap();
    exam.install("bench").unwrap();
    exam
}

fn fsync_baseline(dir: &std::path::Path) -> Vec<Duration> {
    let conn = rusqlite::Connection::open(dir.join("baseline.sqlite")).unwrap();
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).unwrap();
    conn.execute_batch("PRAGMA synchronous = FULL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);").unwrap();
    (0..ANSWERS)
        .map(|i| {
            let start = Instant::now();
            conn.execute("INSERT INTO t (v) VALUES (?1)", [format!("answer {i}")]).unwrap();
            start.elapsed()
        })
        .collect()
}

fn main() {
    let base = std::env::var_os("BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(&base).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let exam = Arc::new(installed_exam(dir.path(), now));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (answers, reads) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let devices = DeviceManager::start(Vec::new(), ManagerOptions::default());
        let settings = Settings { listen: addr, exam: Some(exam.clone()), ..Settings::default() };
        let router = app(AppState::new(devices, settings));
        tokio::spawn(async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap()
        });
        let http = reqwest::Client::new();
        let base = format!("http://{addr}");
        let mut answers = Vec::with_capacity(ANSWERS);
        for i in 0..WARMUP + ANSWERS {
            let item = format!("q{}", i % ITEMS + 1);
            let choice = ["A", "B", "C", "D"][i % 4];
            let start = Instant::now();
            let r = http
                .put(format!("{base}/v1/exam/answers/{item}"))
                .json(&serde_json::json!({"choices": [choice]}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.bytes().await.unwrap();
            if i >= WARMUP {
                answers.push(start.elapsed());
            }
        }
        let mut reads = Vec::with_capacity(ANSWERS);
        for _ in 0..ANSWERS {
            let start = Instant::now();
            let r = http.get(format!("{base}/v1/exam/paper")).send().await.unwrap();
            r.bytes().await.unwrap();
            reads.push(start.elapsed());
        }
        (answers, reads)
    });
    let baseline = fsync_baseline(dir.path());
    let status = exam.status(now).unwrap();
    assert_eq!(status.answers.len(), ITEMS, "every item answered");
    println!("answer at the agent (page to durable), {ANSWERS} answers after {WARMUP} warm-up, in {}", base.display());
    println!("{:<40} {:>10} {:>10} {:>10}", "", "p50", "p99", "max");
    for (name, samples) in [
        ("PUT /v1/exam/answers/{item}", answers),
        ("GET /v1/exam/paper (no write)", reads),
        ("one fsync'd SQLite commit", baseline),
    ] {
        let (p50, p99, max) = percentiles(samples);
        println!("{name:<40} {:>10} {:>10} {:>10}", ms(p50), ms(p99), ms(max));
    }
}
