//! Photo decoder plugins: the vendor libraries that turn an ID card's
//! proprietary WLT photo into an image (`eg_wlt_decoder` in the header).
//! examgate never decodes WLT itself.

use std::path::Path;

use crate::DeviceError;
use crate::abi::{self, EgMsg, EgStr, Status};
use crate::loader::LoadError;

/// `examgate_wlt_decoder_entry`, NUL-terminated for `dlsym`.
pub const DECODER_SYMBOL: &[u8] = b"examgate_wlt_decoder_entry\0";

#[repr(C)]
pub struct EgWltDecoder {
    pub abi_version: u32,
    pub struct_size: u32,
    pub name: EgStr,
    pub vendor: EgStr,
    pub version: EgStr,
    #[allow(clippy::type_complexity)]
    pub decode: Option<
        unsafe extern "C" fn(*const u8, usize, *mut u32, *mut u32, *mut *mut u8, *mut usize, *mut EgMsg) -> Status,
    >,
    pub free_bytes: Option<unsafe extern "C" fn(*mut u8, usize)>,
}

type DecoderEntry = unsafe extern "C" fn() -> *const EgWltDecoder;

/// A decoded photo: 24-bit BGR, rows top to bottom.
#[derive(Clone, PartialEq, Eq)]
pub struct DecodedPhoto {
    pub width: u32,
    pub height: u32,
    pub bgr: Vec<u8>,
}

impl std::fmt::Debug for DecodedPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DecodedPhoto({}x{})", self.width, self.height)
    }
}

/// A loaded WLT decoder library.
pub struct WltDecoder {
    desc: *const EgWltDecoder,
    _lib: libloading::Library,
    pub name: String,
    pub vendor: String,
    pub version: String,
}

impl WltDecoder {
    /// Load a decoder, checking its ABI version and size before calling it.
    pub fn load(path: &Path) -> Result<WltDecoder, LoadError> {
        let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // SAFETY: loading runs the library's initialisers: the trust boundary
        // the agent's per-photo child process exists for.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| LoadError::Open { file: file.clone(), reason: e.to_string() })?;
        // SAFETY: the symbol's type is fixed by the header.
        let entry: DecoderEntry = unsafe {
            *lib.get::<DecoderEntry>(DECODER_SYMBOL).map_err(|_| LoadError::Invalid {
                file: file.clone(),
                what: "no `examgate_wlt_decoder_entry` symbol; is this a photo decoder?".into(),
            })?
        };
        // SAFETY: the entry point as the header prescribes.
        let desc = unsafe { entry() };
        if desc.is_null() {
            return Err(LoadError::NullDescriptor { file });
        }
        // SAFETY: every ABI version starts with these two u32 fields.
        let (version, size) =
            unsafe { (desc.cast::<u32>().read_unaligned(), desc.cast::<u32>().add(1).read_unaligned()) };
        if version != abi::ABI_VERSION {
            return Err(LoadError::AbiVersion { file, found: version });
        }
        if (size as usize) < size_of::<EgWltDecoder>() {
            return Err(LoadError::StructSize { file, found: size, expected: size_of::<EgWltDecoder>() as u32 });
        }
        // SAFETY: size checked above; the descriptor is static in the library.
        let d = unsafe { &*desc };
        if d.decode.is_none() || d.free_bytes.is_none() {
            return Err(LoadError::Invalid { file, what: "decoder lacks decode or free_bytes".into() });
        }
        // SAFETY: descriptor strings are static in the library.
        let (name, vendor, version) =
            unsafe { (d.name.to_string_lossy(), d.vendor.to_string_lossy(), d.version.to_string_lossy()) };
        Ok(WltDecoder { desc, _lib: lib, name, vendor, version })
    }

    /// Decode one WLT photo.
    pub fn decode(&self, wlt: &[u8]) -> Result<DecodedPhoto, DeviceError> {
        // SAFETY: validated at load; lives as long as the library.
        let d = unsafe { &*self.desc };
        let (decode, free) = (d.decode.expect("validated"), d.free_bytes.expect("validated"));
        let (mut width, mut height) = (0u32, 0u32);
        let (mut bgr, mut len): (*mut u8, usize) = (std::ptr::null_mut(), 0);
        let mut msg = EgMsg::new();
        // SAFETY: input borrowed for the call, valid out-pointers.
        let status = unsafe { decode(wlt.as_ptr(), wlt.len(), &mut width, &mut height, &mut bgr, &mut len, &mut msg) };
        let bytes = if bgr.is_null() {
            Vec::new()
        } else {
            // SAFETY: decoder-allocated buffer of `len` bytes, handed back once.
            let v = unsafe { std::slice::from_raw_parts(bgr, len) }.to_vec();
            unsafe { free(bgr, len) };
            v
        };
        abi::status_to_result(status, &msg)?;
        let expected = width as usize * height as usize * 3;
        if width == 0 || height == 0 || bytes.len() != expected {
            return Err(DeviceError::Driver(format!(
                "photo decoder returned {} bytes for {width}x{height} BGR (expected {expected})",
                bytes.len()
            )));
        }
        Ok(DecodedPhoto { width, height, bgr: bytes })
    }
}
