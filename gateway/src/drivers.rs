//! A selector becomes a [`Driver`]: a built-in driver (simulators, PC/SC
//! and SAM ID card readers, webcams), or a plugin in a driver host (or
//! in-process when the selector asks for it).

use std::sync::Arc;

use examgate_device_sdk::loader::{LoadError, PluginLibrary};
use examgate_pcsc_idcard::PcscIdCardFactory;
use examgate_sam::{ReadOptions, SamFactory};
use examgate_sim::{SimCameraFactory, SimFingerprintFactory};
use examgate_webcam::WebcamFactory;

use crate::devices::Driver;
use crate::host::{HostError, HostOptions, HostedPlugin};
use crate::selector::{DeviceSelector, PluginIsolation};

/// Why a selector could not be turned into a driver. One line each.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("device {selector}: the {driver} driver is not built into this agent yet")]
    NotBuiltIn { selector: String, driver: &'static str },
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Open the driver a selector names. Plugins are loaded (and their ABI
/// checked) here, so a refused plugin is reported at start-up. Built-in
/// drivers touch no device here: a reader or camera that is not there yet
/// is found by the device manager when it comes.
pub fn open(selector: &DeviceSelector, host: &HostOptions) -> Result<Driver, DriverError> {
    let built_in = |factory| Ok(Driver::new(selector.clone(), factory));
    match selector {
        DeviceSelector::SimFingerprint { config, .. } => {
            Ok(Driver::simulated(selector.clone(), Arc::new(SimFingerprintFactory::new(config.clone()))))
        }
        DeviceSelector::SimCamera { config, .. } => {
            Ok(Driver::simulated(selector.clone(), Arc::new(SimCameraFactory::new(config.clone()))))
        }
        DeviceSelector::PcscIdCard { reader } => built_in(Arc::new(PcscIdCardFactory::new(reader.clone()))),
        DeviceSelector::Sam(sam) => built_in(Arc::new(SamFactory::new(sam.clone(), ReadOptions::default()))),
        DeviceSelector::Webcam(webcam) => built_in(Arc::new(WebcamFactory::v4l2(webcam.clone()))),
        DeviceSelector::Plugin { path, isolation: PluginIsolation::DriverHost } => {
            let plugin = HostedPlugin::spawn(path, host.clone())?;
            tracing::info!(selector = %selector, plugin = %plugin.meta(), "plugin loaded in a driver host");
            Ok(Driver::new(selector.clone(), Arc::new(plugin)))
        }
        DeviceSelector::Plugin { path, isolation: PluginIsolation::InProcess } => {
            let plugin = PluginLibrary::load(path)?;
            tracing::warn!(selector = %selector, plugin = %plugin.meta(), "plugin loaded in-process: a crash in it ends the agent");
            Ok(Driver::new(selector.clone(), Arc::new(plugin)))
        }
        DeviceSelector::As60x { .. } => Err(DriverError::NotBuiltIn {
            selector: selector.to_string(),
            driver: selector.not_built_in().unwrap_or("needed"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as60x_says_it_is_not_built_in_yet() {
        let err = open(&"as60x:/dev/ttyUSB0".parse().unwrap(), &HostOptions::default()).err().expect("as60x");
        assert_eq!(err.to_string(), "device as60x:/dev/ttyUSB0: the as60x driver is not built into this agent yet");
    }

    #[test]
    fn a_missing_in_process_plugin_is_one_line_naming_the_file() {
        let selector = "plugin:/nonexistent/libnothing.so?isolation=in-process".parse().unwrap();
        let err = open(&selector, &HostOptions::default()).err().expect("must fail").to_string();
        assert!(err.starts_with("plugin libnothing.so: cannot load"), "{err}");
    }

    #[test]
    fn opens_the_simulators_and_the_built_in_drivers() {
        for (selector, driver, scripted) in [
            ("sim:fingerprint", "sim-fingerprint", true),
            ("sim:camera", "sim-camera", true),
            ("pcsc-idcard:Virtual PCD", "pcsc-idcard", false),
            ("sam:serial:/nonexistent/ttyUSB9", "sam", false),
            ("webcam:0", "webcam", false),
        ] {
            let opened = open(&selector.parse().unwrap(), &HostOptions::default()).unwrap();
            assert_eq!(opened.factory.name(), driver, "{selector}");
            assert_eq!(opened.sim.is_some(), scripted, "{selector}");
        }
    }
}
