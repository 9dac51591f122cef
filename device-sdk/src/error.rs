/// Whether trying the same operation again can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Try again (perhaps after the candidate does something).
    CanHelp,
    /// The same call will fail the same way.
    Useless,
}

/// The kind of a [`DeviceError`]; the codes are the C ABI's `EG_ERR_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorKind {
    NotConnected = 1,
    Busy = 2,
    Timeout = 3,
    NoFinger = 4,
    PoorQuality = 5,
    NoCard = 6,
    CardRemoved = 7,
    Protocol = 8,
    Driver = 9,
    InvalidArgument = 10,
    Unsupported = 11,
    FormatMismatch = 12,
    Panic = 13,
}

impl ErrorKind {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<ErrorKind> {
        use ErrorKind::*;
        Some(match code {
            1 => NotConnected,
            2 => Busy,
            3 => Timeout,
            4 => NoFinger,
            5 => PoorQuality,
            6 => NoCard,
            7 => CardRemoved,
            8 => Protocol,
            9 => Driver,
            10 => InvalidArgument,
            11 => Unsupported,
            12 => FormatMismatch,
            13 => Panic,
            _ => return None,
        })
    }

    /// Stable snake_case name, used in JSON error bodies.
    pub fn as_str(self) -> &'static str {
        use ErrorKind::*;
        match self {
            NotConnected => "not_connected",
            Busy => "busy",
            Timeout => "timeout",
            NoFinger => "no_finger",
            PoorQuality => "poor_quality",
            NoCard => "no_card",
            CardRemoved => "card_removed",
            Protocol => "protocol",
            Driver => "driver",
            InvalidArgument => "invalid_argument",
            Unsupported => "unsupported",
            FormatMismatch => "format_mismatch",
            Panic => "panic",
        }
    }
}

/// What went wrong with a device, in words an examiner can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("device not connected: {0}; check the cable, it is used again as soon as it returns")]
    NotConnected(String),
    #[error("device busy: {0}; try again when the other operation has finished")]
    Busy(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("no finger on the sensor; place a finger flat on the reader and try again")]
    NoFinger,
    #[error("capture quality too poor ({0}); clean and dry the finger and the sensor, then try again")]
    PoorQuality(String),
    #[error("no card on the reader; place the ID card on the reader")]
    NoCard,
    #[error("the card was removed during the read; leave it on the reader and try again")]
    CardRemoved,
    #[error("device protocol error: {0}")]
    Protocol(String),
    #[error("driver error: {0}")]
    Driver(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("cannot compare templates: {0}")]
    FormatMismatch(String),
    #[error("driver crashed: {0}; the device was closed and is being reopened")]
    Panic(String),
}

impl DeviceError {
    pub fn kind(&self) -> ErrorKind {
        use DeviceError::*;
        match self {
            NotConnected(_) => ErrorKind::NotConnected,
            Busy(_) => ErrorKind::Busy,
            Timeout(_) => ErrorKind::Timeout,
            NoFinger => ErrorKind::NoFinger,
            PoorQuality(_) => ErrorKind::PoorQuality,
            NoCard => ErrorKind::NoCard,
            CardRemoved => ErrorKind::CardRemoved,
            Protocol(_) => ErrorKind::Protocol,
            Driver(_) => ErrorKind::Driver,
            InvalidArgument(_) => ErrorKind::InvalidArgument,
            Unsupported(_) => ErrorKind::Unsupported,
            FormatMismatch(_) => ErrorKind::FormatMismatch,
            Panic(_) => ErrorKind::Panic,
        }
    }

    /// Whether the same call can succeed later.
    pub fn retry(&self) -> Retry {
        match self.kind() {
            ErrorKind::NotConnected
            | ErrorKind::Busy
            | ErrorKind::Timeout
            | ErrorKind::NoFinger
            | ErrorKind::PoorQuality
            | ErrorKind::NoCard
            | ErrorKind::CardRemoved
            | ErrorKind::Protocol
            | ErrorKind::Panic => Retry::CanHelp,
            ErrorKind::Driver | ErrorKind::InvalidArgument | ErrorKind::Unsupported | ErrorKind::FormatMismatch => {
                Retry::Useless
            }
        }
    }

    /// Rebuild an error from its kind and the detail text, as it crosses the
    /// C ABI or the driver-host pipe.
    pub fn from_kind(kind: ErrorKind, detail: impl Into<String>) -> DeviceError {
        let detail = detail.into();
        use DeviceError::*;
        match kind {
            ErrorKind::NotConnected => NotConnected(detail),
            ErrorKind::Busy => Busy(detail),
            ErrorKind::Timeout => Timeout(detail),
            ErrorKind::NoFinger => NoFinger,
            ErrorKind::PoorQuality => PoorQuality(detail),
            ErrorKind::NoCard => NoCard,
            ErrorKind::CardRemoved => CardRemoved,
            ErrorKind::Protocol => Protocol(detail),
            ErrorKind::Driver => Driver(detail),
            ErrorKind::InvalidArgument => InvalidArgument(detail),
            ErrorKind::Unsupported => Unsupported(detail),
            ErrorKind::FormatMismatch => FormatMismatch(detail),
            ErrorKind::Panic => Panic(detail),
        }
    }

    /// The detail text alone (what crosses the ABI next to the kind).
    pub fn detail(&self) -> String {
        use DeviceError::*;
        match self {
            NotConnected(d) | Busy(d) | Timeout(d) | PoorQuality(d) | Protocol(d) | Driver(d) | InvalidArgument(d)
            | Unsupported(d) | FormatMismatch(d) | Panic(d) => d.clone(),
            NoFinger | NoCard | CardRemoved => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_code() {
        for code in 1..=13 {
            let kind = ErrorKind::from_code(code).unwrap();
            assert_eq!(kind.code(), code);
            let err = DeviceError::from_kind(kind, "x");
            assert_eq!(err.kind(), kind);
        }
        assert_eq!(ErrorKind::from_code(0), None);
        assert_eq!(ErrorKind::from_code(99), None);
    }

    #[test]
    fn says_whether_a_retry_helps() {
        assert_eq!(DeviceError::NoFinger.retry(), Retry::CanHelp);
        assert_eq!(DeviceError::NotConnected("x".into()).retry(), Retry::CanHelp);
        assert_eq!(DeviceError::FormatMismatch("x".into()).retry(), Retry::Useless);
        assert_eq!(DeviceError::Unsupported("x".into()).retry(), Retry::Useless);
    }

    #[test]
    fn messages_tell_the_user_what_to_do() {
        assert!(DeviceError::NoFinger.to_string().contains("place a finger"));
        assert!(DeviceError::NotConnected("usb".into()).to_string().contains("check the cable"));
    }
}
