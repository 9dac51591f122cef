//! Runtime behind [`export_plugin!`](crate::export_plugin): the `extern "C"`
//! entry points that turn C ABI calls into trait calls, with every panic
//! caught at the boundary.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::time::Duration;

use crate::abi::{self, EgDevice, EgDeviceInfo, EgMsg, EgPlugin, EgStr, EgTemplate, EgTemplateOut, Status};
use crate::{Device, DeviceError, DeviceId, DriverFactory, ErrorKind, SimCommand, Template, TemplateFormat};

/// Implemented by the marker type [`export_plugin!`](crate::export_plugin)
/// defines; gives the generic entry points their factory.
pub trait Provider: 'static {
    fn factory() -> &'static dyn DriverFactory;
}

/// What a device handle handed to C points to.
struct ExportedDevice {
    device: Box<dyn Device>,
    /// Set when a call panicked: the device's state is unknown, so every
    /// later call fails until the host closes and reopens it.
    poisoned: Option<String>,
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

fn fail(msg: *mut EgMsg, err: &DeviceError) -> Status {
    if !msg.is_null() {
        // SAFETY: the host passes a valid, exclusive EgMsg for the call.
        unsafe { (*msg).set(&err.detail_or_message()) };
    }
    err.kind().code()
}

trait DetailOrMessage {
    fn detail_or_message(&self) -> String;
}

impl DetailOrMessage for DeviceError {
    /// The ABI carries the kind as the status code, so the message only
    /// needs the detail; kinds without detail send their whole sentence.
    fn detail_or_message(&self) -> String {
        let d = self.detail();
        if d.is_empty() { self.to_string() } else { d }
    }
}

/// Run `f`, turning a panic into `EG_ERR_PANIC` with its message.
fn guarded(msg: *mut EgMsg, f: impl FnOnce() -> Result<(), DeviceError>) -> Status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => abi::EG_OK,
        Ok(Err(e)) => fail(msg, &e),
        Err(payload) => fail(msg, &DeviceError::Panic(format!("driver panicked: {}", panic_text(&*payload)))),
    }
}

/// Run `f` on an open device, poisoning it if `f` panics.
fn with_device(
    dev: *mut EgDevice,
    msg: *mut EgMsg,
    f: impl FnOnce(&mut dyn Device) -> Result<(), DeviceError>,
) -> Status {
    if dev.is_null() {
        return fail(msg, &DeviceError::InvalidArgument("null device handle".into()));
    }
    // SAFETY: non-null handles come from `open` below and the ABI promises
    // one call at a time per device.
    let exported = unsafe { &mut *dev.cast::<ExportedDevice>() };
    if let Some(why) = &exported.poisoned {
        return fail(msg, &DeviceError::Panic(format!("device unusable after an earlier panic ({why}); reopen it")));
    }
    match catch_unwind(AssertUnwindSafe(|| f(exported.device.as_mut()))) {
        Ok(Ok(())) => abi::EG_OK,
        Ok(Err(e)) => fail(msg, &e),
        Err(payload) => {
            let text = panic_text(&*payload);
            exported.poisoned = Some(text.clone());
            fail(msg, &DeviceError::Panic(format!("driver panicked: {text}")))
        }
    }
}

fn not_offered(what: &str) -> DeviceError {
    DeviceError::Unsupported(format!("this device is not a {what}"))
}

/// Vendor format names must outlive the call (the ABI says static); intern
/// each distinct name once.
fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut guard = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    let set = guard.get_or_insert_with(HashSet::new);
    if let Some(found) = set.get(name) {
        return found;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    set.insert(leaked);
    leaked
}

pub(crate) fn format_to_abi(format: &TemplateFormat) -> (u32, EgStr) {
    match format {
        TemplateFormat::Iso19794_2 => (abi::FORMAT_ISO19794_2, EgStr::empty()),
        TemplateFormat::Ansi378 => (abi::FORMAT_ANSI378, EgStr::empty()),
        TemplateFormat::Vendor(name) => (abi::FORMAT_VENDOR, EgStr::from_static(intern(name))),
    }
}

/// # Safety
/// `vendor` must be readable as described by [`EgStr::to_string_lossy`].
pub(crate) unsafe fn format_from_abi(code: u32, vendor: &EgStr) -> Result<TemplateFormat, DeviceError> {
    match code {
        abi::FORMAT_ISO19794_2 => Ok(TemplateFormat::Iso19794_2),
        abi::FORMAT_ANSI378 => Ok(TemplateFormat::Ansi378),
        abi::FORMAT_VENDOR => {
            // SAFETY: guaranteed by the caller.
            let name = unsafe { vendor.to_string_lossy() };
            if name.is_empty() {
                Err(DeviceError::InvalidArgument("vendor template format without a name".into()))
            } else {
                Ok(TemplateFormat::Vendor(name))
            }
        }
        other => Err(DeviceError::InvalidArgument(format!("unknown template format code {other}"))),
    }
}

/// # Safety
/// `t` must be null or point to a valid `EgTemplate` whose buffers are
/// readable for the call.
unsafe fn template_from_abi(t: *const EgTemplate) -> Result<Template, DeviceError> {
    if t.is_null() {
        return Err(DeviceError::InvalidArgument("null template".into()));
    }
    // SAFETY: non-null and valid per the caller.
    let t = unsafe { &*t };
    // SAFETY: guaranteed by the caller.
    let format = unsafe { format_from_abi(t.format, &t.vendor_format)? };
    let data = if t.len == 0 {
        Vec::new()
    } else if t.data.is_null() {
        return Err(DeviceError::InvalidArgument("template with a length but no data".into()));
    } else {
        // SAFETY: the host guarantees `len` readable bytes at `data`.
        unsafe { std::slice::from_raw_parts(t.data, t.len) }.to_vec()
    };
    Ok(Template::new(format, data))
}

/// Hand a buffer to C; it comes back through [`free_bytes`].
pub(crate) fn give_bytes(bytes: Vec<u8>) -> (*mut u8, usize) {
    let boxed = bytes.into_boxed_slice();
    let len = boxed.len();
    (Box::into_raw(boxed).cast::<u8>(), len)
}

/// # Safety
/// `ptr`/`len` must come from [`give_bytes`] (or be null).
pub unsafe extern "C" fn free_bytes(ptr: *mut u8, len: usize) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: ptr and len describe a boxed slice made by give_bytes.
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
}

/// # Safety
/// Called through the C ABI with the arguments the header describes.
pub unsafe extern "C" fn discover<P: Provider>(
    out: *mut EgDeviceInfo,
    cap: usize,
    count: *mut usize,
    msg: *mut EgMsg,
) -> Status {
    guarded(msg, || {
        if count.is_null() || (out.is_null() && cap > 0) {
            return Err(DeviceError::InvalidArgument("null discover buffer".into()));
        }
        let found = P::factory().discover()?;
        let n = found.len().min(cap);
        for (i, info) in found.iter().take(n).enumerate() {
            let mut entry = EgDeviceInfo::zeroed();
            abi::write_fixed(&mut entry.id, info.id.as_str());
            abi::write_fixed(&mut entry.name, &info.name);
            entry.classes = info.classes.bits();
            // SAFETY: i < n <= cap entries of `out` are writable.
            unsafe { out.add(i).write(entry) };
        }
        // SAFETY: checked non-null above.
        unsafe { *count = n };
        Ok(())
    })
}

/// # Safety
/// Called through the C ABI with the arguments the header describes.
pub unsafe extern "C" fn open<P: Provider>(id: EgStr, out: *mut *mut EgDevice, msg: *mut EgMsg) -> Status {
    guarded(msg, || {
        if out.is_null() {
            return Err(DeviceError::InvalidArgument("null output handle".into()));
        }
        // SAFETY: the host passes a readable string.
        let id =
            DeviceId::new(unsafe { id.to_string_lossy() }).map_err(|e| DeviceError::InvalidArgument(e.to_string()))?;
        let device = P::factory().open(&id)?;
        let handle = Box::into_raw(Box::new(ExportedDevice { device, poisoned: None }));
        // SAFETY: checked non-null above.
        unsafe { *out = handle.cast() };
        Ok(())
    })
}

/// # Safety
/// `dev` must be a handle from [`open`], not used after this call.
pub unsafe extern "C" fn close(dev: *mut EgDevice) {
    if dev.is_null() {
        return;
    }
    // A panic in a device's Drop must not unwind into C; the handle is gone
    // either way.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: handle made by `open` with Box::into_raw.
        drop(unsafe { Box::from_raw(dev.cast::<ExportedDevice>()) });
    }));
}

/// # Safety
/// Called through the C ABI with the arguments the header describes.
pub unsafe extern "C" fn get_template(
    dev: *mut EgDevice,
    timeout_ms: u32,
    out: *mut EgTemplateOut,
    msg: *mut EgMsg,
) -> Status {
    with_device(dev, msg, |d| {
        if out.is_null() {
            return Err(DeviceError::InvalidArgument("null template output".into()));
        }
        let fp = d.as_fingerprint().ok_or_else(|| not_offered("fingerprint reader"))?;
        let t = fp.get_template(Duration::from_millis(u64::from(timeout_ms)))?;
        let (format, vendor_format) = format_to_abi(&t.format);
        let (data, len) = give_bytes(t.data);
        // SAFETY: checked non-null above.
        unsafe {
            out.write(EgTemplateOut { format, quality: u32::from(t.quality.min(100)), vendor_format, data, len })
        };
        Ok(())
    })
}

/// # Safety
/// Called through the C ABI with the arguments the header describes.
pub unsafe extern "C" fn match_templates(
    dev: *mut EgDevice,
    probe: *const EgTemplate,
    enrolled: *const EgTemplate,
    score: *mut u32,
    msg: *mut EgMsg,
) -> Status {
    with_device(dev, msg, |d| {
        if score.is_null() {
            return Err(DeviceError::InvalidArgument("null score output".into()));
        }
        // SAFETY: the host passes valid templates for the call.
        let (probe, enrolled) = unsafe { (template_from_abi(probe)?, template_from_abi(enrolled)?) };
        let fp = d.as_fingerprint().ok_or_else(|| not_offered("fingerprint reader"))?;
        let s = fp.match_templates(&probe, &enrolled)?;
        // SAFETY: checked non-null above.
        unsafe { *score = u32::from(s.get()) };
        Ok(())
    })
}

/// # Safety
/// Called through the C ABI with the arguments the header describes.
pub unsafe extern "C" fn enabled(dev: *mut EgDevice, out: *mut u32, msg: *mut EgMsg) -> Status {
    with_device(dev, msg, |d| {
        if out.is_null() {
            return Err(DeviceError::InvalidArgument("null output".into()));
        }
        let fp = d.as_fingerprint().ok_or_else(|| not_offered("fingerprint reader"))?;
        let on = fp.enabled()?;
        // SAFETY: checked non-null above.
        unsafe { *out = u32::from(on) };
        Ok(())
    })
}

/// # Safety
/// Called through the C ABI with the arguments the header describes.
pub unsafe extern "C" fn finger_present(dev: *mut EgDevice, out: *mut u32, msg: *mut EgMsg) -> Status {
    with_device(dev, msg, |d| {
        if out.is_null() {
            return Err(DeviceError::InvalidArgument("null output".into()));
        }
        let fp = d.as_fingerprint().ok_or_else(|| not_offered("fingerprint reader"))?;
        let on = fp.finger_present()?;
        // SAFETY: checked non-null above.
        unsafe { *out = u32::from(on) };
        Ok(())
    })
}

/// # Safety
/// Called through the C ABI with the arguments the header describes.
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn capture(
    dev: *mut EgDevice,
    timeout_ms: u32,
    width: *mut u32,
    height: *mut u32,
    fourcc: *mut u32,
    data: *mut *mut u8,
    len: *mut usize,
    msg: *mut EgMsg,
) -> Status {
    with_device(dev, msg, |d| {
        if width.is_null() || height.is_null() || fourcc.is_null() || data.is_null() || len.is_null() {
            return Err(DeviceError::InvalidArgument("null frame output".into()));
        }
        let camera = d.as_camera().ok_or_else(|| not_offered("camera"))?;
        let frame = camera.capture(Duration::from_millis(u64::from(timeout_ms)))?;
        let (ptr, n) = give_bytes(frame.data);
        // SAFETY: all output pointers checked non-null above.
        unsafe {
            *width = frame.width;
            *height = frame.height;
            *fourcc = frame.format.fourcc();
            *data = ptr;
            *len = n;
        }
        Ok(())
    })
}

/// # Safety
/// Called through the C ABI with the arguments the header describes.
pub unsafe extern "C" fn sim_control(dev: *mut EgDevice, command: EgStr, msg: *mut EgMsg) -> Status {
    with_device(dev, msg, |d| {
        // SAFETY: the host passes a readable string.
        let text = unsafe { command.to_string_lossy() };
        let cmd: SimCommand =
            text.parse().map_err(|e: crate::device::SimCommandError| DeviceError::Unsupported(e.to_string()))?;
        let sim = d.as_sim().ok_or_else(|| DeviceError::Unsupported("this device has no simulation hooks".into()))?;
        sim.control(&cmd)
    })
}

/// The descriptor and its tables, built once per plugin and never freed.
pub fn descriptor<P: Provider>(version: &'static str, vendor: &'static str) -> &'static EgPlugin {
    let factory = P::factory();
    let classes = factory.classes();
    let fingerprint: &'static abi::EgFingerprintOps = Box::leak(Box::new(abi::EgFingerprintOps {
        struct_size: size_of::<abi::EgFingerprintOps>() as u32,
        reserved: 0,
        get_template: Some(get_template),
        match_templates: Some(match_templates),
        enabled: Some(enabled),
        finger_present: Some(finger_present),
    }));
    let sim: &'static abi::EgSimOps = Box::leak(Box::new(abi::EgSimOps {
        struct_size: size_of::<abi::EgSimOps>() as u32,
        reserved: 0,
        control: Some(sim_control),
    }));
    let camera: &'static abi::EgCameraOps = Box::leak(Box::new(abi::EgCameraOps {
        struct_size: size_of::<abi::EgCameraOps>() as u32,
        reserved: 0,
        capture: Some(capture),
    }));
    let name: &'static str = intern(factory.name());
    Box::leak(Box::new(EgPlugin {
        abi_version: abi::ABI_VERSION,
        struct_size: size_of::<EgPlugin>() as u32,
        name: EgStr::from_static(name),
        vendor: EgStr::from_static(vendor),
        version: EgStr::from_static(version),
        device_classes: classes.bits(),
        reserved: 0,
        discover: Some(discover::<P>),
        open: Some(open::<P>),
        close: Some(close),
        free_bytes: Some(free_bytes),
        fingerprint: if classes.contains(crate::DeviceClass::Fingerprint) { fingerprint } else { std::ptr::null() },
        idcard: std::ptr::null(),
        camera: if classes.contains(crate::DeviceClass::Camera) { camera } else { std::ptr::null() },
        sim,
    }))
}

/// `EG_ERR_*` code for a kind; re-exported for plugin authors' tests.
pub fn status_of(kind: ErrorKind) -> Status {
    kind.code()
}

/// Export a Rust driver as an examgate plugin.
///
/// Put this once in a `cdylib` crate. It defines `examgate_plugin_entry`,
/// whose descriptor routes every C call to the factory, catching panics at
/// the boundary (a panic becomes `EG_ERR_PANIC` and poisons that device).
///
/// ```ignore
/// examgate_device_sdk::export_plugin! {
///     factory: my_driver::AcmeFactory = my_driver::AcmeFactory::default(),
///     vendor: "Acme",
///     version: env!("CARGO_PKG_VERSION"),
/// }
/// ```
#[macro_export]
macro_rules! export_plugin {
    (factory: $ty:ty = $ctor:expr, vendor: $vendor:expr, version: $version:expr $(,)?) => {
        #[doc(hidden)]
        pub struct __ExamgatePluginProvider;

        impl $crate::export::Provider for __ExamgatePluginProvider {
            fn factory() -> &'static dyn $crate::DriverFactory {
                static FACTORY: ::std::sync::OnceLock<$ty> = ::std::sync::OnceLock::new();
                FACTORY.get_or_init(|| $ctor)
            }
        }

        /// The examgate plugin entry point (see `examgate_plugin.h`).
        #[unsafe(no_mangle)]
        pub extern "C" fn examgate_plugin_entry() -> *const $crate::abi::EgPlugin {
            static DESCRIPTOR: ::std::sync::OnceLock<$crate::export::DescriptorRef> = ::std::sync::OnceLock::new();
            let built = ::std::panic::catch_unwind(|| {
                DESCRIPTOR
                    .get_or_init(|| {
                        $crate::export::DescriptorRef($crate::export::descriptor::<__ExamgatePluginProvider>(
                            $version, $vendor,
                        ))
                    })
                    .0 as *const $crate::abi::EgPlugin
            });
            built.unwrap_or(::std::ptr::null())
        }
    };
}

/// A `'static` descriptor reference that can live in a `static`.
pub struct DescriptorRef(pub &'static EgPlugin);
