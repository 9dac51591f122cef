//! Second-generation ID card readers built on a GA 467 SAM module (the
//! security module of the Ministry of Public Security that decodes the
//! card), over a serial line or USB HID.
//!
//! - [`frame`]: the frame codec, [`SamFrame`] (host to SAM) and [`SamReply`]
//!   (SAM to host), parsed once with every length checked; [`FrameDecoder`]
//!   finds frames in a byte stream.
//! - [`Status`] / [`Sw3Error`]: every documented SW3 code, with what to do.
//! - [`SamClient`]: commands and typed replies over a [`Transport`].
//! - [`SamReader`]: the SDK's `IdCardReader` (find, select, read);
//!   [`SamFactory`] / [`SamSelector`] name and open one
//!   (`sam:serial:/dev/ttyUSB0?baud=115200`).
//! - [`decode_reply_file`]: a saved 30 01 / 30 10 reply to a card.
//!
//! Device I/O is blocking, on the caller's thread.

mod client;
mod decoder;
mod error;
mod factory;
mod file;
pub mod frame;
mod payload;
mod reader;
mod status;
pub mod transport;

pub use client::{SamClient, Timing};
pub use decoder::{FrameDecoder, RawFrame};
pub use error::SamError;
pub use factory::{SamFactory, SamSelector, SamSelectorError, device_id_for};
pub use file::decode_reply_file;
pub use frame::{Command, FrameError, SamFrame, SamReply};
pub use payload::{CardData, ChipSerial, PayloadError, ReadLayout, parse_appended_address};
pub use reader::{ReadOptions, SamCard, SamReader};
pub use status::{Status, Sw3Error};
pub use transport::serial::{BaudRate, BaudRateError, SerialTransport};
pub use transport::{Transport, TransportError};
