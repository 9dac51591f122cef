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
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use crate::selector::{DeviceSelector, SelectorError};

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
}

impl Config {
    /// Read and validate a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: label.clone(), source })?;
        Config::parse(&text, &label)
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
        Ok(config)
    }
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
