//! AS60x packets (protocols.md §2). Both directions share one envelope:
//!
//! `EF 01` · address (u32 big-endian) · PID · LEN (u16 big-endian: payload
//! length + 2) · payload · SUM (u16 big-endian: the low 16 bits of the sum of
//! PID, both LEN bytes and every payload byte).
//!
//! Bytes become a [`Packet`] once, here, with every length checked.

use std::fmt;

/// The start code every packet begins with.
pub const START: [u8; 2] = [0xEF, 0x01];
/// Start code, address, PID and LEN.
pub const HEADER_LEN: usize = 9;
/// The address of a module nobody renumbered.
pub const DEFAULT_ADDRESS: u32 = 0xFFFF_FFFF;
/// The smallest LEN: one payload byte (an instruction or a confirmation code) and SUM.
pub const MIN_LEN: usize = 3;
/// The largest LEN: a 256-byte data packet and SUM. A larger LEN is line noise.
pub const MAX_LEN: usize = MAX_PAYLOAD + 2;
/// The largest payload, the largest data packet size a module can be set to.
pub const MAX_PAYLOAD: usize = 256;

/// The packet identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pid {
    /// `01`: host to module, an instruction and its parameters.
    Command,
    /// `02`: a data packet with more to follow.
    Data,
    /// `07`: module to host, a confirmation code and the results.
    Ack,
    /// `08`: the last data packet.
    EndData,
}

impl Pid {
    pub const ALL: [Pid; 4] = [Pid::Command, Pid::Data, Pid::Ack, Pid::EndData];

    pub fn code(self) -> u8 {
        match self {
            Pid::Command => 0x01,
            Pid::Data => 0x02,
            Pid::Ack => 0x07,
            Pid::EndData => 0x08,
        }
    }

    pub fn from_code(code: u8) -> Option<Pid> {
        Pid::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// 16-bit sum of PID, LEN and payload: the packet's SUM.
pub fn checksum(pid: u8, len: u16, payload: &[u8]) -> u16 {
    let [hi, lo] = len.to_be_bytes();
    // Summed wide (the compiler vectorises it), then cut to 16 bits: the same as wrapping at each step.
    let sum: u64 = payload.iter().map(|b| u64::from(*b)).sum();
    (sum + u64::from(pid) + u64::from(hi) + u64::from(lo)) as u16
}

/// Why bytes are not a packet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("bad start code: the packet starts with {}, not EF 01", Hex(.found))]
    BadStartCode { found: Vec<u8> },
    #[error("truncated packet: {available} bytes, but its header and LEN need {needed}")]
    Truncated { needed: usize, available: usize },
    #[error("unknown packet identifier {0:02X}: expected 01, 02, 07 or 08")]
    UnknownPid(u8),
    #[error("wrong length: LEN {declared} is outside {min}..={max}")]
    LengthOutOfRange { declared: usize, min: usize, max: usize },
    #[error("wrong length: LEN {declared} makes a {expected}-byte packet, but there are {actual} bytes")]
    WrongLength { declared: usize, expected: usize, actual: usize },
    #[error("bad checksum: SUM is {found:04X} but PID, LEN and payload add up to {computed:04X}")]
    BadChecksum { found: u16, computed: u16 },
    #[error("a payload of {0} bytes does not fit a packet (1..=256)")]
    PayloadLength(usize),
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

/// One packet, either direction.
///
/// ```
/// use examgate_as60x::{Packet, Pid, DEFAULT_ADDRESS};
/// // GenImg, as protocols.md quotes it.
/// let gen_img = Packet::new(DEFAULT_ADDRESS, Pid::Command, vec![0x01]).unwrap();
/// assert_eq!(gen_img.encode(), [0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x03, 0x01, 0x00, 0x05]);
/// assert_eq!(Packet::parse(&gen_img.encode()).unwrap(), gen_img);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Packet {
    address: u32,
    pid: Pid,
    payload: Vec<u8>,
}

impl fmt::Debug for Packet {
    // Data packets carry templates (personal data): their length only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Pid::Data | Pid::EndData => {
                write!(f, "Packet({:08X} {:?}, {} bytes)", self.address, self.pid, self.payload.len())
            }
            _ => write!(f, "Packet({:08X} {:?} {})", self.address, self.pid, Hex(&self.payload)),
        }
    }
}

impl Packet {
    /// A packet with 1..=256 payload bytes.
    pub fn new(address: u32, pid: Pid, payload: Vec<u8>) -> Result<Packet, PacketError> {
        if payload.is_empty() || payload.len() > MAX_PAYLOAD {
            return Err(PacketError::PayloadLength(payload.len()));
        }
        Ok(Packet { address, pid, payload })
    }

    pub fn address(&self) -> u32 {
        self.address
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// Length on the wire.
    pub fn wire_len(&self) -> usize {
        HEADER_LEN + self.payload.len() + 2
    }

    /// Parse exactly one packet.
    pub fn parse(bytes: &[u8]) -> Result<Packet, PacketError> {
        let head = &bytes[..bytes.len().min(START.len())];
        if head != &START[..head.len()] {
            return Err(PacketError::BadStartCode { found: head.to_vec() });
        }
        if bytes.len() < HEADER_LEN {
            return Err(PacketError::Truncated { needed: HEADER_LEN, available: bytes.len() });
        }
        let header = Header::read(bytes)?;
        let expected = header.total();
        if bytes.len() < expected {
            return Err(PacketError::Truncated { needed: expected, available: bytes.len() });
        }
        if bytes.len() > expected {
            return Err(PacketError::WrongLength { declared: header.len, expected, actual: bytes.len() });
        }
        header.check_sum(bytes)?;
        Ok(header.packet(bytes))
    }

    /// Append the packet's bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let len = (self.payload.len() + 2) as u16; // at most 258: checked in `new`
        out.reserve(self.wire_len());
        out.extend_from_slice(&START);
        out.extend_from_slice(&self.address.to_be_bytes());
        out.push(self.pid.code());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&self.payload);
        out.extend_from_slice(&checksum(self.pid.code(), len, &self.payload).to_be_bytes());
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.wire_len());
        self.encode_into(&mut out);
        out
    }
}

/// The fields of a packet's first [`HEADER_LEN`] bytes, checked.
pub(crate) struct Header {
    address: u32,
    pid: Pid,
    len: usize,
}

impl Header {
    /// `bytes` starts with the start code and holds at least [`HEADER_LEN`] bytes.
    pub(crate) fn read(bytes: &[u8]) -> Result<Header, PacketError> {
        let address = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        let pid = Pid::from_code(bytes[6]).ok_or(PacketError::UnknownPid(bytes[6]))?;
        let len = usize::from(u16::from_be_bytes([bytes[7], bytes[8]]));
        if !(MIN_LEN..=MAX_LEN).contains(&len) {
            return Err(PacketError::LengthOutOfRange { declared: len, min: MIN_LEN, max: MAX_LEN });
        }
        Ok(Header { address, pid, len })
    }

    /// Bytes of the whole packet.
    pub(crate) fn total(&self) -> usize {
        HEADER_LEN + self.len
    }

    /// `bytes` holds at least [`Header::total`] bytes.
    pub(crate) fn check_sum(&self, bytes: &[u8]) -> Result<(), PacketError> {
        let end = self.total();
        let found = u16::from_be_bytes([bytes[end - 2], bytes[end - 1]]);
        let computed = checksum(self.pid.code(), self.len as u16, &bytes[HEADER_LEN..end - 2]);
        if found != computed {
            return Err(PacketError::BadChecksum { found, computed });
        }
        Ok(())
    }

    pub(crate) fn packet(&self, bytes: &[u8]) -> Packet {
        Packet { address: self.address, pid: self.pid, payload: bytes[HEADER_LEN..self.total() - 2].to_vec() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
    }

    const OK_ACK: &str = "EF 01 FF FF FF FF 07 00 03 00 00 0A";

    #[test]
    fn encodes_the_golden_packets_of_protocols_md() {
        let gen_img = Packet::new(DEFAULT_ADDRESS, Pid::Command, vec![0x01]).unwrap();
        assert_eq!(gen_img.encode(), hex("EF 01 FF FF FF FF 01 00 03 01 00 05"));
        let ok = Packet::new(DEFAULT_ADDRESS, Pid::Ack, vec![0x00]).unwrap();
        assert_eq!(ok.encode(), hex(OK_ACK));
        assert_eq!(Packet::parse(&hex(OK_ACK)).unwrap(), ok);
    }

    /// Every packet protocols.md quotes, from `tests/data/golden_packets.txt`.
    #[test]
    fn golden_packets_from_protocols_md() {
        let golden = include_str!("../tests/data/golden_packets.txt");
        let mut seen = 0;
        for line in golden.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let mut words = line.split_whitespace();
            let (direction, name) = (words.next().unwrap(), words.next().unwrap());
            let bytes: Vec<u8> = words.map(|b| u8::from_str_radix(b, 16).unwrap()).collect();
            let packet = Packet::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(packet.encode(), bytes, "{name}");
            assert_eq!(packet.address(), DEFAULT_ADDRESS, "{name}");
            let expected = match (direction, name) {
                ("command", "gen_img") => (Pid::Command, vec![0x01]),
                ("ack", "ok") => (Pid::Ack, vec![0x00]),
                other => panic!("no expectation for {other:?}"),
            };
            assert_eq!((packet.pid(), packet.into_payload()), expected, "{name}");
            seen += 1;
        }
        assert_eq!(seen, 2);
    }

    #[test]
    fn checksum_wraps_at_16_bits() {
        let payload = vec![0xFF; 256];
        let sum = checksum(0x02, 258, &payload);
        // PID 2, LEN 01 02, then 256 x FF: 65285, under 2^16.
        assert_eq!(u32::from(sum), 2 + 1 + 2 + 255 * 256);
        let wrapped = checksum(0x02, 258, &[0xFF; 300][..258]);
        assert_eq!(u32::from(wrapped), (5 + 255 * 258) % 65536, "258 x FF overflows 16 bits");
        let packet = Packet::new(0x1234_5678, Pid::Data, payload).unwrap();
        assert_eq!(Packet::parse(&packet.encode()).unwrap(), packet);
    }

    #[test]
    fn rejects_packet_with_bad_checksum() {
        let mut p = hex(OK_ACK);
        p[11] = 0x0B;
        assert_eq!(Packet::parse(&p), Err(PacketError::BadChecksum { found: 0x000B, computed: 0x000A }));
    }

    #[test]
    fn rejects_packet_with_bad_start_code() {
        let p = hex("EF 02 FF FF FF FF 07 00 03 00 00 0A");
        assert_eq!(Packet::parse(&p), Err(PacketError::BadStartCode { found: hex("EF 02") }));
        assert!(Packet::parse(&p).unwrap_err().to_string().contains("EF 02"));
        assert_eq!(Packet::parse(b"x"), Err(PacketError::BadStartCode { found: b"x".to_vec() }));
    }

    #[test]
    fn rejects_truncated_packets() {
        let p = hex(OK_ACK);
        for cut in 0..p.len() {
            let needed = if cut < HEADER_LEN { HEADER_LEN } else { p.len() };
            assert_eq!(Packet::parse(&p[..cut]), Err(PacketError::Truncated { needed, available: cut }), "cut {cut}");
        }
    }

    #[test]
    fn rejects_packets_whose_len_disagrees_with_their_size() {
        let mut long = hex(OK_ACK);
        long.push(0);
        assert_eq!(Packet::parse(&long), Err(PacketError::WrongLength { declared: 3, expected: 12, actual: 13 }));
        let short = hex("EF 01 FF FF FF FF 07 00 02 00 09");
        assert_eq!(
            Packet::parse(&short),
            Err(PacketError::LengthOutOfRange { declared: 2, min: MIN_LEN, max: MAX_LEN })
        );
        let huge = hex("EF 01 FF FF FF FF 02 01 03");
        assert_eq!(
            Packet::parse(&huge),
            Err(PacketError::LengthOutOfRange { declared: 259, min: MIN_LEN, max: MAX_LEN })
        );
    }

    #[test]
    fn rejects_unknown_packet_identifiers() {
        assert_eq!(Packet::parse(&hex("EF 01 FF FF FF FF 05 00 03 00 00 08")), Err(PacketError::UnknownPid(0x05)));
    }

    #[test]
    fn payloads_must_fit_a_packet() {
        assert_eq!(Packet::new(0, Pid::Data, vec![]), Err(PacketError::PayloadLength(0)));
        assert_eq!(Packet::new(0, Pid::Data, vec![0; 257]), Err(PacketError::PayloadLength(257)));
    }

    #[test]
    fn debug_never_shows_data_bytes() {
        let data = Packet::new(0, Pid::Data, vec![0xAB; 32]).unwrap();
        assert_eq!(format!("{data:?}"), "Packet(00000000 Data, 32 bytes)");
        let cmd = Packet::new(DEFAULT_ADDRESS, Pid::Command, vec![0x01]).unwrap();
        assert_eq!(format!("{cmd:?}"), "Packet(FFFFFFFF Command 01)");
    }
}
