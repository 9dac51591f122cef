//! The byte pipe to a module: a serial line (a UART, a USB-serial bridge, a
//! pseudo-terminal), 8N1 at N x 9600 baud, that reopens itself after the
//! device went away. Reconnecting lives here and in the client, not in
//! callers.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;
use std::time::Duration;

use serialport::{ClearBuffer, DataBits, FlowControl, Parity, SerialPort, StopBits};

/// A byte pipe to a module.
pub trait Transport: Send {
    /// Open the port unless it is open. `Ok(Link::Opened)` when it was just
    /// opened, so the module must be greeted again.
    fn open(&mut self) -> Result<Link, TransportError>;
    /// Write all of `bytes`.
    fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError>;
    /// Read what arrives within `timeout` into `buf`; `Ok(0)` when nothing did.
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    /// Drop unread input (what is left of a reply that was given up on).
    fn discard_input(&mut self) -> Result<(), TransportError>;
    /// Close the port; the next [`Transport::open`] opens it again.
    fn close(&mut self);
    /// The port, for messages (`/dev/ttyUSB0 at 57600 baud`).
    fn describe(&self) -> String;
}

/// Whether [`Transport::open`] opened the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    AlreadyOpen,
    Opened,
}

/// Why bytes could not travel.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("cannot open {port}: {detail}; check that the module is plugged in and the port is right")]
    Open { port: String, detail: String },
    #[error("{port} is held by another program; close it, or use another port")]
    Busy { port: String },
    #[error("{port} failed: {detail}; the module was unplugged or the line broke; it is reopened on the next call")]
    Lost { port: String, detail: String },
}

/// A baud rate a module can be set to: N x 9600 for N in 1..=12; 57600 by default.
///
/// ```
/// use examgate_as60x::BaudRate;
/// assert_eq!("115200".parse::<BaudRate>().unwrap().bits_per_second(), 115_200);
/// assert!("100000".parse::<BaudRate>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BaudRate(u8);

impl Default for BaudRate {
    fn default() -> Self {
        BaudRate(6)
    }
}

impl BaudRate {
    /// N x 9600 baud, N in 1..=12.
    pub fn from_multiplier(n: u8) -> Option<BaudRate> {
        (1..=12).contains(&n).then_some(BaudRate(n))
    }

    pub fn multiplier(self) -> u8 {
        self.0
    }

    pub fn bits_per_second(self) -> u32 {
        u32::from(self.0) * 9600
    }

    /// How long `bytes` take on the line (8N1: ten bits a byte).
    pub fn line_time(self, bytes: usize) -> Duration {
        Duration::from_micros(bytes as u64 * 10 * 1_000_000 / u64::from(self.bits_per_second()))
    }
}

impl fmt::Display for BaudRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.bits_per_second().fmt(f)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("baud rate {0:?} is not one an AS60x module supports: a multiple of 9600 up to 115200 (57600 by default)")]
pub struct BaudRateError(pub String);

impl FromStr for BaudRate {
    type Err = BaudRateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BaudRateError(s.to_owned());
        let bps: u32 = s.parse().map_err(|_| bad())?;
        if !bps.is_multiple_of(9600) {
            return Err(bad());
        }
        u8::try_from(bps / 9600).ok().and_then(BaudRate::from_multiplier).ok_or_else(bad)
    }
}

/// A serial port that is opened on demand and dropped when it fails.
pub struct SerialTransport {
    path: String,
    baud: BaudRate,
    port: Option<Box<dyn SerialPort>>,
}

impl SerialTransport {
    /// A transport for `path`; nothing is opened until [`Transport::open`].
    pub fn new(path: impl Into<String>, baud: BaudRate) -> SerialTransport {
        SerialTransport { path: path.into(), baud, port: None }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn baud(&self) -> BaudRate {
        self.baud
    }

    fn lost(&mut self, e: io::Error) -> TransportError {
        self.port = None;
        TransportError::Lost { port: self.describe(), detail: e.to_string() }
    }

    fn port(&mut self) -> Result<&mut Box<dyn SerialPort>, TransportError> {
        self.open()?;
        Ok(self.port.as_mut().expect("opened above"))
    }
}

impl Transport for SerialTransport {
    fn open(&mut self) -> Result<Link, TransportError> {
        if self.port.is_some() {
            return Ok(Link::AlreadyOpen);
        }
        let port = serialport::new(&self.path, self.baud.bits_per_second())
            .data_bits(DataBits::Eight)
            .parity(Parity::None)
            .stop_bits(StopBits::One)
            .flow_control(FlowControl::None)
            .timeout(Duration::from_millis(100))
            .open()
            .map_err(|e| match e.kind {
                // serialport's kind for a port locked by another opener (EBUSY, flock).
                serialport::ErrorKind::NoDevice => TransportError::Busy { port: self.describe() },
                _ => TransportError::Open { port: self.describe(), detail: e.description },
            })?;
        // Bytes left from before we opened are no reply to anything we send.
        let _ = port.clear(ClearBuffer::Input);
        self.port = Some(port);
        Ok(Link::Opened)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        let result = self.port()?.write_all(bytes);
        result.map_err(|e| self.lost(e))
    }

    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let port = self.port()?;
        if let Err(e) = port.set_timeout(timeout.max(Duration::from_millis(1))) {
            return Err(self.lost(e.into()));
        }
        match port.read(buf) {
            // A hang-up shows as POLLHUP (BrokenPipe) below, not as a zero read.
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(e) => Err(self.lost(e)),
        }
    }

    fn discard_input(&mut self) -> Result<(), TransportError> {
        if let Some(port) = &self.port
            && let Err(e) = port.clear(ClearBuffer::Input)
        {
            return Err(self.lost(e.into()));
        }
        Ok(())
    }

    fn close(&mut self) {
        self.port = None;
    }

    fn describe(&self) -> String {
        format!("{} at {} baud", self.path, self.baud)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baud_rates_are_multiples_of_9600() {
        assert_eq!(BaudRate::default().bits_per_second(), 57_600);
        for n in 1..=12 {
            let b = BaudRate::from_multiplier(n).unwrap();
            assert_eq!(b.to_string().parse::<BaudRate>(), Ok(b));
        }
        for bad in ["0", "4800", "124800", "fast", "-9600"] {
            assert!(bad.parse::<BaudRate>().is_err(), "{bad}");
        }
        assert!("4800".parse::<BaudRate>().unwrap_err().to_string().contains("57600"));
    }

    #[test]
    fn line_time_is_ten_bits_a_byte() {
        assert_eq!(BaudRate::default().line_time(576), Duration::from_millis(100));
    }

    #[test]
    fn opening_a_missing_port_says_which() {
        let mut t = SerialTransport::new("/nonexistent/ttyUSB9", BaudRate::default());
        let err = t.open().unwrap_err();
        assert!(
            matches!(&err, TransportError::Open { port, .. } if port == "/nonexistent/ttyUSB9 at 57600 baud"),
            "{err}"
        );
        assert!(matches!(t.send(&[1]), Err(TransportError::Open { .. })));
    }
}
