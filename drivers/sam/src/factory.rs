//! Naming and opening SAM readers: the selector text
//! (`sam:serial:/dev/ttyUSB0?baud=9600`) and the SDK's driver factory.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use examgate_device_sdk::{Device, DeviceClass, DeviceClasses, DeviceError, DeviceId, DeviceInfo, DriverFactory};

use crate::client::SamClient;
use crate::error::SamError;
use crate::reader::{ReadOptions, SamReader};
use crate::transport::Transport;
use crate::transport::serial::{BaudRate, BaudRateError, SerialTransport};

/// Where a SAM module is.
///
/// ```
/// use examgate_sam::{BaudRate, SamSelector};
/// let s: SamSelector = "sam:serial:/dev/ttyUSB0?baud=9600".parse().unwrap();
/// assert_eq!(s, SamSelector::Serial { path: "/dev/ttyUSB0".into(), baud: BaudRate::B9600 });
/// assert_eq!(s.to_string(), "sam:serial:/dev/ttyUSB0?baud=9600");
/// let usb: SamSelector = "sam:hid:1a86:e010".parse().unwrap();
/// assert_eq!(usb.to_string(), "sam:hid:1a86:e010");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SamSelector {
    /// `sam:serial:PATH[?baud=N]`
    Serial { path: String, baud: BaudRate },
    /// `sam:hid:VID:PID` (hex): a reader carrying the frames in HID reports.
    Hid { vendor_id: u16, product_id: u16 },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SamSelectorError {
    #[error("{0:?} is not a SAM selector; expected sam:serial:PATH[?baud=N] or sam:hid:VID:PID")]
    NotSam(String),
    #[error("selector {0:?} names no serial port; expected sam:serial:PATH[?baud=N]")]
    EmptyPath(String),
    #[error("selector {selector:?}: {source}")]
    Baud { selector: String, source: BaudRateError },
    #[error("selector {selector:?}: unknown option {option:?}; the only option is baud=N")]
    UnknownOption { selector: String, option: String },
    #[error("selector {0:?}: expected sam:hid:VID:PID with four hex digits each")]
    BadUsbId(String),
}

impl FromStr for SamSelector {
    type Err = SamSelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let not_sam = || SamSelectorError::NotSam(s.to_owned());
        let rest = s.strip_prefix("sam:").ok_or_else(not_sam)?;
        if let Some(rest) = rest.strip_prefix("serial:") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if path.is_empty() {
                return Err(SamSelectorError::EmptyPath(s.to_owned()));
            }
            let mut baud = BaudRate::default();
            for option in query.split('&').filter(|o| !o.is_empty()) {
                match option.split_once('=') {
                    Some(("baud", value)) => {
                        baud = value
                            .parse()
                            .map_err(|source| SamSelectorError::Baud { selector: s.to_owned(), source })?;
                    }
                    _ => {
                        return Err(SamSelectorError::UnknownOption { selector: s.to_owned(), option: option.into() });
                    }
                }
            }
            return Ok(SamSelector::Serial { path: path.to_owned(), baud });
        }
        if let Some(rest) = rest.strip_prefix("hid:") {
            let bad = || SamSelectorError::BadUsbId(s.to_owned());
            let (vid, pid) = rest.split_once(':').ok_or_else(bad)?;
            let hex = |h: &str| {
                (h.len() == 4 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| u16::from_str_radix(h, 16).ok())
                    .flatten()
                    .ok_or_else(bad)
            };
            return Ok(SamSelector::Hid { vendor_id: hex(vid)?, product_id: hex(pid)? });
        }
        Err(not_sam())
    }
}

impl fmt::Display for SamSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SamSelector::Serial { path, baud } if *baud == BaudRate::default() => write!(f, "sam:serial:{path}"),
            SamSelector::Serial { path, baud } => write!(f, "sam:serial:{path}?baud={baud}"),
            SamSelector::Hid { vendor_id, product_id } => write!(f, "sam:hid:{vendor_id:04x}:{product_id:04x}"),
        }
    }
}

/// The SDK driver for SAM modules at one selector.
pub struct SamFactory {
    selector: SamSelector,
    options: ReadOptions,
}

impl SamFactory {
    pub fn new(selector: SamSelector, options: ReadOptions) -> SamFactory {
        SamFactory { selector, options }
    }

    pub fn selector(&self) -> &SamSelector {
        &self.selector
    }

    fn devices(&self) -> Result<Vec<(DeviceInfo, Target)>, DeviceError> {
        let classes = DeviceClasses::from(DeviceClass::IdCard);
        match &self.selector {
            SamSelector::Serial { path, baud } => {
                if !Path::new(path).exists() {
                    return Ok(Vec::new());
                }
                let info = DeviceInfo {
                    id: device_id_for(path),
                    name: format!("GA 467 SAM on {path} at {baud} baud"),
                    classes,
                };
                Ok(vec![(info, Target::Serial { path: path.clone(), baud: *baud })])
            }
            #[cfg(feature = "hid")]
            SamSelector::Hid { vendor_id, product_id } => {
                use crate::transport::hid::HidTransport;
                let found = HidTransport::list(*vendor_id, *product_id).map_err(SamError::from)?;
                Ok(found
                    .into_iter()
                    .enumerate()
                    .map(|(i, target)| {
                        let id = format!(
                            "hid-{vendor_id:04x}-{product_id:04x}-{}",
                            target.serial.as_deref().unwrap_or(&i.to_string())
                        );
                        let info = DeviceInfo {
                            id: device_id_for(&id),
                            name: format!("GA 467 SAM on USB HID {vendor_id:04x}:{product_id:04x}"),
                            classes,
                        };
                        (info, Target::Hid(target))
                    })
                    .collect())
            }
            #[cfg(not(feature = "hid"))]
            SamSelector::Hid { .. } => {
                Err(DeviceError::Unsupported("USB HID SAM readers need examgate-sam's `hid` feature".into()))
            }
        }
    }
}

enum Target {
    Serial {
        path: String,
        baud: BaudRate,
    },
    #[cfg(feature = "hid")]
    Hid(crate::transport::hid::HidTarget),
}

impl DriverFactory for SamFactory {
    fn name(&self) -> &str {
        "sam"
    }

    fn classes(&self) -> DeviceClasses {
        DeviceClass::IdCard.into()
    }

    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        Ok(self.devices()?.into_iter().map(|(info, _)| info).collect())
    }

    fn open(&self, id: &DeviceId) -> Result<Box<dyn Device>, DeviceError> {
        let (info, target) = self
            .devices()?
            .into_iter()
            .find(|(info, _)| &info.id == id)
            .ok_or_else(|| DeviceError::NotConnected(format!("no SAM reader {id} at {}", self.selector)))?;
        let mut timing = self.options.timing;
        let transport: Box<dyn Transport> = match target {
            Target::Serial { path, baud } => {
                timing.per_byte = baud.line_time(1);
                Box::new(SerialTransport::open(path, baud).map_err(SamError::from)?)
            }
            #[cfg(feature = "hid")]
            Target::Hid(target) => {
                use crate::transport::hid::{HidFraming, HidTransport};
                Box::new(HidTransport::open(target, HidFraming::default()).map_err(SamError::from)?)
            }
        };
        let reader = SamReader::new(SamClient::new(transport, timing), info, ReadOptions { timing, ..self.options })
            .map_err(|e| match e {
                SamError::NoReply { port, .. } => DeviceError::NotConnected(format!(
                    "no GA 467 SAM answers on {port}; check the port and the baud rate"
                )),
                e => e.into(),
            })?;
        Ok(Box::new(reader))
    }
}

/// A device id for a port: the path itself when it fits the C ABI's 63
/// bytes, else a stable hash of it.
pub fn device_id_for(port: &str) -> DeviceId {
    DeviceId::new(port).unwrap_or_else(|_| {
        let hash =
            port.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        DeviceId::new(format!("sam-{hash:016x}")).expect("short ASCII id")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_print() {
        for (text, canonical) in [
            ("sam:serial:/dev/ttyUSB0", "sam:serial:/dev/ttyUSB0"),
            ("sam:serial:/dev/ttyUSB0?baud=115200", "sam:serial:/dev/ttyUSB0"),
            ("sam:serial:/dev/ttyS1?baud=38400", "sam:serial:/dev/ttyS1?baud=38400"),
            ("sam:hid:1A86:E010", "sam:hid:1a86:e010"),
        ] {
            let s: SamSelector = text.parse().unwrap();
            assert_eq!(s.to_string(), canonical);
            assert_eq!(canonical.parse::<SamSelector>().unwrap(), s);
        }
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        let err = |s: &str| s.parse::<SamSelector>().unwrap_err();
        assert!(matches!(err("pcsc-idcard"), SamSelectorError::NotSam(_)));
        assert!(matches!(err("sam:bluetooth:x"), SamSelectorError::NotSam(_)));
        assert!(matches!(err("sam:serial:"), SamSelectorError::EmptyPath(_)));
        assert!(matches!(err("sam:serial:/dev/ttyS0?baud=4800"), SamSelectorError::Baud { .. }));
        assert!(matches!(err("sam:serial:/dev/ttyS0?parity=odd"), SamSelectorError::UnknownOption { .. }));
        assert!(matches!(err("sam:hid:1a86"), SamSelectorError::BadUsbId(_)));
        assert!(matches!(err("sam:hid:1a86:+e01"), SamSelectorError::BadUsbId(_)));
        assert!(err("sam:serial:/dev/ttyS0?baud=4800").to_string().contains("115200"));
    }

    #[test]
    fn long_port_paths_get_short_stable_ids() {
        let long = format!("/tmp/{}/sam", "x".repeat(80));
        assert_eq!(device_id_for(&long), device_id_for(&long));
        assert!(device_id_for(&long).as_str().starts_with("sam-"));
        assert_eq!(device_id_for("/dev/ttyUSB0").as_str(), "/dev/ttyUSB0");
    }

    #[test]
    fn a_missing_port_is_not_discovered() {
        let f = SamFactory::new("sam:serial:/nonexistent/ttyUSB7".parse().unwrap(), ReadOptions::default());
        assert_eq!(f.discover().unwrap(), Vec::new());
        assert!(matches!(f.open(&device_id_for("/nonexistent/ttyUSB7")), Err(DeviceError::NotConnected(_))));
    }
}
