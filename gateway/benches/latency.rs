//! Latency of GetTemplate and a match through each layer of the agent, in
//! one run: (a) the driver called directly, (b) the same driver as a plugin
//! loaded in-process through the C ABI, (c) that plugin behind a driver
//! host, (d) the agent's HTTP API (a real agent process, keep-alive
//! connection). Prints p50/p99 and ratios to (a), and the idle agent's RSS.
//!
//! Run: `make bench` (or `cargo bench -p examgate-agent --bench latency`
//! after `cargo build --release -p examgate-agent -p examgate-example-plugin`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use examgate_agent::host::{HostOptions, HostedPlugin};
use examgate_device_sdk::loader::PluginLibrary;
use examgate_device_sdk::{DeviceId, DriverFactory, Template};
use examgate_sim::{SimFingerprintConfig, SimFingerprintFactory};

const WARMUP: usize = 200;

struct Stats {
    p50: Duration,
    p99: Duration,
}

fn measure(iterations: usize, mut op: impl FnMut()) -> Stats {
    for _ in 0..WARMUP {
        op();
    }
    let mut samples: Vec<Duration> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            op();
            start.elapsed()
        })
        .collect();
    samples.sort();
    Stats { p50: samples[samples.len() / 2], p99: samples[samples.len() * 99 / 100] }
}

fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("bench path");
    exe.parent().and_then(|d| d.parent()).expect("target/<profile>/deps").to_owned()
}

/// GetTemplate and match on one opened device of `factory`.
fn device_ops(factory: &dyn DriverFactory, iterations: usize) -> (Stats, Stats) {
    let id = DeviceId::new(factory.discover().expect("discover")[0].id.to_string()).unwrap();
    let mut device = factory.open(&id).expect("open");
    if let Some(sim) = device.as_sim() {
        sim.control(&examgate_device_sdk::SimCommand::PlaceFinger(1)).expect("place finger");
    }
    let fp = device.as_fingerprint().expect("fingerprint reader");
    let timeout = Duration::from_secs(5);
    let enrolled: Template = fp.get_template(timeout).expect("capture");
    let capture = measure(iterations, || {
        std::hint::black_box(fp.get_template(timeout).expect("capture"));
    });
    let probe = fp.get_template(timeout).expect("capture");
    let matching = measure(iterations, || {
        std::hint::black_box(fp.match_templates(&probe, &enrolled).expect("match"));
    });
    (capture, matching)
}

struct Agent {
    child: Child,
    port: u16,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_agent() -> Agent {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_examgate-agent"))
        .args(["run", "--listen", &format!("127.0.0.1:{port}"), "--device", "sim:fingerprint"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start examgate-agent");
    let agent = Agent { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(mut c) = HttpClient::connect(port)
            && c.request("GET", "/v1/health", "").0 == 200
        {
            return agent;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("agent did not come up on port {port}");
}

/// A minimal keep-alive HTTP/1.1 client: the bench measures the agent, not
/// a client library.
struct HttpClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    port: u16,
}

impl HttpClient {
    fn connect(port: u16) -> std::io::Result<HttpClient> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_nodelay(true)?;
        Ok(HttpClient { reader: BufReader::new(s.try_clone()?), writer: s, port })
    }

    fn request(&mut self, method: &str, path: &str, body: &str) -> (u16, String) {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        );
        self.writer.write_all(req.as_bytes()).expect("send");
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).expect("status");
        let status: u16 = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().expect("length");
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

fn json_field(body: &str, field: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).expect("json");
    v[field].as_str().unwrap_or_else(|| panic!("no {field} in {body}")).to_owned()
}

fn http_ops(iterations: usize) -> (Stats, Stats, u64) {
    let agent = start_agent();
    let mut c = HttpClient::connect(agent.port).expect("connect");
    // Let the idle agent settle, then read its resident set.
    std::thread::sleep(Duration::from_millis(500));
    let rss_kib = std::fs::read_to_string(format!("/proc/{}/status", agent.child.id()))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0);
    let (status, body) = c.request("POST", "/v1/fingerprint/template", "{}");
    assert_eq!(status, 200, "{body}");
    let enrolled = json_field(&body, "template");
    let capture = measure(iterations, || {
        let (status, body) = c.request("POST", "/v1/fingerprint/template", "{}");
        assert_eq!(status, 200, "{body}");
    });
    let probe = json_field(&c.request("POST", "/v1/fingerprint/template", "{}").1, "template");
    let match_body = format!(r#"{{"template":"{probe}","enrolled":"{enrolled}"}}"#);
    let matching = measure(iterations, || {
        let (status, body) = c.request("POST", "/v1/fingerprint/match", &match_body);
        assert_eq!(status, 200, "{body}");
    });
    (capture, matching, rss_kib)
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn main() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(5000);
    let plugin_path = profile_dir().join("libexamgate_example_plugin.so");
    assert!(
        plugin_path.exists(),
        "{} missing: cargo build --release -p examgate-example-plugin",
        plugin_path.display()
    );

    let direct = SimFingerprintFactory::new(SimFingerprintConfig::default());
    let a = device_ops(&direct, iterations);
    let lib = PluginLibrary::load(&plugin_path).expect("load plugin");
    let b = device_ops(&lib, iterations);
    let hosted = HostedPlugin::spawn(
        &plugin_path,
        HostOptions { agent_exe: Some(PathBuf::from(env!("CARGO_BIN_EXE_examgate-agent"))), ..Default::default() },
    )
    .expect("driver host");
    let c = device_ops(&hosted, iterations);
    let (d_capture, d_match, rss_kib) = http_ops(iterations);
    let d = (d_capture, d_match);

    println!("examgate-agent latency, {iterations} iterations each after {WARMUP} warm-up (µs)");
    println!("| path | GetTemplate p50 | p99 | ratio p50 to (a) | match p50 | p99 | ratio p50 to (a) |");
    println!("|---|---|---|---|---|---|---|");
    for (name, (cap, mat)) in [
        ("(a) driver directly", &a),
        ("(b) plugin in-process (C ABI)", &b),
        ("(c) plugin via driver host", &c),
        ("(d) HTTP API, real agent", &d),
    ] {
        println!(
            "| {name} | {} | {} | {:.1}x | {} | {} | {:.1}x |",
            us(cap.p50),
            us(cap.p99),
            cap.p50.as_secs_f64() / a.0.p50.as_secs_f64(),
            us(mat.p50),
            us(mat.p99),
            mat.p50.as_secs_f64() / a.1.p50.as_secs_f64(),
        );
    }
    let host_rt = c.1.p50.saturating_sub(b.1.p50);
    let http_p99 = d.0.p99.saturating_sub(a.0.p99);
    println!();
    println!("driver-host round trip (c - b, match p50): {} µs (target < 50)", us(host_rt));
    println!("HTTP layer added at p99 (d - a, GetTemplate): {} µs (target < 1000)", us(http_p99));
    println!("agent idle RSS: {:.1} MB (target < 30)", rss_kib as f64 / 1024.0);
}
