//! A selector becomes a [`Driver`]: the built-in simulator, or a plugin in a
//! driver host (or in-process when the selector asks for it).

use std::sync::Arc;

use examgate_device_sdk::loader::{LoadError, PluginLibrary};
use examgate_sim::SimFingerprintFactory;

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
/// checked) here, so a refused plugin is reported at start-up.
pub fn open(selector: &DeviceSelector, host: &HostOptions) -> Result<Driver, DriverError> {
    match selector {
        DeviceSelector::SimFingerprint { config, .. } => {
            Ok(Driver::simulated(selector.clone(), Arc::new(SimFingerprintFactory::new(config.clone()))))
        }
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
        DeviceSelector::PcscIdCard { .. }
        | DeviceSelector::SamSerial { .. }
        | DeviceSelector::As60x { .. }
        | DeviceSelector::Webcam { .. } => Err(DriverError::NotBuiltIn {
            selector: selector.to_string(),
            driver: selector.not_built_in().unwrap_or("needed"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_drivers_say_they_are_not_built_in_yet() {
        for (text, driver) in [("as60x:/dev/ttyUSB0", "as60x"), ("webcam:0", "webcam"), ("pcsc-idcard", "pcsc-idcard")]
        {
            let err = open(&text.parse().unwrap(), &HostOptions::default()).err().expect(text);
            assert_eq!(err.to_string(), format!("device {text}: the {driver} driver is not built into this agent yet"));
        }
    }

    #[test]
    fn a_missing_in_process_plugin_is_one_line_naming_the_file() {
        let selector = "plugin:/nonexistent/libnothing.so?isolation=in-process".parse().unwrap();
        let err = open(&selector, &HostOptions::default()).err().expect("must fail").to_string();
        assert!(err.starts_with("plugin libnothing.so: cannot load"), "{err}");
    }

    #[test]
    fn opens_the_simulator() {
        let driver = open(&"sim:fingerprint".parse().unwrap(), &HostOptions::default()).unwrap();
        assert_eq!(driver.factory.name(), "sim-fingerprint");
        assert!(driver.sim.is_some());
    }
}
