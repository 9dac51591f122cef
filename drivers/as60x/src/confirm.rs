//! Confirmation codes, the first payload byte of every ack: `00`, or one of
//! the documented failures, each saying what to do about it.

use examgate_device_sdk::{DeviceError, Retry};

/// `00`: the instruction succeeded.
pub const CONFIRM_OK: u8 = 0x00;

/// Read a confirmation code.
pub fn confirmation(code: u8) -> Result<(), ConfirmError> {
    if code == CONFIRM_OK { Ok(()) } else { Err(ConfirmError::from_code(code)) }
}

/// A failure the module reported in an ack (protocols.md §2). The message
/// says what happened and what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ConfirmError {
    #[error(
        "the module received a broken packet (01); the command is sent again; if it persists, check the cable and the baud rate"
    )]
    PacketError,
    #[error("no finger on the sensor (02); place a finger flat on the reader")]
    NoFinger,
    #[error("the sensor could not take an image (03); press the finger flat and still on the sensor and try again")]
    CaptureFailed,
    #[error("the image is too dry or too faint (04); breathe on the finger or moisten it slightly, then try again")]
    TooDry,
    #[error("the image is too wet or too dark (05); dry the finger and wipe the sensor, then try again")]
    TooWet,
    #[error("the image is too messy to read (06); wipe the sensor, hold the finger still and try again")]
    TooMessy,
    #[error("the image has too few features (07); press more of the finger's pad onto the sensor and try again")]
    TooFewFeatures,
    #[error("the fingerprints do not match (08)")]
    NoMatch,
    #[error("no matching template in the module's library (09)")]
    NotFound,
    #[error("the two impressions could not be merged into one template (0A); capture both again with the same finger")]
    MergeFailed,
    #[error("the library page is beyond the module's library (0B); use a page below its library size")]
    PageOutOfRange,
    #[error("a template in the module's library could not be read (0C); enrol that finger again")]
    LibraryReadError,
    #[error("the module failed to upload a template (0D); it is asked again; if it persists, check the cable")]
    UploadFailed,
    #[error("the module cannot receive the data packets (0E); they are sent again; if it persists, check the cable")]
    CannotReceive,
    #[error("the module failed to upload an image (0F); try again; if it persists, check the cable")]
    ImageUploadFailed,
    #[error("the module failed to delete templates (10); power-cycle the module and try again")]
    DeleteFailed,
    #[error("the module failed to clear its library (11); power-cycle the module and try again")]
    ClearFailed,
    #[error(
        "wrong password (13): the module has a password set; put it in the selector (as60x:PORT?password=N) or reset the module"
    )]
    WrongPassword,
    #[error("the character buffer holds no valid features (15); capture the finger again")]
    InvalidBuffer,
    #[error("the module's flash memory failed (18); the module needs service or replacing")]
    FlashError,
    #[error("invalid register number (1A); the driver does not match this module's firmware")]
    InvalidRegister,
    #[error("the module failed to operate its communication port (1D); power-cycle the module")]
    PortError,
    #[error("the module's template library is full (1F); delete templates (Empty) before enrolling more")]
    LibraryFull,
    #[error("the module answered with an undocumented confirmation code {0:02X}")]
    Undocumented(u8),
}

impl ConfirmError {
    /// Every code protocols.md §2 documents, in code order.
    pub const DOCUMENTED: [ConfirmError; 23] = [
        ConfirmError::PacketError,
        ConfirmError::NoFinger,
        ConfirmError::CaptureFailed,
        ConfirmError::TooDry,
        ConfirmError::TooWet,
        ConfirmError::TooMessy,
        ConfirmError::TooFewFeatures,
        ConfirmError::NoMatch,
        ConfirmError::NotFound,
        ConfirmError::MergeFailed,
        ConfirmError::PageOutOfRange,
        ConfirmError::LibraryReadError,
        ConfirmError::UploadFailed,
        ConfirmError::CannotReceive,
        ConfirmError::ImageUploadFailed,
        ConfirmError::DeleteFailed,
        ConfirmError::ClearFailed,
        ConfirmError::WrongPassword,
        ConfirmError::InvalidBuffer,
        ConfirmError::FlashError,
        ConfirmError::InvalidRegister,
        ConfirmError::PortError,
        ConfirmError::LibraryFull,
    ];

    pub fn code(self) -> u8 {
        match self {
            ConfirmError::PacketError => 0x01,
            ConfirmError::NoFinger => 0x02,
            ConfirmError::CaptureFailed => 0x03,
            ConfirmError::TooDry => 0x04,
            ConfirmError::TooWet => 0x05,
            ConfirmError::TooMessy => 0x06,
            ConfirmError::TooFewFeatures => 0x07,
            ConfirmError::NoMatch => 0x08,
            ConfirmError::NotFound => 0x09,
            ConfirmError::MergeFailed => 0x0A,
            ConfirmError::PageOutOfRange => 0x0B,
            ConfirmError::LibraryReadError => 0x0C,
            ConfirmError::UploadFailed => 0x0D,
            ConfirmError::CannotReceive => 0x0E,
            ConfirmError::ImageUploadFailed => 0x0F,
            ConfirmError::DeleteFailed => 0x10,
            ConfirmError::ClearFailed => 0x11,
            ConfirmError::WrongPassword => 0x13,
            ConfirmError::InvalidBuffer => 0x15,
            ConfirmError::FlashError => 0x18,
            ConfirmError::InvalidRegister => 0x1A,
            ConfirmError::PortError => 0x1D,
            ConfirmError::LibraryFull => 0x1F,
            ConfirmError::Undocumented(code) => code,
        }
    }

    /// The error for a non-zero code (`00` is success, not an error: it maps
    /// to `Undocumented(0)`).
    pub fn from_code(code: u8) -> ConfirmError {
        ConfirmError::DOCUMENTED.into_iter().find(|e| e.code() == code).unwrap_or(ConfirmError::Undocumented(code))
    }

    /// Whether the reason is the finger or the image, not the module.
    pub fn is_capture_quality(self) -> bool {
        matches!(
            self,
            ConfirmError::CaptureFailed
                | ConfirmError::TooDry
                | ConfirmError::TooWet
                | ConfirmError::TooMessy
                | ConfirmError::TooFewFeatures
                | ConfirmError::MergeFailed
        )
    }

    /// What the SDK (and so the examiner) is told.
    pub fn to_device_error(self) -> DeviceError {
        use ConfirmError::*;
        match self {
            NoFinger => DeviceError::NoFinger,
            CaptureFailed | TooDry | TooWet | TooMessy | TooFewFeatures | MergeFailed => {
                DeviceError::PoorQuality(self.to_string())
            }
            PageOutOfRange => DeviceError::InvalidArgument(self.to_string()),
            // Line trouble and transfers that can go again.
            PacketError | UploadFailed | CannotReceive | ImageUploadFailed | InvalidBuffer | PortError => {
                DeviceError::Protocol(self.to_string())
            }
            // Answers, not faults: a caller that asked Match or Search reads them as results.
            NoMatch | NotFound | Undocumented(_) => DeviceError::Protocol(self.to_string()),
            LibraryReadError | DeleteFailed | ClearFailed | WrongPassword | FlashError | InvalidRegister
            | LibraryFull => DeviceError::Driver(self.to_string()),
        }
    }

    /// Whether the same call can succeed later.
    pub fn retry(self) -> Retry {
        self.to_device_error().retry()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use examgate_device_sdk::ErrorKind;

    #[test]
    fn every_documented_code_round_trips() {
        for e in ConfirmError::DOCUMENTED {
            assert_eq!(ConfirmError::from_code(e.code()), e);
            assert_eq!(confirmation(e.code()), Err(e));
            assert!(e.to_string().contains(&format!("({:02X})", e.code())), "{e}");
        }
        assert_eq!(confirmation(0), Ok(()));
        assert_eq!(ConfirmError::from_code(0x12), ConfirmError::Undocumented(0x12));
        assert!(ConfirmError::from_code(0xF0).to_string().contains("F0"));
    }

    /// The SDK kind and retry policy of every code, as a table.
    #[test]
    fn every_code_maps_to_its_sdk_kind() {
        use ErrorKind::*;
        let expected: [(u8, ErrorKind, Retry); 24] = [
            (0x01, Protocol, Retry::CanHelp),
            (0x02, NoFinger, Retry::CanHelp),
            (0x03, PoorQuality, Retry::CanHelp),
            (0x04, PoorQuality, Retry::CanHelp),
            (0x05, PoorQuality, Retry::CanHelp),
            (0x06, PoorQuality, Retry::CanHelp),
            (0x07, PoorQuality, Retry::CanHelp),
            (0x08, Protocol, Retry::CanHelp),
            (0x09, Protocol, Retry::CanHelp),
            (0x0A, PoorQuality, Retry::CanHelp),
            (0x0B, InvalidArgument, Retry::Useless),
            (0x0C, Driver, Retry::Useless),
            (0x0D, Protocol, Retry::CanHelp),
            (0x0E, Protocol, Retry::CanHelp),
            (0x0F, Protocol, Retry::CanHelp),
            (0x10, Driver, Retry::Useless),
            (0x11, Driver, Retry::Useless),
            (0x13, Driver, Retry::Useless),
            (0x15, Protocol, Retry::CanHelp),
            (0x18, Driver, Retry::Useless),
            (0x1A, Driver, Retry::Useless),
            (0x1D, Protocol, Retry::CanHelp),
            (0x1F, Driver, Retry::Useless),
            (0x77, Protocol, Retry::CanHelp),
        ];
        for (code, kind, retry) in expected {
            let e = ConfirmError::from_code(code);
            assert_eq!((e.to_device_error().kind(), e.retry()), (kind, retry), "code {code:02X}");
        }
    }

    #[test]
    fn quality_failures_say_why() {
        let DeviceError::PoorQuality(why) = ConfirmError::TooWet.to_device_error() else { panic!() };
        assert!(why.contains("too wet"), "{why}");
        assert!(ConfirmError::WrongPassword.to_string().contains("password="));
        assert!(ConfirmError::TooWet.is_capture_quality());
        assert!(!ConfirmError::NoFinger.is_capture_quality());
    }
}
