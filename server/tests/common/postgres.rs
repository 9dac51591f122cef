//! A throwaway PostgreSQL server for tests: `initdb` into a temporary
//! directory, started once per test process (as the `postgres` user when
//! the tests run as root), one fresh database per test. The server stops
//! and its directory goes when the test process exits, however it exits:
//! a shell holds it and waits on a pipe only this process holds.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

struct Server {
    /// `postgres://postgres@127.0.0.1:PORT`, without a database.
    base: String,
    _keepalive: Mutex<ChildStdin>,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
/// A second server set as an exam centre runs one: fsync, synchronous commit
/// and full-page writes on (the load bench's main rows), with
/// `pg_stat_statements` loaded so that the bench can count statements.
static DURABLE: OnceLock<Result<Server, String>> = OnceLock::new();

/// The settings of the tests' server: nothing waits for the disk.
const FAST: &str = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off";
/// A centre's settings (PostgreSQL's defaults).
const AS_A_CENTRE: &str = "-c fsync=on -c synchronous_commit=on -c full_page_writes=on \
    -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all";

fn bin_dir() -> Result<PathBuf, String> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("PostgreSQL is not installed (/usr/lib/postgresql: {e}); run scripts/install-deps.sh"))?
        .filter_map(|d| d.ok().map(|d| d.path().join("bin")))
        .filter(|p| p.join("postgres").exists())
        .collect();
    versions.sort();
    versions.pop().ok_or_else(|| "no PostgreSQL server binaries under /usr/lib/postgresql".into())
}

/// The uid and gid of `postgres`, when this process is root (PostgreSQL refuses to run as root).
fn run_as() -> Option<(u32, u32)> {
    let me = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid_line = me.lines().find(|l| l.starts_with("Uid:"))?;
    if uid_line.split_whitespace().nth(1)? != "0" {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
    let f: Vec<&str> = line.split(':').collect();
    Some((f[2].parse().ok()?, f[3].parse().ok()?))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(55432)
}

fn command(bin: &Path, ids: Option<(u32, u32)>) -> Command {
    let mut c = Command::new(bin);
    if let Some((uid, gid)) = ids {
        c.uid(uid).gid(gid);
    }
    c
}

fn start(settings: &str) -> Result<Server, String> {
    let bin = bin_dir()?;
    let ids = run_as();
    let dir = tempfile::Builder::new().prefix("examgate-pg-").tempdir().map_err(|e| e.to_string())?.keep();
    if let Some((uid, gid)) = ids {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| format!("chown {}: {e}", dir.display()))?;
    }
    let data = dir.join("data");
    let out = command(&bin.join("initdb"), ids)
        .args(["--auth=trust", "--username=postgres", "--encoding=UTF8", "--no-sync", "-D"])
        .arg(&data)
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let port = free_port();
    // The shell starts postgres, then waits for its stdin to close (this
    // process exiting), then stops postgres at once and removes the files.
    let script = r#"
        "$1/postgres" -D "$2/data" -p "$3" -k "$2" -c listen_addresses=127.0.0.1 $4 -c max_connections=300 &
        pid=$!
        read -r _
        kill -QUIT "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        rm -rf "$2"
    "#;
    let mut child = command(Path::new("/bin/sh"), ids)
        .args(["-c", script, "sh"])
        .arg(&bin)
        .arg(&dir)
        .arg(port.to_string())
        .arg(settings)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    let stdin = child.stdin.take().expect("piped stdin");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut log = Vec::new();
    loop {
        match lines.next() {
            Some(Ok(line)) => {
                let ready = line.contains("ready to accept connections");
                log.push(line);
                if ready {
                    break;
                }
            }
            _ => return Err(format!("postgres stopped before it was ready:\n{}", log.join("\n"))),
        }
    }
    // Keep draining the log so postgres never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(Server { base: format!("postgres://postgres@127.0.0.1:{port}"), _keepalive: Mutex::new(stdin) })
}

/// A URL of a new, empty database on the test process's PostgreSQL server.
pub async fn fresh_database() -> String {
    fresh_database_blocking()
}

/// The same, for callers without a runtime. `psql` makes the database, so
/// this file needs nothing but std and tempfile (the e2e tests include it too).
pub fn fresh_database_blocking() -> String {
    new_database(SERVER.get_or_init(|| start(FAST)))
}

/// A URL of a new, empty database on a throwaway server that syncs its
/// commits to disk as a centre's does (fsync and synchronous_commit on).
pub fn fresh_durable_database() -> String {
    new_database(DURABLE.get_or_init(|| start(AS_A_CENTRE)))
}

/// Runs `sql` with `psql` on the database at `url`; its output, unaligned, without headers.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new(bin_dir().expect("PostgreSQL binaries").join("psql"))
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-A", "-t", "-c", sql])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn new_database(server: &Result<Server, String>) -> String {
    use std::hash::{BuildHasher, Hasher};
    let server = server.as_ref().unwrap_or_else(|e| panic!("throwaway PostgreSQL: {e}"));
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    let name = format!("t_{:016x}", h.finish());
    let out = Command::new(bin_dir().expect("PostgreSQL binaries").join("psql"))
        .arg(format!("{}/postgres", server.base))
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "create a test database: {}", String::from_utf8_lossy(&out.stderr));
    format!("{}/{name}", server.base)
}
