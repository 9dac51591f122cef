//! Second-generation ID cards through PC/SC: the only crate that links
//! `pcsc`. Reconnecting after pcscd restarts and readers come back lives
//! here, not in callers.
//!
//! A read gives the card's identifiers (`FF CA 00 00 00`, chip serial
//! `00 36 00 00 08`) and, from readers with a built-in SAM that present the
//! decoded card (ATR bytes 13-14 = `90 00`), the 1284-byte record read as
//! six `FF B0 <n> 00 00` blocks: text length, photo length, text, photo.

mod apdu;
mod monitor;
mod reader;

pub use apdu::{RecordError, parse_record};
pub use monitor::{PcscEvent, PcscMonitor};
pub use reader::{PcscIdCardFactory, device_id_for};
