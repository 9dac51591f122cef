//! Naming, finding and opening AS60x modules: the selector text
//! (`as60x:/dev/ttyUSB0?baud=57600&password=0`, or `as60x:auto` for every
//! module behind a known USB-serial bridge) and the SDK's driver factory.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use examgate_device_sdk::{Device, DeviceClass, DeviceClasses, DeviceError, DeviceId, DeviceInfo, DriverFactory};

use crate::client::{As60xClient, Timing};
use crate::command::{Password, parse_u32};
use crate::error::As60xError;
use crate::packet::DEFAULT_ADDRESS;
use crate::reader::{As60xReader, ReaderOptions};
use crate::transport::{BaudRate, BaudRateError, SerialTransport, TransportError};

/// Which port(s) a selector names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PortChoice {
    /// One serial port (`/dev/ttyUSB0`, a pseudo-terminal, a symlink).
    Path(String),
    /// Every port behind a USB-serial bridge in [`BRIDGES`] where a module answers.
    Auto,
}

/// Where AS60x modules are, and how to talk to them.
///
/// ```
/// use examgate_as60x::{As60xSelector, PortChoice};
/// let s: As60xSelector = "as60x:/dev/ttyUSB0?baud=115200&password=0x2A".parse().unwrap();
/// assert_eq!(s.port, PortChoice::Path("/dev/ttyUSB0".into()));
/// assert_eq!(s.baud.bits_per_second(), 115_200);
/// assert_eq!(s.to_string(), "as60x:/dev/ttyUSB0?baud=115200&password=42");
/// assert_eq!("as60x".parse::<As60xSelector>().unwrap().to_string(), "as60x:auto");
/// ```
///
/// The selector shows the password, as the configuration holds it: log the
/// device id, not the selector, where that matters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct As60xSelector {
    pub port: PortChoice,
    /// 57600 unless given.
    pub baud: BaudRate,
    /// 0 unless given.
    pub password: Password,
    /// `FFFFFFFF` unless given.
    pub address: u32,
}

impl As60xSelector {
    /// The module on `path`, with the factory defaults.
    pub fn path(path: impl Into<String>) -> As60xSelector {
        As60xSelector {
            port: PortChoice::Path(path.into()),
            baud: BaudRate::default(),
            password: Password::default(),
            address: DEFAULT_ADDRESS,
        }
    }

    /// Every module behind a known USB-serial bridge.
    pub fn auto() -> As60xSelector {
        As60xSelector { port: PortChoice::Auto, ..As60xSelector::path("") }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum As60xSelectorError {
    #[error("{0:?} is not an AS60x selector; expected as60x:PORT[?baud=N&password=N&address=N] or as60x:auto")]
    NotAs60x(String),
    #[error("selector {0:?} names no serial port; write as60x:/dev/ttyUSB0, or as60x:auto to find modules")]
    EmptyPath(String),
    #[error("selector {selector:?}: {source}")]
    Baud { selector: String, source: BaudRateError },
    #[error("selector {selector:?}: {key}={value:?} is not a 32-bit number (decimal or 0x hex)")]
    Number { selector: String, key: String, value: String },
    #[error("selector {selector:?}: unknown option {option:?}; known: baud=N, password=N, address=N")]
    UnknownOption { selector: String, option: String },
}

impl FromStr for As60xSelector {
    type Err = As60xSelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = match s.strip_prefix("as60x") {
            Some("") => return Ok(As60xSelector::auto()),
            Some(rest) => rest.strip_prefix(':').ok_or_else(|| As60xSelectorError::NotAs60x(s.to_owned()))?,
            None => return Err(As60xSelectorError::NotAs60x(s.to_owned())),
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut selector = match path {
            "" => return Err(As60xSelectorError::EmptyPath(s.to_owned())),
            "auto" => As60xSelector::auto(),
            path => As60xSelector::path(path),
        };
        for option in query.split('&').filter(|o| !o.is_empty()) {
            let number = |key: &str, value: &str| {
                parse_u32(value).ok_or_else(|| As60xSelectorError::Number {
                    selector: s.to_owned(),
                    key: key.into(),
                    value: value.into(),
                })
            };
            match option.split_once('=') {
                Some(("baud", v)) => {
                    selector.baud =
                        v.parse().map_err(|source| As60xSelectorError::Baud { selector: s.to_owned(), source })?;
                }
                Some(("password", v)) => selector.password = Password(number("password", v)?),
                Some(("address", v)) => selector.address = number("address", v)?,
                _ => {
                    return Err(As60xSelectorError::UnknownOption { selector: s.to_owned(), option: option.into() });
                }
            }
        }
        Ok(selector)
    }
}

impl fmt::Display for As60xSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.port {
            PortChoice::Path(p) => write!(f, "as60x:{p}")?,
            PortChoice::Auto => f.write_str("as60x:auto")?,
        }
        let mut options = Vec::new();
        if self.baud != BaudRate::default() {
            options.push(format!("baud={}", self.baud));
        }
        if self.password != Password::default() {
            options.push(format!("password={}", self.password));
        }
        if self.address != DEFAULT_ADDRESS {
            options.push(format!("address=0x{:08X}", self.address));
        }
        if !options.is_empty() {
            write!(f, "?{}", options.join("&"))?;
        }
        Ok(())
    }
}

/// USB-serial bridges AS60x modules are commonly sold behind: VID, PID, name.
pub const BRIDGES: [(u16, u16, &str); 4] =
    [(0x1a86, 0x7523, "CH340"), (0x10c4, 0xea60, "CP210x"), (0x0403, 0x6001, "FTDI FT232"), (0x067b, 0x2303, "PL2303")];

/// A serial port as the system lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerialPortEntry {
    pub path: String,
    /// USB vendor and product id, for ports behind a USB device.
    pub usb: Option<(u16, u16)>,
}

/// Lists serial ports; the system's by default, a fake in tests.
pub trait PortLister: Send + Sync {
    fn list(&self) -> Result<Vec<SerialPortEntry>, DeviceError>;
}

/// The system's serial ports (`serialport::available_ports`, sysfs on Linux).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemPorts;

impl PortLister for SystemPorts {
    fn list(&self) -> Result<Vec<SerialPortEntry>, DeviceError> {
        let ports = serialport::available_ports()
            .map_err(|e| DeviceError::Driver(format!("cannot list serial ports: {}", e.description)))?;
        Ok(ports
            .into_iter()
            .map(|p| SerialPortEntry {
                usb: match p.port_type {
                    serialport::SerialPortType::UsbPort(usb) => Some((usb.vid, usb.pid)),
                    _ => None,
                },
                path: p.port_name,
            })
            .collect())
    }
}

/// The SDK driver for AS60x modules at one selector.
pub struct As60xFactory {
    selector: As60xSelector,
    options: ReaderOptions,
    lister: Box<dyn PortLister>,
    /// How long a probe waits for a module to answer on a candidate port.
    probe_wait: Duration,
}

impl As60xFactory {
    /// The driver for `selector`, with default options and the system's ports.
    pub fn new(selector: As60xSelector) -> As60xFactory {
        As60xFactory::with_options(selector, ReaderOptions::default())
    }

    pub fn with_options(selector: As60xSelector, options: ReaderOptions) -> As60xFactory {
        As60xFactory { selector, options, lister: Box::new(SystemPorts), probe_wait: Duration::from_millis(300) }
    }

    /// Find ports with `lister` instead of the system's (tests hand in fakes).
    pub fn with_lister(mut self, lister: impl PortLister + 'static) -> As60xFactory {
        self.lister = Box::new(lister);
        self
    }

    pub fn selector(&self) -> &As60xSelector {
        &self.selector
    }

    fn client(&self, path: &str, timing: Timing) -> As60xClient {
        let transport = SerialTransport::new(path, self.selector.baud);
        As60xClient::new(Box::new(transport), self.selector.address, self.selector.password, timing)
    }

    fn timing(&self) -> Timing {
        Timing { per_byte: self.selector.baud.line_time(1), ..self.options.timing }
    }

    /// Whether an AS60x module answers on `path`: any well-formed ack to
    /// VfyPwd counts (a wrong password too), and so does a port another
    /// opener holds (it may be this driver's own).
    fn probe(&self, path: &str) -> bool {
        let timing = Timing { answer: self.probe_wait, sends: 1, ..self.timing() };
        match self.client(path, timing).verify_password() {
            Ok(()) | Err(As60xError::Module { .. }) => true,
            Err(As60xError::Transport(TransportError::Busy { .. })) => true,
            Err(_) => false,
        }
    }

    fn info(&self, path: &str, bridge: Option<&str>) -> DeviceInfo {
        let name = match bridge {
            Some(bridge) => format!("AS60x fingerprint module on {path} ({bridge})"),
            None => format!("AS60x fingerprint module on {path}"),
        };
        DeviceInfo { id: device_id_for(path), name, classes: DeviceClass::Fingerprint.into() }
    }

    /// Ports and what they are: the selector's path, or the bridges where a module answers.
    fn ports(&self) -> Result<Vec<(DeviceInfo, String)>, DeviceError> {
        match &self.selector.port {
            PortChoice::Path(path) if Path::new(path).exists() => Ok(vec![(self.info(path, None), path.clone())]),
            PortChoice::Path(_) => Ok(Vec::new()),
            PortChoice::Auto => Ok(self
                .lister
                .list()?
                .into_iter()
                .filter_map(|p| {
                    let usb = p.usb?;
                    let (_, _, bridge) = BRIDGES.iter().find(|(vid, pid, _)| (*vid, *pid) == usb)?;
                    self.probe(&p.path).then(|| (self.info(&p.path, Some(bridge)), p.path))
                })
                .collect()),
        }
    }
}

impl DriverFactory for As60xFactory {
    fn name(&self) -> &str {
        "as60x"
    }

    fn classes(&self) -> DeviceClasses {
        DeviceClass::Fingerprint.into()
    }

    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        Ok(self.ports()?.into_iter().map(|(info, _)| info).collect())
    }

    /// Open the module and greet it (VfyPwd, ReadSysPara); `NotConnected`
    /// when no module answers, a driver error for a wrong password.
    fn open(&self, id: &DeviceId) -> Result<Box<dyn Device>, DeviceError> {
        let (info, path) = self
            .ports()?
            .into_iter()
            .find(|(info, _)| &info.id == id)
            .ok_or_else(|| DeviceError::NotConnected(format!("no AS60x module {id} at {}", self.selector)))?;
        let mut client = self.client(&path, self.timing());
        client.connect().map_err(|e| match e {
            As60xError::NoReply { port, .. } => DeviceError::NotConnected(format!(
                "no AS60x module answers on {port}; check the port, the baud rate and the address"
            )),
            e => e.into(),
        })?;
        Ok(Box::new(As60xReader::new(client, info, self.options)))
    }
}

/// A device id for a port: the path itself when it fits the C ABI's 63
/// bytes, else a stable hash of it.
pub fn device_id_for(port: &str) -> DeviceId {
    DeviceId::new(port).unwrap_or_else(|_| {
        let hash =
            port.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        DeviceId::new(format!("as60x-{hash:016x}")).expect("short ASCII id")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_print() {
        for (text, canonical) in [
            ("as60x:/dev/ttyUSB0", "as60x:/dev/ttyUSB0"),
            ("as60x:/dev/ttyUSB0?baud=57600&password=0", "as60x:/dev/ttyUSB0"),
            ("as60x:/dev/ttyS1?baud=9600", "as60x:/dev/ttyS1?baud=9600"),
            ("as60x:/dev/ttyS1?password=0x10&address=0xfffffffe", "as60x:/dev/ttyS1?password=16&address=0xFFFFFFFE"),
            ("as60x:auto?baud=115200", "as60x:auto?baud=115200"),
            ("as60x", "as60x:auto"),
        ] {
            let s: As60xSelector = text.parse().unwrap();
            assert_eq!(s.to_string(), canonical, "{text}");
            assert_eq!(canonical.parse::<As60xSelector>().unwrap(), s);
        }
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        let err = |s: &str| s.parse::<As60xSelector>().unwrap_err();
        assert!(matches!(err("sam:serial:/dev/ttyUSB0"), As60xSelectorError::NotAs60x(_)));
        assert!(matches!(err("as60xx:/dev/ttyUSB0"), As60xSelectorError::NotAs60x(_)));
        assert!(matches!(err("as60x:"), As60xSelectorError::EmptyPath(_)));
        assert!(matches!(err("as60x:/dev/ttyS0?baud=4800"), As60xSelectorError::Baud { .. }));
        assert!(matches!(err("as60x:/dev/ttyS0?password=-1"), As60xSelectorError::Number { .. }));
        assert!(matches!(err("as60x:/dev/ttyS0?parity=odd"), As60xSelectorError::UnknownOption { .. }));
        assert!(err("as60x:/dev/ttyS0?baud=4800").to_string().contains("57600"));
        assert!(err("as60x:").to_string().contains("as60x:auto"));
    }

    #[test]
    fn long_port_paths_get_short_stable_ids() {
        let long = format!("/tmp/{}/as608", "x".repeat(80));
        assert_eq!(device_id_for(&long), device_id_for(&long));
        assert!(device_id_for(&long).as_str().starts_with("as60x-"));
        assert_eq!(device_id_for("/dev/ttyUSB0").as_str(), "/dev/ttyUSB0");
    }

    #[test]
    fn a_missing_port_is_not_discovered() {
        let f = As60xFactory::new(As60xSelector::path("/nonexistent/ttyUSB7"));
        assert_eq!(f.discover().unwrap(), Vec::new());
        assert!(matches!(f.open(&device_id_for("/nonexistent/ttyUSB7")), Err(DeviceError::NotConnected(_))));
    }

    struct Fake(Vec<SerialPortEntry>);
    impl PortLister for Fake {
        fn list(&self) -> Result<Vec<SerialPortEntry>, DeviceError> {
            Ok(self.0.clone())
        }
    }

    #[test]
    fn auto_discovery_skips_unknown_devices_and_silent_ports() {
        let lister = Fake(vec![
            SerialPortEntry { path: "/dev/ttyS0".into(), usb: None },
            SerialPortEntry { path: "/dev/ttyACM0".into(), usb: Some((0x2341, 0x0043)) },
            SerialPortEntry { path: "/nonexistent/ttyUSB0".into(), usb: Some((0x1a86, 0x7523)) },
        ]);
        let f = As60xFactory::new(As60xSelector::auto()).with_lister(lister);
        assert_eq!(f.discover().unwrap(), Vec::new());
    }
}
