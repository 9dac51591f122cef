//! A selector becomes a [`Driver`]: a built-in driver (simulators, PC/SC
//! and SAM ID card readers, webcams), or a plugin in a driver host (or
//! in-process when the selector asks for it).

use std::sync::Arc;

use examgate_as60x::{As60xFactory, As60xSelector, As60xSelectorError};
use examgate_device_sdk::DriverFactory;
use examgate_device_sdk::loader::{LoadError, PluginLibrary};
use examgate_pcsc_idcard::PcscIdCardFactory;
use examgate_sam::{ReadOptions, SamFactory};
use examgate_sim::{SimCameraFactory, SimFingerprintFactory};
use examgate_webcam::WebcamFactory;

use crate::devices::{Backoff, Driver, LoadPlugin, PluginSource};
use crate::host::{HostError, HostOptions, HostedPlugin};
use crate::selector::{DeviceSelector, PluginIsolation};

/// Why a selector could not be turned into a driver. One line each.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("device {selector}: {why}")]
    Selector { selector: String, why: String },
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Open the driver a selector names. Built-in drivers touch no device here:
/// a reader or camera that is not there yet is found by the device manager
/// when it comes. A plugin is loaded (and its ABI checked) by its first
/// discovery; one that cannot be loaded leaves its selector failed and is
/// tried again ([`PluginSource`]), so one bad vendor file never stops the
/// seat. Only a selector that cannot be read is an error here.
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
        DeviceSelector::Plugin { path, isolation } => {
            let load = plugin_loader(selector.to_string(), *isolation, host.clone());
            let source = PluginSource::new(path.clone(), selector.to_string(), Backoff::default(), load);
            Ok(Driver::plugin(selector.clone(), Arc::new(source)))
        }
        DeviceSelector::As60x { .. } => {
            let text = selector.to_string();
            let module: As60xSelector = text
                .parse()
                .map_err(|e: As60xSelectorError| DriverError::Selector { selector: text, why: e.to_string() })?;
            built_in(Arc::new(As60xFactory::new(module)))
        }
    }
}

/// How a plugin selector loads its plugin: in a driver host (a crash while
/// loading costs that child only) or, when the selector asks, in-process.
fn plugin_loader(selector: String, isolation: PluginIsolation, host: HostOptions) -> LoadPlugin {
    Box::new(move |path| match isolation {
        PluginIsolation::DriverHost => {
            let plugin = HostedPlugin::spawn(path, host.clone()).map_err(|e| e.to_string())?;
            tracing::info!(selector = %selector, plugin = %plugin.meta(), "plugin loaded in a driver host");
            Ok(Arc::new(plugin) as Arc<dyn DriverFactory>)
        }
        PluginIsolation::InProcess => {
            let plugin = PluginLibrary::load(path).map_err(|e| e.to_string())?;
            tracing::warn!(selector = %selector, plugin = %plugin.meta(), "plugin loaded in-process: a crash in it ends the agent");
            Ok(Arc::new(plugin) as Arc<dyn DriverFactory>)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_an_as60x_module_selector_without_touching_the_port() {
        let driver = open(&"as60x:/dev/ttyUSB9?baud=57600".parse().unwrap(), &HostOptions::default());
        assert!(driver.is_ok(), "{:?}", driver.err());
        let err =
            open(&"as60x:/dev/ttyUSB9?baud=12345".parse().unwrap(), &HostOptions::default()).err().expect("bad baud");
        assert!(err.to_string().starts_with("device as60x:/dev/ttyUSB9?baud=12345: "), "{err}");
    }

    #[test]
    fn a_missing_in_process_plugin_fails_its_discovery_with_one_line_naming_the_file() {
        let selector = "plugin:/nonexistent/libnothing.so?isolation=in-process".parse().unwrap();
        let driver = open(&selector, &HostOptions::default()).expect("a plugin selector opens; loading comes later");
        let err = driver.factory.discover().expect_err("must fail").to_string();
        assert!(err.starts_with("driver error: plugin libnothing.so: cannot load"), "{err}");
        let plugin = driver.plugin.expect("a plugin source");
        let crate::devices::LoadState::Failed(failure) = plugin.state() else { panic!("{:?}", plugin.state()) };
        assert_eq!(failure.failures, 1);
        assert!(failure.reason.starts_with("plugin libnothing.so: cannot load: "), "{}", failure.reason);
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
