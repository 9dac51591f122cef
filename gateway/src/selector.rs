//! Device selectors: the text that names a device source on the command
//! line and in the config (`sim:fingerprint`, `plugin:/opt/acme/libfp.so`,
//! `pcsc-idcard`, `sam:serial:/dev/ttyUSB0`, `webcam:0`, `sim:camera`).
//! The SAM and webcam drivers own their selectors' grammar; this type
//! wraps theirs so a selector is parsed once, at the edge.
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

use examgate_sam::{SamSelector, SamSelectorError};
use examgate_sim::fingerprint::ConfigError;
use examgate_sim::{SimCameraConfig, SimFingerprintConfig};
use examgate_webcam::{WebcamSelector, WebcamSelectorError};

/// Where a device comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceSelector {
    /// `sim:fingerprint[?seed=N&delay_ms=N&finger=N|none&readers=N&format=F]`: the
    /// built-in simulated reader; `format=iso19794-2|ansi378` makes it capture
    /// standard minutiae records instead of its own `examgate-sim` templates.
    SimFingerprint { options: String, config: SimFingerprintConfig },
    /// `sim:camera[?size=WxH&format=F&name=NAME&scene=S&...]`: the built-in
    /// simulated camera.
    SimCamera { options: String, config: SimCameraConfig },
    /// `plugin:PATH[?isolation=in-process|driver-host]`: a vendor plugin,
    /// by default in a driver-host child process.
    Plugin { path: PathBuf, isolation: PluginIsolation },
    /// `pcsc-idcard[:READER]`: ID card readers through PC/SC, all of them or
    /// those whose name contains READER.
    PcscIdCard { reader: Option<String> },
    /// `sam:serial:PATH[?baud=N]` or `sam:hid:VID:PID`: an ID card reader
    /// on a GA 467 SAM module.
    Sam(SamSelector),
    /// `as60x:PATH[?OPTIONS]` (or `as60x` / `as60x:auto` to find one behind a USB-serial bridge):
    /// an AS60x fingerprint module on a serial port.
    As60x { path: String, options: String },
    /// `webcam[:INDEX|:NAME][?size=WxH&format=F&fps=N]`: cameras through V4L2.
    Webcam(WebcamSelector),
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

const EXPECTED: &str = "expected sim:fingerprint, sim:camera, plugin:PATH, pcsc-idcard[:READER], sam:serial:PATH, \
     sam:hid:VID:PID, as60x[:PATH|:auto] or webcam[:N|:NAME]";

/// Why a selector did not parse. Each message quotes the selector.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectorError {
    #[error("empty device selector; {EXPECTED}")]
    Empty,
    #[error("unknown device selector {0:?}; {EXPECTED}")]
    UnknownKind(String),
    #[error("unknown simulator in selector {0:?}; the built-in simulators are sim:fingerprint and sim:camera")]
    UnknownSimulator(String),
    #[error("selector {selector:?}: {source}")]
    SimOptions { selector: String, source: ConfigError },
    #[error("selector {selector:?}: {source}")]
    SimCameraOptions { selector: String, source: examgate_sim::camera::ConfigError },
    #[error(transparent)]
    Sam(#[from] SamSelectorError),
    #[error(transparent)]
    Webcam(#[from] WebcamSelectorError),
    #[error("selector {selector:?}: {why}")]
    Invalid { selector: String, why: String },
}

impl DeviceSelector {}

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
                let options = query.unwrap_or("").to_owned();
                match what {
                    "fingerprint" => {
                        let config = options
                            .parse()
                            .map_err(|source| SelectorError::SimOptions { selector: text.to_owned(), source })?;
                        Ok(DeviceSelector::SimFingerprint { options, config })
                    }
                    "camera" => {
                        let config = options
                            .parse()
                            .map_err(|source| SelectorError::SimCameraOptions { selector: text.to_owned(), source })?;
                        Ok(DeviceSelector::SimCamera { options, config })
                    }
                    _ => Err(SelectorError::UnknownSimulator(text.to_owned())),
                }
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
            ("sam", Some(_)) => Ok(DeviceSelector::Sam(text.parse()?)),
            ("as60x", None) => Ok(DeviceSelector::As60x { path: "auto".to_owned(), options: String::new() }),
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
            ("webcam", _) => Ok(DeviceSelector::Webcam(text.parse()?)),
            _ => Err(SelectorError::UnknownKind(text.to_owned())),
        }
    }
}

impl fmt::Display for DeviceSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSelector::SimFingerprint { options, .. } if options.is_empty() => f.write_str("sim:fingerprint"),
            DeviceSelector::SimFingerprint { options, .. } => write!(f, "sim:fingerprint?{options}"),
            DeviceSelector::SimCamera { options, .. } if options.is_empty() => f.write_str("sim:camera"),
            DeviceSelector::SimCamera { options, .. } => write!(f, "sim:camera?{options}"),
            DeviceSelector::Plugin { path, isolation: PluginIsolation::DriverHost } => {
                write!(f, "plugin:{}", path.display())
            }
            DeviceSelector::Plugin { path, isolation } => {
                write!(f, "plugin:{}?isolation={}", path.display(), isolation.as_str())
            }
            DeviceSelector::PcscIdCard { reader: None } => f.write_str("pcsc-idcard"),
            DeviceSelector::PcscIdCard { reader: Some(r) } => write!(f, "pcsc-idcard:{r}"),
            DeviceSelector::Sam(sam) => sam.fmt(f),
            DeviceSelector::As60x { path, options } if options.is_empty() => write!(f, "as60x:{path}"),
            DeviceSelector::As60x { path, options } => write!(f, "as60x:{path}?{options}"),
            DeviceSelector::Webcam(webcam) => webcam.fmt(f),
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
            "sim:camera",
            "sim:camera?name=OBS Virtual Camera&scene=cover",
            "sam:serial:/dev/ttyUSB0",
            "sam:serial:/dev/ttyUSB0?baud=9600",
            "sam:hid:1a86:e010",
            "as60x:/dev/ttyUSB1",
            "as60x:/dev/ttyUSB1?address=0xffffffff",
            "webcam",
            "webcam:0",
            "webcam:HD Webcam",
            "webcam:1?size=640x480&format=mjpeg,yuyv,nv12,rgb24&fps=15",
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
        use examgate_webcam::CameraRef;
        let DeviceSelector::Webcam(w) = parse("webcam:2") else { panic!("not a webcam") };
        assert_eq!(w.camera, CameraRef::Index(2));
        let DeviceSelector::Webcam(w) = parse("webcam:Front") else { panic!("not a webcam") };
        assert_eq!(w.camera, CameraRef::Name("Front".into()));
    }

    #[test]
    fn sam_selectors_keep_their_baud_rate_and_usb_ids() {
        use examgate_sam::BaudRate;
        let DeviceSelector::Sam(SamSelector::Serial { path, baud }) = parse("sam:serial:/dev/ttyS1?baud=38400") else {
            panic!("not a serial SAM")
        };
        assert_eq!((path.as_str(), baud), ("/dev/ttyS1", BaudRate::B38400));
        assert_eq!(parse("sam:serial:/dev/ttyUSB0?baud=115200").to_string(), "sam:serial:/dev/ttyUSB0");
        assert!(matches!(parse("sam:hid:1A86:E010"), DeviceSelector::Sam(SamSelector::Hid { vendor_id: 0x1a86, .. })));
    }

    #[test]
    fn sim_camera_options_reach_the_simulator_config() {
        let DeviceSelector::SimCamera { config, .. } = parse("sim:camera?size=320x240&name=OBS Virtual Camera") else {
            panic!("not a sim camera");
        };
        assert_eq!((config.width, config.height, config.name.as_str()), (320, 240, "OBS Virtual Camera"));
    }

    #[test]
    fn rejects_bad_selectors_with_a_message_that_quotes_them() {
        assert!(error("").contains("empty device selector"));
        assert!(error("usb:1234").contains("unknown device selector \"usb:1234\""));
        assert!(error("usb:1234").contains("sim:fingerprint"));
        assert!(error("sim:scanner").contains("the built-in simulators are sim:fingerprint and sim:camera"));
        assert!(error("sim:camera?colour=red").contains("no option \"colour\""));
        assert!(error("sim:fingerprint?colour=red").contains("no option \"colour\""));
        assert!(error("plugin:").contains("no plugin path"));
        assert!(error("plugin:/x.so?isolation=jail").contains("expected in-process or driver-host"));
        assert!(error("plugin:/x.so?speed=1").contains("known: isolation"));
        assert!(error("sam:usb:1").contains("sam:serial:PATH"));
        assert!(error("sam:serial:/dev/ttyS0?baud=fast").contains("115200"));
        assert!(error("as60x:").contains("no serial port path"));
        assert!(error("webcam:").contains("camera name after `webcam:` is empty"));
        assert!(error("pcsc-idcard:").contains("empty reader name"));
    }

    #[test]
    fn bare_as60x_means_find_the_module() {
        assert_eq!(parse("as60x").to_string(), "as60x:auto");
    }
}
