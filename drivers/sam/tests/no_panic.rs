//! No byte string makes a parser panic: the frame parsers, the streaming
//! decoder (however the bytes are cut into reads) and the reply-file decoder.

use examgate_sam::{FrameDecoder, SamFrame, SamReply, decode_reply_file};
use proptest::prelude::*;

const PREAMBLE: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];

fn golden_reply() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reply_30_01_resident.bin")).unwrap()
}

/// Bytes rich in preambles and plausible LEN fields, so that the decoder's
/// deeper paths are reached, not only its garbage skipping.
fn frameish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(PREAMBLE.to_vec()),
        Just(vec![0x00, 0x04]),
        Just(vec![0x05, 0x08]),
        Just(vec![0xAA]),
        proptest::collection::vec(any::<u8>(), 0..12),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn decode_all(bytes: &[u8], cuts: &[usize]) -> usize {
    let mut d = FrameDecoder::new();
    let mut frames = 0;
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let end = (at + cut).min(bytes.len());
        d.push(&bytes[at..end]);
        at = end;
        while let Some(frame) = d.next_frame() {
            if let Ok(frame) = frame {
                // A frame the decoder returns has a valid envelope.
                assert!(frame.as_bytes().starts_with(&PREAMBLE));
                frames += 1;
            }
        }
        if at == bytes.len() {
            break;
        }
    }
    d.abandon_partial();
    while d.next_frame().is_some() {}
    frames
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2400)) {
        let _ = SamReply::parse(&bytes);
        let _ = SamFrame::parse(&bytes);
        let _ = decode_reply_file(&bytes);
        decode_all(&bytes, &[7, 1, 300]);
    }

    #[test]
    fn parsers_never_panic_on_frame_like_bytes(bytes in frameish(), cuts in proptest::collection::vec(0usize..64, 0..20)) {
        let _ = SamReply::parse(&bytes);
        let _ = SamFrame::parse(&bytes);
        let _ = decode_reply_file(&bytes);
        decode_all(&bytes, &cuts);
    }

    #[test]
    fn a_mutated_card_reply_never_panics(flips in proptest::collection::vec((0usize..1295, any::<u8>()), 1..6), cut in 0usize..1400) {
        let mut bytes = golden_reply();
        for (at, value) in flips {
            bytes[at] = value;
        }
        bytes.truncate(cut.max(1));
        let _ = decode_reply_file(&bytes);
        decode_all(&bytes, &[cut % 97 + 1]);
    }

    #[test]
    fn a_frame_behind_garbage_is_found_whatever_the_reads(
        garbage in proptest::collection::vec(any::<u8>().prop_filter("not a preamble byte", |b| *b != 0xAA), 0..300),
        cuts in proptest::collection::vec(1usize..200, 0..20),
    ) {
        let reply = golden_reply();
        let bytes = [&garbage[..], &reply[..]].concat();
        prop_assert_eq!(decode_all(&bytes, &cuts), 1);
    }
}
