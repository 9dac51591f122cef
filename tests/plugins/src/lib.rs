//! Deliberately broken examgate plugins, for tests of the loader and the
//! driver host.
//!
//! The build script compiles `broken.c` once per [`Broken`] kind. Each is a
//! minimal working fingerprint reader (one device `broken-0`, finger always
//! present) except for its one defect, so a test sees the failure exactly
//! at the operation the kind names.
//!
//! ```no_run
//! use examgate_test_plugins::Broken;
//! let path = Broken::WrongAbi.path(); // .../libbroken_wrong_abi.so
//! # let _ = path;
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

/// One deliberately broken plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Broken {
    /// `abi_version` 999, everything else valid.
    WrongAbi,
    /// ABI 1 but a descriptor `struct_size` of 8.
    ShortStruct,
    /// No `examgate_plugin_entry` symbol (it exports `examgate_plugin_init`).
    NoEntry,
    /// The entry point returns NULL.
    NullDescriptor,
    /// `get_template` writes through a NULL pointer (SIGSEGV).
    Segfault,
    /// `get_template` calls `abort()` (SIGABRT).
    Abort,
    /// `get_template` never returns.
    Hang,
    /// `get_template` calls `_exit(3)`.
    Exit,
    /// `match_templates` returns `EG_OK` with score 5000.
    BadScore,
    /// Declares the fingerprint class but its fingerprint table is NULL.
    MissingOps,
}

impl Broken {
    pub const ALL: [Broken; 10] = [
        Broken::WrongAbi,
        Broken::ShortStruct,
        Broken::NoEntry,
        Broken::NullDescriptor,
        Broken::Segfault,
        Broken::Abort,
        Broken::Hang,
        Broken::Exit,
        Broken::BadScore,
        Broken::MissingOps,
    ];

    /// The snake_case kind: `wrong_abi`. The library is `libbroken_<kind>.so`,
    /// compiled with `-DBROKEN_<KIND>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Broken::WrongAbi => "wrong_abi",
            Broken::ShortStruct => "short_struct",
            Broken::NoEntry => "no_entry",
            Broken::NullDescriptor => "null_descriptor",
            Broken::Segfault => "segfault",
            Broken::Abort => "abort",
            Broken::Hang => "hang",
            Broken::Exit => "exit",
            Broken::BadScore => "bad_score",
            Broken::MissingOps => "missing_ops",
        }
    }

    /// The library's file name, as loaders name it in their messages.
    pub fn file_name(self) -> String {
        format!("libbroken_{}.so", self.as_str())
    }

    /// Where the build script put the library.
    pub fn path(self) -> PathBuf {
        Path::new(env!("OUT_DIR")).join(self.file_name())
    }

    /// Whether calling `get_template` kills or blocks the calling process
    /// for good, so that only a driver host (or a child process) may do it.
    pub fn is_fatal_in_process(self) -> bool {
        matches!(self, Broken::Segfault | Broken::Abort | Broken::Hang | Broken::Exit)
    }
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many calls a broken plugin's descriptor functions (discover, open,
/// get_template, ...) have received in this process. The entry point is
/// not counted.
///
/// Attach before loading the plugin: the counter keeps the library mapped,
/// so a loader that refuses and unloads it leaves the count readable.
pub struct CallCounter {
    calls: unsafe extern "C" fn() -> u32,
    _library: libloading::Library,
}

impl CallCounter {
    pub fn attach(broken: Broken) -> Result<CallCounter, libloading::Error> {
        // SAFETY: broken.c has no initialisers; mapping it runs no code.
        let library = unsafe { libloading::Library::new(broken.path()) }?;
        // SAFETY: broken.c defines `uint32_t broken_plugin_calls(void)`; the
        // pointer stays valid while `_library` keeps the library mapped.
        let calls = unsafe { *library.get::<unsafe extern "C" fn() -> u32>(b"broken_plugin_calls\0")? };
        Ok(CallCounter { calls, _library: library })
    }

    pub fn calls(&self) -> u32 {
        // SAFETY: the function only reads an atomic; the library is mapped.
        unsafe { (self.calls)() }
    }
}

/// The stand-in photo decoder (`wlt_decoder.c`): paints a 102x126 picture
/// from the input bytes; it does not decode WLT.
pub fn wlt_decoder_path() -> PathBuf {
    Path::new(env!("OUT_DIR")).join("libtest_wlt_decoder.so")
}

/// The same decoder built to crash (a NULL write) when called.
pub fn crashing_wlt_decoder_path() -> PathBuf {
    Path::new(env!("OUT_DIR")).join("libtest_wlt_decoder_crash.so")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_was_built() {
        for broken in Broken::ALL {
            assert!(broken.path().is_file(), "{} missing", broken.path().display());
        }
    }

    #[test]
    fn names_match_the_file_names() {
        assert_eq!(Broken::WrongAbi.file_name(), "libbroken_wrong_abi.so");
        assert_eq!(Broken::MissingOps.to_string(), "missing_ops");
    }

    #[test]
    fn counter_starts_at_zero() {
        // NoEntry: no test in this binary loads it through a loader.
        assert_eq!(CallCounter::attach(Broken::NoEntry).unwrap().calls(), 0);
    }
}
