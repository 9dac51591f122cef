//! A scripted fingerprint reader.
//!
//! Each finger has a fixed 512-bit feature vector derived from the
//! simulator's seed; every capture flips a few percent of its bits, as a
//! real impression differs from the last. Templates are the vendor format
//! `examgate-sim` (72 bytes):
//!
//! | off | len | field |
//! |---|---|---|
//! | 0 | 4 | magic `EGSF` |
//! | 4 | 1 | version (1) |
//! | 5 | 1 | quality 0..=100 |
//! | 6 | 2 | reserved, zero |
//! | 8 | 64 | feature bits |
//!
//! Matching counts differing bits. Two impressions of one finger differ in
//! about 15% of bits (75 ± 8), two fingers in 50% (256 ± 11); the score maps
//! 0 bits to 1000 and 128 bits (25%, more than 6 standard deviations from
//! both) to 800, so the scale's threshold is where the two populations are
//! farthest apart.
//!
//! With `format=iso19794-2` or `format=ansi378` the reader writes standard
//! minutiae records instead ([`record`]) of fingers modelled as minutiae
//! (`finger.rs`, seeded like the rest); the agent's built-in minutiae
//! matcher compares those, not this reader.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use examgate_device_sdk::{
    Device, DeviceClass, DeviceClasses, DeviceError, DeviceId, DeviceInfo, DriverFactory, FingerprintReader, Score,
    SimCommand, SimControl, Template, TemplateFormat,
};

use crate::rng::{SplitMix64, mix};

mod finger;
mod record;

use record::Standard;
pub use record::{RESOLUTION_PPCM, SENSOR_HEIGHT, SENSOR_WIDTH, SimTemplateFormat, UnknownSimFormat};

/// The vendor format name of simulated templates.
pub const FORMAT_NAME: &str = "examgate-sim";
/// First bytes of every simulated template.
pub const MAGIC: &[u8; 4] = b"EGSF";
const VERSION: u8 = 1;
const FEATURE_BYTES: usize = 64;
/// Length of a simulated template.
pub const TEMPLATE_LEN: usize = 8 + FEATURE_BYTES;
const FLIP_PROBABILITY: f64 = 0.08;
const THRESHOLD_BITS: u32 = 128;

/// How a simulated reader behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct SimFingerprintConfig {
    /// Seeds the fingers: two simulators with one seed know the same people.
    pub seed: u64,
    /// Time a capture takes once a finger is on the sensor.
    pub capture_delay: Duration,
    /// The finger on the sensor at start, if any.
    pub finger: Option<u32>,
    /// How many readers the factory reports.
    pub readers: u32,
    /// What its templates are: its own format, or ISO / ANSI minutiae records.
    pub format: SimTemplateFormat,
}

impl Default for SimFingerprintConfig {
    fn default() -> Self {
        SimFingerprintConfig {
            seed: 0xE6A7E,
            capture_delay: Duration::ZERO,
            finger: Some(1),
            readers: 1,
            format: SimTemplateFormat::ExamgateSim,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("sim:fingerprint option {0:?} is not KEY=VALUE")]
    NotKeyValue(String),
    #[error("sim:fingerprint option {key}={value:?}: {why}")]
    BadValue { key: String, value: String, why: &'static str },
    #[error("sim:fingerprint has no option {0:?}; known: seed, delay_ms, finger, readers, format")]
    UnknownKey(String),
}

impl FromStr for SimFingerprintConfig {
    type Err = ConfigError;

    /// Parse the query part of a selector: `seed=7&delay_ms=200&finger=none&readers=2&format=iso19794-2`.
    fn from_str(query: &str) -> Result<Self, Self::Err> {
        let mut config = SimFingerprintConfig::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| ConfigError::NotKeyValue(pair.to_owned()))?;
            let bad = |why| ConfigError::BadValue { key: key.to_owned(), value: value.to_owned(), why };
            match key {
                "seed" => config.seed = value.parse().map_err(|_| bad("expected an unsigned integer"))?,
                "delay_ms" => {
                    let ms: u64 = value.parse().map_err(|_| bad("expected milliseconds"))?;
                    config.capture_delay = Duration::from_millis(ms);
                }
                "finger" => {
                    config.finger = match value {
                        "none" => None,
                        n => Some(
                            n.parse()
                                .ok()
                                .filter(|n| *n > 0)
                                .ok_or_else(|| bad("expected a positive finger number or none"))?,
                        ),
                    }
                }
                "readers" => {
                    config.readers =
                        value.parse().ok().filter(|n| (1..=16).contains(n)).ok_or_else(|| bad("expected 1..=16"))?
                }
                "format" => {
                    config.format = value.parse().map_err(|_| bad("expected iso19794-2, ansi378 or examgate-sim"))?
                }
                _ => return Err(ConfigError::UnknownKey(key.to_owned())),
            }
        }
        Ok(config)
    }
}

#[derive(Debug)]
struct ReaderState {
    finger: Option<u32>,
    plugged: bool,
    poor_quality_left: u32,
    captures: u64,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<ReaderState>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ReaderState> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn apply(&self, command: &SimCommand) -> Result<(), DeviceError> {
        let mut s = self.lock();
        match command {
            SimCommand::PlaceFinger(n) => s.finger = Some(*n),
            SimCommand::LiftFinger => s.finger = None,
            SimCommand::Unplug => s.plugged = false,
            SimCommand::Plug => s.plugged = true,
            SimCommand::PoorQuality(n) => s.poor_quality_left = *n,
            other => return Err(DeviceError::Unsupported(format!("a fingerprint reader cannot `{other}`"))),
        }
        drop(s);
        self.changed.notify_all();
        Ok(())
    }
}

/// Lists and opens simulated readers. Clone-free: share it behind an `Arc`.
pub struct SimFingerprintFactory {
    config: SimFingerprintConfig,
    readers: HashMap<DeviceId, Arc<Shared>>,
}

impl SimFingerprintFactory {
    pub fn new(config: SimFingerprintConfig) -> Self {
        let readers = (0..config.readers)
            .map(|i| {
                let id = DeviceId::new(format!("sim-fp-{i}")).expect("short ascii id");
                let state = ReaderState { finger: config.finger, plugged: true, poor_quality_left: 0, captures: 0 };
                (id, Arc::new(Shared { state: Mutex::new(state), changed: Condvar::new() }))
            })
            .collect();
        SimFingerprintFactory { config, readers }
    }

    /// A handle that scripts a reader from outside, while the agent or a
    /// test owns the open device.
    pub fn handle(&self, id: &str) -> Option<SimFingerprintHandle> {
        let id = DeviceId::new(id).ok()?;
        self.readers.get(&id).map(|shared| SimFingerprintHandle { shared: Arc::clone(shared) })
    }

    /// The template finger `finger` would give on its `impression`-th
    /// capture: lets tests and the `examgate-sim` tool make enrolment files.
    /// In the reader's configured format.
    pub fn template_for(&self, finger: u32, impression: u64) -> Template {
        make_template(&self.config, finger, impression, 90)
    }
}

impl Default for SimFingerprintFactory {
    fn default() -> Self {
        SimFingerprintFactory::new(SimFingerprintConfig::default())
    }
}

/// Scripts one simulated reader: place and lift fingers, unplug it.
#[derive(Clone, Debug)]
pub struct SimFingerprintHandle {
    shared: Arc<Shared>,
}

impl SimFingerprintHandle {
    pub fn apply(&self, command: &SimCommand) -> Result<(), DeviceError> {
        self.shared.apply(command)
    }
}

impl DriverFactory for SimFingerprintFactory {
    fn name(&self) -> &str {
        "sim-fingerprint"
    }

    fn classes(&self) -> DeviceClasses {
        DeviceClass::Fingerprint.into()
    }

    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        let mut found: Vec<DeviceInfo> = self
            .readers
            .keys()
            .map(|id| DeviceInfo {
                id: id.clone(),
                name: format!("examgate simulated fingerprint reader {id}"),
                classes: DeviceClass::Fingerprint.into(),
            })
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }

    fn open(&self, id: &DeviceId) -> Result<Box<dyn Device>, DeviceError> {
        let shared =
            self.readers.get(id).ok_or_else(|| DeviceError::NotConnected(format!("no simulated reader {id}")))?;
        if !shared.lock().plugged {
            return Err(DeviceError::NotConnected(format!("simulated reader {id} is unplugged")));
        }
        let info = DeviceInfo {
            id: id.clone(),
            name: format!("examgate simulated fingerprint reader {id}"),
            classes: DeviceClass::Fingerprint.into(),
        };
        Ok(Box::new(SimFingerprint { info, shared: Arc::clone(shared), config: self.config.clone() }))
    }
}

/// One open simulated reader.
pub struct SimFingerprint {
    info: DeviceInfo,
    shared: Arc<Shared>,
    config: SimFingerprintConfig,
}

impl Device for SimFingerprint {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn as_fingerprint(&mut self) -> Option<&mut dyn FingerprintReader> {
        Some(self)
    }
    fn as_sim(&mut self) -> Option<&mut dyn SimControl> {
        Some(self)
    }
}

impl SimControl for SimFingerprint {
    fn control(&mut self, command: &SimCommand) -> Result<(), DeviceError> {
        self.shared.apply(command)
    }
}

fn unplugged(id: &DeviceId) -> DeviceError {
    DeviceError::NotConnected(format!("simulated reader {id} is unplugged"))
}

impl FingerprintReader for SimFingerprint {
    fn get_template(&mut self, timeout: Duration) -> Result<Template, DeviceError> {
        let deadline = Instant::now() + timeout;
        let mut s = self.shared.lock();
        // Wait for a finger (or an unplug), as a real reader polls GenImg.
        loop {
            if !s.plugged {
                return Err(unplugged(&self.info.id));
            }
            if s.finger.is_some() {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(DeviceError::NoFinger);
            }
            s = self.shared.changed.wait_timeout(s, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        if !self.config.capture_delay.is_zero() {
            drop(s);
            std::thread::sleep(self.config.capture_delay);
            s = self.shared.lock();
            if !s.plugged {
                return Err(unplugged(&self.info.id));
            }
        }
        let finger = s.finger.ok_or(DeviceError::NoFinger)?;
        if s.poor_quality_left > 0 {
            s.poor_quality_left -= 1;
            return Err(DeviceError::PoorQuality("scripted: finger too dry".into()));
        }
        s.captures += 1;
        let impression = s.captures;
        Ok(make_template(&self.config, finger, impression + 1_000_000, 80 + (impression % 20) as u8))
    }

    fn match_templates(&mut self, probe: &Template, enrolled: &Template) -> Result<Score, DeviceError> {
        match_sim_templates(probe, enrolled)
    }

    fn enabled(&mut self) -> Result<bool, DeviceError> {
        Ok(self.shared.lock().plugged)
    }

    fn finger_present(&mut self) -> Result<bool, DeviceError> {
        let s = self.shared.lock();
        if !s.plugged {
            return Err(unplugged(&self.info.id));
        }
        Ok(s.finger.is_some())
    }
}

fn finger_bits(seed: u64, finger: u32) -> [u8; FEATURE_BYTES] {
    let mut rng = SplitMix64::new(mix(&[seed, u64::from(finger)]));
    let mut bits = [0u8; FEATURE_BYTES];
    for chunk in bits.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    bits
}

fn make_template(config: &SimFingerprintConfig, finger: u32, impression: u64, quality: u8) -> Template {
    let quality = quality.min(100);
    let standard = match config.format {
        SimTemplateFormat::ExamgateSim => return make_sim_template(config.seed, finger, impression, quality),
        SimTemplateFormat::Iso19794_2 => Standard::Iso19794_2,
        SimTemplateFormat::Ansi378 => Standard::Ansi378,
    };
    let data = record::impression_record(config.seed, finger, impression, quality, standard);
    Template { format: config.format.template_format(), quality, data }
}

fn make_sim_template(seed: u64, finger: u32, impression: u64, quality: u8) -> Template {
    let mut bits = finger_bits(seed, finger);
    let mut noise = SplitMix64::new(mix(&[seed, u64::from(finger), impression, 0x1A7E]));
    for byte in bits.iter_mut() {
        for bit in 0..8 {
            if noise.next_f64() < FLIP_PROBABILITY {
                *byte ^= 1 << bit;
            }
        }
    }
    let mut data = Vec::with_capacity(TEMPLATE_LEN);
    data.extend_from_slice(MAGIC);
    data.extend_from_slice(&[VERSION, quality.min(100), 0, 0]);
    data.extend_from_slice(&bits);
    Template { format: TemplateFormat::Vendor(FORMAT_NAME.to_owned()), quality: quality.min(100), data }
}

fn parse(t: &Template) -> Result<&[u8], DeviceError> {
    if t.format != TemplateFormat::Vendor(FORMAT_NAME.to_owned()) {
        return Err(DeviceError::FormatMismatch(format!(
            "the simulated reader compares only {FORMAT_NAME} templates, not {}",
            t.format
        )));
    }
    let d = &t.data;
    if d.len() != TEMPLATE_LEN {
        return Err(DeviceError::InvalidArgument(format!(
            "{FORMAT_NAME} template is {} bytes, expected {TEMPLATE_LEN}",
            d.len()
        )));
    }
    if &d[..4] != MAGIC || d[4] != VERSION {
        return Err(DeviceError::InvalidArgument(format!(
            "not an {FORMAT_NAME} v{VERSION} template (bad magic or version)"
        )));
    }
    Ok(&d[8..])
}

/// Compare two `examgate-sim` templates on the seeds' 1..1000 scale.
pub fn match_sim_templates(probe: &Template, enrolled: &Template) -> Result<Score, DeviceError> {
    let (a, b) = (parse(probe)?, parse(enrolled)?);
    let distance: u32 = a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum();
    Ok(score_for_distance(distance))
}

fn score_for_distance(distance: u32) -> Score {
    let d = i64::from(distance);
    let t = i64::from(THRESHOLD_BITS);
    let value = if d <= t { 1000 - d * 200 / t } else { 800 - ((d - t) * 799 + t - 1) / t };
    Score::saturating(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use examgate_device_sdk::conformance;

    #[test]
    fn passes_the_conformance_suite_in_process() {
        let factory = SimFingerprintFactory::new(SimFingerprintConfig { finger: None, ..Default::default() });
        conformance::run(&factory, &conformance::Options::default()).assert_all_passed();
    }

    #[test]
    fn threshold_sits_between_genuine_and_impostor_populations() {
        assert_eq!(score_for_distance(0).get(), 1000);
        assert_eq!(score_for_distance(128).get(), 800);
        assert!(!score_for_distance(129).is_match());
        assert_eq!(score_for_distance(512).get(), 1);
    }

    #[test]
    fn many_fingers_separate_cleanly() {
        let f = SimFingerprintFactory::default();
        let mut genuine_min = u16::MAX;
        let mut impostor_max = 0;
        for finger in 1..=20 {
            let a = f.template_for(finger, 1);
            let b = f.template_for(finger, 2);
            genuine_min = genuine_min.min(match_sim_templates(&a, &b).unwrap().get());
            let other = f.template_for(finger + 100, 1);
            impostor_max = impostor_max.max(match_sim_templates(&a, &other).unwrap().get());
        }
        assert!(genuine_min > 800, "weakest genuine score {genuine_min}");
        assert!(impostor_max <= 800, "strongest impostor score {impostor_max}");
    }

    #[test]
    fn rejects_malformed_templates() {
        let f = SimFingerprintFactory::default();
        let good = f.template_for(1, 1);
        let mut short = good.clone();
        short.data.truncate(10);
        assert_eq!(
            match_sim_templates(&short, &good).unwrap_err().kind(),
            examgate_device_sdk::ErrorKind::InvalidArgument
        );
        let mut bad_magic = good.clone();
        bad_magic.data[0] = b'X';
        assert!(match_sim_templates(&bad_magic, &good).is_err());
        let iso = Template::new(TemplateFormat::Iso19794_2, good.data.clone());
        assert_eq!(
            match_sim_templates(&iso, &good).unwrap_err().kind(),
            examgate_device_sdk::ErrorKind::FormatMismatch
        );
    }

    #[test]
    fn parses_selector_options() {
        let c: SimFingerprintConfig = "seed=7&delay_ms=20&finger=none&readers=2".parse().unwrap();
        assert_eq!(c.seed, 7);
        assert_eq!(c.capture_delay, Duration::from_millis(20));
        assert_eq!(c.finger, None);
        assert_eq!(c.readers, 2);
        assert!(matches!("colour=red".parse::<SimFingerprintConfig>(), Err(ConfigError::UnknownKey(_))));
        assert!(matches!("finger=0".parse::<SimFingerprintConfig>(), Err(ConfigError::BadValue { .. })));
        assert!(matches!("seed".parse::<SimFingerprintConfig>(), Err(ConfigError::NotKeyValue(_))));
        assert_eq!(c.format, SimTemplateFormat::ExamgateSim, "the vendor format unless asked");
        let ansi: SimFingerprintConfig = "format=ansi378".parse().unwrap();
        assert_eq!(ansi.format, SimTemplateFormat::Ansi378);
        assert!(matches!("format=wsq".parse::<SimFingerprintConfig>(), Err(ConfigError::BadValue { .. })));
    }

    #[test]
    fn unplug_during_a_wait_ends_it() {
        let factory = SimFingerprintFactory::new(SimFingerprintConfig { finger: None, ..Default::default() });
        let handle = factory.handle("sim-fp-0").unwrap();
        let mut dev = factory.open(&DeviceId::new("sim-fp-0").unwrap()).unwrap();
        let waiter = std::thread::spawn(move || dev.as_fingerprint().unwrap().get_template(Duration::from_secs(30)));
        // The capture blocks on the condition variable until the unplug.
        handle.apply(&SimCommand::Unplug).unwrap();
        let err = waiter.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), examgate_device_sdk::ErrorKind::NotConnected);
    }
}
