//! Everything that can go wrong talking to a SAM module, and what the SDK
//! (and so the examiner) is told.

use std::time::Duration;

use examgate_device_sdk::idcard::CardParseError;
use examgate_device_sdk::{DeviceError, Retry};

use crate::frame::{Command, FrameError};
use crate::payload::PayloadError;
use crate::status::Sw3Error;
use crate::transport::TransportError;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SamError {
    /// Bytes that are not a frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A failure the SAM reported in SW3.
    #[error(transparent)]
    Status(#[from] Sw3Error),
    /// A reply whose data does not have the documented layout.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// A text block the SDK cannot parse.
    #[error("the card's text block is malformed: {0}")]
    Card(#[from] CardParseError),
    /// A well-formed reply that does not answer the command sent.
    #[error("the reply to {command} is not one: {why}")]
    UnexpectedReply { command: Command, why: String },
    #[error(
        "no reply from the SAM on {port} to {command} within {waited:?}; check the cable, the port and the baud rate"
    )]
    NoReply { command: Command, port: String, waited: Duration },
    /// The card was on the reader earlier in this read and is gone now.
    #[error("the card was removed during the read; leave it on the reader and try again")]
    CardRemoved,
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl SamError {
    /// Whether starting the find-select-read sequence again at once can
    /// succeed with the same card on the reader. Line trouble (broken or
    /// missing replies, SW3 10 / 11) says no: [`crate::SamClient`] has
    /// already sent the command again, [`crate::Timing::sends`] times.
    pub fn retry(&self) -> Retry {
        match self {
            SamError::Status(Sw3Error::Checksum | Sw3Error::Length) => Retry::Useless,
            SamError::Status(e) => e.retry(),
            // A well-formed reply to something else: a stale reply; the sequence starts clean.
            SamError::UnexpectedReply { .. } => Retry::CanHelp,
            SamError::Frame(_) | SamError::NoReply { .. } | SamError::Transport(_) => Retry::Useless,
            SamError::Payload(_) | SamError::Card(_) | SamError::CardRemoved => Retry::Useless,
        }
    }
}

impl From<SamError> for DeviceError {
    fn from(e: SamError) -> DeviceError {
        match e {
            SamError::Status(s) => s.to_device_error(),
            SamError::CardRemoved => DeviceError::CardRemoved,
            SamError::NoReply { .. } => DeviceError::Timeout(e.to_string()),
            SamError::Transport(TransportError::Unsupported(m)) => DeviceError::Unsupported(m),
            SamError::Transport(t) => DeviceError::NotConnected(t.to_string()),
            SamError::Frame(_) | SamError::UnexpectedReply { .. } | SamError::Payload(_) | SamError::Card(_) => {
                DeviceError::Protocol(e.to_string())
            }
        }
    }
}
