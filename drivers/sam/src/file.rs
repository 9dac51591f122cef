//! Saved SAM replies: decoding a raw 30 01 / 30 10 reply frame from a file
//! (the agent's `decode-sam FILE`).

use examgate_device_sdk::CardRead;
use examgate_device_sdk::idcard::{CardSource, IdentityCard};

use crate::error::SamError;
use crate::frame::SamReply;
use crate::payload::{CardData, PayloadError, ReadLayout};
use crate::status::Status;

/// Decode one raw reply frame to a read command (30 01 or 30 10), exactly
/// as a SAM sent it, into a card. Each bad input gives one error: a bad
/// preamble, a wrong length (LEN against the bytes), a bad checksum, an SW3
/// failure, a truncated or malformed text block.
///
/// The frame carries no chip serial, so the card has none.
///
/// ```no_run
/// let bytes = std::fs::read("reply.bin").unwrap();
/// match examgate_sam::decode_reply_file(&bytes) {
///     Ok(card) => println!("{:?}", card.fields.map(|f| f.name)),
///     Err(e) => eprintln!("reply.bin: {e}"),
/// }
/// ```
pub fn decode_reply_file(bytes: &[u8]) -> Result<IdentityCard, SamError> {
    let reply = SamReply::parse(bytes)?;
    if reply.status == Status::CardFound {
        return Err(PayloadError::NotACardRead(reply.data.len()).into());
    }
    let data = reply.into_result()?;
    let card = CardData::parse(ReadLayout::detect(&data), &data)?;
    let read = CardRead { text: card.text.to_vec(), photo: card.photo.to_vec(), chip_serial: Vec::new() };
    Ok(IdentityCard::from_read(&read, CardSource::Sam)?)
}
