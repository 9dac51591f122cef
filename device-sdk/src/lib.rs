//! The examgate device SDK: what a vendor needs to write a driver.
//!
//! - [`DriverFactory`] lists and opens devices; a [`Device`] exposes its
//!   capabilities through accessors such as [`Device::as_fingerprint`].
//! - [`FingerprintReader`], [`IdCardReader`] and [`Camera`] are the device
//!   classes; [`Score`] and [`Template`] the fingerprint data types.
//! - [`DeviceError`] says what went wrong and whether a retry can help.
//! - [`abi`] mirrors `include/examgate_plugin.h`, the C ABI of plugins;
//!   [`export_plugin!`] turns a Rust [`DriverFactory`] into such a plugin, and
//!   [`loader`] loads one.
//! - [`conformance`] is the behaviour every driver must show.
//!
//! This crate knows no transport, no async runtime and no HTTP.

pub mod abi;
pub mod conformance;
mod device;
mod error;
#[doc(hidden)]
pub mod export;
pub mod idcard;
#[cfg(feature = "loader")]
pub mod loader;
#[cfg(feature = "loader")]
pub mod photo;
mod score;
mod template;

pub use device::{
    Camera, CardRead, Device, DeviceClass, DeviceClasses, DeviceId, DeviceInfo, DriverFactory, FingerprintReader,
    Frame, IdCardReader, PixelFormat, SimCommand, SimControl, SimScene,
};
pub use error::{DeviceError, ErrorKind, Retry};
pub use score::{MATCH_THRESHOLD, Score, ScoreError};
pub use template::{Template, TemplateFormat};
