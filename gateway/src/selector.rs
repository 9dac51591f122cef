//! Device selectors: the text that names a device source on the command
//! line and in the config (`sim:fingerprint`, `plugin:/opt/acme/libfp.so`).
//!
//! ```
//! use examgate_agent::selector::{DeviceSelector, PluginIsolation};
//! let s: DeviceSelector = "plugin:/opt/acme/libfp.so?isolation=in-process".parse().unwrap();
//! assert!(matches!(s, DeviceSelector::Plugin { isolation: PluginIsolation::InProcess, .. }));
//! assert_eq!(s.to_string(), "plugin:/opt/acme/libfp.so?isolation=in-process");
//! ```

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use examgate_sim::SimFingerprintConfig;
use examgate_sim::fingerprint::ConfigError;

/// Where a device comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceSelector {
    /// `sim:fingerprint[?seed=N&delay_ms=N&finger=N|none&readers=N]`: the
    /// built-in simulated reader.
    SimFingerprint { options: String, config: SimFingerprintConfig },
    /// `plugin:PATH[?isolation=in-process|driver-host]`: a vendor plugin,
    /// by default in a driver-host child process.
    Plugin { path: PathBuf, isolation: PluginIsolation },
    /// `pcsc-idcard[:READER]`: an ID card reader through PC/SC (not built in yet).
    PcscIdCard { reader: Option<String> },
    /// `sam:serial:PATH[?baud=N]`: a GA 467 SAM module on a serial port (not built in yet).
    SamSerial { path: String, baud: Option<u32> },
    /// `as60x:PATH[?OPTIONS]`: an AS60x fingerprint module on a serial port (not built in yet).
    As60x { path: String, options: String },
    /// `webcam[:N|:NAME]`: a camera by index or name (not built in yet).
    Webcam { camera: Option<WebcamRef> },
}

/// Where a plugin runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PluginIsolation {
    /// In a driver-host child process: a crash costs one error, not the agent.
    #[default]
    DriverHost,
    /// Inside the agent: faster, and a crashing plugin takes the agent down.
    InProcess,
}

impl PluginIsolation {
    fn as_str(self) -> &'static str {
        match self {
            PluginIsolation::DriverHost => "driver-host",
            PluginIsolation::InProcess => "in-process",
        }
    }
}

/// A camera by its index (`webcam:0`) or its name (`webcam:HD Webcam`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebcamRef {
    Index(u32),
    Name(String),
}

const EXPECTED: &str =
    "expected sim:fingerprint, plugin:PATH, pcsc-idcard[:READER], sam:serial:PATH, as60x:PATH or webcam[:N|:NAME]";

/// Why a selector did not parse. Each message quotes the selector.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectorError {
    #[error("empty device selector; {EXPECTED}")]
    Empty,
    #[error("unknown device selector {0:?}; {EXPECTED}")]
    UnknownKind(String),
    #[error("unknown simulator in selector {0:?}; the built-in simulator is sim:fingerprint")]
    UnknownSimulator(String),
    #[error("selector {selector:?}: {source}")]
    SimOptions { selector: String, source: ConfigError },
    #[error("selector {selector:?}: {why}")]
    Invalid { selector: String, why: String },
}

impl DeviceSelector {
    /// The driver this selector needs when it is not built into this agent
    /// yet; `None` when the agent can open it.
    pub fn not_built_in(&self) -> Option<&'static str> {
        match self {
            DeviceSelector::SimFingerprint { .. } | DeviceSelector::Plugin { .. } => None,
            DeviceSelector::PcscIdCard { .. } => Some("pcsc-idcard"),
            DeviceSelector::SamSerial { .. } => Some("sam"),
            DeviceSelector::As60x { .. } => Some("as60x"),
            DeviceSelector::Webcam { .. } => Some("webcam"),
        }
    }
}

fn split_query(s: &str) -> (&str, Option<&str>) {
    match s.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (s, None),
    }
}

fn key_values(query: &str) -> impl Iterator<Item = Result<(&str, &str), String>> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| pair.split_once('=').ok_or_else(|| format!("option {pair:?} is not KEY=VALUE")))
}

impl FromStr for DeviceSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let invalid = |why: String| SelectorError::Invalid { selector: text.to_owned(), why };
        if text.is_empty() {
            return Err(SelectorError::Empty);
        }
        let (kind, rest) = match text.split_once(':') {
            Some((kind, rest)) => (kind, Some(rest)),
            None => (text, None),
        };
        match (kind, rest) {
            ("sim", Some(rest)) => {
                let (what, query) = split_query(rest);
                if what != "fingerprint" {
                    return Err(SelectorError::UnknownSimulator(text.to_owned()));
                }
                let options = query.unwrap_or("").to_owned();
                let config = options
                    .parse()
                    .map_err(|source| SelectorError::SimOptions { selector: text.to_owned(), source })?;
                Ok(DeviceSelector::SimFingerprint { options, config })
            }
            ("plugin", Some(rest)) => {
                let (path, query) = split_query(rest);
                if path.is_empty() {
                    return Err(invalid("no plugin path; write plugin:/path/to/libplugin.so".into()));
                }
                let mut isolation = PluginIsolation::DriverHost;
                for kv in key_values(query.unwrap_or("")) {
                    match kv.map_err(invalid)? {
                        ("isolation", "in-process") => isolation = PluginIsolation::InProcess,
                        ("isolation", "driver-host") => isolation = PluginIsolation::DriverHost,
                        ("isolation", other) => {
                            return Err(invalid(format!("isolation={other:?}: expected in-process or driver-host")));
                        }
                        (key, _) => return Err(invalid(format!("plugin has no option {key:?}; known: isolation"))),
                    }
                }
                Ok(DeviceSelector::Plugin { path: PathBuf::from(path), isolation })
            }
            ("pcsc-idcard", rest) => {
                let reader = rest.map(str::to_owned);
                if reader.as_deref() == Some("") {
                    return Err(invalid("empty reader name; write pcsc-idcard or pcsc-idcard:READER".into()));
                }
                Ok(DeviceSelector::PcscIdCard { reader })
            }
            ("sam", Some(rest)) => {
                let Some(port) = rest.strip_prefix("serial:") else {
                    return Err(invalid("expected sam:serial:PATH[?baud=N]".into()));
                };
                let (path, query) = split_query(port);
                if path.is_empty() {
                    return Err(invalid("no serial port path; write sam:serial:/dev/ttyUSB0".into()));
                }
                let mut baud = None;
                for kv in key_values(query.unwrap_or("")) {
                    match kv.map_err(invalid)? {
                        ("baud", n) => {
                            baud = Some(
                                n.parse()
                                    .ok()
                                    .filter(|n| *n > 0)
                                    .ok_or_else(|| invalid(format!("baud={n:?}: expected a positive integer")))?,
                            )
                        }
                        (key, _) => return Err(invalid(format!("sam has no option {key:?}; known: baud"))),
                    }
                }
                Ok(DeviceSelector::SamSerial { path: path.to_owned(), baud })
            }
            ("as60x", Some(rest)) => {
                let (path, query) = split_query(rest);
                if path.is_empty() {
                    return Err(invalid("no serial port path; write as60x:/dev/ttyUSB0".into()));
                }
                for kv in key_values(query.unwrap_or("")) {
                    kv.map_err(invalid)?;
                }
                Ok(DeviceSelector::As60x { path: path.to_owned(), options: query.unwrap_or("").to_owned() })
            }
            ("webcam", rest) => {
                let camera = match rest {
                    None => None,
                    Some("") => return Err(invalid("empty camera; write webcam, webcam:N or webcam:NAME".into())),
                    Some(n) if n.bytes().all(|b| b.is_ascii_digit()) => Some(WebcamRef::Index(
                        n.parse().map_err(|_| invalid(format!("camera index {n} is too large")))?,
                    )),
                    Some(name) => Some(WebcamRef::Name(name.to_owned())),
                };
                Ok(DeviceSelector::Webcam { camera })
            }
            _ => Err(SelectorError::UnknownKind(text.to_owned())),
        }
    }
}

impl fmt::Display for DeviceSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSelector::SimFingerprint { options, .. } if options.is_empty() => f.write_str("sim:fingerprint"),
            DeviceSelector::SimFingerprint { options, .. } => write!(f, "sim:fingerprint?{options}"),
            DeviceSelector::Plugin { path, isolation: PluginIsolation::DriverHost } => {
                write!(f, "plugin:{}", path.display())
            }
            DeviceSelector::Plugin { path, isolation } => {
                write!(f, "plugin:{}?isolation={}", path.display(), isolation.as_str())
            }
            DeviceSelector::PcscIdCard { reader: None } => f.write_str("pcsc-idcard"),
            DeviceSelector::PcscIdCard { reader: Some(r) } => write!(f, "pcsc-idcard:{r}"),
            DeviceSelector::SamSerial { path, baud: None } => write!(f, "sam:serial:{path}"),
            DeviceSelector::SamSerial { path, baud: Some(b) } => write!(f, "sam:serial:{path}?baud={b}"),
            DeviceSelector::As60x { path, options } if options.is_empty() => write!(f, "as60x:{path}"),
            DeviceSelector::As60x { path, options } => write!(f, "as60x:{path}?{options}"),
            DeviceSelector::Webcam { camera: None } => f.write_str("webcam"),
            DeviceSelector::Webcam { camera: Some(WebcamRef::Index(n)) } => write!(f, "webcam:{n}"),
            DeviceSelector::Webcam { camera: Some(WebcamRef::Name(n)) } => write!(f, "webcam:{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse(s: &str) -> DeviceSelector {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn error(s: &str) -> String {
        s.parse::<DeviceSelector>().expect_err(s).to_string()
    }

    #[test]
    fn parses_every_kind_and_prints_it_back() {
        for text in [
            "sim:fingerprint",
            "sim:fingerprint?delay_ms=500",
            "plugin:/opt/acme/libfp.so",
            "plugin:/opt/acme/libfp.so?isolation=in-process",
            "pcsc-idcard",
            "pcsc-idcard:Virtual PCD 00 00",
            "sam:serial:/dev/ttyUSB0",
            "sam:serial:/dev/ttyUSB0?baud=115200",
            "as60x:/dev/ttyUSB1",
            "as60x:/dev/ttyUSB1?address=0xffffffff",
            "webcam",
            "webcam:0",
            "webcam:HD Webcam",
        ] {
            assert_eq!(parse(text).to_string(), text);
        }
    }

    #[test]
    fn sim_options_reach_the_simulator_config() {
        let DeviceSelector::SimFingerprint { config, .. } = parse("sim:fingerprint?delay_ms=500&finger=none") else {
            panic!("not a sim selector");
        };
        assert_eq!(config.capture_delay, Duration::from_millis(500));
        assert_eq!(config.finger, None);
    }

    #[test]
    fn plugins_run_in_a_driver_host_unless_told_otherwise() {
        assert_eq!(
            parse("plugin:/x/lib.so"),
            DeviceSelector::Plugin { path: "/x/lib.so".into(), isolation: PluginIsolation::DriverHost }
        );
        assert_eq!(parse("plugin:/x/lib.so?isolation=driver-host").to_string(), "plugin:/x/lib.so");
    }

    #[test]
    fn webcam_takes_an_index_or_a_name() {
        assert_eq!(parse("webcam:2"), DeviceSelector::Webcam { camera: Some(WebcamRef::Index(2)) });
        assert_eq!(parse("webcam:Front"), DeviceSelector::Webcam { camera: Some(WebcamRef::Name("Front".into())) });
    }

    #[test]
    fn rejects_bad_selectors_with_a_message_that_quotes_them() {
        assert!(error("").contains("empty device selector"));
        assert!(error("usb:1234").contains("unknown device selector \"usb:1234\""));
        assert!(error("usb:1234").contains("sim:fingerprint"));
        assert!(error("sim:camera").contains("the built-in simulator is sim:fingerprint"));
        assert!(error("sim:fingerprint?colour=red").contains("no option \"colour\""));
        assert!(error("plugin:").contains("no plugin path"));
        assert!(error("plugin:/x.so?isolation=jail").contains("expected in-process or driver-host"));
        assert!(error("plugin:/x.so?speed=1").contains("known: isolation"));
        assert!(error("sam:usb:1").contains("sam:serial:PATH"));
        assert!(error("sam:serial:/dev/ttyS0?baud=fast").contains("positive integer"));
        assert!(error("as60x:").contains("no serial port path"));
        assert!(error("webcam:").contains("empty camera"));
        assert!(error("pcsc-idcard:").contains("empty reader name"));
    }

    #[test]
    fn later_drivers_are_recognised_but_not_built_in() {
        assert_eq!(parse("as60x:/dev/ttyUSB0").not_built_in(), Some("as60x"));
        assert_eq!(parse("webcam").not_built_in(), Some("webcam"));
        assert_eq!(parse("pcsc-idcard").not_built_in(), Some("pcsc-idcard"));
        assert_eq!(parse("sam:serial:/dev/ttyS0").not_built_in(), Some("sam"));
        assert_eq!(parse("sim:fingerprint").not_built_in(), None);
    }
}
