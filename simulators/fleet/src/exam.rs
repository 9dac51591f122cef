//! `examgate-fleet exam`: seats that take an exam, for the exam's load bench
//! (issue 14). Each seat enrols with its own key, is approved, and looks up
//! its candidate (booking `PREFIX<i>`, claimed at the seat) and asks for the
//! examiner, as a candidate whose login the examiner decides. Then, in one
//! burst (the synchronised start), the examiner admits every candidate through
//! the console API, which draws each paper; each seat, once its candidate is
//! admitted, fetches its manifest, checks its signature against the server key
//! from its enrolment, downloads the package, checks size and SHA-256 and
//! unpacks it holding every file to the manifest, with the agent's own code
//! ([`manifest::verify`], [`Partial::check`], [`unpack`]). Then each seat
//! answers a random question every 20-30 s as an `ExamAnswer` delivery with
//! the agent's idempotency key `exam-<paper>-<seq>`, beside a heartbeat every
//! 5 s. `--saturate W` sends answers back to back from W workers instead;
//! `--bare` sends them with no enrolment or paper, for a bare handler.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use examgate_agent::exam::manifest::{self, ServerKey};
use examgate_agent::exam::package::{Partial, unpack};
use examgate_agent::link::client::LinkClient;
use examgate_agent::link::identity::Identity;
use examgate_agent::link::tls::Pin;
use examgate_protocol::Timestamp;
use examgate_protocol::link::{Delivery, DeliveryItem, DeviceHealth, EnrolRequest, Heartbeat};
use examgate_protocol::login::{AskExaminer, IdentityKind, IdentitySource, LookupRequest};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::Stats;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "examgate-sim fleet exam",
    about = "N simulated seats taking an exam: synchronised admission, paper packages checked at the seat, answers as deliveries"
)]
pub struct ExamArgs {
    /// How many seats (and candidates: bookings PREFIX1..PREFIXN must be on today's roster)
    #[arg(long, value_name = "N")]
    pub seats: usize,
    /// The server: https://HOST:PORT
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// SHA-256 pin of the server's certificate
    #[arg(long, value_name = "SHA256")]
    pub pin: String,
    /// Examiner login that approves the seats and admits the candidates
    #[arg(long, value_name = "USER:PASSWORD")]
    pub examiner: Option<String>,
    /// Invigilator login (the console opens with both)
    #[arg(long, value_name = "USER:PASSWORD")]
    pub invigilator: Option<String>,
    /// Booking numbers are PREFIX1, PREFIX2, ...
    #[arg(long, value_name = "PREFIX", default_value = "B")]
    pub booking_prefix: String,
    /// Seat numbers are PREFIX1, PREFIX2, ...
    #[arg(long, value_name = "PREFIX", default_value = "E")]
    pub seat_prefix: String,
    /// How long seats answer after the start (0: the start only)
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub duration_secs: u64,
    /// Answers in the first SECS of answering are sent but not measured
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub warmup_secs: u64,
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub heartbeat_secs: u64,
    /// Each seat answers every MIN..MAX seconds (uniformly at random)
    #[arg(long, value_name = "SECS", default_value_t = 20)]
    pub answer_min_secs: u64,
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub answer_max_secs: u64,
    /// HTTP clients (connection pools) the seats share; default one per seat, as real PCs have
    #[arg(long, value_name = "N")]
    pub clients: Option<usize>,
    /// Admissions in flight at once at the start (the console's requests)
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub admit_concurrency: usize,
    /// Answers back to back from this many workers, instead of on schedule
    #[arg(long, value_name = "WORKERS")]
    pub saturate: Option<usize>,
    /// No enrolment, admission or paper: answers to a bare endpoint (the baseline)
    #[arg(long)]
    pub bare: bool,
    /// Where the seats download and unpack their packages (default: the system's temp dir)
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct ExamReport {
    pub seats: usize,
    pub clients: usize,
    pub mode: &'static str,
    pub enrol_secs: f64,
    /// Lookup and ask-examiner for every seat (before the start).
    pub claim_secs: f64,
    /// The examiner's admit requests (each draws a paper), from the start.
    pub admit: Stats,
    /// From the start until the last admission answered.
    pub admitted_all_secs: f64,
    /// From the start to each package checked and unpacked at its seat.
    pub package_at_seat: Stats,
    /// Package bytes per paper (mean).
    pub package_bytes: f64,
    pub answers: Stats,
    pub heartbeats: Stats,
    pub load_secs: f64,
    #[serde(skip)]
    json: bool,
}

impl fmt::Display for ExamReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.json {
            return f.write_str(&serde_json::to_string(self).map_err(|_| fmt::Error)?);
        }
        writeln!(
            f,
            "{} seats over {} clients, {}: enrolment {:.1} s, lookup and ask-examiner {:.1} s, all admitted {:.2} s after the start, {:.0} package bytes per paper",
            self.seats,
            self.clients,
            self.mode,
            self.enrol_secs,
            self.claim_secs,
            self.admitted_all_secs,
            self.package_bytes
        )?;
        for (name, s) in [
            ("admit", &self.admit),
            ("package at seat (from the start)", &self.package_at_seat),
            ("answers", &self.answers),
            ("heartbeats", &self.heartbeats),
        ] {
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
    fn push<E: fmt::Display>(&mut self, took: Result<Duration, E>) {
        match took {
            Ok(d) => self.micros.push(u32::try_from(d.as_micros()).unwrap_or(u32::MAX)),
            Err(e) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(e.to_string());
                }
            }
        }
    }

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

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Samples> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// When answers begin to be measured.
static MEASURE_FROM: OnceLock<Instant> = OnceLock::new();

fn record<T, E: fmt::Display>(into: &Shared, started: Instant, result: Result<T, E>) {
    if started < *MEASURE_FROM.get().expect("set before the answers start") {
        return;
    }
    lock(into).push(result.map(|_| started.elapsed()));
}

fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish()
}

fn mac(i: usize) -> String {
    let b = (i as u32).to_be_bytes();
    format!("02:ef:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3])
}

/// The paper a seat holds: what it needs to answer.
struct Paper {
    id: String,
    exam: String,
    /// Item ids and each item's choice ids, from the package's paper.json.
    items: Vec<(String, Vec<String>)>,
}

struct Seat {
    index: usize,
    number: String,
    booking: String,
    client: LinkClient,
    server_key: OnceLock<ServerKey>,
    paper: OnceLock<Paper>,
    seq: AtomicU64,
}

impl Seat {
    fn heartbeat(&self) -> Heartbeat {
        Heartbeat {
            seat: Some(self.number.clone()),
            devices: vec![
                DeviceHealth {
                    id: "sim-fp-0".into(),
                    class: "fingerprint".into(),
                    state: "ready".into(),
                    reason: None,
                },
                DeviceHealth { id: "sim-cam-0".into(), class: "camera".into(), state: "ready".into(), reason: None },
            ],
            outbox_pending: 0,
        }
    }

    /// One answer as the agent's outbox sends it: a random item, one of its choices.
    async fn answer(&self) -> anyhow::Result<()> {
        let paper = self.paper.get().context("no paper at this seat")?;
        let r = random_u64();
        let (item, choices) = &paper.items[(r % paper.items.len() as u64) as usize];
        let choice = choices[((r >> 32) % choices.len().max(1) as u64) as usize].clone();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let delivery = Delivery {
            seat: Some(self.number.clone()),
            exam: paper.exam.clone(),
            created_at: Timestamp::now(),
            item: DeliveryItem::ExamAnswer {
                booking_number: self.booking.clone(),
                paper_id: paper.id.clone(),
                item: item.clone(),
                choices: vec![choice],
                seq,
                answered_at: Timestamp::now(),
            },
        };
        let body = serde_json::to_vec(&delivery)?;
        self.client.deliver(&format!("exam-{}-{seq}", paper.id), &body).await?;
        Ok(())
    }

    /// Manifest, signature, package, size and SHA-256, every file: as the agent does. Package bytes.
    async fn fetch_paper(&self, work: &Path) -> anyhow::Result<u64> {
        let key = self.server_key.get().context("no server key from the enrolment")?;
        let m = self.client.exam_paper(None).await.context("manifest")?;
        let expected = manifest::verify(&m, key).context("manifest signature")?;
        let dir = work.join(&self.number);
        std::fs::create_dir_all(&dir)?;
        let part = Partial::new(dir.join("paper.tar"));
        let mut file = part.append_from(0)?;
        let mut resp = self.client.exam_package(&m.paper_id, 0).await.context("package")?;
        while let Some(chunk) = resp.chunk().await.context("package download")? {
            std::io::Write::write_all(&mut file, &chunk)?;
        }
        drop(file);
        part.check(&expected)?;
        let unpacked = dir.join("paper");
        unpack(part.path(), &expected, &unpacked)?;
        let paper: serde_json::Value = serde_json::from_slice(&std::fs::read(unpacked.join("paper.json"))?)?;
        let items = paper["items"]
            .as_array()
            .context("paper.json has no items")?
            .iter()
            .map(|i| {
                let id = i["id"].as_str().unwrap_or_default().to_owned();
                let choices = i["choices"]
                    .as_array()
                    .map(|c| c.iter().filter_map(|c| c["id"].as_str().map(str::to_owned)).collect())
                    .unwrap_or_default();
                (id, choices)
            })
            .collect::<Vec<_>>();
        if items.is_empty() {
            bail!("paper {} has no items", m.paper_id);
        }
        std::fs::remove_dir_all(&dir)?;
        let _ = self.paper.set(Paper { id: m.paper_id, exam: m.exam.id, items });
        Ok(expected.size)
    }
}

/// Runs `f` for every seat, at most `limit` at once; the first error stops the run.
async fn each<F, Fut>(seats: &[Arc<Seat>], limit: usize, f: F) -> anyhow::Result<()>
where
    F: Fn(Arc<Seat>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limit.max(1)));
    let mut tasks = Vec::new();
    for seat in seats {
        let fut = f(seat.clone());
        let permits = permits.clone();
        tasks.push(tokio::spawn(async move {
            let _p = permits.acquire().await?;
            fut.await
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

pub async fn run(args: ExamArgs) -> anyhow::Result<ExamReport> {
    if args.seats == 0 {
        bail!("--seats must be at least 1");
    }
    if args.answer_max_secs < args.answer_min_secs || args.answer_min_secs == 0 {
        bail!("--answer-min-secs must be at least 1 and at most --answer-max-secs");
    }
    let pin = Pin::parse(&args.pin)?;
    let n_clients = args.clients.unwrap_or(args.seats).clamp(1, args.seats);
    let bases: Vec<LinkClient> = (0..n_clients)
        .map(|_| LinkClient::new(&args.server, pin, Arc::new(Identity::generate()?), mac(0)))
        .collect::<Result<_, _>>()?;
    let seats: Vec<Arc<Seat>> = (0..args.seats)
        .map(|i| {
            let client = bases[i % n_clients].sharing(Arc::new(Identity::generate()?), mac(i + 1));
            Ok(Arc::new(Seat {
                index: i,
                number: format!("{}{}", args.seat_prefix, i + 1),
                booking: format!("{}{}", args.booking_prefix, i + 1),
                client,
                server_key: OnceLock::new(),
                paper: OnceLock::new(),
                seq: AtomicU64::new(0),
            }))
        })
        .collect::<anyhow::Result<_>>()?;
    let work = args.work_dir.clone().unwrap_or_else(std::env::temp_dir).join(format!("fleet-exam-{:x}", random_u64()));

    let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build()?;
    let base = args.server.trim_end_matches('/').to_owned();
    let (mut enrol_secs, mut claim_secs, mut admitted_all_secs, mut package_bytes) = (0.0, 0.0, 0.0, 0.0);
    let admit: Shared = Arc::default();
    let at_seat: Shared = Arc::default();
    if args.bare {
        for seat in &seats {
            let _ = seat.paper.set(Paper {
                id: "bare".into(),
                exam: "bare".into(),
                items: vec![("Q1".into(), vec!["A".into(), "B".into()])],
            });
        }
    } else {
        let cookie = crate::console(&http, &base, &args.examiner, &args.invigilator).await?;
        let t = Instant::now();
        each(&seats, 32, |seat| {
            let (http, base, cookie) = (http.clone(), base.clone(), cookie.clone());
            async move {
                let request = EnrolRequest {
                    public_key: seat.client.identity().public_key_b64(),
                    macs: vec![mac(seat.index + 1)],
                    ip: "127.0.0.1".into(),
                    host_name: format!("fleet-{}", seat.number),
                    agent_version: "fleet".into(),
                };
                let enrolled = seat.client.enrol(&request).await.with_context(|| format!("enrol {}", seat.number))?;
                let key = enrolled.server_key.as_deref().context("the enrolment names no server key")?;
                let _ = seat.server_key.set(ServerKey::parse(key)?);
                let resp = http
                    .post(format!("{base}/api/v1/seats/{}/approve", seat.number))
                    .header("cookie", &cookie)
                    .json(&serde_json::json!({"key_id": enrolled.key_id}))
                    .send()
                    .await?;
                if !resp.status().is_success() {
                    bail!("approve {}: {} {}", seat.number, resp.status(), resp.text().await.unwrap_or_default());
                }
                Ok(())
            }
        })
        .await?;
        enrol_secs = t.elapsed().as_secs_f64();

        // Each candidate looks themselves up at their seat and asks for the examiner.
        let t = Instant::now();
        each(&seats, 32, |seat| async move {
            let lookup = LookupRequest {
                kind: IdentityKind::BookingNumber,
                value: seat.booking.clone(),
                source: IdentitySource::Keyboard,
            };
            seat.client.lookup(&lookup).await.with_context(|| format!("lookup {}", seat.booking))?;
            let ask =
                AskExaminer { booking_number: Some(seat.booking.clone()), failures: 0, reason: "device_fault".into() };
            seat.client.ask_examiner(&ask).await.with_context(|| format!("ask examiner {}", seat.booking))?;
            Ok(())
        })
        .await?;
        claim_secs = t.elapsed().as_secs_f64();

        // The synchronised start: every admission at once, each seat fetching its paper when admitted.
        let start = Instant::now();
        let bytes = Arc::new(AtomicU64::new(0));
        let last_admit = Arc::new(Mutex::new(Duration::ZERO));
        let permits = Arc::new(Semaphore::new(args.admit_concurrency.max(1)));
        let mut tasks = Vec::new();
        for seat in &seats {
            let (seat, http, base, cookie, work) =
                (seat.clone(), http.clone(), base.clone(), cookie.clone(), work.clone());
            let (admit, at_seat, bytes, last_admit, permits) =
                (admit.clone(), at_seat.clone(), bytes.clone(), last_admit.clone(), permits.clone());
            tasks.push(tokio::spawn(async move {
                let admitted = async {
                    let _p = permits.acquire().await?;
                    let t = Instant::now();
                    let resp = http
                        .post(format!("{base}/api/v1/roster/{}/admit", seat.booking))
                        .header("cookie", &cookie)
                        .json(&serde_json::json!({"reason": "synchronised start"}))
                        .send()
                        .await?;
                    if !resp.status().is_success() {
                        bail!("admit {}: {} {}", seat.booking, resp.status(), resp.text().await.unwrap_or_default());
                    }
                    Ok(t.elapsed())
                }
                .await;
                let ok = admitted.is_ok();
                lock(&admit).push(admitted);
                if !ok {
                    return;
                }
                {
                    let mut l = last_admit.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    *l = (*l).max(start.elapsed());
                }
                let fetched = seat.fetch_paper(&work).await;
                if let Ok(n) = &fetched {
                    bytes.fetch_add(*n, Ordering::Relaxed);
                }
                lock(&at_seat).push(fetched.map(|_| start.elapsed()));
            }));
        }
        for t in tasks {
            t.await?;
        }
        let _ = std::fs::remove_dir_all(&work);
        admitted_all_secs = last_admit.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_secs_f64();
        let got = lock(&at_seat).micros.len();
        package_bytes = bytes.load(Ordering::Relaxed) as f64 / got.max(1) as f64;
    }

    // Answering.
    let answers: Shared = Arc::default();
    let beats: Shared = Arc::default();
    let sent = Arc::new(AtomicUsize::new(0));
    let warmup = Duration::from_secs(args.warmup_secs);
    let load_started = Instant::now() + warmup;
    let _ = MEASURE_FROM.set(load_started);
    let deadline = tokio::time::Instant::now() + warmup + Duration::from_secs(args.duration_secs);
    let ready: Vec<Arc<Seat>> = seats.iter().filter(|s| s.paper.get().is_some()).cloned().collect();
    let mut tasks = Vec::new();
    if args.duration_secs > 0 && !ready.is_empty() {
        match args.saturate {
            Some(workers) => {
                for w in 0..workers.max(1) {
                    let (ready, answers, sent) = (ready.clone(), answers.clone(), sent.clone());
                    tasks.push(tokio::spawn(async move {
                        let mut i = w;
                        while tokio::time::Instant::now() < deadline {
                            let seat = &ready[i % ready.len()];
                            let t = Instant::now();
                            record(&answers, t, seat.answer().await);
                            sent.fetch_add(1, Ordering::Relaxed);
                            i += workers;
                        }
                    }));
                }
            }
            None => {
                let every = Duration::from_secs(args.heartbeat_secs.max(1));
                let (lo, hi) = (args.answer_min_secs * 1000, args.answer_max_secs * 1000);
                for seat in &ready {
                    let (seat, answers, beats) = (seat.clone(), answers.clone(), beats.clone());
                    tasks.push(tokio::spawn(async move {
                        let phase = |d: u64| Duration::from_millis(random_u64() % d.max(1));
                        let next_answer = || Duration::from_millis(lo + random_u64() % (hi - lo + 1));
                        let mut hb = tokio::time::interval_at(
                            tokio::time::Instant::now() + phase(every.as_millis() as u64),
                            every,
                        );
                        let mut answer_at = tokio::time::Instant::now() + phase(hi);
                        loop {
                            tokio::select! {
                                _ = tokio::time::sleep_until(deadline) => break,
                                _ = hb.tick() => {
                                    let t = Instant::now();
                                    record(&beats, t, seat.client.heartbeat(&seat.heartbeat()).await);
                                }
                                _ = tokio::time::sleep_until(answer_at) => {
                                    let t = Instant::now();
                                    record(&answers, t, seat.answer().await);
                                    answer_at = tokio::time::Instant::now() + next_answer();
                                }
                            }
                        }
                    }));
                }
            }
        }
    }
    for t in tasks {
        t.await?;
    }
    let load_secs = if args.duration_secs > 0 { load_started.elapsed().as_secs_f64() } else { 0.0 };
    let start_secs = admitted_all_secs.max(1e-9);
    Ok(ExamReport {
        seats: args.seats,
        clients: n_clients,
        mode: match (args.bare, args.saturate.is_some()) {
            (true, _) => "bare, saturating",
            (false, true) => "saturating",
            (false, false) => "on schedule",
        },
        enrol_secs,
        claim_secs,
        admit: lock(&admit).stats(start_secs),
        admitted_all_secs,
        package_at_seat: lock(&at_seat).stats(start_secs),
        package_bytes,
        answers: lock(&answers).stats(load_secs),
        heartbeats: lock(&beats).stats(load_secs),
        load_secs,
        json: args.json,
    })
}
