//! A plugin selector as a driver that may not be loaded yet. A plugin that
//! cannot be loaded (missing file, wrong ABI, crash or hang while loading,
//! bad descriptor) leaves its selector *failed* instead of stopping the
//! agent: discovery tries again with a capped backoff ([`Retry`]), at once
//! when the file changes, and the seat serves its other devices meanwhile.
//! Once loaded it stays loaded; a driver host restarts itself after a crash.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use examgate_device_sdk::{Device, DeviceClasses, DeviceError, DeviceId, DeviceInfo, DriverFactory};

use super::retry::{Backoff, Due, Failure, FileStamp, Retry};

/// Loads the plugin: a driver host, or the library in-process. The error is
/// one line for a person, naming the file.
pub type LoadPlugin = Box<dyn Fn(&Path) -> Result<Arc<dyn DriverFactory>, String> + Send + Sync>;

/// What became of the last attempt to load a plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadState {
    Loaded,
    /// Not tried yet.
    Pending,
    Failed(Failure),
}

/// A plugin, loaded on first discovery and retried until it loads.
pub struct PluginSource {
    path: PathBuf,
    /// The selector, for logs.
    label: String,
    load: LoadPlugin,
    backoff: Backoff,
    loaded: OnceLock<Arc<dyn DriverFactory>>,
    /// Held across an attempt, so two threads never load at once.
    retry: Mutex<Retry>,
}

impl PluginSource {
    pub fn new(path: PathBuf, label: String, backoff: Backoff, load: LoadPlugin) -> PluginSource {
        PluginSource { path, label, load, backoff, loaded: OnceLock::new(), retry: Mutex::new(Retry::new(backoff)) }
    }

    pub fn state(&self) -> LoadState {
        if self.loaded.get().is_some() {
            return LoadState::Loaded;
        }
        match self.retry.lock().unwrap_or_else(|p| p.into_inner()).failure() {
            Some(f) => LoadState::Failed(f.clone()),
            None => LoadState::Pending,
        }
    }

    /// The loaded plugin, loading it now when an attempt is due.
    fn plugin(&self) -> Result<&Arc<dyn DriverFactory>, DeviceError> {
        if let Some(plugin) = self.loaded.get() {
            return Ok(plugin);
        }
        let mut retry = self.retry.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(plugin) = self.loaded.get() {
            return Ok(plugin);
        }
        let file = FileStamp::of(&self.path);
        match retry.due(Instant::now(), file) {
            None => {}
            Some(due) => {
                if due == Due::FileChanged {
                    tracing::info!(selector = %self.label, "the plugin's file changed; loading it now");
                }
                match (self.load)(&self.path) {
                    Ok(plugin) => {
                        if retry.failure().is_some() {
                            tracing::info!(selector = %self.label, "plugin loaded after all");
                        }
                        return Ok(self.loaded.get_or_init(|| plugin));
                    }
                    Err(why) => {
                        // Stamp the file as it was before the attempt: a file
                        // replaced while loading is then tried again.
                        let first = retry.failure().is_none();
                        let same = retry.failure().is_some_and(|f| f.reason == why);
                        let wait = retry.failed(Instant::now(), file, why.clone());
                        if first || !same {
                            tracing::warn!(
                                selector = %self.label,
                                "{why}; the device stays failed, trying again in {wait:?} (backing off to {:?}) \
                                 and at once when the file changes",
                                self.backoff.max
                            );
                        } else {
                            let failures = retry.failure().map_or(0, |f| f.failures);
                            tracing::info!(
                                selector = %self.label,
                                failures,
                                "the plugin still cannot be loaded; trying again in {wait:?}"
                            );
                        }
                    }
                }
            }
        }
        let why = retry.failure().map(|f| f.reason.clone()).unwrap_or_else(|| "not loaded".into());
        Err(DeviceError::Driver(why))
    }
}

impl DriverFactory for PluginSource {
    fn name(&self) -> &str {
        self.loaded.get().map_or("plugin", |p| p.name())
    }

    fn classes(&self) -> DeviceClasses {
        self.loaded.get().map_or_else(DeviceClasses::default, |p| p.classes())
    }

    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        self.plugin()?.discover()
    }

    fn open(&self, id: &DeviceId) -> Result<Box<dyn Device>, DeviceError> {
        self.plugin()?.open(id)
    }

    fn find(&self, id: &DeviceId) -> Result<DeviceInfo, DeviceError> {
        self.plugin()?.find(id)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use examgate_sim::{SimFingerprintConfig, SimFingerprintFactory};

    use super::*;

    /// A loader that fails while the file says `broken` and loads the
    /// simulated reader once it says anything else, counting attempts.
    fn source(path: PathBuf, attempts: Arc<AtomicU32>) -> PluginSource {
        let load: LoadPlugin = Box::new(move |path| {
            attempts.fetch_add(1, Ordering::SeqCst);
            match std::fs::read_to_string(path) {
                Err(e) => Err(format!("plugin {}: cannot load: {e}", path.display())),
                Ok(text) if text == "broken" => Err("plugin: ABI version 999, this agent speaks 1".into()),
                Ok(_) => Ok(Arc::new(SimFingerprintFactory::new(SimFingerprintConfig::default())) as Arc<_>),
            }
        });
        PluginSource::new(path, "plugin:test".into(), Backoff::default(), load)
    }

    #[test]
    fn a_failed_plugin_waits_out_its_backoff_then_loads_when_its_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("libvendor.so");
        let attempts = Arc::new(AtomicU32::new(0));
        let plugin = source(path.clone(), attempts.clone());
        assert_eq!(plugin.state(), LoadState::Pending);
        assert_eq!(plugin.name(), "plugin");

        // Missing: failed, and not tried again before its backoff runs out.
        let err = plugin.discover().unwrap_err();
        assert!(err.to_string().contains("cannot load"), "{err}");
        let LoadState::Failed(failure) = plugin.state() else { panic!("not failed: {:?}", plugin.state()) };
        assert_eq!(failure.failures, 1);
        assert!(plugin.discover().is_err());
        assert_eq!(attempts.load(Ordering::SeqCst), 1, "tried again within its backoff");

        // Appearing broken: tried at once, fails with the new reason.
        std::fs::write(&path, "broken").unwrap();
        assert!(plugin.discover().unwrap_err().to_string().contains("ABI version 999"));
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
        let LoadState::Failed(failure) = plugin.state() else { panic!("not failed") };
        assert_eq!((failure.failures, failure.reason.contains("ABI")), (2, true));

        // Replaced by a working one (a new inode): loaded at once, and stays.
        let staged = dir.path().join("libvendor.so.new");
        std::fs::write(&staged, "working").unwrap();
        std::fs::rename(&staged, &path).unwrap();
        let found = plugin.discover().unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(plugin.state(), LoadState::Loaded);
        assert_eq!(plugin.name(), "sim-fingerprint");
        plugin.open(&found[0].id).unwrap();
        std::fs::write(&path, "broken").unwrap();
        assert!(plugin.discover().is_ok());
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
    }
}
