//! A plugin whose `get_template` panics, for tests of `export_plugin!`'s
//! panic boundary: the panic must become `EG_ERR_PANIC`, poison that one
//! device, and leave the process (and a reopened device) working.
//!
//! It is the simulated fingerprint reader with a finger on the sensor, so
//! everything but `get_template` works. Build it with
//! `cargo build -p examgate-panicking-plugin`.

use examgate_device_sdk::{
    Device, DeviceClasses, DeviceError, DeviceId, DeviceInfo, DriverFactory, FingerprintReader, Score, SimControl,
    Template,
};
use examgate_sim::{SimFingerprintConfig, SimFingerprintFactory};

/// The message of the panic, for tests to look for.
pub const PANIC_MESSAGE: &str = "deliberate panic in get_template";

pub struct PanickingFactory {
    inner: SimFingerprintFactory,
}

impl Default for PanickingFactory {
    fn default() -> Self {
        PanickingFactory {
            inner: SimFingerprintFactory::new(SimFingerprintConfig { finger: Some(1), ..Default::default() }),
        }
    }
}

impl DriverFactory for PanickingFactory {
    fn name(&self) -> &str {
        "panicking-fingerprint"
    }

    fn classes(&self) -> DeviceClasses {
        self.inner.classes()
    }

    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        self.inner.discover()
    }

    fn open(&self, id: &DeviceId) -> Result<Box<dyn Device>, DeviceError> {
        Ok(Box::new(PanickingDevice { inner: self.inner.open(id)? }))
    }
}

struct PanickingDevice {
    inner: Box<dyn Device>,
}

impl PanickingDevice {
    fn reader(&mut self) -> Result<&mut dyn FingerprintReader, DeviceError> {
        self.inner
            .as_fingerprint()
            .ok_or_else(|| DeviceError::Driver("the wrapped simulator is no fingerprint reader".into()))
    }
}

impl Device for PanickingDevice {
    fn info(&self) -> &DeviceInfo {
        self.inner.info()
    }
    fn as_fingerprint(&mut self) -> Option<&mut dyn FingerprintReader> {
        Some(self)
    }
    fn as_sim(&mut self) -> Option<&mut dyn SimControl> {
        self.inner.as_sim()
    }
}

impl FingerprintReader for PanickingDevice {
    fn get_template(&mut self, _timeout: std::time::Duration) -> Result<Template, DeviceError> {
        panic!("{PANIC_MESSAGE}");
    }

    fn match_templates(&mut self, probe: &Template, enrolled: &Template) -> Result<Score, DeviceError> {
        self.reader()?.match_templates(probe, enrolled)
    }

    fn enabled(&mut self) -> Result<bool, DeviceError> {
        self.reader()?.enabled()
    }

    fn finger_present(&mut self) -> Result<bool, DeviceError> {
        self.reader()?.finger_present()
    }
}

examgate_device_sdk::export_plugin! {
    factory: PanickingFactory = PanickingFactory::default(),
    vendor: "examgate tests",
    version: env!("CARGO_PKG_VERSION"),
}
