//! GA 467 frames. Both directions share one envelope:
//!
//! `AA AA AA 96 69` · LEN (u16 big-endian: every byte after it, CHK included) ·
//! body · CHK (XOR of every byte after the preamble, up to CHK).
//!
//! A command's body is CMD PARA data ([`SamFrame`]); a reply's is SW1 SW2 SW3
//! data ([`SamReply`]). Bytes become these types once, here, with every
//! length checked.

use std::fmt;

use crate::status::{Status, Sw3Error};

/// The frame header every frame starts with.
pub const PREAMBLE: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];
/// Preamble and LEN.
pub const HEADER_LEN: usize = PREAMBLE.len() + 2;
/// The smallest LEN of any frame: CMD PARA CHK.
pub const MIN_LEN: usize = 3;
/// The smallest LEN of a reply: SW1 SW2 SW3 CHK.
pub const MIN_REPLY_LEN: usize = 4;
/// The largest LEN accepted. The longest documented frame, a 30 10 reply with
/// a 1024-byte fingerprint, has LEN 2314; a larger LEN is line noise.
pub const MAX_LEN: usize = 4096;

/// XOR of `bytes`: the GA 467 checksum of LEN and body.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}

/// Why bytes are not a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("bad preamble: the frame starts with {}, not AA AA AA 96 69", Hex(.found))]
    BadPreamble { found: Vec<u8> },
    #[error("truncated frame: {available} bytes, but its header and LEN need {needed}")]
    Truncated { needed: usize, available: usize },
    #[error("wrong length: LEN {declared} is outside {min}..={max}")]
    LengthOutOfRange { declared: usize, min: usize, max: usize },
    #[error("wrong length: LEN {declared} makes a {expected}-byte frame, but there are {actual} bytes")]
    WrongLength { declared: usize, expected: usize, actual: usize },
    #[error("bad checksum: CHK is {found:02X} but the frame's bytes XOR to {computed:02X}")]
    BadChecksum { found: u8, computed: u8 },
}

/// Bytes shown as spaced hex.
pub(crate) struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("nothing");
        }
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// Check the envelope of exactly one frame and return its body.
pub(crate) fn parse_envelope(bytes: &[u8], min_len: usize) -> Result<&[u8], FrameError> {
    let head = &bytes[..bytes.len().min(PREAMBLE.len())];
    if head != &PREAMBLE[..head.len()] {
        return Err(FrameError::BadPreamble { found: head.to_vec() });
    }
    if bytes.len() < HEADER_LEN {
        return Err(FrameError::Truncated { needed: HEADER_LEN, available: bytes.len() });
    }
    let declared = usize::from(u16::from_be_bytes([bytes[5], bytes[6]]));
    if !(min_len..=MAX_LEN).contains(&declared) {
        return Err(FrameError::LengthOutOfRange { declared, min: min_len, max: MAX_LEN });
    }
    let expected = HEADER_LEN + declared;
    if bytes.len() < expected {
        return Err(FrameError::Truncated { needed: expected, available: bytes.len() });
    }
    if bytes.len() > expected {
        return Err(FrameError::WrongLength { declared, expected, actual: bytes.len() });
    }
    let (found, computed) = (bytes[expected - 1], checksum(&bytes[PREAMBLE.len()..expected - 1]));
    if found != computed {
        return Err(FrameError::BadChecksum { found, computed });
    }
    Ok(&bytes[HEADER_LEN..expected - 1])
}

/// Wrap a body in preamble, LEN and CHK.
pub(crate) fn encode_envelope(body: &[&[u8]]) -> Vec<u8> {
    let body_len: usize = body.iter().map(|b| b.len()).sum();
    let len = u16::try_from(body_len + 1).expect("GA 467 frames are shorter than 64 KiB");
    let mut out = Vec::with_capacity(HEADER_LEN + body_len + 1);
    out.extend_from_slice(&PREAMBLE);
    out.extend_from_slice(&len.to_be_bytes());
    for part in body {
        out.extend_from_slice(part);
    }
    out.push(checksum(&out[PREAMBLE.len()..]));
    out
}

/// The documented commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// `10 FF`
    ResetSam,
    /// `11 FF`
    SamStatus,
    /// `12 FF`: the SAM's id (reply layout unverified; kept as bytes).
    ReadSamId,
    /// `20 01`: is a card in the field? Answers SW3 `9F` or `80`.
    FindCard,
    /// `20 02`: select it; the reply carries its 8-byte serial.
    SelectCard,
    /// `30 01`: text block and WLT photo.
    ReadTextPhoto,
    /// `30 10`: text block, WLT photo and fingerprint records.
    ReadTextPhotoFingerprint,
    /// `30 03`: the address appended after issue, if any.
    ReadAppendedAddress,
}

impl Command {
    pub const ALL: [Command; 8] = [
        Command::ResetSam,
        Command::SamStatus,
        Command::ReadSamId,
        Command::FindCard,
        Command::SelectCard,
        Command::ReadTextPhoto,
        Command::ReadTextPhotoFingerprint,
        Command::ReadAppendedAddress,
    ];

    /// CMD and PARA.
    pub fn code(self) -> [u8; 2] {
        match self {
            Command::ResetSam => [0x10, 0xFF],
            Command::SamStatus => [0x11, 0xFF],
            Command::ReadSamId => [0x12, 0xFF],
            Command::FindCard => [0x20, 0x01],
            Command::SelectCard => [0x20, 0x02],
            Command::ReadTextPhoto => [0x30, 0x01],
            Command::ReadTextPhotoFingerprint => [0x30, 0x10],
            Command::ReadAppendedAddress => [0x30, 0x03],
        }
    }

    pub fn from_code(cmd: u8, para: u8) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.code() == [cmd, para])
    }

    pub fn name(self) -> &'static str {
        match self {
            Command::ResetSam => "reset SAM",
            Command::SamStatus => "SAM status",
            Command::ReadSamId => "read SAM id",
            Command::FindCard => "find card",
            Command::SelectCard => "select card",
            Command::ReadTextPhoto => "read text and photo",
            Command::ReadTextPhotoFingerprint => "read text, photo and fingerprint",
            Command::ReadAppendedAddress => "read appended address",
        }
    }

    /// The longest reply this command can get, in bytes on the wire.
    pub fn max_reply_len(self) -> usize {
        match self {
            Command::ReadTextPhoto => 1295,
            Command::ReadTextPhotoFingerprint => 2321,
            Command::ReadAppendedAddress => 256,
            _ => 64,
        }
    }

    /// The frame that sends this command.
    pub fn frame(self) -> SamFrame {
        let [cmd, para] = self.code();
        SamFrame { cmd, para, data: Vec::new() }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [cmd, para] = self.code();
        write!(f, "{} ({cmd:02X} {para:02X})", self.name())
    }
}

/// A frame from host to SAM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamFrame {
    pub cmd: u8,
    pub para: u8,
    pub data: Vec<u8>,
}

impl SamFrame {
    /// The documented command this frame carries, if it is one.
    pub fn command(&self) -> Option<Command> {
        Command::from_code(self.cmd, self.para)
    }

    /// Parse exactly one frame.
    pub fn parse(bytes: &[u8]) -> Result<SamFrame, FrameError> {
        let body = parse_envelope(bytes, MIN_LEN)?;
        Ok(SamFrame { cmd: body[0], para: body[1], data: body[2..].to_vec() })
    }

    pub fn encode(&self) -> Vec<u8> {
        encode_envelope(&[&[self.cmd, self.para], &self.data])
    }
}

/// A frame from SAM to host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamReply {
    pub sw1: u8,
    pub sw2: u8,
    pub status: Status,
    pub data: Vec<u8>,
}

impl SamReply {
    pub fn new(status: Status, data: Vec<u8>) -> SamReply {
        SamReply { sw1: 0, sw2: 0, status, data }
    }

    /// Parse exactly one frame.
    pub fn parse(bytes: &[u8]) -> Result<SamReply, FrameError> {
        let body = parse_envelope(bytes, MIN_REPLY_LEN)?;
        Ok(SamReply { sw1: body[0], sw2: body[1], status: Status::from_sw3(body[2]), data: body[3..].to_vec() })
    }

    pub fn encode(&self) -> Vec<u8> {
        encode_envelope(&[&[self.sw1, self.sw2, self.status.sw3()], &self.data])
    }

    /// The data, if SW3 says success.
    pub fn into_result(self) -> Result<Vec<u8>, Sw3Error> {
        self.status.result().map(|()| self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
    }

    #[test]
    fn encodes_every_documented_command() {
        let frames: Vec<String> = Command::ALL.iter().map(|c| Hex(&c.frame().encode()).to_string()).collect();
        assert_eq!(
            frames,
            [
                "AA AA AA 96 69 00 03 10 FF EC",
                "AA AA AA 96 69 00 03 11 FF ED",
                "AA AA AA 96 69 00 03 12 FF EE",
                "AA AA AA 96 69 00 03 20 01 22",
                "AA AA AA 96 69 00 03 20 02 21",
                "AA AA AA 96 69 00 03 30 01 32",
                "AA AA AA 96 69 00 03 30 10 23",
                "AA AA AA 96 69 00 03 30 03 30",
            ]
        );
    }

    /// Every frame protocols.md quotes, from `tests/data/golden_frames.txt`.
    #[test]
    fn golden_frames_from_protocols_md() {
        let golden = include_str!("../tests/data/golden_frames.txt");
        let mut seen = 0;
        for line in golden.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let mut words = line.split_whitespace();
            let (direction, name) = (words.next().unwrap(), words.next().unwrap());
            let bytes: Vec<u8> = words.map(|b| u8::from_str_radix(b, 16).unwrap()).collect();
            match direction {
                "command" => {
                    let frame = SamFrame::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                    let command = frame.command().unwrap_or_else(|| panic!("{name}: not a documented command"));
                    assert_eq!(command.frame().encode(), bytes, "{name}");
                }
                "reply" => {
                    let reply = SamReply::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(reply.encode(), bytes, "{name}");
                    let expected = match name {
                        "find_card_ok" => (Status::CardFound, vec![0; 4]),
                        "read_failed_41" => (Status::Failed(Sw3Error::ReadFailed), vec![]),
                        "select_card_ok" => (Status::Success, vec![0x10, 0xE4, 0x10, 0x01, 0x02, 0x03, 0x04, 0x05]),
                        other => panic!("no expectation for {other}"),
                    };
                    assert_eq!((reply.status, reply.data), expected, "{name}");
                }
                other => panic!("unknown direction {other}"),
            }
            seen += 1;
        }
        assert_eq!(seen, 11);
    }

    #[test]
    fn commands_round_trip() {
        for c in Command::ALL {
            let frame = SamFrame::parse(&c.frame().encode()).unwrap();
            assert_eq!(frame.command(), Some(c));
            assert!(frame.data.is_empty());
        }
        assert_eq!(Command::from_code(0x30, 0x02), None);
    }

    #[test]
    fn rejects_frame_with_bad_checksum() {
        let mut f = hex("AA AA AA 96 69 00 04 00 00 41 45");
        f[10] = 0x44;
        assert_eq!(SamReply::parse(&f), Err(FrameError::BadChecksum { found: 0x44, computed: 0x45 }));
    }

    #[test]
    fn rejects_frame_with_bad_preamble() {
        let f = hex("AA AA AB 96 69 00 04 00 00 41 45");
        assert_eq!(SamReply::parse(&f), Err(FrameError::BadPreamble { found: hex("AA AA AB 96 69") }));
        assert!(SamReply::parse(&f).unwrap_err().to_string().contains("AA AA AB 96 69"));
        assert_eq!(SamReply::parse(b"x"), Err(FrameError::BadPreamble { found: b"x".to_vec() }));
    }

    #[test]
    fn rejects_truncated_frames() {
        let f = hex("AA AA AA 96 69 00 04 00 00 41 45");
        for cut in 0..f.len() {
            let err = SamReply::parse(&f[..cut]).unwrap_err();
            let needed = if cut < HEADER_LEN { HEADER_LEN } else { f.len() };
            assert_eq!(err, FrameError::Truncated { needed, available: cut }, "cut at {cut}");
        }
    }

    #[test]
    fn rejects_frames_whose_len_disagrees_with_their_size() {
        let mut long = hex("AA AA AA 96 69 00 04 00 00 41 45");
        long.push(0);
        assert_eq!(SamReply::parse(&long), Err(FrameError::WrongLength { declared: 4, expected: 11, actual: 12 }));
        let short_len = hex("AA AA AA 96 69 00 03 00 00 41 45");
        assert_eq!(
            SamReply::parse(&short_len),
            Err(FrameError::LengthOutOfRange { declared: 3, min: 4, max: MAX_LEN })
        );
        let huge = hex("AA AA AA 96 69 FF FF 00");
        assert!(matches!(SamReply::parse(&huge), Err(FrameError::LengthOutOfRange { declared: 0xFFFF, .. })));
    }

    #[test]
    fn replies_round_trip() {
        let reply = SamReply::new(Status::Success, (0..=255).collect());
        assert_eq!(SamReply::parse(&reply.encode()).unwrap(), reply);
    }
}
