//! No byte string makes the codec panic: the packet parser, the command
//! parser and the streaming decoder, however the bytes are cut into reads.

use examgate_as60x::{Command, Packet, PacketDecoder, SysParams};
use proptest::prelude::*;

const START: [u8; 2] = [0xEF, 0x01];

/// Bytes rich in start codes, known PIDs and plausible LEN fields, so that
/// the decoder's deeper paths are reached, not only its garbage skipping.
fn packetish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(START.to_vec()),
        Just(vec![0xFF, 0xFF, 0xFF, 0xFF]),
        Just(vec![0x01]),
        Just(vec![0x02]),
        Just(vec![0x07]),
        Just(vec![0x08]),
        Just(vec![0x00, 0x03]),
        Just(vec![0x00, 0x82]),
        Just(vec![0xEF]),
        proptest::collection::vec(any::<u8>(), 0..12),
    ];
    proptest::collection::vec(piece, 0..48).prop_map(|v| v.concat())
}

fn decode_all(bytes: &[u8], cuts: &[usize]) -> usize {
    let mut d = PacketDecoder::new();
    let mut packets = 0;
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let end = (at + cut).min(bytes.len());
        d.push(&bytes[at..end]);
        at = end;
        while let Some(packet) = d.next_packet() {
            if let Ok(packet) = packet {
                // What the decoder returns encodes back to a valid packet.
                assert_eq!(Packet::parse(&packet.encode()).as_ref(), Ok(&packet));
                let _ = Command::parse(packet.payload());
                let _ = SysParams::parse(packet.payload().get(1..).unwrap_or_default());
                packets += 1;
            }
        }
        if at == bytes.len() {
            break;
        }
    }
    d.abandon_partial();
    while d.next_packet().is_some() {}
    packets
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..800)) {
        let _ = Packet::parse(&bytes);
        let _ = Command::parse(&bytes);
        let _ = SysParams::parse(&bytes);
        decode_all(&bytes, &[7, 1, 300]);
    }

    #[test]
    fn parsers_never_panic_on_packet_like_bytes(bytes in packetish(), cuts in proptest::collection::vec(0usize..64, 0..20)) {
        let _ = Packet::parse(&bytes);
        decode_all(&bytes, &cuts);
    }

    #[test]
    fn a_packet_behind_garbage_is_found_whatever_the_reads(
        garbage in proptest::collection::vec(any::<u8>().prop_filter("not a start byte", |b| *b != 0xEF), 0..300),
        payload in proptest::collection::vec(any::<u8>(), 1..=256),
        cuts in proptest::collection::vec(1usize..100, 0..20),
    ) {
        let packet = Packet::new(0xFFFF_FFFF, examgate_as60x::Pid::Data, payload).unwrap();
        let bytes = [&garbage[..], &packet.encode()[..]].concat();
        prop_assert_eq!(decode_all(&bytes, &cuts), 1);
    }

    #[test]
    fn a_mutated_packet_stream_never_panics(
        flips in proptest::collection::vec((0usize..600, any::<u8>()), 1..8),
        cut in 1usize..600,
    ) {
        let mut bytes = Vec::new();
        for size in [32, 64, 128, 256] {
            Packet::new(0xFFFF_FFFF, examgate_as60x::Pid::Data, vec![0x5A; size]).unwrap().encode_into(&mut bytes);
        }
        for (at, value) in flips {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        bytes.truncate(cut);
        let _ = Packet::parse(&bytes);
        decode_all(&bytes, &[cut % 37 + 1]);
    }
}
