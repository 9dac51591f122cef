//! Instructions and the commands that carry them (protocols.md §2).

use std::fmt;
use std::str::FromStr;

use crate::packet::{Packet, PacketError, Pid};

/// An instruction code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Instruction {
    GenImg,
    Img2Tz,
    Match,
    Search,
    RegModel,
    Store,
    LoadChar,
    UpChar,
    DownChar,
    UpImage,
    DownImage,
    DeleteChar,
    Empty,
    ReadSysPara,
    SetPwd,
    VfyPwd,
    HighSpeedSearch,
    TemplateNum,
    ReadIndexTable,
}

impl Instruction {
    pub const ALL: [Instruction; 19] = [
        Instruction::GenImg,
        Instruction::Img2Tz,
        Instruction::Match,
        Instruction::Search,
        Instruction::RegModel,
        Instruction::Store,
        Instruction::LoadChar,
        Instruction::UpChar,
        Instruction::DownChar,
        Instruction::UpImage,
        Instruction::DownImage,
        Instruction::DeleteChar,
        Instruction::Empty,
        Instruction::ReadSysPara,
        Instruction::SetPwd,
        Instruction::VfyPwd,
        Instruction::HighSpeedSearch,
        Instruction::TemplateNum,
        Instruction::ReadIndexTable,
    ];

    pub fn code(self) -> u8 {
        match self {
            Instruction::GenImg => 0x01,
            Instruction::Img2Tz => 0x02,
            Instruction::Match => 0x03,
            Instruction::Search => 0x04,
            Instruction::RegModel => 0x05,
            Instruction::Store => 0x06,
            Instruction::LoadChar => 0x07,
            Instruction::UpChar => 0x08,
            Instruction::DownChar => 0x09,
            Instruction::UpImage => 0x0A,
            Instruction::DownImage => 0x0B,
            Instruction::DeleteChar => 0x0C,
            Instruction::Empty => 0x0D,
            Instruction::ReadSysPara => 0x0F,
            Instruction::SetPwd => 0x12,
            Instruction::VfyPwd => 0x13,
            Instruction::HighSpeedSearch => 0x1B,
            Instruction::TemplateNum => 0x1D,
            Instruction::ReadIndexTable => 0x1F,
        }
    }

    pub fn from_code(code: u8) -> Option<Instruction> {
        Instruction::ALL.into_iter().find(|i| i.code() == code)
    }

    /// Result bytes after the confirmation code in a successful ack.
    pub fn result_len(self) -> usize {
        match self {
            Instruction::Match | Instruction::TemplateNum => 2,
            Instruction::Search | Instruction::HighSpeedSearch => 4,
            Instruction::ReadSysPara => 16,
            Instruction::ReadIndexTable => 32,
            _ => 0,
        }
    }
}

impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({:02X})", self, self.code())
    }
}

/// One of the module's two character buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CharBuffer {
    One,
    Two,
}

impl CharBuffer {
    pub fn id(self) -> u8 {
        match self {
            CharBuffer::One => 1,
            CharBuffer::Two => 2,
        }
    }

    pub fn from_id(id: u8) -> Option<CharBuffer> {
        match id {
            1 => Some(CharBuffer::One),
            2 => Some(CharBuffer::Two),
            _ => None,
        }
    }
}

/// The module's 32-bit password (0 unless someone set one). Never shown in
/// `Debug` output.
///
/// ```
/// use examgate_as60x::Password;
/// assert_eq!("0x0000002A".parse::<Password>().unwrap(), Password(42));
/// assert_eq!("42".parse::<Password>().unwrap().to_string(), "42");
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Password(pub u32);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a module password: expected a 32-bit number, decimal or 0x-prefixed hex")]
pub struct PasswordError(pub String);

impl FromStr for Password {
    type Err = PasswordError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_u32(s).map(Password).ok_or_else(|| PasswordError(s.to_owned()))
    }
}

/// A decimal or `0x`-prefixed hexadecimal u32.
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => u32::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        None => None,
    }
}

/// A command the driver sends, with its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Take an image into the image buffer; `02` when no finger is on the sensor.
    GenImg,
    /// Extract the image's features into a character buffer.
    Img2Tz(CharBuffer),
    /// Compare buffers 1 and 2: confirmation and a 2-byte score.
    Match,
    /// Search the library for buffer's features: page and score.
    Search {
        buffer: CharBuffer,
        start: u16,
        count: u16,
    },
    /// Merge buffers 1 and 2 into one template (in both).
    RegModel,
    /// Store a buffer at a library page.
    Store {
        buffer: CharBuffer,
        page: u16,
    },
    /// Load a library page into a buffer.
    LoadChar {
        buffer: CharBuffer,
        page: u16,
    },
    /// Upload a buffer: an ack, then data packets ending with PID 08.
    UpChar(CharBuffer),
    /// Download into a buffer: an ack, then the host sends data packets.
    DownChar(CharBuffer),
    /// Delete `count` library pages from `page`.
    DeleteChar {
        page: u16,
        count: u16,
    },
    /// Delete every library page.
    Empty,
    /// The 16 bytes of system parameters.
    ReadSysPara,
    SetPwd(Password),
    VfyPwd(Password),
    /// How many library pages hold a template.
    TemplateNum,
}

impl Command {
    pub fn instruction(&self) -> Instruction {
        match self {
            Command::GenImg => Instruction::GenImg,
            Command::Img2Tz(_) => Instruction::Img2Tz,
            Command::Match => Instruction::Match,
            Command::Search { .. } => Instruction::Search,
            Command::RegModel => Instruction::RegModel,
            Command::Store { .. } => Instruction::Store,
            Command::LoadChar { .. } => Instruction::LoadChar,
            Command::UpChar(_) => Instruction::UpChar,
            Command::DownChar(_) => Instruction::DownChar,
            Command::DeleteChar { .. } => Instruction::DeleteChar,
            Command::Empty => Instruction::Empty,
            Command::ReadSysPara => Instruction::ReadSysPara,
            Command::SetPwd(_) => Instruction::SetPwd,
            Command::VfyPwd(_) => Instruction::VfyPwd,
            Command::TemplateNum => Instruction::TemplateNum,
        }
    }

    /// Instruction code and parameters.
    pub fn payload(&self) -> Vec<u8> {
        let mut out = vec![self.instruction().code()];
        match *self {
            Command::Img2Tz(b) | Command::UpChar(b) | Command::DownChar(b) => out.push(b.id()),
            Command::Search { buffer, start, count } => {
                out.push(buffer.id());
                out.extend_from_slice(&start.to_be_bytes());
                out.extend_from_slice(&count.to_be_bytes());
            }
            Command::Store { buffer, page } | Command::LoadChar { buffer, page } => {
                out.push(buffer.id());
                out.extend_from_slice(&page.to_be_bytes());
            }
            Command::DeleteChar { page, count } => {
                out.extend_from_slice(&page.to_be_bytes());
                out.extend_from_slice(&count.to_be_bytes());
            }
            Command::SetPwd(p) | Command::VfyPwd(p) => out.extend_from_slice(&p.0.to_be_bytes()),
            Command::GenImg
            | Command::Match
            | Command::RegModel
            | Command::Empty
            | Command::ReadSysPara
            | Command::TemplateNum => {}
        }
        out
    }

    /// The command packet to `address`.
    pub fn packet(&self, address: u32) -> Packet {
        Packet::new(address, Pid::Command, self.payload()).expect("command payloads are 1..=7 bytes")
    }

    /// Read a command back from a command packet's payload.
    pub fn parse(payload: &[u8]) -> Result<Command, CommandError> {
        let (&code, params) = payload.split_first().ok_or(CommandError::Empty)?;
        let instruction = Instruction::from_code(code).ok_or(CommandError::UnknownInstruction(code))?;
        let wrong = || CommandError::Parameters { instruction, len: params.len() };
        let buffer = |id: u8| CharBuffer::from_id(id).ok_or(CommandError::BadBuffer(id));
        let u16_at = |i: usize| u16::from_be_bytes([params[i], params[i + 1]]);
        let command = match (instruction, params.len()) {
            (Instruction::GenImg, 0) => Command::GenImg,
            (Instruction::Img2Tz, 1) => Command::Img2Tz(buffer(params[0])?),
            (Instruction::Match, 0) => Command::Match,
            (Instruction::Search, 5) => {
                Command::Search { buffer: buffer(params[0])?, start: u16_at(1), count: u16_at(3) }
            }
            (Instruction::RegModel, 0) => Command::RegModel,
            (Instruction::Store, 3) => Command::Store { buffer: buffer(params[0])?, page: u16_at(1) },
            (Instruction::LoadChar, 3) => Command::LoadChar { buffer: buffer(params[0])?, page: u16_at(1) },
            (Instruction::UpChar, 1) => Command::UpChar(buffer(params[0])?),
            (Instruction::DownChar, 1) => Command::DownChar(buffer(params[0])?),
            (Instruction::DeleteChar, 4) => Command::DeleteChar { page: u16_at(0), count: u16_at(2) },
            (Instruction::Empty, 0) => Command::Empty,
            (Instruction::ReadSysPara, 0) => Command::ReadSysPara,
            (Instruction::SetPwd | Instruction::VfyPwd, 4) => {
                let p = Password(u32::from_be_bytes([params[0], params[1], params[2], params[3]]));
                if instruction == Instruction::SetPwd { Command::SetPwd(p) } else { Command::VfyPwd(p) }
            }
            (Instruction::TemplateNum, 0) => Command::TemplateNum,
            (
                Instruction::UpImage
                | Instruction::DownImage
                | Instruction::HighSpeedSearch
                | Instruction::ReadIndexTable,
                _,
            ) => return Err(CommandError::NotImplemented(instruction)),
            _ => return Err(wrong()),
        };
        Ok(command)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("a command packet with no instruction")]
    Empty,
    #[error("unknown instruction {0:02X}")]
    UnknownInstruction(u8),
    #[error("{instruction} does not take {len} parameter bytes")]
    Parameters { instruction: Instruction, len: usize },
    #[error("character buffer {0} does not exist: the module has buffers 1 and 2")]
    BadBuffer(u8),
    #[error("{0} is an instruction this driver does not send")]
    NotImplemented(Instruction),
    #[error(transparent)]
    Packet(#[from] PacketError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::DEFAULT_ADDRESS;

    fn all_commands() -> Vec<Command> {
        use CharBuffer::*;
        vec![
            Command::GenImg,
            Command::Img2Tz(One),
            Command::Img2Tz(Two),
            Command::Match,
            Command::Search { buffer: One, start: 0, count: 300 },
            Command::RegModel,
            Command::Store { buffer: Two, page: 299 },
            Command::LoadChar { buffer: One, page: 7 },
            Command::UpChar(One),
            Command::DownChar(Two),
            Command::DeleteChar { page: 3, count: 2 },
            Command::Empty,
            Command::ReadSysPara,
            Command::SetPwd(Password(0x1234_5678)),
            Command::VfyPwd(Password(0)),
            Command::TemplateNum,
        ]
    }

    #[test]
    fn commands_round_trip_through_their_payloads() {
        for c in all_commands() {
            assert_eq!(Command::parse(&c.payload()), Ok(c), "{c:?}");
            assert_eq!(Packet::parse(&c.packet(DEFAULT_ADDRESS).encode()).unwrap().payload(), c.payload());
        }
    }

    #[test]
    fn encodes_commands_byte_for_byte() {
        let hex = |c: Command| crate::packet::Hex(&c.packet(DEFAULT_ADDRESS).encode()).to_string();
        assert_eq!(hex(Command::GenImg), "EF 01 FF FF FF FF 01 00 03 01 00 05");
        assert_eq!(hex(Command::Img2Tz(CharBuffer::One)), "EF 01 FF FF FF FF 01 00 04 02 01 00 08");
        assert_eq!(hex(Command::Match), "EF 01 FF FF FF FF 01 00 03 03 00 07");
        assert_eq!(hex(Command::VfyPwd(Password(0))), "EF 01 FF FF FF FF 01 00 07 13 00 00 00 00 00 1B");
        assert_eq!(hex(Command::ReadSysPara), "EF 01 FF FF FF FF 01 00 03 0F 00 13");
        assert_eq!(hex(Command::UpChar(CharBuffer::One)), "EF 01 FF FF FF FF 01 00 04 08 01 00 0E");
        assert_eq!(
            hex(Command::Search { buffer: CharBuffer::One, start: 0, count: 0x012C }),
            "EF 01 FF FF FF FF 01 00 08 04 01 00 00 01 2C 00 3B"
        );
        assert_eq!(hex(Command::TemplateNum), "EF 01 FF FF FF FF 01 00 03 1D 00 21");
    }

    #[test]
    fn rejects_malformed_commands() {
        assert_eq!(Command::parse(&[]), Err(CommandError::Empty));
        assert_eq!(Command::parse(&[0x55]), Err(CommandError::UnknownInstruction(0x55)));
        assert_eq!(Command::parse(&[0x02, 3]), Err(CommandError::BadBuffer(3)));
        assert_eq!(
            Command::parse(&[0x01, 0]),
            Err(CommandError::Parameters { instruction: Instruction::GenImg, len: 1 })
        );
        assert_eq!(Command::parse(&[0x0A]), Err(CommandError::NotImplemented(Instruction::UpImage)));
    }

    #[test]
    fn instruction_codes_are_unique() {
        for i in Instruction::ALL {
            assert_eq!(Instruction::from_code(i.code()), Some(i));
        }
        assert_eq!(Instruction::from_code(0x0E), None);
    }

    #[test]
    fn passwords_parse_and_hide() {
        assert_eq!("0".parse::<Password>(), Ok(Password(0)));
        assert_eq!("0xFFFFFFFF".parse::<Password>(), Ok(Password(u32::MAX)));
        for bad in ["", "0x", "-1", "4294967296", "0x1FFFFFFFF", "abc", "0xZZ"] {
            assert!(bad.parse::<Password>().is_err(), "{bad}");
        }
        assert_eq!(format!("{:?}", Password(1234)), "Password(..)");
    }
}
