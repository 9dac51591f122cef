//! One command, one reply: sending GA 467 commands over a [`Transport`] and
//! turning the replies into typed values. A reply broken on the way (bad
//! checksum, cut short, or the SAM saying it got a broken command) costs a
//! resend, not an error.

use std::time::{Duration, Instant};

use crate::decoder::FrameDecoder;
use crate::error::SamError;
use crate::frame::{Command, FrameError, SamReply};
use crate::payload::{CardData, ChipSerial, ReadLayout, parse_appended_address};
use crate::status::{Status, Sw3Error};
use crate::transport::Transport;

/// How long to wait for replies, and how often to send a command whose
/// reply was broken on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Time the SAM may take before its reply starts (card operations included).
    pub answer: Duration,
    /// Line time of one byte (from the baud rate; zero for USB).
    pub per_byte: Duration,
    /// Sends of one command, at most.
    pub sends: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { answer: Duration::from_millis(1500), per_byte: Duration::ZERO, sends: 3 }
    }
}

impl Timing {
    /// How long to wait for the reply to `command`: the answer time plus
    /// twice the line time of its longest reply.
    pub fn reply_wait(&self, command: Command) -> Duration {
        self.answer + self.per_byte * (2 * command.max_reply_len() as u32)
    }
}

/// Speaks GA 467 over a transport.
pub struct SamClient {
    transport: Box<dyn Transport>,
    decoder: FrameDecoder,
    timing: Timing,
    buf: Vec<u8>,
}

impl SamClient {
    pub fn new(transport: Box<dyn Transport>, timing: Timing) -> SamClient {
        SamClient { transport, decoder: FrameDecoder::new(), timing, buf: vec![0; 4096] }
    }

    pub fn timing(&self) -> Timing {
        self.timing
    }

    pub fn describe(&self) -> String {
        self.transport.describe()
    }

    /// Bytes skipped as garbage or broken frames since the client was made.
    pub fn skipped_bytes(&self) -> u64 {
        self.decoder.skipped()
    }

    /// Send `command` and return its reply, whatever SW3 says, except that
    /// a broken reply, or SW3 10 / 11 (the SAM got a broken command), makes
    /// the command go again, up to [`Timing::sends`] times.
    pub fn transact(&mut self, command: Command) -> Result<SamReply, SamError> {
        let frame = command.frame().encode();
        let wait = self.timing.reply_wait(command);
        let mut last = None;
        for _ in 0..self.timing.sends.max(1) {
            // Whatever is buffered belongs to an earlier exchange.
            self.decoder.clear();
            self.transport.discard_input()?;
            self.transport.send(&frame)?;
            match self.await_reply(command, wait) {
                Ok(SamReply { status: Status::Failed(e @ (Sw3Error::Checksum | Sw3Error::Length)), .. }) => {
                    last = Some(SamError::Status(e));
                }
                Ok(reply) => return Ok(reply),
                Err(e @ (SamError::Frame(_) | SamError::NoReply { .. })) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("sent at least once"))
    }

    fn await_reply(&mut self, command: Command, wait: Duration) -> Result<SamReply, SamError> {
        let deadline = Instant::now() + wait;
        let mut broken = None;
        loop {
            match self.decoder.next_frame() {
                Some(Ok(frame)) => return Ok(SamReply::parse(frame.as_bytes())?),
                // A whole reply arrived broken: unless a good one is buffered behind it, ask again.
                Some(Err(e @ FrameError::BadChecksum { .. })) => broken = Some(e),
                // Noise that looked like a header: the reply may still come.
                Some(Err(_)) => {}
                None => {
                    if let Some(e) = broken {
                        return Err(e.into());
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(SamError::NoReply { command, port: self.transport.describe(), waited: wait });
                    }
                    let n = self.transport.recv(&mut self.buf, deadline - now)?;
                    self.decoder.push(&self.buf[..n]);
                }
            }
        }
    }

    /// Send `command` and return the data of a successful reply.
    fn data(&mut self, command: Command) -> Result<Vec<u8>, SamError> {
        let reply = self.transact(command)?;
        match reply.status {
            Status::Success => Ok(reply.data),
            Status::CardFound => {
                Err(SamError::UnexpectedReply { command, why: "SW3 9F (card found) answers find card only".into() })
            }
            Status::Failed(e) => Err(e.into()),
        }
    }

    /// `10 FF`
    pub fn reset_sam(&mut self) -> Result<(), SamError> {
        self.data(Command::ResetSam).map(drop)
    }

    /// `11 FF`: whether the SAM works.
    pub fn sam_status(&mut self) -> Result<(), SamError> {
        self.data(Command::SamStatus).map(drop)
    }

    /// `12 FF`: the SAM's id, as bytes (its layout is not confirmed).
    pub fn sam_id(&mut self) -> Result<Vec<u8>, SamError> {
        self.data(Command::ReadSamId)
    }

    /// `20 01`: `Ok` when a card is in the field, SW3 80 when not.
    pub fn find_card(&mut self) -> Result<(), SamError> {
        let reply = self.transact(Command::FindCard)?;
        reply.status.result().map_err(SamError::from)
    }

    /// `20 02`: select the card found; its chip serial.
    pub fn select_card(&mut self) -> Result<ChipSerial, SamError> {
        let data = self.data(Command::SelectCard)?;
        ChipSerial::parse(&data)
            .map_err(|e| SamError::UnexpectedReply { command: Command::SelectCard, why: e.to_string() })
    }

    /// `30 01` or `30 10`: the selected card's text block and photo.
    pub fn read_card_data(&mut self, layout: ReadLayout) -> Result<CardData, SamError> {
        let command = match layout {
            ReadLayout::TextPhoto => Command::ReadTextPhoto,
            ReadLayout::TextPhotoFingerprint => Command::ReadTextPhotoFingerprint,
        };
        let data = self.data(command)?;
        Ok(CardData::parse(layout, &data)?)
    }

    /// `30 03`: the address appended after issue; `None` when the card has
    /// none (SW3 91).
    pub fn appended_address(&mut self) -> Result<Option<String>, SamError> {
        match self.data(Command::ReadAppendedAddress) {
            Ok(data) => Ok(Some(parse_appended_address(&data)?)),
            Err(SamError::Status(Sw3Error::NoContent)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
