//! SW3, the SAM's status byte: success, or one of the documented failures,
//! each saying what to do about it.

use examgate_device_sdk::{DeviceError, Retry};

/// SW3 of a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// `90`: the command succeeded.
    Success,
    /// `9F`: find card succeeded (a card is in the field).
    CardFound,
    /// Anything else.
    Failed(Sw3Error),
}

impl Status {
    pub const SUCCESS: u8 = 0x90;
    pub const CARD_FOUND: u8 = 0x9F;

    pub fn from_sw3(sw3: u8) -> Status {
        match sw3 {
            Status::SUCCESS => Status::Success,
            Status::CARD_FOUND => Status::CardFound,
            code => Status::Failed(Sw3Error::from_code(code)),
        }
    }

    pub fn sw3(self) -> u8 {
        match self {
            Status::Success => Status::SUCCESS,
            Status::CardFound => Status::CARD_FOUND,
            Status::Failed(e) => e.code(),
        }
    }

    /// `Ok` for both success codes.
    pub fn result(self) -> Result<(), Sw3Error> {
        match self {
            Status::Success | Status::CardFound => Ok(()),
            Status::Failed(e) => Err(e),
        }
    }
}

/// A failure the SAM reported in SW3 (GA 467; protocols.md §1). The
/// message says what happened and what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Sw3Error {
    #[error(
        "the SAM received a frame with a bad checksum (SW3 10); the command is sent again; if it persists, check the cable and the baud rate"
    )]
    Checksum,
    #[error(
        "the SAM received a frame of the wrong length (SW3 11); the command is sent again; if it persists, check the cable and the baud rate"
    )]
    Length,
    #[error("the SAM rejected the command or its parameters (SW3 21); this module does not support it")]
    BadCommand,
    #[error("the SAM refused the command: privilege violation (SW3 23); power-cycle the reader")]
    PrivilegeViolation,
    #[error("the SAM reported an unknown error (SW3 24); try again, and power-cycle the reader if it persists")]
    Unknown,
    #[error("the card failed to authenticate the SAM (SW3 31); hold the card still on the reader and try again")]
    CardAuthenticatingSam,
    #[error(
        "the SAM failed to authenticate the card (SW3 32); hold the card still and try again; if it keeps failing the card may be damaged or not genuine"
    )]
    SamAuthenticatingCard,
    #[error(
        "verification error (SW3 33); hold the card still and try again; if it keeps failing the card may be damaged or not genuine"
    )]
    Verification,
    #[error(
        "the card on the reader is not a second-generation ID card (SW3 40); place the candidate's ID card on the reader"
    )]
    UnknownCardType,
    #[error("reading the card failed (SW3 41); keep the card flat on the reader and try again")]
    ReadFailed,
    #[error("the card did not give a random number (SW3 47); keep the card on the reader and try again")]
    RandomFailed,
    #[error("the SAM module failed its self-test (SW3 60); the reader is faulty and needs service")]
    SelfTestFailed,
    #[error("the SAM module is not authorised (SW3 66); it cannot decode ID cards: replace the reader")]
    NotAuthorised,
    #[error("no card found (SW3 80); place the ID card on the reader")]
    FindCardFailed,
    #[error("selecting the card failed (SW3 81); keep the card on the reader and try again")]
    SelectCardFailed,
    #[error("the card holds no content for this item (SW3 91)")]
    NoContent,
    #[error("communication fault inside the reader (SW3 FF); try again, and power-cycle the reader if it persists")]
    CommunicationFault,
    #[error("the SAM answered with an undocumented status (SW3 {0:02X})")]
    Undocumented(u8),
}

impl Sw3Error {
    /// Every documented failure code, in code order.
    pub const DOCUMENTED: [Sw3Error; 17] = [
        Sw3Error::Checksum,
        Sw3Error::Length,
        Sw3Error::BadCommand,
        Sw3Error::PrivilegeViolation,
        Sw3Error::Unknown,
        Sw3Error::CardAuthenticatingSam,
        Sw3Error::SamAuthenticatingCard,
        Sw3Error::Verification,
        Sw3Error::UnknownCardType,
        Sw3Error::ReadFailed,
        Sw3Error::RandomFailed,
        Sw3Error::SelfTestFailed,
        Sw3Error::NotAuthorised,
        Sw3Error::FindCardFailed,
        Sw3Error::SelectCardFailed,
        Sw3Error::NoContent,
        Sw3Error::CommunicationFault,
    ];

    /// The failure for a code; `90` and `9F` are not failures and come back
    /// as [`Sw3Error::Undocumented`] (use [`Status::from_sw3`] for replies).
    pub fn from_code(code: u8) -> Sw3Error {
        Sw3Error::DOCUMENTED.into_iter().find(|e| e.code() == code).unwrap_or(Sw3Error::Undocumented(code))
    }

    pub fn code(self) -> u8 {
        match self {
            Sw3Error::Checksum => 0x10,
            Sw3Error::Length => 0x11,
            Sw3Error::BadCommand => 0x21,
            Sw3Error::PrivilegeViolation => 0x23,
            Sw3Error::Unknown => 0x24,
            Sw3Error::CardAuthenticatingSam => 0x31,
            Sw3Error::SamAuthenticatingCard => 0x32,
            Sw3Error::Verification => 0x33,
            Sw3Error::UnknownCardType => 0x40,
            Sw3Error::ReadFailed => 0x41,
            Sw3Error::RandomFailed => 0x47,
            Sw3Error::SelfTestFailed => 0x60,
            Sw3Error::NotAuthorised => 0x66,
            Sw3Error::FindCardFailed => 0x80,
            Sw3Error::SelectCardFailed => 0x81,
            Sw3Error::NoContent => 0x91,
            Sw3Error::CommunicationFault => 0xFF,
            Sw3Error::Undocumented(code) => code,
        }
    }

    /// Whether sending the command (or the find-select-read sequence)
    /// again can succeed with the same card on the reader.
    pub fn retry(self) -> Retry {
        match self {
            Sw3Error::Checksum
            | Sw3Error::Length
            | Sw3Error::Unknown
            | Sw3Error::CardAuthenticatingSam
            | Sw3Error::SamAuthenticatingCard
            | Sw3Error::Verification
            | Sw3Error::ReadFailed
            | Sw3Error::RandomFailed
            | Sw3Error::SelectCardFailed
            | Sw3Error::CommunicationFault => Retry::CanHelp,
            // No card is not helped by asking again at once; waiting for one is the caller's loop.
            Sw3Error::FindCardFailed
            | Sw3Error::BadCommand
            | Sw3Error::PrivilegeViolation
            | Sw3Error::UnknownCardType
            | Sw3Error::SelfTestFailed
            | Sw3Error::NotAuthorised
            | Sw3Error::NoContent
            | Sw3Error::Undocumented(_) => Retry::Useless,
        }
    }

    /// The SDK's error for this failure.
    pub fn to_device_error(self) -> DeviceError {
        let message = self.to_string();
        match self {
            Sw3Error::FindCardFailed => DeviceError::NoCard,
            Sw3Error::BadCommand | Sw3Error::UnknownCardType => DeviceError::Unsupported(message),
            Sw3Error::PrivilegeViolation | Sw3Error::SelfTestFailed | Sw3Error::NotAuthorised => {
                DeviceError::Driver(message)
            }
            Sw3Error::Checksum
            | Sw3Error::Length
            | Sw3Error::Unknown
            | Sw3Error::CardAuthenticatingSam
            | Sw3Error::SamAuthenticatingCard
            | Sw3Error::Verification
            | Sw3Error::ReadFailed
            | Sw3Error::RandomFailed
            | Sw3Error::SelectCardFailed
            | Sw3Error::NoContent
            | Sw3Error::CommunicationFault
            | Sw3Error::Undocumented(_) => DeviceError::Protocol(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use examgate_device_sdk::ErrorKind;

    use super::*;

    #[test]
    fn every_documented_code_round_trips() {
        let codes: Vec<u8> = Sw3Error::DOCUMENTED.iter().map(|e| e.code()).collect();
        assert_eq!(
            codes,
            [0x10, 0x11, 0x21, 0x23, 0x24, 0x31, 0x32, 0x33, 0x40, 0x41, 0x47, 0x60, 0x66, 0x80, 0x81, 0x91, 0xFF]
        );
        for e in Sw3Error::DOCUMENTED {
            assert_eq!(Sw3Error::from_code(e.code()), e);
            assert_eq!(Status::from_sw3(e.code()), Status::Failed(e));
            assert!(e.to_string().contains(&format!("SW3 {:02X}", e.code())), "{e}");
        }
        assert_eq!(Status::from_sw3(0x90), Status::Success);
        assert_eq!(Status::from_sw3(0x9F), Status::CardFound);
        assert_eq!(Status::from_sw3(0x42), Status::Failed(Sw3Error::Undocumented(0x42)));
        for sw3 in 0..=255u8 {
            assert_eq!(Status::from_sw3(sw3).sw3(), sw3);
        }
    }

    /// (code, SDK error kind, whether a retry helps)
    const MAPPING: [(u8, ErrorKind, Retry); 17] = [
        (0x10, ErrorKind::Protocol, Retry::CanHelp),
        (0x11, ErrorKind::Protocol, Retry::CanHelp),
        (0x21, ErrorKind::Unsupported, Retry::Useless),
        (0x23, ErrorKind::Driver, Retry::Useless),
        (0x24, ErrorKind::Protocol, Retry::CanHelp),
        (0x31, ErrorKind::Protocol, Retry::CanHelp),
        (0x32, ErrorKind::Protocol, Retry::CanHelp),
        (0x33, ErrorKind::Protocol, Retry::CanHelp),
        (0x40, ErrorKind::Unsupported, Retry::Useless),
        (0x41, ErrorKind::Protocol, Retry::CanHelp),
        (0x47, ErrorKind::Protocol, Retry::CanHelp),
        (0x60, ErrorKind::Driver, Retry::Useless),
        (0x66, ErrorKind::Driver, Retry::Useless),
        (0x80, ErrorKind::NoCard, Retry::Useless),
        (0x81, ErrorKind::Protocol, Retry::CanHelp),
        (0x91, ErrorKind::Protocol, Retry::Useless),
        (0xFF, ErrorKind::Protocol, Retry::CanHelp),
    ];

    #[test]
    fn every_code_maps_to_an_sdk_error_and_a_retry_decision() {
        for (code, kind, retry) in MAPPING {
            let e = Sw3Error::from_code(code);
            assert_eq!(e.to_device_error().kind(), kind, "SW3 {code:02X}");
            assert_eq!(e.retry(), retry, "SW3 {code:02X}");
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        assert!(Sw3Error::FindCardFailed.to_string().contains("place the ID card"));
        assert!(Sw3Error::ReadFailed.to_string().contains("try again"));
        assert!(Sw3Error::NotAuthorised.to_string().contains("replace the reader"));
        assert_eq!(Sw3Error::FindCardFailed.to_device_error(), DeviceError::NoCard);
    }
}
