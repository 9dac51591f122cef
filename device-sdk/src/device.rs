use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::{DeviceError, Score, Template};

/// A device class, as offered by a driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceClass {
    Fingerprint,
    IdCard,
    Camera,
}

impl DeviceClass {
    pub const ALL: [DeviceClass; 3] = [DeviceClass::Fingerprint, DeviceClass::IdCard, DeviceClass::Camera];

    /// The `EG_CLASS_*` bit of the C ABI.
    pub fn bit(self) -> u32 {
        match self {
            DeviceClass::Fingerprint => 1,
            DeviceClass::IdCard => 2,
            DeviceClass::Camera => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::Fingerprint => "fingerprint",
            DeviceClass::IdCard => "idcard",
            DeviceClass::Camera => "camera",
        }
    }
}

/// A set of device classes (the C ABI's bit mask).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DeviceClasses(u32);

impl DeviceClasses {
    pub const fn from_bits(bits: u32) -> DeviceClasses {
        DeviceClasses(bits & 0b111)
    }
    pub fn bits(self) -> u32 {
        self.0
    }
    pub fn with(self, class: DeviceClass) -> DeviceClasses {
        DeviceClasses(self.0 | class.bit())
    }
    pub fn contains(self, class: DeviceClass) -> bool {
        self.0 & class.bit() != 0
    }
    pub fn iter(self) -> impl Iterator<Item = DeviceClass> {
        DeviceClass::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

impl From<DeviceClass> for DeviceClasses {
    fn from(class: DeviceClass) -> Self {
        DeviceClasses(class.bit())
    }
}

impl fmt::Display for DeviceClasses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(DeviceClass::as_str).collect();
        f.write_str(&names.join(","))
    }
}

/// A device's id within its driver: stable across discovery (a serial
/// number, a port path), at most 63 bytes so it fits the C ABI.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceIdError {
    #[error("device id is empty")]
    Empty,
    #[error("device id {0:?} is longer than 63 bytes")]
    TooLong(String),
    #[error("device id {0:?} contains a NUL or control character")]
    Control(String),
}

impl DeviceId {
    pub fn new(id: impl Into<String>) -> Result<DeviceId, DeviceIdError> {
        let id = id.into();
        if id.is_empty() {
            return Err(DeviceIdError::Empty);
        }
        if id.len() > 63 {
            return Err(DeviceIdError::TooLong(id));
        }
        if id.chars().any(char::is_control) {
            return Err(DeviceIdError::Control(id));
        }
        Ok(DeviceId(id))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DeviceId {
    type Err = DeviceIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceId::new(s)
    }
}

/// What discovery reports about one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    pub id: DeviceId,
    /// Human-readable name (model, port).
    pub name: String,
    pub classes: DeviceClasses,
}

/// A driver: lists the devices it can see and opens them.
///
/// Discovery is separate from the opened device so that the agent (and
/// tests) can hand in any lister; there is no global registry.
pub trait DriverFactory: Send + Sync {
    /// Short driver name (`sim-fingerprint`, `acme-fp`).
    fn name(&self) -> &str;
    /// The device classes this driver can offer.
    fn classes(&self) -> DeviceClasses;
    /// The devices present now.
    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError>;
    /// Open one device found by [`DriverFactory::discover`]. Dropping the
    /// returned device closes it.
    fn open(&self, id: &DeviceId) -> Result<Box<dyn Device>, DeviceError>;
    /// The discovery entry of one device, or `NotConnected` if it is not there now.
    fn find(&self, id: &DeviceId) -> Result<DeviceInfo, DeviceError> {
        self.discover()?
            .into_iter()
            .find(|d| &d.id == id)
            .ok_or_else(|| DeviceError::NotConnected(format!("no device {id} on driver {}", self.name())))
    }
}

/// An open device. Capabilities are reached through the `as_*` accessors
/// rather than by downcasting.
pub trait Device: Send {
    fn info(&self) -> &DeviceInfo;
    fn as_fingerprint(&mut self) -> Option<&mut dyn FingerprintReader> {
        None
    }
    fn as_idcard(&mut self) -> Option<&mut dyn IdCardReader> {
        None
    }
    fn as_camera(&mut self) -> Option<&mut dyn Camera> {
        None
    }
    /// Test hooks of a simulated device (place a finger, unplug).
    fn as_sim(&mut self) -> Option<&mut dyn SimControl> {
        None
    }
}

/// A fingerprint reader, as the seeds define it: `GetTemplate`,
/// `MatchSampleTemplate`, `Enabled`.
pub trait FingerprintReader {
    /// Wait up to `timeout` for a finger and return its template.
    fn get_template(&mut self, timeout: Duration) -> Result<Template, DeviceError>;
    /// Compare a fresh template with an enrolled one; above 800 is a match.
    fn match_templates(&mut self, probe: &Template, enrolled: &Template) -> Result<Score, DeviceError>;
    /// Whether the reader may be used now.
    fn enabled(&mut self) -> Result<bool, DeviceError>;
    /// Whether a finger is on the sensor now (for placed / lifted events).
    fn finger_present(&mut self) -> Result<bool, DeviceError> {
        Err(DeviceError::Unsupported("finger presence".into()))
    }
}

/// A card as a reader gives it: the GA 467 text block and WLT photo when
/// the reader decodes the card, and the chip serial.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CardRead {
    /// 256-byte UCS-2LE text block, empty if the reader gives identifiers only.
    pub text: Vec<u8>,
    /// 1024-byte WLT photo, empty if not read.
    pub photo: Vec<u8>,
    /// The card's chip serial (`00 36 00 00 08`), empty if not read.
    pub chip_serial: Vec<u8>,
}

impl fmt::Debug for CardRead {
    // Personal data: lengths only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CardRead(text {} B, photo {} B, chip serial {} B)",
            self.text.len(),
            self.photo.len(),
            self.chip_serial.len()
        )
    }
}

/// A second-generation ID card reader.
pub trait IdCardReader {
    /// Wait up to `timeout` for a card and read it.
    fn read_card(&mut self, timeout: Duration) -> Result<CardRead, DeviceError>;
    /// Whether a card is on the reader now (for inserted / removed events).
    fn card_present(&mut self) -> Result<bool, DeviceError> {
        Err(DeviceError::Unsupported("card presence".into()))
    }
}

/// Pixel layout of a camera frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    Mjpeg,
    Yuyv,
    Nv12,
    Rgb24,
}

impl PixelFormat {
    pub fn fourcc(self) -> u32 {
        u32::from_le_bytes(*match self {
            PixelFormat::Mjpeg => b"MJPG",
            PixelFormat::Yuyv => b"YUYV",
            PixelFormat::Nv12 => b"NV12",
            PixelFormat::Rgb24 => b"RGB3",
        })
    }
    pub fn from_fourcc(code: u32) -> Option<PixelFormat> {
        [PixelFormat::Mjpeg, PixelFormat::Yuyv, PixelFormat::Nv12, PixelFormat::Rgb24]
            .into_iter()
            .find(|f| f.fourcc() == code)
    }
}

/// One camera frame.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    pub data: Vec<u8>,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Frame({}x{} {:?}, {} bytes)", self.width, self.height, self.format, self.data.len())
    }
}

/// A camera.
pub trait Camera {
    fn capture(&mut self, timeout: Duration) -> Result<Frame, DeviceError>;
}

/// A scripted action on a simulated device. Its text form is what crosses
/// the C ABI's `eg_sim_ops.control`.
///
/// ```
/// use examgate_device_sdk::SimCommand;
/// assert_eq!("finger 3".parse::<SimCommand>().unwrap(), SimCommand::PlaceFinger(3));
/// assert_eq!(SimCommand::Unplug.to_string(), "unplug");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimCommand {
    PlaceFinger(u32),
    LiftFinger,
    Unplug,
    Plug,
    /// The next N captures fail with poor quality.
    PoorQuality(u32),
    /// Camera: what the lens sees.
    Scene(SimScene),
    /// Camera: repeat the last frame until unfrozen.
    Freeze,
    Unfreeze,
    /// Camera: every capture takes this many milliseconds.
    Slow(u32),
}

/// What a simulated camera shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimScene {
    /// The candidate in front of the camera.
    Subject,
    /// An empty seat.
    Empty,
    /// The lens covered: dark frames.
    Covered,
    /// A blank wall: a nearly uniform frame.
    Uniform,
}

impl SimScene {
    pub fn as_str(self) -> &'static str {
        match self {
            SimScene::Subject => "subject",
            SimScene::Empty => "empty",
            SimScene::Covered => "cover",
            SimScene::Uniform => "uniform",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unknown simulator command {0:?}: expected `finger N`, `lift`, `unplug`, `plug`, `poor-quality N`, \
     `subject`, `empty`, `cover`, `uniform`, `freeze`, `unfreeze` or `slow MS`"
)]
pub struct SimCommandError(String);

impl FromStr for SimCommand {
    type Err = SimCommandError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || SimCommandError(s.to_owned());
        let mut words = s.split_whitespace();
        let cmd = match (words.next(), words.next()) {
            (Some("finger"), Some(n)) => SimCommand::PlaceFinger(n.parse().ok().filter(|n| *n > 0).ok_or_else(err)?),
            (Some("lift"), None) => SimCommand::LiftFinger,
            (Some("unplug"), None) => SimCommand::Unplug,
            (Some("plug"), None) => SimCommand::Plug,
            (Some("poor-quality"), Some(n)) => SimCommand::PoorQuality(n.parse().map_err(|_| err())?),
            (Some("subject"), None) => SimCommand::Scene(SimScene::Subject),
            (Some("empty"), None) => SimCommand::Scene(SimScene::Empty),
            (Some("cover"), None) => SimCommand::Scene(SimScene::Covered),
            (Some("uniform"), None) => SimCommand::Scene(SimScene::Uniform),
            (Some("freeze"), None) => SimCommand::Freeze,
            (Some("unfreeze"), None) => SimCommand::Unfreeze,
            (Some("slow"), Some(ms)) => SimCommand::Slow(ms.parse().map_err(|_| err())?),
            _ => return Err(err()),
        };
        if words.next().is_some() {
            return Err(err());
        }
        Ok(cmd)
    }
}

impl fmt::Display for SimCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimCommand::PlaceFinger(n) => write!(f, "finger {n}"),
            SimCommand::LiftFinger => f.write_str("lift"),
            SimCommand::Unplug => f.write_str("unplug"),
            SimCommand::Plug => f.write_str("plug"),
            SimCommand::PoorQuality(n) => write!(f, "poor-quality {n}"),
            SimCommand::Scene(scene) => f.write_str(scene.as_str()),
            SimCommand::Freeze => f.write_str("freeze"),
            SimCommand::Unfreeze => f.write_str("unfreeze"),
            SimCommand::Slow(ms) => write!(f, "slow {ms}"),
        }
    }
}

/// Test hooks of a simulated device.
pub trait SimControl {
    fn control(&mut self, command: &SimCommand) -> Result<(), DeviceError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_commands_round_trip_through_text() {
        for cmd in [
            SimCommand::PlaceFinger(7),
            SimCommand::LiftFinger,
            SimCommand::Unplug,
            SimCommand::Plug,
            SimCommand::PoorQuality(2),
            SimCommand::Scene(SimScene::Covered),
            SimCommand::Scene(SimScene::Subject),
            SimCommand::Scene(SimScene::Empty),
            SimCommand::Scene(SimScene::Uniform),
            SimCommand::Freeze,
            SimCommand::Unfreeze,
            SimCommand::Slow(250),
        ] {
            assert_eq!(cmd.to_string().parse::<SimCommand>().unwrap(), cmd);
        }
        for bad in ["", "finger", "finger 0", "finger x", "lift now", "explode"] {
            assert!(bad.parse::<SimCommand>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn device_ids_fit_the_c_abi() {
        assert!(DeviceId::new("sim-0").is_ok());
        assert_eq!(DeviceId::new(""), Err(DeviceIdError::Empty));
        assert!(matches!(DeviceId::new("x".repeat(64)), Err(DeviceIdError::TooLong(_))));
        assert!(matches!(DeviceId::new("a\0b"), Err(DeviceIdError::Control(_))));
    }

    #[test]
    fn class_sets_show_their_names() {
        let set = DeviceClasses::from(DeviceClass::Fingerprint).with(DeviceClass::Camera);
        assert_eq!(set.to_string(), "fingerprint,camera");
        assert_eq!(set.bits(), 5);
    }

    #[test]
    fn fourcc_codes_round_trip() {
        for f in [PixelFormat::Mjpeg, PixelFormat::Yuyv, PixelFormat::Nv12, PixelFormat::Rgb24] {
            assert_eq!(PixelFormat::from_fourcc(f.fourcc()), Some(f));
        }
    }
}
