//! Everything that can go wrong talking to an AS60x module, and what the
//! SDK (and so the examiner) is told.

use std::time::Duration;

use examgate_device_sdk::DeviceError;

use crate::command::Instruction;
use crate::confirm::ConfirmError;
use crate::packet::PacketError;
use crate::reply::{SysParamsError, TemplateLengthError};
use crate::transport::TransportError;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum As60xError {
    /// Bytes that are not a packet.
    #[error(transparent)]
    Packet(#[from] PacketError),
    /// A failure the module reported in its confirmation code.
    #[error("{instruction}: {error}")]
    Module { instruction: Instruction, error: ConfirmError },
    /// A well-formed packet that does not answer the command sent.
    #[error("the reply to {instruction} is not one: {why}")]
    UnexpectedReply { instruction: Instruction, why: String },
    #[error(
        "no reply from an AS60x module on {port} to {instruction} within {waited:?}; check the cable, the port and the baud rate"
    )]
    NoReply { instruction: Instruction, port: String, waited: Duration },
    #[error("the module's system parameters are malformed: {0}")]
    SysParams(#[from] SysParamsError),
    #[error("the module uploaded a template of the wrong length: {0}")]
    TemplateLength(#[from] TemplateLengthError),
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl As60xError {
    /// The confirmation code's error, if the module reported one.
    pub fn confirm(&self) -> Option<ConfirmError> {
        match self {
            As60xError::Module { error, .. } => Some(*error),
            _ => None,
        }
    }

    /// Whether the module may be gone (or restarted): the next call greets it again.
    pub(crate) fn loses_session(&self) -> bool {
        matches!(self, As60xError::Transport(_) | As60xError::NoReply { .. })
    }
}

impl From<As60xError> for DeviceError {
    fn from(e: As60xError) -> DeviceError {
        match e {
            As60xError::Module { error, .. } => error.to_device_error(),
            As60xError::NoReply { .. } => DeviceError::Timeout(e.to_string()),
            As60xError::Transport(TransportError::Busy { .. }) => DeviceError::Busy(e.to_string()),
            As60xError::Transport(t) => DeviceError::NotConnected(t.to_string()),
            As60xError::Packet(_)
            | As60xError::UnexpectedReply { .. }
            | As60xError::SysParams(_)
            | As60xError::TemplateLength(_) => DeviceError::Protocol(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use examgate_device_sdk::ErrorKind;

    #[test]
    fn errors_reach_the_sdk_as_their_kind() {
        let lost = As60xError::Transport(TransportError::Lost { port: "p".into(), detail: "EIO".into() });
        assert_eq!(DeviceError::from(lost.clone()).kind(), ErrorKind::NotConnected);
        assert!(lost.loses_session());
        let no_finger = As60xError::Module { instruction: Instruction::GenImg, error: ConfirmError::NoFinger };
        assert_eq!(DeviceError::from(no_finger), DeviceError::NoFinger);
        let silent = As60xError::NoReply { instruction: Instruction::Match, port: "p".into(), waited: Duration::ZERO };
        assert_eq!(DeviceError::from(silent).kind(), ErrorKind::Timeout);
        let broken = As60xError::Packet(PacketError::BadChecksum { found: 1, computed: 2 });
        assert_eq!(DeviceError::from(broken).kind(), ErrorKind::Protocol);
        let busy = As60xError::Transport(TransportError::Busy { port: "p".into() });
        assert_eq!(DeviceError::from(busy).kind(), ErrorKind::Busy);
    }
}
