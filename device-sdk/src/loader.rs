//! Load a plugin shared library and use it as a [`DriverFactory`].
//!
//! The ABI version and descriptor size are checked before any plugin
//! function other than the entry point runs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::abi::{self, EgDevice, EgDeviceInfo, EgMsg, EgPlugin, EgStr, EgTemplate, EgTemplateOut};
use crate::export::{format_from_abi, format_to_abi};
use crate::{
    Camera, Device, DeviceClasses, DeviceError, DeviceId, DeviceInfo, DriverFactory, FingerprintReader, Frame,
    PixelFormat, Score, SimCommand, SimControl, Template,
};

/// Why a plugin could not be loaded. Each message is one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `reason` holds libloading's whole error chain (the system's words).
    #[error("plugin {file}: cannot load: {reason}")]
    Open { file: String, reason: String },
    #[error("plugin {file}: no `examgate_plugin_entry` symbol; is this an examgate plugin?")]
    NoEntry { file: String },
    #[error("plugin {file}: examgate_plugin_entry returned NULL")]
    NullDescriptor { file: String },
    #[error("plugin {file}: ABI version {found}, this agent speaks {}", abi::ABI_VERSION)]
    AbiVersion { file: String, found: u32 },
    #[error("plugin {file}: descriptor struct_size {found}, ABI {} needs at least {expected}", abi::ABI_VERSION)]
    StructSize { file: String, found: u32, expected: u32 },
    #[error("plugin {file}: {what}")]
    Invalid { file: String, what: String },
}

/// libloading keeps the system's words (`undefined symbol: foo`) in the
/// error's source: show them.
fn chain(e: &libloading::Error) -> String {
    let mut text = e.to_string();
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// Name, vendor and version a plugin declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginMeta {
    pub name: String,
    pub vendor: String,
    pub version: String,
    pub abi_version: u32,
    pub classes: DeviceClasses,
}

impl fmt::Display for PluginMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} by {} (ABI {}, {})", self.name, self.version, self.vendor, self.abi_version, self.classes)
    }
}

struct Loaded {
    // Declared first, dropped first: the descriptor points into the library.
    desc: *const EgPlugin,
    _lib: libloading::Library,
}

// SAFETY: the descriptor is immutable static data inside the library, and
// the ABI allows discover/open from any thread.
unsafe impl Send for Loaded {}
unsafe impl Sync for Loaded {}

impl Loaded {
    fn desc(&self) -> &EgPlugin {
        // SAFETY: checked non-null and of sufficient size at load; lives as
        // long as the library, which lives as long as self.
        unsafe { &*self.desc }
    }
}

/// A loaded plugin library.
pub struct PluginLibrary {
    inner: Arc<Loaded>,
    meta: PluginMeta,
    path: PathBuf,
}

fn file_label(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

impl fmt::Debug for PluginLibrary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginLibrary").field("path", &self.path).field("meta", &self.meta).finish()
    }
}

impl PluginLibrary {
    /// Load and validate a plugin.
    ///
    /// Loading runs the library's initialisers and its entry point; both are
    /// the plugin's code, so the agent does this inside a driver-host
    /// process unless told otherwise.
    pub fn load(path: &Path) -> Result<PluginLibrary, LoadError> {
        let file = file_label(path);
        // SAFETY: loading a library runs its initialisers; this is the trust
        // boundary the driver host exists for.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| LoadError::Open { file: file.clone(), reason: chain(&e) })?;
        // SAFETY: the symbol's type is fixed by the ABI.
        let entry: abi::EntryFn = unsafe {
            *lib.get::<abi::EntryFn>(abi::ENTRY_SYMBOL).map_err(|_| LoadError::NoEntry { file: file.clone() })?
        };
        // SAFETY: calling the plugin's entry point, as the ABI prescribes.
        let desc = unsafe { entry() };
        if desc.is_null() {
            return Err(LoadError::NullDescriptor { file });
        }
        // Only the two fixed leading fields may be read before they check out.
        // SAFETY: every ABI version starts with these two u32 fields.
        let (abi_version, struct_size) = unsafe {
            let head = desc.cast::<u32>();
            (head.read_unaligned(), head.add(1).read_unaligned())
        };
        if abi_version != abi::ABI_VERSION {
            return Err(LoadError::AbiVersion { file, found: abi_version });
        }
        let expected = size_of::<EgPlugin>() as u32;
        if struct_size < expected {
            return Err(LoadError::StructSize { file, found: struct_size, expected });
        }
        let loaded = Loaded { desc, _lib: lib };
        let meta = validate(loaded.desc(), &file)?;
        Ok(PluginLibrary { inner: Arc::new(loaded), meta, path: path.to_owned() })
    }

    pub fn meta(&self) -> &PluginMeta {
        &self.meta
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn validate(d: &EgPlugin, file: &str) -> Result<PluginMeta, LoadError> {
    let invalid = |what: &str| LoadError::Invalid { file: file.to_owned(), what: what.to_owned() };
    if d.discover.is_none() || d.open.is_none() || d.close.is_none() || d.free_bytes.is_none() {
        return Err(invalid("descriptor lacks discover, open, close or free_bytes"));
    }
    let classes = DeviceClasses::from_bits(d.device_classes);
    if classes.contains(crate::DeviceClass::Fingerprint) {
        if d.fingerprint.is_null() {
            return Err(invalid("declares the fingerprint class but has no fingerprint table"));
        }
        // SAFETY: non-null table pointer from a validated descriptor; read the
        // size field first.
        let size = unsafe { (*d.fingerprint).struct_size };
        if (size as usize) < size_of::<abi::EgFingerprintOps>() {
            return Err(invalid(&format!("fingerprint table struct_size {size} is too small")));
        }
        // SAFETY: size checked above.
        let fp = unsafe { &*d.fingerprint };
        if fp.get_template.is_none() || fp.match_templates.is_none() || fp.enabled.is_none() {
            return Err(invalid("fingerprint table lacks get_template, match_templates or enabled"));
        }
    }
    if classes.contains(crate::DeviceClass::Camera) {
        if d.camera.is_null() {
            return Err(invalid("declares the camera class but has no camera table"));
        }
        // SAFETY: non-null table pointer; read the size field first.
        let size = unsafe { (*d.camera).struct_size };
        if (size as usize) < size_of::<abi::EgCameraOps>() {
            return Err(invalid(&format!("camera table struct_size {size} is too small")));
        }
        // SAFETY: size checked above.
        if unsafe { (*d.camera).capture }.is_none() {
            return Err(invalid("camera table lacks capture"));
        }
    }
    if !d.sim.is_null() {
        // SAFETY: non-null optional table; size checked before use.
        let size = unsafe { (*d.sim).struct_size };
        if (size as usize) < size_of::<abi::EgSimOps>() {
            return Err(invalid(&format!("sim table struct_size {size} is too small")));
        }
    }
    // SAFETY: descriptor strings are static in the plugin.
    let (name, vendor, version) =
        unsafe { (d.name.to_string_lossy(), d.vendor.to_string_lossy(), d.version.to_string_lossy()) };
    if name.is_empty() {
        return Err(invalid("descriptor has an empty name"));
    }
    Ok(PluginMeta { name, vendor, version, abi_version: d.abi_version, classes })
}

impl DriverFactory for PluginLibrary {
    fn name(&self) -> &str {
        &self.meta.name
    }

    fn classes(&self) -> DeviceClasses {
        self.meta.classes
    }

    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        const CAP: usize = 64;
        let mut out = vec![EgDeviceInfo::zeroed(); CAP];
        let mut count = 0usize;
        let mut msg = EgMsg::new();
        let discover = self.inner.desc().discover.expect("validated at load");
        // SAFETY: buffer of CAP entries, valid out-pointers.
        let status = unsafe { discover(out.as_mut_ptr(), CAP, &mut count, &mut msg) };
        abi::status_to_result(status, &msg)?;
        if count > CAP {
            return Err(DeviceError::Driver(format!("plugin reported {count} devices into a buffer of {CAP}")));
        }
        out.truncate(count);
        out.iter()
            .map(|e| {
                let id = DeviceId::new(abi::fixed_str(&e.id))
                    .map_err(|err| DeviceError::Driver(format!("plugin reported a bad device id: {err}")))?;
                Ok(DeviceInfo { id, name: abi::fixed_str(&e.name), classes: DeviceClasses::from_bits(e.classes) })
            })
            .collect()
    }

    fn open(&self, id: &DeviceId) -> Result<Box<dyn Device>, DeviceError> {
        let info = self.find(id)?;
        let mut handle: *mut EgDevice = std::ptr::null_mut();
        let mut msg = EgMsg::new();
        let open = self.inner.desc().open.expect("validated at load");
        // SAFETY: valid string and out-pointers for the call.
        let status =
            unsafe { open(EgStr { ptr: id.as_str().as_ptr().cast(), len: id.as_str().len() }, &mut handle, &mut msg) };
        abi::status_to_result(status, &msg)?;
        if handle.is_null() {
            return Err(DeviceError::Driver("plugin open returned OK but no device".into()));
        }
        Ok(Box::new(LoadedDevice { lib: Arc::clone(&self.inner), handle, info }))
    }
}

/// An open device inside a loaded plugin.
struct LoadedDevice {
    lib: Arc<Loaded>,
    handle: *mut EgDevice,
    info: DeviceInfo,
}

// SAFETY: the ABI lets a device be called from any thread, one at a time;
// `&mut self` on every call guarantees the one-at-a-time part.
unsafe impl Send for LoadedDevice {}

impl Drop for LoadedDevice {
    fn drop(&mut self) {
        if let Some(close) = self.lib.desc().close {
            // SAFETY: handle from open, closed exactly once.
            unsafe { close(self.handle) };
        }
    }
}

impl LoadedDevice {
    fn fp(&self) -> Result<&abi::EgFingerprintOps, DeviceError> {
        let d = self.lib.desc();
        if d.fingerprint.is_null() {
            return Err(DeviceError::Unsupported("plugin offers no fingerprint reader".into()));
        }
        // SAFETY: validated at load.
        Ok(unsafe { &*d.fingerprint })
    }

    fn take_bytes(&self, ptr: *mut u8, len: usize) -> Vec<u8> {
        if ptr.is_null() {
            return Vec::new();
        }
        // SAFETY: plugin-allocated buffer of `len` bytes, returned to it below.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec();
        if let Some(free) = self.lib.desc().free_bytes {
            // SAFETY: handing the plugin its own buffer back, once.
            unsafe { free(ptr, len) };
        }
        bytes
    }
}

impl Device for LoadedDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn as_fingerprint(&mut self) -> Option<&mut dyn FingerprintReader> {
        if self.lib.desc().fingerprint.is_null() { None } else { Some(self) }
    }
    fn as_camera(&mut self) -> Option<&mut dyn Camera> {
        if self.lib.desc().camera.is_null() { None } else { Some(self) }
    }
    fn as_sim(&mut self) -> Option<&mut dyn SimControl> {
        if self.lib.desc().sim.is_null() { None } else { Some(self) }
    }
}

impl Camera for LoadedDevice {
    fn capture(&mut self, timeout: Duration) -> Result<Frame, DeviceError> {
        let d = self.lib.desc();
        // SAFETY: non-null (checked by as_camera) and validated at load.
        let Some(f) = (unsafe { (*d.camera).capture }) else {
            return Err(DeviceError::Unsupported("plugin has no camera capture".into()));
        };
        let (mut width, mut height, mut fourcc) = (0u32, 0u32, 0u32);
        let (mut data, mut len): (*mut u8, usize) = (std::ptr::null_mut(), 0);
        let mut msg = EgMsg::new();
        // SAFETY: open handle and valid out-pointers.
        let status = unsafe {
            f(self.handle, timeout_ms(timeout), &mut width, &mut height, &mut fourcc, &mut data, &mut len, &mut msg)
        };
        let bytes = self.take_bytes(data, len);
        abi::status_to_result(status, &msg)?;
        let format = PixelFormat::from_fourcc(fourcc).ok_or_else(|| {
            DeviceError::Driver(format!("plugin returned a frame in unknown pixel format {fourcc:#010x}"))
        })?;
        if bytes.is_empty() || width == 0 || height == 0 {
            return Err(DeviceError::Driver("plugin returned an empty frame".into()));
        }
        Ok(Frame { width, height, format, data: bytes })
    }
}

fn borrow_template(t: &Template) -> EgTemplate {
    let (format, vendor_format) = format_to_abi(&t.format);
    EgTemplate { format, reserved: 0, vendor_format, data: t.data.as_ptr(), len: t.data.len() }
}

fn timeout_ms(timeout: Duration) -> u32 {
    timeout.as_millis().min(u128::from(u32::MAX)) as u32
}

impl FingerprintReader for LoadedDevice {
    fn get_template(&mut self, timeout: Duration) -> Result<Template, DeviceError> {
        let f = self.fp()?.get_template.expect("validated at load");
        let mut out = EgTemplateOut::empty();
        let mut msg = EgMsg::new();
        // SAFETY: open handle and valid out-pointers.
        let status = unsafe { f(self.handle, timeout_ms(timeout), &mut out, &mut msg) };
        if let Err(e) = abi::status_to_result(status, &msg) {
            // A plugin that allocated before failing still gets its buffer back.
            self.take_bytes(out.data, out.len);
            return Err(e);
        }
        let data = self.take_bytes(out.data, out.len);
        // SAFETY: the ABI requires vendor_format to point to static storage.
        let format = unsafe { format_from_abi(out.format, &out.vendor_format) }
            .map_err(|e| DeviceError::Driver(format!("plugin returned a bad template: {e}")))?;
        if data.is_empty() {
            return Err(DeviceError::Driver("plugin returned an empty template".into()));
        }
        Ok(Template { format, quality: out.quality.min(100) as u8, data })
    }

    fn match_templates(&mut self, probe: &Template, enrolled: &Template) -> Result<Score, DeviceError> {
        let f = self.fp()?.match_templates.expect("validated at load");
        let (p, e) = (borrow_template(probe), borrow_template(enrolled));
        let mut score = 0u32;
        let mut msg = EgMsg::new();
        // SAFETY: templates borrow live buffers for the call.
        let status = unsafe { f(self.handle, &p, &e, &mut score, &mut msg) };
        abi::status_to_result(status, &msg)?;
        Score::new(score).map_err(|e| DeviceError::Driver(format!("plugin broke the score contract: {e}")))
    }

    fn enabled(&mut self) -> Result<bool, DeviceError> {
        let f = self.fp()?.enabled.expect("validated at load");
        let mut on = 0u32;
        let mut msg = EgMsg::new();
        // SAFETY: open handle and valid out-pointers.
        let status = unsafe { f(self.handle, &mut on, &mut msg) };
        abi::status_to_result(status, &msg)?;
        Ok(on != 0)
    }

    fn finger_present(&mut self) -> Result<bool, DeviceError> {
        let Some(f) = self.fp()?.finger_present else {
            return Err(DeviceError::Unsupported("plugin reports no finger presence".into()));
        };
        let mut on = 0u32;
        let mut msg = EgMsg::new();
        // SAFETY: open handle and valid out-pointers.
        let status = unsafe { f(self.handle, &mut on, &mut msg) };
        abi::status_to_result(status, &msg)?;
        Ok(on != 0)
    }
}

impl SimControl for LoadedDevice {
    fn control(&mut self, command: &SimCommand) -> Result<(), DeviceError> {
        let d = self.lib.desc();
        // SAFETY: non-null (checked by as_sim) and size-validated at load.
        let Some(f) = (unsafe { (*d.sim).control }) else {
            return Err(DeviceError::Unsupported("plugin has no sim control".into()));
        };
        let text = command.to_string();
        let mut msg = EgMsg::new();
        // SAFETY: string valid for the call.
        let status = unsafe { f(self.handle, EgStr { ptr: text.as_ptr().cast(), len: text.len() }, &mut msg) };
        abi::status_to_result(status, &msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_says_why() {
        let err = PluginLibrary::load(Path::new("/nonexistent/libx.so")).unwrap_err();
        let line = err.to_string();
        assert!(line.starts_with("plugin libx.so: cannot load: "), "{line}");
        assert!(line.contains("No such file"), "{line}");
    }

    #[test]
    fn a_file_that_is_not_a_library_is_refused() {
        let dir = std::env::temp_dir().join(format!("eg-loader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("libjunk.so");
        std::fs::write(&path, b"not an ELF file").unwrap();
        let line = PluginLibrary::load(&path).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(line.starts_with("plugin libjunk.so: cannot load: "), "{line}");
    }
}
