//! ZhianTec / Synochip AS608 and R30x fingerprint modules over a serial line
//! (protocols.md §2).
//!
//! - [`packet`]: the packet codec, [`Packet`] with every length checked;
//!   [`PacketDecoder`] finds packets in a byte stream.
//! - [`Command`] / [`Instruction`]: what the host sends.
//! - [`ConfirmError`]: every documented confirmation code, with what to do.
//! - [`SysParams`], [`MatchOutcome`], [`SearchHit`], [`NativeTemplate`]:
//!   what acks and data packets carry.

mod command;
mod confirm;
mod decoder;
pub mod packet;
mod reply;

pub use command::{CharBuffer, Command, CommandError, Instruction, Password, PasswordError};
pub use confirm::{CONFIRM_OK, ConfirmError, confirmation};
pub use decoder::PacketDecoder;
pub use packet::{DEFAULT_ADDRESS, Packet, PacketError, Pid};
pub use reply::{
    MatchOutcome, NativeTemplate, PacketSize, SearchHit, SysParams, SysParamsError, TEMPLATE_LEN, TemplateLengthError,
    Verdict,
};
