//! The SDK's conformance suite against the real driver, talking to the
//! AS60x simulator over a pseudo-terminal.
//!
//! A serial line has no side channel for the suite's simulation hooks
//! (place a finger, pull the cable), so this wrapper factory hands out the
//! driver's own devices with `as_sim` forwarded to the simulator's handle:
//! every capture, match and error the suite sees went through the driver,
//! the packets and the pty.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use examgate_as60x::{As60xFactory, As60xSelector, ReaderOptions};
use examgate_device_sdk::conformance::{self, Options};
use examgate_device_sdk::{
    Device, DeviceClasses, DeviceError, DeviceId, DeviceInfo, DriverFactory, FingerprintReader, SimCommand, SimControl,
};
use examgate_sim::as60x::{As60xConfig, As60xSimHandle, As60xSimulator};

/// The simulator's handle, shared by every device the factory opens.
#[derive(Clone)]
struct Hooks(Arc<Mutex<As60xSimHandle>>);

impl SimControl for Hooks {
    fn control(&mut self, command: &SimCommand) -> Result<(), DeviceError> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).control(command)
    }
}

struct SimulatedModule {
    driver: As60xFactory,
    hooks: Hooks,
}

impl DriverFactory for SimulatedModule {
    fn name(&self) -> &str {
        "as60x on the AS60x simulator"
    }
    fn classes(&self) -> DeviceClasses {
        self.driver.classes()
    }
    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        self.driver.discover()
    }
    fn open(&self, id: &DeviceId) -> Result<Box<dyn Device>, DeviceError> {
        Ok(Box::new(WithHooks { device: self.driver.open(id)?, hooks: self.hooks.clone() }))
    }
}

struct WithHooks {
    device: Box<dyn Device>,
    hooks: Hooks,
}

impl Device for WithHooks {
    fn info(&self) -> &DeviceInfo {
        self.device.info()
    }
    fn as_fingerprint(&mut self) -> Option<&mut dyn FingerprintReader> {
        self.device.as_fingerprint()
    }
    fn as_sim(&mut self) -> Option<&mut dyn SimControl> {
        Some(&mut self.hooks)
    }
}

#[test]
fn the_driver_passes_the_conformance_suite_against_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyAS608");
    let handle = As60xSimulator::new(As60xConfig::default()).spawn_pty(Some(link.clone())).unwrap();
    let options = ReaderOptions { poll_interval: Duration::from_millis(5), ..ReaderOptions::default() };
    let driver = As60xFactory::with_options(As60xSelector::path(link.to_str().unwrap()), options);
    let factory = SimulatedModule { driver, hooks: Hooks(Arc::new(Mutex::new(handle))) };
    let report = conformance::run(&factory, &Options::default());
    println!("{report}");
    report.assert_all_passed();
}
