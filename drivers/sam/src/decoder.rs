//! Frames out of a byte stream: partial reads are buffered, garbage before
//! a preamble is skipped, and a broken frame costs one error and a resync.

use crate::frame::{FrameError, HEADER_LEN, MAX_LEN, MIN_LEN, PREAMBLE, checksum};

/// One whole frame whose envelope checked out (preamble, LEN, CHK).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    bytes: Vec<u8>,
}

impl RawFrame {
    /// Every byte of the frame, preamble to CHK.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A streaming GA 467 frame decoder.
///
/// ```
/// use examgate_sam::FrameDecoder;
/// let mut d = FrameDecoder::new();
/// d.push(&[0x00, 0x13, 0xAA, 0xAA, 0xAA, 0x96]); // garbage, then half a frame
/// assert!(d.next_frame().is_none());
/// d.push(&[0x69, 0x00, 0x04, 0x00, 0x00, 0x41, 0x45]);
/// let frame = d.next_frame().unwrap().unwrap();
/// assert_eq!(frame.as_bytes().len(), 11);
/// assert_eq!(d.skipped(), 2);
/// ```
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    skipped: u64,
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next frame, an error for a broken one (after which decoding goes
    /// on from the byte after its preamble), or `None` until more bytes come.
    pub fn next_frame(&mut self) -> Option<Result<RawFrame, FrameError>> {
        match find_preamble(&self.buf) {
            Some(start) => self.drop_front(start),
            None => {
                // Keep a tail that may be the start of a preamble.
                let keep = (1..PREAMBLE.len()).rev().find(|&n| self.buf.ends_with(&PREAMBLE[..n])).unwrap_or(0);
                self.drop_front(self.buf.len() - keep);
                return None;
            }
        }
        if self.buf.len() < HEADER_LEN {
            return None;
        }
        let declared = usize::from(u16::from_be_bytes([self.buf[5], self.buf[6]]));
        if !(MIN_LEN..=MAX_LEN).contains(&declared) {
            self.drop_front(1);
            return Some(Err(FrameError::LengthOutOfRange { declared, min: MIN_LEN, max: MAX_LEN }));
        }
        let total = HEADER_LEN + declared;
        if self.buf.len() < total {
            return None;
        }
        let (found, computed) = (self.buf[total - 1], checksum(&self.buf[PREAMBLE.len()..total - 1]));
        if found != computed {
            self.drop_front(1);
            return Some(Err(FrameError::BadChecksum { found, computed }));
        }
        let rest = self.buf.split_off(total);
        let bytes = std::mem::replace(&mut self.buf, rest);
        Some(Ok(RawFrame { bytes }))
    }

    /// Give up on a frame that stopped arriving (a timeout): skip its
    /// preamble so that a whole frame buffered behind it can be found.
    pub fn abandon_partial(&mut self) {
        if find_preamble(&self.buf) == Some(0) {
            self.drop_front(1);
        }
    }

    /// Drop everything buffered (before sending a new command).
    pub fn clear(&mut self) {
        self.skipped += self.buf.len() as u64;
        self.buf.clear();
    }

    /// Bytes buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes thrown away as garbage or as parts of broken frames, in all.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    fn drop_front(&mut self, n: usize) {
        self.skipped += n as u64;
        self.buf.drain(..n);
    }
}

fn find_preamble(buf: &[u8]) -> Option<usize> {
    buf.windows(PREAMBLE.len()).position(|w| w == PREAMBLE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::SamReply;
    use crate::status::Status;

    const FAILURE: [u8; 11] = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x41, 0x45];

    fn drain(d: &mut FrameDecoder) -> Vec<Result<RawFrame, FrameError>> {
        std::iter::from_fn(|| d.next_frame()).collect()
    }

    #[test]
    fn decodes_a_frame_fed_one_byte_at_a_time() {
        let reply = SamReply::new(Status::Success, vec![7; 1284]).encode();
        let mut d = FrameDecoder::new();
        for (i, b) in reply.iter().enumerate() {
            d.push(&[*b]);
            let got = d.next_frame();
            assert_eq!(got.is_some(), i == reply.len() - 1, "byte {i}");
            if let Some(frame) = got {
                assert_eq!(frame.unwrap().as_bytes(), &reply[..]);
            }
        }
        assert_eq!(d.skipped(), 0);
    }

    #[test]
    fn resyncs_on_the_preamble_after_garbage() {
        let mut d = FrameDecoder::new();
        d.push(&[0xAA, 0xAA, 0x00, 0xAA, 0xAA, 0xAA, 0xAA, 0x96]);
        assert!(d.next_frame().is_none());
        d.push(&FAILURE[4..]);
        let frames = drain(&mut d);
        assert_eq!(frames, [Ok(RawFrame { bytes: FAILURE.to_vec() })]);
        assert_eq!(d.skipped(), 4);
    }

    #[test]
    fn reports_a_bad_checksum_and_finds_the_next_frame() {
        let mut broken = FAILURE;
        broken[9] = 0x40;
        let mut d = FrameDecoder::new();
        d.push(&broken);
        d.push(&FAILURE);
        let frames = drain(&mut d);
        assert_eq!(
            frames,
            [Err(FrameError::BadChecksum { found: 0x45, computed: 0x44 }), Ok(RawFrame { bytes: FAILURE.to_vec() })]
        );
    }

    #[test]
    fn reports_an_impossible_len_and_resyncs() {
        let mut d = FrameDecoder::new();
        d.push(&[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0xFF, 0xFF]);
        d.push(&FAILURE);
        let frames = drain(&mut d);
        assert!(matches!(frames[0], Err(FrameError::LengthOutOfRange { declared: 0xFFFF, .. })));
        assert_eq!(frames[1], Ok(RawFrame { bytes: FAILURE.to_vec() }));
    }

    #[test]
    fn abandoning_a_stalled_frame_uncovers_the_one_behind_it() {
        let mut d = FrameDecoder::new();
        // A frame whose LEN (0x0100) swallowed the whole next frame.
        d.push(&[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x01, 0x00, 0x00]);
        d.push(&FAILURE);
        assert!(d.next_frame().is_none());
        d.abandon_partial();
        assert_eq!(drain(&mut d), [Ok(RawFrame { bytes: FAILURE.to_vec() })]);
    }

    #[test]
    fn keeps_at_most_a_preamble_prefix_of_garbage() {
        let mut d = FrameDecoder::new();
        d.push(&[0x13; 10_000]);
        d.push(&[0xAA, 0xAA]);
        assert!(d.next_frame().is_none());
        assert_eq!(d.buffered(), 2);
    }
}
