//! ZhianTec / Synochip AS608 and R30x fingerprint modules over a serial line
//! (protocols.md §2), for examgate's `GetTemplate`, `MatchSampleTemplate`
//! and `Enabled`.
//!
//! - [`packet`]: the packet codec, [`Packet`] with every length checked;
//!   [`PacketDecoder`] finds packets in a byte stream.
//! - [`Command`] / [`Instruction`]: what the host sends; [`ConfirmError`]:
//!   every documented confirmation code, with what to do.
//! - [`SysParams`], [`MatchOutcome`], [`SearchHit`], [`NativeTemplate`]:
//!   what acks and data packets carry.
//! - [`As60xClient`]: commands and typed replies over a [`Transport`]
//!   ([`SerialTransport`]), resending what broke on the way and greeting the
//!   module again after it was unplugged.
//! - [`As60xReader`]: the SDK's `FingerprintReader`; [`Calibration`] maps
//!   the module's score onto 1..=1000.
//! - [`As60xFactory`] / [`As60xSelector`] name, find and open modules
//!   (`as60x:/dev/ttyUSB0?baud=57600&password=0`, `as60x:auto`).
//!
//! ```no_run
//! use examgate_as60x::{As60xFactory, As60xSelector};
//! use examgate_device_sdk::DriverFactory;
//! let factory = As60xFactory::new("as60x:/dev/ttyUSB0".parse::<As60xSelector>()?);
//! for info in factory.discover()? {
//!     let mut device = factory.open(&info.id)?;
//!     let reader = device.as_fingerprint().expect("a fingerprint reader");
//!     let template = reader.get_template(std::time::Duration::from_secs(10))?;
//!     println!("{template:?}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Device I/O is blocking, on the caller's thread.

mod calibration;
mod client;
mod command;
mod confirm;
mod decoder;
mod error;
mod factory;
pub mod packet;
mod reader;
mod reply;
mod transport;

pub use calibration::Calibration;
pub use client::{Ack, As60xClient, Capture, Timing};
pub use command::{CharBuffer, Command, CommandError, Instruction, Password, PasswordError};
pub use confirm::{CONFIRM_OK, ConfirmError, confirmation};
pub use decoder::PacketDecoder;
pub use error::As60xError;
pub use factory::{
    As60xFactory, As60xSelector, As60xSelectorError, BRIDGES, PortChoice, PortLister, SerialPortEntry, SystemPorts,
    device_id_for,
};
pub use packet::{DEFAULT_ADDRESS, Packet, PacketError, Pid};
pub use reader::{As60xReader, FORMAT_NAME, ReaderOptions};
pub use reply::{
    MatchOutcome, NativeTemplate, PacketSize, SearchHit, SysParams, SysParamsError, TEMPLATE_LEN, TemplateLengthError,
    Verdict, is_native_template,
};
pub use transport::{BaudRate, BaudRateError, Link, SerialTransport, Transport, TransportError};
