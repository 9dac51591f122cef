//! Packets out of a byte stream: partial reads are buffered, garbage before
//! a start code is skipped, and a broken packet costs one error and a resync
//! from the byte after its start code.

use crate::packet::{HEADER_LEN, Header, Packet, PacketError, START};

/// A streaming AS60x packet decoder.
///
/// ```
/// use examgate_as60x::{PacketDecoder, Pid};
/// let mut d = PacketDecoder::new();
/// d.push(&[0x13, 0x37, 0xEF, 0x01, 0xFF, 0xFF]); // garbage, then part of an ack
/// assert!(d.next_packet().is_none());
/// d.push(&[0xFF, 0xFF, 0x07, 0x00, 0x03, 0x00, 0x00, 0x0A]);
/// let ack = d.next_packet().unwrap().unwrap();
/// assert_eq!((ack.pid(), ack.payload()), (Pid::Ack, &[0x00][..]));
/// assert_eq!(d.skipped(), 2);
/// ```
#[derive(Debug, Default)]
pub struct PacketDecoder {
    buf: Vec<u8>,
    /// Bytes before `start` are consumed; drained lazily to keep pushes cheap.
    start: usize,
    skipped: u64,
}

impl PacketDecoder {
    pub fn new() -> PacketDecoder {
        PacketDecoder::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// The next packet, an error for a broken one (after which decoding goes
    /// on from the byte after its start code), or `None` until more bytes come.
    pub fn next_packet(&mut self) -> Option<Result<Packet, PacketError>> {
        match find_start(self.pending()) {
            Some(at) => self.skip(at),
            None => {
                // Keep a last EF: it may begin a start code.
                let keep = usize::from(self.pending().last() == Some(&START[0]));
                self.skip(self.pending().len() - keep);
                return None;
            }
        }
        let bytes = self.pending();
        if bytes.len() < HEADER_LEN {
            return None;
        }
        let header = match Header::read(bytes) {
            Ok(h) => h,
            Err(e) => {
                self.skip(1);
                return Some(Err(e));
            }
        };
        let total = header.total();
        if bytes.len() < total {
            return None;
        }
        if let Err(e) = header.check_sum(bytes) {
            self.skip(1);
            return Some(Err(e));
        }
        let packet = header.packet(bytes);
        self.start += total;
        Some(Ok(packet))
    }

    /// Give up on a packet that stopped arriving (a timeout): skip its start
    /// code so that a whole packet buffered behind it can be found.
    pub fn abandon_partial(&mut self) {
        if find_start(self.pending()) == Some(0) {
            self.skip(1);
        }
    }

    /// Drop everything buffered (before sending a new command).
    pub fn clear(&mut self) {
        self.skipped += self.pending().len() as u64;
        self.buf.clear();
        self.start = 0;
    }

    /// Bytes buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.pending().len()
    }

    /// Bytes thrown away as garbage or as parts of broken packets, in all.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    fn skip(&mut self, n: usize) {
        self.skipped += n as u64;
        self.start += n;
    }
}

fn find_start(buf: &[u8]) -> Option<usize> {
    buf.windows(START.len()).position(|w| w == START)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{DEFAULT_ADDRESS, Pid};

    const OK_ACK: [u8; 12] = [0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x00, 0x03, 0x00, 0x00, 0x0A];

    fn ok_ack() -> Packet {
        Packet::new(DEFAULT_ADDRESS, Pid::Ack, vec![0]).unwrap()
    }

    fn drain(d: &mut PacketDecoder) -> Vec<Result<Packet, PacketError>> {
        std::iter::from_fn(|| d.next_packet()).collect()
    }

    #[test]
    fn decodes_a_packet_fed_one_byte_at_a_time() {
        let data = Packet::new(7, Pid::EndData, (0..=255).collect()).unwrap();
        let bytes = data.encode();
        let mut d = PacketDecoder::new();
        for (i, b) in bytes.iter().enumerate() {
            d.push(&[*b]);
            let got = d.next_packet();
            assert_eq!(got.is_some(), i == bytes.len() - 1, "byte {i}");
            if let Some(p) = got {
                assert_eq!(p.unwrap(), data);
            }
        }
        assert_eq!(d.skipped(), 0);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn resyncs_on_the_start_code_after_garbage() {
        let mut d = PacketDecoder::new();
        d.push(&[0xEF, 0x00, 0x01, 0xEF, 0xEF]);
        assert!(d.next_packet().is_none());
        d.push(&OK_ACK[1..]);
        assert_eq!(drain(&mut d), [Ok(ok_ack())]);
        assert_eq!(d.skipped(), 4);
    }

    #[test]
    fn reports_a_bad_checksum_and_finds_the_next_packet() {
        let mut broken = OK_ACK;
        broken[11] = 0x0B;
        let mut d = PacketDecoder::new();
        d.push(&broken);
        d.push(&OK_ACK);
        assert_eq!(drain(&mut d), [Err(PacketError::BadChecksum { found: 0x0B, computed: 0x0A }), Ok(ok_ack())]);
    }

    #[test]
    fn reports_an_impossible_len_or_pid_and_resyncs() {
        let mut d = PacketDecoder::new();
        d.push(&[0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0xFF, 0xFF]);
        d.push(&[0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x09, 0x00, 0x03]);
        d.push(&OK_ACK);
        let got = drain(&mut d);
        assert!(matches!(got[0], Err(PacketError::LengthOutOfRange { declared: 0xFFFF, .. })));
        assert_eq!(got[1], Err(PacketError::UnknownPid(0x09)));
        assert_eq!(got[2], Ok(ok_ack()));
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn abandoning_a_stalled_packet_uncovers_the_one_behind_it() {
        let mut d = PacketDecoder::new();
        // LEN 0x0100 swallows the ack behind it.
        d.push(&[0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0x01, 0x00, 0x55]);
        d.push(&OK_ACK);
        assert!(d.next_packet().is_none());
        d.abandon_partial();
        assert_eq!(drain(&mut d), [Ok(ok_ack())]);
    }

    #[test]
    fn keeps_at_most_a_start_code_prefix_of_garbage() {
        let mut d = PacketDecoder::new();
        d.push(&[0x13; 10_000]);
        d.push(&[0xEF]);
        assert!(d.next_packet().is_none());
        assert_eq!(d.buffered(), 1);
        d.clear();
        assert_eq!(d.buffered(), 0);
        assert_eq!(d.skipped(), 10_001);
    }

    #[test]
    fn many_packets_in_one_push() {
        let mut d = PacketDecoder::new();
        let mut bytes = Vec::new();
        for i in 0..100u8 {
            Packet::new(1, Pid::Data, vec![i; 32]).unwrap().encode_into(&mut bytes);
        }
        d.push(&bytes);
        let got = drain(&mut d);
        assert_eq!(got.len(), 100);
        assert!(got.iter().enumerate().all(|(i, p)| p.as_ref().unwrap().payload() == [i as u8; 32]));
    }
}
