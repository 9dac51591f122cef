//! A fleet of simulated seats speaking the real signed protocol (the agent's
//! own [`LinkClient`]) to an exam-centre server: each enrols with its own
//! Ed25519 key and MAC, is approved as a seat through the console API, then
//! sends a heartbeat every few seconds and a snapshot every few minutes, at
//! a random phase so that the load is even. Latencies are measured at the
//! client; the report gives p50, p99 and max.
//!
//! `--saturate W` instead sends heartbeats back to back from W workers: the
//! server's throughput. With `--no-enrol` the seats skip enrolment, for a
//! bare endpoint that checks nothing (the bench's baseline).

pub mod exam;

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Parser;
use examgate_agent::link::client::LinkClient;
use examgate_agent::link::identity::Identity;
use examgate_agent::link::tls::Pin;
use examgate_protocol::Timestamp;
use examgate_protocol::link::{Delivery, DeliveryItem, DeviceHealth, EnrolRequest, Heartbeat};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "examgate-sim fleet",
    about = "N simulated seats speaking the real signed protocol to an examgate-server: enrol, approve, heartbeats, snapshots"
)]
pub struct FleetArgs {
    /// How many seats
    #[arg(long, value_name = "N")]
    pub seats: usize,
    /// The server: https://HOST:PORT
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// SHA-256 pin of the server's certificate
    #[arg(long, value_name = "SHA256")]
    pub pin: String,
    /// Examiner login that approves the seats
    #[arg(long, value_name = "USER:PASSWORD")]
    pub examiner: Option<String>,
    /// Invigilator login (the console opens with both)
    #[arg(long, value_name = "USER:PASSWORD")]
    pub invigilator: Option<String>,
    /// How long to run the load, after enrolment
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub duration_secs: u64,
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub heartbeat_secs: u64,
    /// Requests in the first SECS are sent but not measured: every seat's first
    /// heartbeat opens its TLS connection, which a running agent keeps. Default: one heartbeat interval
    #[arg(long, value_name = "SECS")]
    pub warmup_secs: Option<u64>,
    /// 0: no snapshots
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub snapshot_secs: u64,
    /// HTTP clients (connection pools) the seats share; default one per seat, as real PCs have
    #[arg(long, value_name = "N")]
    pub clients: Option<usize>,
    /// Heartbeats back to back from this many workers, instead of on schedule
    #[arg(long, value_name = "WORKERS")]
    pub saturate: Option<usize>,
    /// Skip enrolment and approval (a bare endpoint)
    #[arg(long)]
    pub no_enrol: bool,
    /// Seat numbers are PREFIX1, PREFIX2, ...
    #[arg(long, value_name = "PREFIX", default_value = "F")]
    pub seat_prefix: String,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

/// Latencies of one kind of request.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    pub count: usize,
    pub errors: usize,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The first error seen, if any.
    pub first_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub seats: usize,
    pub clients: usize,
    pub mode: &'static str,
    pub enrol_secs: f64,
    pub warmup_secs: f64,
    pub load_secs: f64,
    pub heartbeats: Stats,
    pub snapshots: Stats,
    /// Every heartbeat sent, the warm-up's included (what the server handled,
    /// for dividing its statement counts by).
    pub heartbeats_sent: usize,
    #[serde(skip)]
    json: bool,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.json {
            return f.write_str(&serde_json::to_string(self).map_err(|_| fmt::Error)?);
        }
        writeln!(
            f,
            "{} seats over {} clients, {} for {:.0} s after {:.0} s of warm-up (enrolment and approval took {:.1} s)",
            self.seats, self.clients, self.mode, self.load_secs, self.warmup_secs, self.enrol_secs
        )?;
        for (name, s) in [("heartbeats", &self.heartbeats), ("snapshots", &self.snapshots)] {
            write!(
                f,
                "{name}: {} ok, {} failed, {:.1}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                s.count, s.errors, s.per_sec, s.p50_ms, s.p99_ms, s.max_ms
            )?;
            if let Some(e) = &s.first_error {
                write!(f, " (first error: {e})")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Samples {
    micros: Vec<u32>,
    errors: usize,
    first_error: Option<String>,
}

impl Samples {
    fn stats(&self, secs: f64) -> Stats {
        let mut v = self.micros.clone();
        v.sort_unstable();
        let at = |q: f64| {
            if v.is_empty() { 0.0 } else { f64::from(v[((v.len() - 1) as f64 * q).round() as usize]) / 1000.0 }
        };
        Stats {
            count: v.len(),
            errors: self.errors,
            per_sec: v.len() as f64 / secs.max(1e-9),
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: at(1.0),
            first_error: self.first_error.clone(),
        }
    }
}

type Shared = Arc<Mutex<Samples>>;

/// When measuring begins (after the warm-up).
static MEASURE_FROM: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
/// Heartbeats sent, measured or not.
static HEARTBEATS_SENT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn record<T, E: fmt::Display>(into: &Shared, started: Instant, result: Result<T, E>) {
    if started < *MEASURE_FROM.get().expect("set before the load starts") {
        return;
    }
    let mut s = into.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match result {
        Ok(_) => s.micros.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX)),
        Err(e) => {
            s.errors += 1;
            if s.first_error.is_none() {
                s.first_error = Some(e.to_string());
            }
        }
    }
}

fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish()
}

/// One simulated seat.
struct Seat {
    number: String,
    client: LinkClient,
}

fn mac(i: usize) -> String {
    let b = (i as u32).to_be_bytes();
    format!("02:ee:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3])
}

fn heartbeat(seat: &Seat) -> Heartbeat {
    Heartbeat {
        seat: Some(seat.number.clone()),
        devices: vec![
            DeviceHealth { id: "sim-fp-0".into(), class: "fingerprint".into(), state: "ready".into(), reason: None },
            DeviceHealth { id: "sim-cam-0".into(), class: "camera".into(), state: "ready".into(), reason: None },
        ],
        outbox_pending: 0,
    }
}

/// A snapshot-sized payload (about 8 KB) that passes the server's JPEG check.
fn snapshot(seat: &Seat, n: u64) -> Vec<u8> {
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
    let mut x = random_u64() | 1;
    jpeg.extend((0..8192).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    jpeg.extend([0xFF, 0xD9]);
    let sha256: String = Sha256::digest(&jpeg).iter().map(|b| format!("{b:02x}")).collect();
    let d = Delivery {
        seat: Some(seat.number.clone()),
        exam: "fleet".into(),
        created_at: Timestamp::now(),
        item: DeliveryItem::Snapshot {
            reason: format!("scheduled:{n}"),
            flags: vec![],
            jpeg: B64.encode(&jpeg),
            sha256,
        },
    };
    serde_json::to_vec(&d).expect("a delivery serialises")
}

fn login(spec: &Option<String>, role: &str) -> anyhow::Result<(String, String)> {
    let spec = spec.as_deref().with_context(|| format!("--{role} USER:PASSWORD is needed to open the console"))?;
    let (user, password) = spec.split_once(':').with_context(|| format!("--{role} must be USER:PASSWORD"))?;
    Ok((user.to_owned(), password.to_owned()))
}

/// Opens a console session with both logins (`USER:PASSWORD` each); returns its cookie.
pub(crate) async fn console(
    http: &reqwest::Client,
    base: &str,
    examiner: &Option<String>,
    invigilator: &Option<String>,
) -> anyhow::Result<String> {
    let mut cookie = String::new();
    for (role, spec) in [("examiner", examiner), ("invigilator", invigilator)] {
        let (username, password) = login(spec, role)?;
        let resp = http
            .post(format!("{base}/api/v1/session/login"))
            .header("cookie", &cookie)
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("{role} login: {} {}", resp.status(), resp.text().await.unwrap_or_default());
        }
        let set = resp.headers().get("set-cookie").context("no session cookie")?.to_str()?;
        cookie = set.split(';').next().unwrap_or_default().to_owned();
    }
    Ok(cookie)
}

pub async fn run(args: FleetArgs) -> anyhow::Result<Report> {
    if args.seats == 0 {
        bail!("--seats must be at least 1");
    }
    let pin = Pin::parse(&args.pin)?;
    let n_clients = args.clients.unwrap_or(args.seats).clamp(1, args.seats);
    let bases: Vec<LinkClient> = (0..n_clients)
        .map(|_| LinkClient::new(&args.server, pin, Arc::new(Identity::generate()?), mac(0)))
        .collect::<Result<_, _>>()?;
    let seats: Vec<Arc<Seat>> = (0..args.seats)
        .map(|i| {
            let identity = Arc::new(Identity::generate()?);
            let client = bases[i % n_clients].sharing(identity, mac(i + 1));
            Ok(Arc::new(Seat { number: format!("{}{}", args.seat_prefix, i + 1), client }))
        })
        .collect::<anyhow::Result<_>>()?;

    let started = Instant::now();
    if !args.no_enrol {
        enrol_and_approve(&args, &seats).await?;
    }
    let enrol_secs = started.elapsed().as_secs_f64();

    let beats: Shared = Arc::default();
    let snaps: Shared = Arc::default();
    let duration = Duration::from_secs(args.duration_secs);
    let warmup =
        Duration::from_secs(args.warmup_secs.unwrap_or(if args.saturate.is_some() { 1 } else { args.heartbeat_secs }));
    let load_started = Instant::now() + warmup;
    let _ = MEASURE_FROM.set(load_started);
    let deadline = tokio::time::Instant::now() + warmup + duration;
    let mut tasks = Vec::new();
    match args.saturate {
        Some(workers) => {
            for w in 0..workers.max(1) {
                let (seats, beats) = (seats.clone(), beats.clone());
                tasks.push(tokio::spawn(async move {
                    let mut i = w;
                    while tokio::time::Instant::now() < deadline {
                        let seat = &seats[i % seats.len()];
                        let t = Instant::now();
                        record(&beats, t, seat.client.heartbeat(&heartbeat(seat)).await);
                        HEARTBEATS_SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        i += workers;
                    }
                }));
            }
        }
        None => {
            let every = Duration::from_secs(args.heartbeat_secs.max(1));
            let snap_every = Duration::from_secs(args.snapshot_secs);
            for seat in &seats {
                let (seat, beats, snaps) = (seat.clone(), beats.clone(), snaps.clone());
                tasks.push(tokio::spawn(async move {
                    // A random phase, so that the seats' heartbeats spread over the interval.
                    let phase = |d: Duration| Duration::from_micros(random_u64() % d.as_micros().max(1) as u64);
                    let mut hb = tokio::time::interval_at(tokio::time::Instant::now() + phase(every), every);
                    let mut snap = (!snap_every.is_zero()).then(|| {
                        tokio::time::interval_at(tokio::time::Instant::now() + phase(snap_every), snap_every)
                    });
                    let mut n = 0;
                    loop {
                        tokio::select! {
                            _ = tokio::time::sleep_until(deadline) => break,
                            _ = hb.tick() => {
                                let t = Instant::now();
                                record(&beats, t, seat.client.heartbeat(&heartbeat(&seat)).await);
                                HEARTBEATS_SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            _ = async { snap.as_mut().expect("only polled when set").tick().await }, if snap.is_some() => {
                                n += 1;
                                let key = format!("fleet-{}-{n}-{:x}", seat.number, random_u64());
                                let body = snapshot(&seat, n);
                                let t = Instant::now();
                                record(&snaps, t, seat.client.deliver(&key, &body).await);
                            }
                        }
                    }
                }));
            }
        }
    }
    for t in tasks {
        t.await?;
    }
    let load_secs = load_started.elapsed().as_secs_f64();
    let warmup_secs = warmup.as_secs_f64();
    let lock = |s: &Shared| s.lock().unwrap_or_else(std::sync::PoisonError::into_inner).stats(load_secs);
    Ok(Report {
        seats: args.seats,
        clients: n_clients,
        mode: if args.saturate.is_some() { "saturating" } else { "on schedule" },
        enrol_secs,
        warmup_secs,
        load_secs,
        heartbeats: lock(&beats),
        snapshots: lock(&snaps),
        heartbeats_sent: HEARTBEATS_SENT.load(std::sync::atomic::Ordering::Relaxed),
        json: args.json,
    })
}

async fn enrol_and_approve(args: &FleetArgs, seats: &[Arc<Seat>]) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build()?;
    let base = args.server.trim_end_matches('/').to_owned();
    let cookie = console(&http, &base, &args.examiner, &args.invigilator).await?;
    let limit = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for (i, seat) in seats.iter().enumerate() {
        let (seat, limit, http, base, cookie) =
            (seat.clone(), limit.clone(), http.clone(), base.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire().await?;
            let request = EnrolRequest {
                public_key: seat.client.identity().public_key_b64(),
                macs: vec![mac(i + 1)],
                ip: "127.0.0.1".into(),
                host_name: format!("fleet-{}", seat.number),
                agent_version: "fleet".into(),
            };
            let enrolled = seat.client.enrol(&request).await.with_context(|| format!("enrol {}", seat.number))?;
            let resp = http
                .post(format!("{base}/api/v1/seats/{}/approve", seat.number))
                .header("cookie", &cookie)
                .json(&serde_json::json!({"key_id": enrolled.key_id}))
                .send()
                .await?;
            if !resp.status().is_success() {
                bail!("approve {}: {} {}", seat.number, resp.status(), resp.text().await.unwrap_or_default());
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}
