//! The plugin C ABI, mirrored from `include/examgate_plugin.h`.
//!
//! The header is the contract; these types must match it field for field
//! (a test below checks the sizes against the C compiler's).

use std::os::raw::c_char;

use crate::{DeviceError, ErrorKind};

/// The ABI version this SDK speaks.
pub const ABI_VERSION: u32 = 1;
/// The exported symbol, NUL-terminated for `dlsym`.
pub const ENTRY_SYMBOL: &[u8] = b"examgate_plugin_entry\0";

pub const EG_OK: i32 = 0;
pub const MSG_CAP: usize = 256;
pub const ID_CAP: usize = 64;
pub const NAME_CAP: usize = 128;

pub const FORMAT_ISO19794_2: u32 = 1;
pub const FORMAT_ANSI378: u32 = 2;
pub const FORMAT_VENDOR: u32 = 3;

pub type Status = i32;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EgStr {
    pub ptr: *const c_char,
    pub len: usize,
}

// SAFETY: an EgStr in a descriptor points to static, immutable bytes.
unsafe impl Sync for EgStr {}
unsafe impl Send for EgStr {}

impl EgStr {
    pub const fn from_static(s: &'static str) -> EgStr {
        EgStr { ptr: s.as_ptr().cast(), len: s.len() }
    }

    pub const fn empty() -> EgStr {
        EgStr { ptr: std::ptr::null(), len: 0 }
    }

    /// Read the string, replacing invalid UTF-8.
    ///
    /// # Safety
    /// `ptr` must be null (with `len` 0) or point to `len` readable bytes.
    pub unsafe fn to_string_lossy(&self) -> String {
        if self.ptr.is_null() || self.len == 0 {
            return String::new();
        }
        // SAFETY: guaranteed by the caller.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) };
        String::from_utf8_lossy(bytes).into_owned()
    }
}

#[repr(C)]
pub struct EgMsg {
    pub text: [u8; MSG_CAP],
    pub len: usize,
}

impl EgMsg {
    pub fn new() -> EgMsg {
        EgMsg { text: [0; MSG_CAP], len: 0 }
    }

    /// Write a message, cut at a character boundary to fit.
    pub fn set(&mut self, message: &str) {
        let mut end = message.len().min(MSG_CAP);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        self.text[..end].copy_from_slice(&message.as_bytes()[..end]);
        self.len = end;
    }

    /// The message a plugin wrote, tolerating a `len` past the buffer.
    pub fn get(&self) -> String {
        String::from_utf8_lossy(&self.text[..self.len.min(MSG_CAP)]).into_owned()
    }
}

impl Default for EgMsg {
    fn default() -> Self {
        EgMsg::new()
    }
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct EgDeviceInfo {
    pub id: [u8; ID_CAP],
    pub name: [u8; NAME_CAP],
    pub classes: u32,
    pub reserved: u32,
}

impl EgDeviceInfo {
    pub const fn zeroed() -> EgDeviceInfo {
        EgDeviceInfo { id: [0; ID_CAP], name: [0; NAME_CAP], classes: 0, reserved: 0 }
    }
}

/// Read a NUL-terminated (or full) fixed-size field.
pub fn fixed_str(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Write a string into a fixed-size field, NUL-terminated, cut to fit.
pub fn write_fixed(field: &mut [u8], s: &str) {
    let mut end = s.len().min(field.len() - 1);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    field[..end].copy_from_slice(&s.as_bytes()[..end]);
    field[end..].fill(0);
}

#[repr(C)]
pub struct EgTemplate {
    pub format: u32,
    pub reserved: u32,
    pub vendor_format: EgStr,
    pub data: *const u8,
    pub len: usize,
}

#[repr(C)]
pub struct EgTemplateOut {
    pub format: u32,
    pub quality: u32,
    pub vendor_format: EgStr,
    pub data: *mut u8,
    pub len: usize,
}

impl EgTemplateOut {
    pub fn empty() -> EgTemplateOut {
        EgTemplateOut { format: 0, quality: 0, vendor_format: EgStr::empty(), data: std::ptr::null_mut(), len: 0 }
    }
}

/// Opaque device handle; the plugin decides what it points to.
#[repr(C)]
pub struct EgDevice {
    _private: [u8; 0],
}

#[repr(C)]
pub struct EgFingerprintOps {
    pub struct_size: u32,
    pub reserved: u32,
    pub get_template: Option<unsafe extern "C" fn(*mut EgDevice, u32, *mut EgTemplateOut, *mut EgMsg) -> Status>,
    pub match_templates: Option<
        unsafe extern "C" fn(*mut EgDevice, *const EgTemplate, *const EgTemplate, *mut u32, *mut EgMsg) -> Status,
    >,
    pub enabled: Option<unsafe extern "C" fn(*mut EgDevice, *mut u32, *mut EgMsg) -> Status>,
    pub finger_present: Option<unsafe extern "C" fn(*mut EgDevice, *mut u32, *mut EgMsg) -> Status>,
}

#[repr(C)]
pub struct EgCardOut {
    pub text: *mut u8,
    pub text_len: usize,
    pub photo: *mut u8,
    pub photo_len: usize,
    pub chip_serial: *mut u8,
    pub chip_serial_len: usize,
}

#[repr(C)]
pub struct EgIdcardOps {
    pub struct_size: u32,
    pub reserved: u32,
    pub read_card: Option<unsafe extern "C" fn(*mut EgDevice, u32, *mut EgCardOut, *mut EgMsg) -> Status>,
}

#[repr(C)]
pub struct EgCameraOps {
    pub struct_size: u32,
    pub reserved: u32,
    #[allow(clippy::type_complexity)]
    pub capture: Option<
        unsafe extern "C" fn(
            *mut EgDevice,
            u32,
            *mut u32,
            *mut u32,
            *mut u32,
            *mut *mut u8,
            *mut usize,
            *mut EgMsg,
        ) -> Status,
    >,
}

#[repr(C)]
pub struct EgSimOps {
    pub struct_size: u32,
    pub reserved: u32,
    pub control: Option<unsafe extern "C" fn(*mut EgDevice, EgStr, *mut EgMsg) -> Status>,
}

#[repr(C)]
pub struct EgPlugin {
    pub abi_version: u32,
    pub struct_size: u32,
    pub name: EgStr,
    pub vendor: EgStr,
    pub version: EgStr,
    pub device_classes: u32,
    pub reserved: u32,
    pub discover: Option<unsafe extern "C" fn(*mut EgDeviceInfo, usize, *mut usize, *mut EgMsg) -> Status>,
    pub open: Option<unsafe extern "C" fn(EgStr, *mut *mut EgDevice, *mut EgMsg) -> Status>,
    pub close: Option<unsafe extern "C" fn(*mut EgDevice)>,
    pub free_bytes: Option<unsafe extern "C" fn(*mut u8, usize)>,
    pub fingerprint: *const EgFingerprintOps,
    pub idcard: *const EgIdcardOps,
    pub camera: *const EgCameraOps,
    pub sim: *const EgSimOps,
}

// SAFETY: a descriptor is immutable static data; its pointers lead to
// immutable static function tables.
unsafe impl Sync for EgPlugin {}
unsafe impl Sync for EgFingerprintOps {}
unsafe impl Sync for EgSimOps {}
unsafe impl Sync for EgCameraOps {}

/// Type of the exported entry point.
pub type EntryFn = unsafe extern "C" fn() -> *const EgPlugin;

/// Turn a status code and message from a plugin into a result.
pub fn status_to_result(status: Status, msg: &EgMsg) -> Result<(), DeviceError> {
    if status == EG_OK {
        return Ok(());
    }
    let text = msg.get();
    match ErrorKind::from_code(status) {
        Some(kind) => Err(DeviceError::from_kind(kind, text)),
        None => Err(DeviceError::Driver(format!("plugin returned unknown status {status}: {text}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_cut_at_a_character_boundary() {
        let mut msg = EgMsg::new();
        let long = "指".repeat(100); // 300 bytes
        msg.set(&long);
        assert!(msg.len <= MSG_CAP);
        assert_eq!(msg.len % 3, 0);
        assert!(msg.get().chars().all(|c| c == '指'));
    }

    #[test]
    fn tolerates_a_plugin_that_lies_about_the_message_length() {
        let mut msg = EgMsg::new();
        msg.len = 10_000;
        assert_eq!(msg.get().len(), MSG_CAP);
    }

    #[test]
    fn fixed_fields_are_nul_terminated() {
        let mut field = [0xFFu8; 8];
        write_fixed(&mut field, "abcdefghij");
        assert_eq!(fixed_str(&field), "abcdefg");
        assert_eq!(field[7], 0);
    }

    #[test]
    fn unknown_status_is_a_driver_error() {
        let mut msg = EgMsg::new();
        msg.set("weird");
        let err = status_to_result(77, &msg).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Driver);
        assert!(err.to_string().contains("77"));
    }

    #[test]
    fn layout_matches_the_c_header_on_this_target() {
        // Sizes from the header compiled with the system C compiler on
        // x86_64 / aarch64 Linux (LP64); see tests in drivers/c-example too.
        #[cfg(target_pointer_width = "64")]
        {
            assert_eq!(std::mem::size_of::<EgPlugin>(), 128);
            assert_eq!(std::mem::size_of::<EgFingerprintOps>(), 40);
            assert_eq!(std::mem::size_of::<EgDeviceInfo>(), 200);
            assert_eq!(std::mem::size_of::<EgMsg>(), 264);
            assert_eq!(std::mem::size_of::<EgTemplate>(), 40);
            assert_eq!(std::mem::size_of::<EgTemplateOut>(), 40);
        }
    }
}
