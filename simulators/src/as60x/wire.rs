//! AS60x packets as the module sees them, written from protocols.md §2 on
//! its own (not with the driver's codec) so that the two check each other.
//!
//! `EF 01` · address (4) · PID · LEN (2, payload + 2) · payload · SUM (2: the
//! 16-bit sum of PID, LEN and payload), all big-endian.

pub(crate) const START: [u8; 2] = [0xEF, 0x01];
pub(crate) const PID_COMMAND: u8 = 0x01;
pub(crate) const PID_DATA: u8 = 0x02;
pub(crate) const PID_ACK: u8 = 0x07;
pub(crate) const PID_END: u8 = 0x08;
const HEADER: usize = 9;
/// A 256-byte data packet and SUM; a larger LEN is noise.
const MAX_LEN: usize = 258;

fn sum(pid: u8, len: u16, payload: &[u8]) -> u16 {
    let [hi, lo] = len.to_be_bytes();
    payload.iter().fold(u16::from(pid) + u16::from(hi) + u16::from(lo), |a, b| a.wrapping_add(u16::from(*b)))
}

/// One packet's bytes; `payload` holds 1..=256 bytes.
pub(crate) fn packet(address: u32, pid: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 2).expect("payloads are at most 256 bytes");
    let mut out = Vec::with_capacity(HEADER + payload.len() + 2);
    out.extend_from_slice(&START);
    out.extend_from_slice(&address.to_be_bytes());
    out.push(pid);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&sum(pid, len, payload).to_be_bytes());
    out
}

/// What arrived.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    Packet {
        address: u32,
        pid: u8,
        payload: Vec<u8>,
    },
    /// A packet with a bad SUM or an impossible LEN.
    Broken,
}

#[derive(Debug, Default)]
pub(crate) struct Inbox {
    pub buf: Vec<u8>,
}

impl Inbox {
    pub fn next(&mut self) -> Option<Incoming> {
        let Some(start) = self.buf.windows(2).position(|w| w == START) else {
            let keep = usize::from(self.buf.last() == Some(&START[0]));
            self.buf.drain(..self.buf.len() - keep);
            return None;
        };
        self.buf.drain(..start);
        if self.buf.len() < HEADER {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([self.buf[7], self.buf[8]]));
        if !(3..=MAX_LEN).contains(&len) {
            self.buf.drain(..2);
            return Some(Incoming::Broken);
        }
        if self.buf.len() < HEADER + len {
            return None;
        }
        let bytes: Vec<u8> = self.buf.drain(..HEADER + len).collect();
        let pid = bytes[6];
        let payload = &bytes[HEADER..HEADER + len - 2];
        let found = u16::from_be_bytes([bytes[HEADER + len - 2], bytes[HEADER + len - 1]]);
        if found != sum(pid, len as u16, payload) {
            return Some(Incoming::Broken);
        }
        let address = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        Some(Incoming::Packet { address, pid, payload: payload.to_vec() })
    }

    /// A packet has begun and not finished.
    pub fn stalled(&self) -> bool {
        self.buf.starts_with(&START)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
    }

    #[test]
    fn writes_the_golden_packets() {
        assert_eq!(packet(0xFFFF_FFFF, PID_COMMAND, &[0x01]), hex("EF 01 FF FF FF FF 01 00 03 01 00 05"));
        assert_eq!(packet(0xFFFF_FFFF, PID_ACK, &[0x00]), hex("EF 01 FF FF FF FF 07 00 03 00 00 0A"));
    }

    #[test]
    fn reads_packets_behind_garbage_and_flags_broken_ones() {
        let mut inbox = Inbox::default();
        inbox.buf.extend_from_slice(&[0x00, 0xEF, 0x13]);
        inbox.buf.extend(hex("EF 01 FF FF FF FF 01 00 03 01 00 06"));
        inbox.buf.extend(hex("EF 01 FF FF FF FF 01 00 03 01 00 05"));
        assert_eq!(inbox.next(), Some(Incoming::Broken));
        assert_eq!(inbox.next(), Some(Incoming::Packet { address: 0xFFFF_FFFF, pid: 1, payload: vec![1] }));
        assert_eq!(inbox.next(), None);
        inbox.buf.extend(hex("EF 01 FF FF FF FF 02 7F 00"));
        assert_eq!(inbox.next(), Some(Incoming::Broken));
    }
}
