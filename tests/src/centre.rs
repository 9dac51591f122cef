//! An exam centre of real processes for the login tests: `examgate-server`
//! on its SQLite file (users, roster), the console API with both roles
//! logged in, PCs enrolled and approved, and each PC's `link run`. Every
//! process is killed when its handle is dropped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::artifact;

/// How long the server may take to start, and any awaited condition to hold.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub const EXAMINER: (&str, &str) = ("examiner1", "examiner-pass");
pub const INVIGILATOR: (&str, &str) = ("invigilator1", "invigilator-pass");

/// A running `examgate-server serve` on a free port of 127.0.0.1.
pub struct Centre {
    pub data: PathBuf,
    pub base: String,
    pub pin: String,
    http: reqwest::Client,
    server: Child,
    port: u16,
    extra: Vec<String>,
}

/// `--data-dir DIR [--database URL]`: SQLite in the data directory when `database` is `None`.
pub fn place(data: &Path, database: Option<&str>) -> Vec<String> {
    let mut args = vec!["--data-dir".to_owned(), data.display().to_string()];
    if let Some(url) = database {
        args.extend(["--database".to_owned(), url.to_owned()]);
    }
    args
}

/// Runs `examgate-server ARGS --data-dir DATA` to completion with `stdin`; its output.
pub fn server_cli(data: &Path, args: &[&str], stdin: &str) -> String {
    server_cli_at(data, None, args, stdin)
}

/// [`server_cli`] on the database `database` names (SQLite in `data` when `None`).
pub fn server_cli_at(data: &Path, database: Option<&str>, args: &[&str], stdin: &str) -> String {
    let mut child = std::process::Command::new(artifact("examgate-server"))
        .args(args)
        .args(place(data, database))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run examgate-server");
    child.stdin.take().expect("piped stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("wait for examgate-server");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "examgate-server {args:?}: {text}");
    text
}

/// The examiner and invigilator accounts, in a fresh data directory.
pub fn add_users(data: &Path) {
    add_users_at(data, None);
}

/// [`add_users`] on the database `database` names (SQLite in `data` when `None`).
pub fn add_users_at(data: &Path, database: Option<&str>) {
    for (user, role) in [(EXAMINER, "examiner"), (INVIGILATOR, "invigilator")] {
        server_cli_at(data, database, &["user", "add", user.0, "--role", role], &format!("{}\n", user.1));
    }
}

/// `examgate-server serve` on 127.0.0.1:`port`, its stdout drained; the child and the
/// certificate pin it printed.
pub async fn start_server(data: &Path, database: Option<&str>, port: u16) -> (Child, String) {
    start_server_with(data, database, port, &[]).await
}

/// [`start_server`] with more arguments for `serve` (`--config FILE`).
pub async fn start_server_with(data: &Path, database: Option<&str>, port: u16, extra: &[String]) -> (Child, String) {
    let mut server = Command::new(artifact("examgate-server"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--today", &today()])
        .args(place(data, database))
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start examgate-server");
    let mut lines = BufReader::new(server.stdout.take().expect("piped stdout")).lines();
    let pin = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.expect("the server's stdout") {
            if let Some(rest) = line.split("certificate pin: ").nth(1) {
                return rest.split_whitespace().next().map(str::to_owned);
            }
        }
        None
    })
    .await
    .expect("the server starts")
    .expect("the server printed its certificate pin");
    // Keep draining its stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (server, pin)
}

/// Logs the examiner and the invigilator in on one console; the session cookie.
pub async fn log_in_both(http: &reqwest::Client, base: &str) -> String {
    let mut cookie = String::new();
    for (user, password) in [EXAMINER, INVIGILATOR] {
        let resp = http
            .post(format!("{base}/api/v1/session/login"))
            .header("cookie", &cookie)
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .expect("console login");
        assert!(resp.status().is_success(), "login {user}: {}", resp.status());
        let set = resp.headers()["set-cookie"].to_str().unwrap();
        cookie = set.split(';').next().unwrap().to_owned();
    }
    cookie
}

impl Centre {
    /// The server on an existing data directory.
    pub async fn serve(data: &Path) -> Centre {
        Centre::serve_with(data, &[]).await
    }

    /// The server with more arguments for `serve` (`--config FILE`).
    pub async fn serve_with(data: &Path, extra: &[&str]) -> Centre {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let extra: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
        let (server, pin) = start_server_with(data, None, port, &extra).await;
        let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
        Centre { data: data.to_owned(), base: format!("https://127.0.0.1:{port}"), pin, http, server, port, extra }
    }

    /// Kills the server with SIGKILL (a crash) and waits until it is gone.
    pub async fn kill(&mut self) {
        self.server.kill().await.expect("kill examgate-server");
    }

    /// Starts the server again on the same port and data (its certificate, so its pin, stays).
    pub async fn restart(&mut self) {
        let (server, pin) = start_server_with(&self.data, None, self.port, &self.extra).await;
        assert_eq!(pin, self.pin, "the restarted server keeps its certificate");
        self.server = server;
    }

    /// The console with the examiner and the invigilator logged in.
    pub async fn console(&self) -> Console {
        let cookie = log_in_both(&self.http, &self.base).await;
        Console { http: self.http.clone(), base: self.base.clone(), cookie }
    }

    /// `examgate-agent enrol` into `state_dir`, reporting `mac`; the key id.
    pub fn enrol(&self, state_dir: &Path, mac: &str) -> String {
        let out = std::process::Command::new(artifact("examgate-agent"))
            .args(["enrol", "--server", &self.base, "--pin", &self.pin, "--mac", mac, "--state-dir"])
            .arg(state_dir)
            .output()
            .expect("run examgate-agent enrol");
        assert!(out.status.success(), "enrol: {}", String::from_utf8_lossy(&out.stderr));
        let link = std::fs::read_to_string(state_dir.join("link.toml")).expect("enrol wrote link.toml");
        link.lines()
            .find_map(|l| l.strip_prefix("key_id = "))
            .expect("link.toml names the key")
            .trim_matches('"')
            .to_owned()
    }
}

/// The console API with a session open on both roles.
pub struct Console {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl Console {
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self.http.get(format!("{}{path}", self.base)).header("cookie", &self.cookie).send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .json(&body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    /// Approves the enrolled PC `key_id` as `seat` in `role` (`seat` or `console`).
    pub async fn approve(&self, seat: &str, key_id: &str, role: &str) {
        let (status, body) =
            self.post(&format!("/api/v1/seats/{seat}/approve"), json!({"key_id": key_id, "role": role})).await;
        assert_eq!(status, 200, "approve {seat}: {body}");
    }

    /// Waits until every seat in `seats` has its push socket open (so a pushed command reaches it).
    pub async fn await_connected(&self, seats: &[&str]) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (_, map) = self.get("/api/v1/seats").await;
            let connected = |n: &&str| {
                map["seats"].as_array().is_some_and(|s| s.iter().any(|s| s["seat"] == *n && s["connected"] == true))
            };
            if seats.iter().all(connected) {
                return;
            }
            assert!(Instant::now() < deadline, "seats {seats:?} did not connect within {PATIENCE:?}: {map}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `examgate-agent link run --state-dir DIR --agent URL`: heartbeats,
/// deliveries and the push socket, whose commands go to the agent at URL.
pub struct LinkRun {
    _child: Child,
}

impl LinkRun {
    pub fn start(state_dir: &Path, agent_url: &str) -> LinkRun {
        let child = Command::new(artifact("examgate-agent"))
            .args(["link", "run", "--heartbeat-secs", "1", "--agent", agent_url, "--state-dir"])
            .arg(state_dir)
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start examgate-agent link run");
        LinkRun { _child: child }
    }
}

/// The exam day of this test process (`YYYY-MM-DD`): this machine's date when first
/// asked, then the same for the whole run. [`start_server`] gives it to the server
/// (`serve --today`), so a run that crosses midnight keeps its day: its roster does
/// not become yesterday's halfway through a login.
pub fn today() -> String {
    static TODAY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TODAY
        .get_or_init(|| {
            let out = std::process::Command::new("date").arg("+%F").output().expect("run date");
            String::from_utf8(out.stdout).expect("date prints ASCII").trim().to_owned()
        })
        .clone()
}

/// One candidate of a simulated roster, as `examgate-sim roster` lists them.
#[derive(Clone, Debug)]
pub struct Booking {
    /// K: candidate K enrolled simulated finger K.
    pub number: u32,
    pub booking_number: String,
}

/// `examgate-sim roster --date DATE --out DIR`; the candidates it printed.
pub fn write_roster(date: &str, out: &Path) -> Vec<Booking> {
    let run = std::process::Command::new(artifact("examgate-sim"))
        .args(["roster", "--date", date, "--out"])
        .arg(out)
        .output()
        .expect("run examgate-sim roster");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "examgate-sim roster: {stdout}{}", String::from_utf8_lossy(&run.stderr));
    // `K booking ID-masked name language finger K`
    stdout
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let number = words.next()?.parse().ok()?;
            let booking_number = words.next()?.to_owned();
            Some(Booking { number, booking_number })
        })
        .collect()
}
