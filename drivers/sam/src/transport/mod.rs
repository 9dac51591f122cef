//! Byte pipes to a SAM module. The protocol above them is the same; only
//! how bytes travel differs (a serial line, or USB HID reports).
//! Reconnecting after the device comes back lives here, not in callers.

use std::time::Duration;

#[cfg(feature = "hid")]
pub mod hid;
pub mod serial;

/// A byte pipe to a SAM module.
pub trait Transport: Send {
    /// Write a whole frame.
    fn send(&mut self, frame: &[u8]) -> Result<(), TransportError>;
    /// Read what arrives within `timeout` into `buf`; `Ok(0)` when nothing did.
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    /// Drop unread input (what is left of a reply that was given up on).
    fn discard_input(&mut self) -> Result<(), TransportError>;
    /// The port, for messages (`/dev/ttyUSB0 at 115200 baud`).
    fn describe(&self) -> String;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn send(&mut self, frame: &[u8]) -> Result<(), TransportError> {
        (**self).send(frame)
    }
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        (**self).recv(buf, timeout)
    }
    fn discard_input(&mut self) -> Result<(), TransportError> {
        (**self).discard_input()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// Why bytes could not travel.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("cannot open {port}: {detail}; check that the reader is plugged in and the port is right")]
    Open { port: String, detail: String },
    #[error("{port} failed: {detail}; the reader was unplugged or the line broke; it is reopened on the next command")]
    Lost { port: String, detail: String },
    #[error("{0}")]
    Unsupported(String),
}
