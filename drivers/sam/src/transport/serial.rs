//! A SAM module on a serial line (a UART, a USB-serial bridge, a
//! pseudo-terminal): 8N1 at one of the five documented baud rates.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;
use std::time::Duration;

use serialport::{ClearBuffer, DataBits, FlowControl, Parity, SerialPort, StopBits};

use super::{Transport, TransportError};

/// A baud rate a SAM module can be set to; 115200 is the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum BaudRate {
    B9600,
    B19200,
    B38400,
    B57600,
    #[default]
    B115200,
}

impl BaudRate {
    pub const ALL: [BaudRate; 5] =
        [BaudRate::B115200, BaudRate::B57600, BaudRate::B38400, BaudRate::B19200, BaudRate::B9600];

    pub fn bits_per_second(self) -> u32 {
        match self {
            BaudRate::B9600 => 9600,
            BaudRate::B19200 => 19_200,
            BaudRate::B38400 => 38_400,
            BaudRate::B57600 => 57_600,
            BaudRate::B115200 => 115_200,
        }
    }

    /// How long `bytes` take on the line (8N1: ten bits a byte).
    pub fn line_time(self, bytes: usize) -> Duration {
        Duration::from_micros(bytes as u64 * 10 * 1_000_000 / u64::from(self.bits_per_second()))
    }
}

impl fmt::Display for BaudRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bits_per_second())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("baud rate {0:?} is not one a SAM module supports: 115200, 57600, 38400, 19200 or 9600")]
pub struct BaudRateError(pub String);

impl FromStr for BaudRate {
    type Err = BaudRateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bps: u32 = s.parse().map_err(|_| BaudRateError(s.to_owned()))?;
        BaudRate::ALL.into_iter().find(|b| b.bits_per_second() == bps).ok_or_else(|| BaudRateError(s.to_owned()))
    }
}

/// A serial port that reopens itself after the device went away.
pub struct SerialTransport {
    path: String,
    baud: BaudRate,
    port: Option<Box<dyn SerialPort>>,
}

impl SerialTransport {
    /// Open `path` (exclusively, 8N1, no flow control).
    pub fn open(path: impl Into<String>, baud: BaudRate) -> Result<SerialTransport, TransportError> {
        let mut transport = SerialTransport { path: path.into(), baud, port: None };
        transport.port()?;
        Ok(transport)
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn baud(&self) -> BaudRate {
        self.baud
    }

    fn port(&mut self) -> Result<&mut Box<dyn SerialPort>, TransportError> {
        if self.port.is_none() {
            let port = serialport::new(&self.path, self.baud.bits_per_second())
                .data_bits(DataBits::Eight)
                .parity(Parity::None)
                .stop_bits(StopBits::One)
                .flow_control(FlowControl::None)
                .timeout(Duration::from_millis(100))
                .open()
                .map_err(|e| TransportError::Open { port: self.describe(), detail: e.description })?;
            // Bytes left from before we opened are no reply to anything we send.
            let _ = port.clear(ClearBuffer::Input);
            self.port = Some(port);
        }
        Ok(self.port.as_mut().expect("opened above"))
    }

    fn lost(&mut self, e: io::Error) -> TransportError {
        self.port = None;
        TransportError::Lost { port: self.describe(), detail: e.to_string() }
    }
}

impl Transport for SerialTransport {
    fn send(&mut self, frame: &[u8]) -> Result<(), TransportError> {
        let result = self.port()?.write_all(frame);
        result.map_err(|e| self.lost(e))
    }

    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let port = self.port()?;
        if let Err(e) = port.set_timeout(timeout) {
            return Err(self.lost(e.into()));
        }
        match port.read(buf) {
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

    fn describe(&self) -> String {
        format!("{} at {} baud", self.path, self.baud)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baud_rates_are_the_documented_five() {
        assert_eq!(BaudRate::default(), BaudRate::B115200);
        for b in BaudRate::ALL {
            assert_eq!(b.to_string().parse::<BaudRate>(), Ok(b));
        }
        assert!("4800".parse::<BaudRate>().is_err());
        assert!("fast".parse::<BaudRate>().unwrap_err().to_string().contains("115200"));
    }

    #[test]
    fn line_time_is_ten_bits_a_byte() {
        assert_eq!(BaudRate::B115200.line_time(1295), Duration::from_micros(112_413));
        assert_eq!(BaudRate::B9600.line_time(960), Duration::from_secs(1));
    }

    #[test]
    fn opening_a_missing_port_says_which() {
        let err = SerialTransport::open("/nonexistent/ttyUSB9", BaudRate::B9600).err().unwrap();
        assert!(
            matches!(&err, TransportError::Open { port, .. } if port == "/nonexistent/ttyUSB9 at 9600 baud"),
            "{err}"
        );
    }
}
