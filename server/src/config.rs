//! The server's TOML config. Every field has a default that works; unknown
//! fields are an error, so a misspelt key is never silently ignored.
//!
//! ```toml
//! listen = "0.0.0.0:8443"
//! data_dir = "/var/lib/examgate"        # database, snapshots, certificate
//! database = "sqlite:/var/lib/examgate/examgate.db"   # or postgres://user@host/db
//!
//! [tls]
//! enabled = true                         # a self-made certificate on first start
//! names = ["exam-centre.local", "10.0.0.1"]
//!
//! [agents]
//! signature_window_secs = 60             # how far a request's clock may be off
//! offline_after_secs = 15                # three missed heartbeats
//! max_body_bytes = 4194304
//!
//! [console]
//! session_hours = 12
//! allowed_ips = []                       # the seeds bind the console to its IP; empty = any
//! idle_minutes = 15                      # locks after this long without a person's input
//!
//! [login]
//! score_tolerance = 0                    # how far a seat's score may lie from the server's re-check
//!
//! [roster]
//! key_file = "/var/lib/examgate/roster.key"  # seals photos and templates; NOT in backups
//! utc_offset = "+08:00"                  # the exam centre's day; default: this machine's
//! purge_after_hours = 72                 # after the end of the exam day
//! purge_check_secs = 60
//!
//! [bank]
//! max_package_mb = 512                   # a question bank package larger than this is refused
//!
//! [exam]
//! default = "C1"                         # the exam of a roster row with no exam column
//! grace_secs = 30                        # answers in the link still taken after the deadline; then the server closes it
//! warnings_before_action = 2             # the console's warnings to one candidate before warning_action applies
//! warning_action = "none"                # none | ask_examiner | forced_submission
//! reminders_minutes = [10, 5, 1]         # end-of-time reminders pushed to the seat (minutes left)
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "0.0.0.0:8443";
pub const DEFAULT_DATA_DIR: &str = "examgate-data";

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `sqlite:PATH` or `postgres://…`.
    pub database: String,
    pub tls: TlsConfig,
    pub agents: AgentsConfig,
    pub console: ConsoleConfig,
    pub roster: RosterConfig,
    pub login: LoginConfig,
    pub bank: BankConfig,
    pub exam: ExamConfig,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BankConfig {
    /// The largest question bank package (zip or directory, and unpacked) `bank import` reads.
    pub max_package_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct ExamConfig {
    /// The exam a candidate takes when the roster names none.
    pub default: Option<String>,
    /// How long after a paper's deadline an answer still in the link is taken,
    /// and when the server closes the attempt with what it holds.
    pub grace_ms: i64,
    /// Warnings to one candidate before [`WarningAction`] applies (0: never).
    pub warnings_before_action: u32,
    pub warning_action: WarningAction,
    /// Minutes left at which the server pushes an end-of-time reminder, largest first.
    pub reminders_minutes: Vec<u32>,
}

/// What the server does when a candidate's warnings reach `warnings_before_action`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningAction {
    /// Nothing beyond the warning itself.
    #[default]
    None,
    /// An `warnings_reached` alert on the console: the examiner decides.
    AskExaminer,
    /// The paper is submitted, forced (reason `warnings`).
    ForcedSubmission,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoginConfig {
    /// How far a seat's fingerprint score may lie from the server's own for
    /// standard templates (0: the same matcher on the same bytes agrees exactly).
    pub score_tolerance: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TlsConfig {
    pub enabled: bool,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Names and addresses the self-made certificate carries.
    pub names: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AgentsConfig {
    pub signature_window_ms: i64,
    pub offline_after_ms: i64,
    pub max_body_bytes: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConsoleConfig {
    pub session_ms: i64,
    pub allowed_ips: Vec<IpAddr>,
    /// A console without a person's input for this long locks: both log in again.
    pub idle_ms: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RosterConfig {
    /// The key that seals photos, templates and verification evidence (made on first use).
    pub key_file: PathBuf,
    /// Seconds east of UTC of the exam centre's day; `None`: this machine's local offset.
    pub utc_offset_secs: Option<i32>,
    /// How long after the end of the exam day photos and templates are kept.
    pub purge_after_ms: i64,
    pub purge_check_ms: u64,
}

impl Config {
    /// The defaults, with everything kept under `data_dir`.
    pub fn with_data_dir(data_dir: &Path) -> Config {
        Config {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            data_dir: data_dir.to_path_buf(),
            database: format!("sqlite:{}", data_dir.join("examgate.db").display()),
            tls: TlsConfig {
                enabled: true,
                cert: data_dir.join("tls/cert.pem"),
                key: data_dir.join("tls/key.pem"),
                names: vec!["localhost".into(), "127.0.0.1".into()],
            },
            agents: AgentsConfig { signature_window_ms: 60_000, offline_after_ms: 15_000, max_body_bytes: 4 << 20 },
            console: ConsoleConfig { session_ms: 12 * 3_600_000, allowed_ips: Vec::new(), idle_ms: 15 * 60_000 },
            login: LoginConfig { score_tolerance: 0 },
            bank: BankConfig { max_package_bytes: 512 << 20 },
            exam: ExamConfig {
                default: None,
                grace_ms: 30_000,
                warnings_before_action: 2,
                warning_action: WarningAction::None,
                reminders_minutes: vec![10, 5, 1],
            },
            roster: RosterConfig {
                key_file: data_dir.join("roster.key"),
                utc_offset_secs: None,
                purge_after_ms: 72 * 3_600_000,
                purge_check_ms: 60_000,
            },
        }
    }

    /// The server's Ed25519 key that signs paper manifests (made on first use; not in backups).
    pub fn server_key_file(&self) -> PathBuf {
        self.data_dir.join(crate::exam::key::KEY_FILE)
    }

    /// Where paper packages are kept once built (rebuilt from the bank if lost; not in backups).
    pub fn paper_dir(&self) -> PathBuf {
        self.data_dir.join("papers")
    }

    /// Where snapshots are kept, as files named by their SHA-256.
    pub fn snapshot_dir(&self) -> PathBuf {
        self.data_dir.join("snapshots")
    }

    /// Reads a config file; fields it leaves out keep their defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Config::parse(&text).map_err(|message| ConfigError::Invalid { path: path.display().to_string(), message })
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let data_dir = raw.data_dir.map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let mut c = Config::with_data_dir(&data_dir);
        if let Some(listen) = raw.listen {
            c.listen =
                listen.parse().map_err(|_| format!("listen = {listen:?} is not an address like 0.0.0.0:8443"))?;
        }
        if let Some(db) = raw.database {
            c.database = db;
        }
        let tls = raw.tls.unwrap_or_default();
        c.tls.enabled = tls.enabled.unwrap_or(true);
        if let Some(cert) = tls.cert {
            c.tls.cert = cert.into();
        }
        if let Some(key) = tls.key {
            c.tls.key = key.into();
        }
        if let Some(names) = tls.names {
            c.tls.names = names;
        }
        let agents = raw.agents.unwrap_or_default();
        if let Some(s) = agents.signature_window_secs {
            c.agents.signature_window_ms = i64::from(s) * 1000;
        }
        if let Some(s) = agents.offline_after_secs {
            c.agents.offline_after_ms = i64::from(s) * 1000;
        }
        if let Some(n) = agents.max_body_bytes {
            c.agents.max_body_bytes = n;
        }
        let console = raw.console.unwrap_or_default();
        if let Some(h) = console.session_hours {
            c.console.session_ms = i64::from(h) * 3_600_000;
        }
        if let Some(m) = console.idle_minutes {
            if m == 0 {
                return Err("console.idle_minutes must be at least 1".into());
            }
            c.console.idle_ms = i64::from(m) * 60_000;
        }
        if let Some(t) = raw.login.unwrap_or_default().score_tolerance {
            if t > 1000 {
                return Err("login.score_tolerance must be 0 to 1000".into());
            }
            c.login.score_tolerance = t;
        }
        for ip in console.allowed_ips.unwrap_or_default() {
            c.console
                .allowed_ips
                .push(ip.parse().map_err(|_| format!("console.allowed_ips: {ip:?} is not an IP address"))?);
        }
        let roster = raw.roster.unwrap_or_default();
        if let Some(key_file) = roster.key_file {
            c.roster.key_file = key_file.into();
        }
        if let Some(offset) = roster.utc_offset {
            c.roster.utc_offset_secs = Some(parse_utc_offset(&offset).ok_or_else(|| {
                format!("roster.utc_offset = {offset:?} is not an offset like \"+08:00\" or \"-05:30\"")
            })?);
        }
        if let Some(h) = roster.purge_after_hours {
            c.roster.purge_after_ms = i64::from(h) * 3_600_000;
        }
        if let Some(s) = roster.purge_check_secs {
            if s == 0 {
                return Err("roster.purge_check_secs must be at least 1".into());
            }
            c.roster.purge_check_ms = u64::from(s) * 1000;
        }
        if let Some(mb) = raw.bank.unwrap_or_default().max_package_mb {
            if mb == 0 {
                return Err("bank.max_package_mb must be at least 1".into());
            }
            c.bank.max_package_bytes = mb << 20;
        }
        let exam = raw.exam.unwrap_or_default();
        c.exam.default = exam.default.filter(|d| !d.trim().is_empty());
        if let Some(s) = exam.grace_secs {
            if s > 3600 {
                return Err("exam.grace_secs must be at most 3600".into());
            }
            c.exam.grace_ms = i64::from(s) * 1000;
        }
        if let Some(n) = exam.warnings_before_action {
            if n > 100 {
                return Err("exam.warnings_before_action must be at most 100".into());
            }
            c.exam.warnings_before_action = n;
        }
        if let Some(a) = exam.warning_action {
            c.exam.warning_action = a;
        }
        if let Some(mut m) = exam.reminders_minutes {
            if m.iter().any(|&x| x == 0 || x > 600) {
                return Err("exam.reminders_minutes must each be 1 to 600".into());
            }
            m.sort_unstable_by(|a, b| b.cmp(a));
            m.dedup();
            c.exam.reminders_minutes = m;
        }
        Ok(c)
    }
}

/// `+08:00`, `-05:30`, `Z` → seconds east of UTC.
pub fn parse_utc_offset(s: &str) -> Option<i32> {
    if s == "Z" || s == "z" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config {path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    data_dir: Option<String>,
    database: Option<String>,
    tls: Option<RawTls>,
    agents: Option<RawAgents>,
    console: Option<RawConsole>,
    roster: Option<RawRoster>,
    login: Option<RawLogin>,
    bank: Option<RawBank>,
    exam: Option<RawExam>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBank {
    max_package_mb: Option<u64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExam {
    default: Option<String>,
    grace_secs: Option<u32>,
    warnings_before_action: Option<u32>,
    warning_action: Option<WarningAction>,
    reminders_minutes: Option<Vec<u32>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogin {
    score_tolerance: Option<u32>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    enabled: Option<bool>,
    cert: Option<String>,
    key: Option<String>,
    names: Option<Vec<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgents {
    signature_window_secs: Option<u32>,
    offline_after_secs: Option<u32>,
    max_body_bytes: Option<usize>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsole {
    session_hours: Option<u32>,
    allowed_ips: Option<Vec<String>>,
    idle_minutes: Option<u32>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoster {
    key_file: Option<String>,
    utc_offset: Option<String>,
    purge_after_hours: Option<u32>,
    purge_check_secs: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_working_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(c.database, "sqlite:examgate-data/examgate.db");
        assert!(c.tls.enabled);
        assert_eq!(c.agents.signature_window_ms, 60_000);
    }

    #[test]
    fn fields_override_defaults_and_typos_are_errors() {
        let c = Config::parse(
            "data_dir = \"/srv/eg\"\n[agents]\nsignature_window_secs = 30\n[console]\nallowed_ips = [\"10.0.0.5\"]",
        )
        .unwrap();
        assert_eq!(c.database, "sqlite:/srv/eg/examgate.db");
        assert_eq!(c.tls.cert, PathBuf::from("/srv/eg/tls/cert.pem"));
        assert_eq!(c.agents.signature_window_ms, 30_000);
        assert_eq!(c.console.allowed_ips, vec!["10.0.0.5".parse::<IpAddr>().unwrap()]);
        let err = Config::parse("[agents]\nsignature_windw_secs = 3").unwrap_err();
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn roster_settings_have_defaults_and_offsets_are_checked() {
        let c = Config::parse("data_dir = \"/srv/eg\"").unwrap();
        assert_eq!(c.roster.key_file, PathBuf::from("/srv/eg/roster.key"));
        assert_eq!(c.roster.utc_offset_secs, None);
        assert_eq!(c.roster.purge_after_ms, 72 * 3_600_000);
        let c = Config::parse("[roster]\nutc_offset = \"+08:00\"\npurge_after_hours = 1").unwrap();
        assert_eq!(c.roster.utc_offset_secs, Some(8 * 3600));
        assert_eq!(c.roster.purge_after_ms, 3_600_000);
        assert_eq!(parse_utc_offset("-05:30"), Some(-(5 * 3600 + 30 * 60)));
        for bad in ["08:00", "+8:00", "+08", "+15:00", "+08:60"] {
            assert_eq!(parse_utc_offset(bad), None, "{bad}");
        }
        let err = Config::parse("[roster]\nutc_offset = \"CST\"").unwrap_err();
        assert!(err.contains("+08:00"), "{err}");
    }

    #[test]
    fn the_console_locks_after_15_idle_minutes_and_scores_must_agree_exactly_by_default() {
        let c = Config::parse("").unwrap();
        assert_eq!((c.console.idle_ms, c.login.score_tolerance), (15 * 60_000, 0));
        let c = Config::parse("[console]\nidle_minutes = 5\n[login]\nscore_tolerance = 3").unwrap();
        assert_eq!((c.console.idle_ms, c.login.score_tolerance), (5 * 60_000, 3));
        assert!(Config::parse("[console]\nidle_minutes = 0").is_err());
    }
}
