//! The agent's TOML config. Every field has a default that works; unknown
//! fields are an error, so a misspelt key is never silently ignored.
//!
//! ```toml
//! listen = "127.0.0.1:17480"
//! devices = ["sim:fingerprint", "plugin:/opt/acme/libfp.so"]
//! allowed_origins = ["https://exam.example.cn"]
//! api_token = "change-me"          # cross-origin callers send `Authorization: Bearer change-me`
//! capture_timeout_ms = 15000
//! host_grace_ms = 2000
//! wlt_decoder = "/opt/vendor/libwlt.so"  # a vendor's WLT photo decoder plugin: adds photo_jpeg to cards
//!
//! [snapshots]
//! dir = "/var/lib/examgate/snapshots"  # default: $STATE_DIRECTORY, else ~/.local/state/examgate/snapshots
//! max_mb = 256                         # photos awaiting the server; a full store is an alarm
//! max_records = 10000
//! seat = "A-017"
//! exam = "k1-2025-06-01-am"
//! width = 640                          # stored JPEGs fit width x height
//! height = 480
//! quality = 80
//! # The scheduler runs when schedule_seed, exam_start and exam_minutes are set.
//! # The seed is the exam's secret (from the exam server): keep this file 0600.
//! schedule_seed = "64 hex digits"
//! exam_start = "2025-06-01T09:00:00+08:00"
//! exam_minutes = 45
//! count = 5                            # scheduled snapshots in the exam
//! min_gap_s = 180
//! margin_s = 60                        # none this close to the start or end
//!
//! [link]
//! state_dir = "/var/lib/examgate/link"  # an enrolment (examgate-agent enrol): login calls the server through it
//! role = "seat"                         # or "console": the examiner's PC, whose card reads go to the server
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use examgate_protocol::Timestamp;
use serde::Deserialize;

use crate::camera::{ScheduleSettings, SnapshotSettings};
use crate::selector::{DeviceSelector, SelectorError};
use crate::snapshot::{ExamWindow, Schedule, ScheduleSeed, SnapshotPolicy};

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:17480";

/// The agent's settings, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    pub devices: Vec<DeviceSelector>,
    /// Origins (besides the agent's own) whose pages may call the API.
    pub allowed_origins: Vec<Origin>,
    /// When set, cross-origin callers must send `Authorization: Bearer TOKEN`.
    pub api_token: Option<String>,
    /// How long a capture waits for a finger.
    pub capture_timeout: Duration,
    /// Time a driver host gets over an operation's own timeout before it is
    /// declared hung and restarted.
    pub host_grace: Duration,
    /// Where snapshots go, under which seat and exam, and their schedule.
    pub snapshots: SnapshotSettings,
    /// A vendor's WLT photo decoder plugin; without one the card photo is
    /// reported as bytes and SHA-256 only.
    pub wlt_decoder: Option<std::path::PathBuf>,
    /// The enrolment login uses, and what this PC is.
    pub link: LinkConfig,
}

/// The `[link]` table: where `run` finds the enrolment for login calls.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkConfig {
    /// The directory `examgate-agent enrol` wrote (link.toml, link-key.pk8).
    pub state_dir: Option<std::path::PathBuf>,
    pub role: crate::login::Role,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            devices: Vec::new(),
            allowed_origins: Vec::new(),
            api_token: None,
            capture_timeout: Duration::from_secs(15),
            host_grace: Duration::from_secs(2),
            snapshots: SnapshotSettings::default(),
            wlt_decoder: None,
            link: LinkConfig::default(),
        }
    }
}

/// The file as written; [`Config`] is what it means.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    #[serde(default)]
    devices: Vec<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    api_token: Option<String>,
    capture_timeout_ms: Option<u64>,
    host_grace_ms: Option<u64>,
    snapshots: Option<RawSnapshots>,
    wlt_decoder: Option<String>,
    link: Option<RawLink>,
}

/// The `[link]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    state_dir: Option<String>,
    role: Option<String>,
}

/// The `[snapshots]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSnapshots {
    dir: Option<String>,
    max_mb: Option<u64>,
    max_records: Option<u64>,
    seat: Option<String>,
    exam: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    quality: Option<u8>,
    capture_timeout_ms: Option<u64>,
    schedule_seed: Option<String>,
    exam_start: Option<String>,
    exam_minutes: Option<u64>,
    count: Option<u32>,
    min_gap_s: Option<u64>,
    margin_s: Option<u64>,
}

/// Why a config did not load.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config {path}: {message}")]
    Syntax { path: String, message: String },
    #[error("config {path}: listen = {value:?} is not an address like 127.0.0.1:17480")]
    Listen { path: String, value: String },
    #[error("config {path}: devices[{index}]: {source}")]
    Device { path: String, index: usize, source: Box<SelectorError> },
    #[error("config {path}: allowed_origins[{index}]: {source}")]
    Origin { path: String, index: usize, source: OriginError },
    #[error("config {path}: {field} = {value} is out of range ({range})")]
    Range { path: String, field: &'static str, value: u64, range: &'static str },
    #[error("config {path}: api_token is empty; remove the line to serve without a token")]
    EmptyToken { path: String },
    #[error("config {path}: [snapshots] {field}: {why}")]
    Snapshots { path: String, field: &'static str, why: String },
    #[error("config {path}: [link] {field}: {why}")]
    Link { path: String, field: &'static str, why: String },
}

impl Config {
    /// Read and validate a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: label.clone(), source })?;
        let config = Config::parse(&text, &label)?;
        if config.snapshots.schedule.is_some() {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
            if mode & 0o077 != 0 {
                tracing::warn!(
                    config = %label,
                    mode = format!("{mode:o}"),
                    "the config holds the exam's schedule seed and others can read it; chmod 600 it"
                );
            }
        }
        Ok(config)
    }

    /// Parse and validate config text; `label` names it in errors.
    pub fn parse(text: &str, label: &str) -> Result<Config, ConfigError> {
        let path = || label.to_owned();
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Syntax { path: path(), message: one_line(&e.to_string()) })?;
        let mut config = Config::default();
        if let Some(listen) = raw.listen {
            config.listen = listen.parse().map_err(|_| ConfigError::Listen { path: path(), value: listen.clone() })?;
        }
        for (index, text) in raw.devices.iter().enumerate() {
            let selector =
                text.parse().map_err(|source| ConfigError::Device { path: path(), index, source: Box::new(source) })?;
            config.devices.push(selector);
        }
        for (index, text) in raw.allowed_origins.iter().enumerate() {
            let origin = text.parse().map_err(|source| ConfigError::Origin { path: path(), index, source })?;
            config.allowed_origins.push(origin);
        }
        if let Some(token) = raw.api_token {
            if token.trim().is_empty() {
                return Err(ConfigError::EmptyToken { path: path() });
            }
            config.api_token = Some(token);
        }
        if let Some(ms) = raw.capture_timeout_ms {
            if !(100..=600_000).contains(&ms) {
                return Err(ConfigError::Range {
                    path: path(),
                    field: "capture_timeout_ms",
                    value: ms,
                    range: "100..=600000",
                });
            }
            config.capture_timeout = Duration::from_millis(ms);
        }
        if let Some(decoder) = raw.wlt_decoder {
            if decoder.trim().is_empty() {
                return Err(ConfigError::Range {
                    path: path(),
                    field: "wlt_decoder",
                    value: 0,
                    range: "a library path",
                });
            }
            config.wlt_decoder = Some(decoder.into());
        }
        if let Some(ms) = raw.host_grace_ms {
            if !(100..=60_000).contains(&ms) {
                return Err(ConfigError::Range {
                    path: path(),
                    field: "host_grace_ms",
                    value: ms,
                    range: "100..=60000",
                });
            }
            config.host_grace = Duration::from_millis(ms);
        }
        if let Some(raw) = raw.snapshots {
            config.snapshots = snapshot_settings(raw, label)?;
        }
        if let Some(raw) = raw.link {
            let bad = |field, why: String| ConfigError::Link { path: path(), field, why };
            if let Some(dir) = raw.state_dir {
                if dir.trim().is_empty() {
                    return Err(bad("state_dir", "is empty; remove the line to run without a server".into()));
                }
                config.link.state_dir = Some(dir.into());
            }
            if let Some(role) = raw.role {
                config.link.role = role.parse().map_err(|why| bad("role", why))?;
            }
        }
        Ok(config)
    }
}

fn in_range<T: PartialOrd + Copy + std::fmt::Display>(
    label: &str,
    field: &'static str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        let why = format!("{value} is outside {}..={}", range.start(), range.end());
        Err(ConfigError::Snapshots { path: label.to_owned(), field, why })
    }
}

/// The `[snapshots]` table, validated; a schedule is drawn once here so an
/// impossible policy is refused at start, not at the first snapshot.
fn snapshot_settings(raw: RawSnapshots, label: &str) -> Result<SnapshotSettings, ConfigError> {
    let bad = |field, why: String| ConfigError::Snapshots { path: label.to_owned(), field, why };
    let mut s = SnapshotSettings::default();
    if let Some(dir) = raw.dir {
        if dir.trim().is_empty() {
            return Err(bad("dir", "is empty; remove the line for the default".into()));
        }
        s.dir = dir.into();
    }
    if let Some(mb) = raw.max_mb {
        s.limits.max_bytes = in_range(label, "max_mb", mb, 1..=1_000_000)? << 20;
    }
    if let Some(n) = raw.max_records {
        s.limits.max_records = in_range(label, "max_records", n, 1..=10_000_000)?;
    }
    if let Some(seat) = raw.seat {
        s.exam.seat = seat.parse().map_err(|e| bad("seat", format!("{e}")))?;
    }
    if let Some(exam) = raw.exam {
        s.exam.exam = exam.parse().map_err(|e| bad("exam", format!("{e}")))?;
    }
    if let Some(w) = raw.width {
        s.service.jpeg.max_width = in_range(label, "width", w, 16..=4096)?;
    }
    if let Some(h) = raw.height {
        s.service.jpeg.max_height = in_range(label, "height", h, 16..=4096)?;
    }
    if let Some(q) = raw.quality {
        s.service.jpeg.quality = in_range(label, "quality", q, 1..=100)?;
    }
    if let Some(ms) = raw.capture_timeout_ms {
        s.service.capture_timeout = Duration::from_millis(in_range(label, "capture_timeout_ms", ms, 100..=60_000)?);
    }
    let policy_given = raw.count.is_some() || raw.min_gap_s.is_some() || raw.margin_s.is_some();
    s.schedule = match (raw.schedule_seed, raw.exam_start, raw.exam_minutes) {
        (None, None, None) if policy_given => {
            return Err(bad(
                "count",
                "a policy without a schedule: set schedule_seed, exam_start and exam_minutes".into(),
            ));
        }
        (None, None, None) => None,
        (Some(seed), Some(start), Some(minutes)) => {
            let seed = ScheduleSeed::from_hex(&seed).map_err(|e| bad("schedule_seed", e.to_string()))?;
            let start: Timestamp = start.parse().map_err(|e| bad("exam_start", format!("{e}")))?;
            let start = u64::try_from(start.unix_millis())
                .map(|ms| std::time::UNIX_EPOCH + Duration::from_millis(ms))
                .map_err(|_| bad("exam_start", "is before 1970".into()))?;
            let minutes = in_range(label, "exam_minutes", minutes, 1..=24 * 60)?;
            let window = ExamWindow { start, length: Duration::from_secs(minutes * 60) };
            let mut policy = SnapshotPolicy::default();
            if let Some(count) = raw.count {
                policy.count = count;
            }
            if let Some(gap) = raw.min_gap_s {
                policy.min_gap = Duration::from_secs(gap);
            }
            if let Some(margin) = raw.margin_s {
                policy.margin = Duration::from_secs(margin);
            }
            Schedule::plan(&seed, &s.exam.seat, &s.exam.exam, window, &policy)
                .map_err(|e| bad("count", e.to_string()))?;
            Some(ScheduleSettings { seed, window, policy })
        }
        _ => {
            return Err(bad(
                "schedule_seed",
                "the schedule needs schedule_seed, exam_start and exam_minutes together".into(),
            ));
        }
    };
    Ok(s)
}

/// toml's messages quote the offending line over several lines; the first
/// and the last carry the position and the reason.
fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    match lines.as_slice() {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [first, .., last] => format!("{first}: {last}"),
    }
}

/// A web origin, `scheme://host[:port]`, normalised (lower case, no default
/// port, no trailing slash) so it compares equal to a browser's `Origin`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an origin; write scheme://host[:port], e.g. https://exam.example.cn (no path)")]
pub struct OriginError(String);

impl Origin {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Origin {
    type Err = OriginError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || OriginError(s.to_owned());
        let lower = s.trim().to_ascii_lowercase();
        let (scheme, rest) = lower.split_once("://").ok_or_else(err)?;
        let default_port = match scheme {
            "http" => ":80",
            "https" => ":443",
            _ => return Err(err()),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return Err(err());
        }
        let authority = authority.strip_suffix(default_port).unwrap_or(authority);
        let (host, port) = if authority.starts_with('[') {
            let end = authority.find(']').ok_or_else(err)?;
            authority.split_at(end + 1)
        } else {
            authority.split_at(authority.find(':').unwrap_or(authority.len()))
        };
        let port_ok = port.is_empty() || port.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok());
        if host.is_empty() || host == "[]" || !port_ok {
            return Err(err());
        }
        Ok(Origin(format!("{scheme}://{authority}")))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        Config::parse(text, "agent.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(text: &str) -> String {
        Config::parse(text, "agent.toml").expect_err(text).to_string()
    }

    #[test]
    fn an_empty_file_gives_working_defaults() {
        let c = parse("");
        assert_eq!(c, Config::default());
        assert_eq!(c.listen.to_string(), "127.0.0.1:17480");
        assert_eq!(c.capture_timeout, Duration::from_secs(15));
        assert_eq!(c.host_grace, Duration::from_secs(2));
        assert!(c.devices.is_empty() && c.allowed_origins.is_empty() && c.api_token.is_none());
    }

    #[test]
    fn reads_every_field() {
        let c = parse(
            r#"
            listen = "127.0.0.1:18000"
            devices = ["sim:fingerprint?delay_ms=10", "plugin:/opt/fp.so"]
            allowed_origins = ["https://Exam.Example.cn/"]
            api_token = "s3cret"
            capture_timeout_ms = 5000
            host_grace_ms = 700
            "#,
        );
        assert_eq!(c.listen.port(), 18000);
        assert_eq!(c.devices.len(), 2);
        assert_eq!(c.devices[1].to_string(), "plugin:/opt/fp.so");
        assert_eq!(c.allowed_origins[0].as_str(), "https://exam.example.cn");
        assert_eq!(c.api_token.as_deref(), Some("s3cret"));
        assert_eq!(c.capture_timeout, Duration::from_millis(5000));
        assert_eq!(c.host_grace, Duration::from_millis(700));
    }

    #[test]
    fn rejects_unknown_fields_naming_them() {
        let e = error("listen = \"127.0.0.1:1\"\ncapture_timeout = 15\n");
        assert!(e.starts_with("config agent.toml:"), "{e}");
        assert!(e.contains("unknown field `capture_timeout`"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn rejects_bad_values_with_their_place() {
        assert!(error("listen = \"localhost\"").contains("listen = \"localhost\""));
        assert!(error("devices = [\"sim:fingerprint\", \"usb:1\"]").contains("devices[1]: unknown device selector"));
        assert!(error("allowed_origins = [\"exam.example.cn\"]").contains("allowed_origins[0]"));
        assert!(error("capture_timeout_ms = 0").contains("out of range"));
        assert!(error("api_token = \"  \"").contains("api_token is empty"));
        assert!(error("devices = \"sim:fingerprint\"").contains("agent.toml"));
    }

    #[test]
    fn reads_the_snapshot_table_and_keeps_the_seed_out_of_debug() {
        let c = parse(
            r#"
            [snapshots]
            dir = "/tmp/snaps"
            max_mb = 64
            max_records = 500
            seat = "A-017"
            exam = "k1-am"
            width = 320
            height = 240
            quality = 70
            schedule_seed = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
            exam_start = "2025-06-01T09:00:00+08:00"
            exam_minutes = 45
            count = 4
            min_gap_s = 300
            margin_s = 120
            "#,
        );
        let s = &c.snapshots;
        assert_eq!(s.dir, std::path::PathBuf::from("/tmp/snaps"));
        assert_eq!((s.limits.max_bytes, s.limits.max_records), (64 << 20, 500));
        assert_eq!((s.exam.seat.as_str(), s.exam.exam.as_str()), ("A-017", "k1-am"));
        assert_eq!((s.service.jpeg.max_width, s.service.jpeg.max_height, s.service.jpeg.quality), (320, 240, 70));
        let schedule = s.schedule.as_ref().expect("a schedule");
        assert_eq!(schedule.policy.count, 4);
        assert_eq!(schedule.window.length, Duration::from_secs(45 * 60));
        let start = schedule.window.start.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(start, 1_748_739_600, "09:00 in UTC+8 is 01:00 UTC");
        let shown = format!("{c:?}");
        assert!(!shown.contains("00112233"), "the seed leaked into Debug: {shown}");
        assert!(shown.contains("<secret>"), "{shown}");
    }

    #[test]
    fn snapshot_defaults_need_no_table_and_bad_values_name_their_field() {
        let c = parse("");
        assert!(c.snapshots.schedule.is_none());
        assert_eq!(c.snapshots.exam.seat.as_str(), "unassigned");
        let e = error("[snapshots]\nseat = \"seat 1\"\n");
        assert!(e.contains("[snapshots] seat:"), "{e}");
        let e = error("[snapshots]\nschedule_seed = \"abc\"\n");
        assert!(e.contains("together"), "{e}");
        let seed = "a".repeat(64);
        let e = error(&format!(
            "[snapshots]\nschedule_seed = \"{seed}\"\nexam_start = \"2025-06-01T09:00:00Z\"\nexam_minutes = 5\ncount = 10\n"
        ));
        assert!(e.contains("fewer snapshots"), "{e}");
        let e =
            error("[snapshots]\nschedule_seed = \"xyz\"\nexam_start = \"2025-06-01T09:00:00Z\"\nexam_minutes = 5\n");
        assert!(e.contains("schedule_seed: a schedule seed is 64 hex digits"), "{e}");
        assert!(error("[snapshots]\nquality = 0\n").contains("quality: 0 is outside 1..=100"));
        assert!(error("[snapshots]\ncount = 3\n").contains("a policy without a schedule"));
        assert!(error("[snapshots]\nseed = 3\n").contains("unknown field `seed`"));
    }

    #[test]
    fn reads_the_link_table() {
        let c = parse("[link]\nstate_dir = \"/var/lib/examgate/link\"\nrole = \"console\"\n");
        assert_eq!(c.link.state_dir, Some(std::path::PathBuf::from("/var/lib/examgate/link")));
        assert_eq!(c.link.role, crate::login::Role::Console);
        assert_eq!(parse("").link.role, crate::login::Role::Seat);
        assert!(error("[link]\nrole = \"examiner\"\n").contains("[link] role: role = \"examiner\""));
        assert!(error("[link]\nserver = \"x\"\n").contains("unknown field `server`"));
    }

    #[test]
    fn origins_are_normalised_as_browsers_send_them() {
        let o = |s: &str| s.parse::<Origin>().map(|o| o.to_string());
        assert_eq!(o("https://exam.example.cn:443/").unwrap(), "https://exam.example.cn");
        assert_eq!(o("HTTP://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(o("http://[::1]:8080").unwrap(), "http://[::1]:8080");
        assert_eq!(o("http://[::1]").unwrap(), "http://[::1]");
        for bad in ["exam.example.cn", "ftp://x", "https://x/path", "https://", "https://x:port", "*"] {
            assert!(o(bad).is_err(), "{bad}");
        }
    }
}
