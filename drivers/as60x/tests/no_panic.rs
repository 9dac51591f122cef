//! No byte string makes the codec panic: the packet parser, the command
//! parser and the streaming decoder, however the bytes are cut into reads;
//! nor the simulator, fed the same bytes through its serving loop.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use examgate_as60x::{Command, Packet, PacketDecoder, SysParams};
use examgate_sim::as60x::{As60xConfig, As60xSimulator};
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

/// A port that hands the simulator `input` in pieces, collects its replies,
/// and stops the serving loop once the input is used up.
struct Script<'a> {
    input: &'a [u8],
    cut: usize,
    output: Vec<u8>,
    stop: &'a AtomicBool,
}

impl Read for Script<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            self.stop.store(true, Ordering::Relaxed);
            return Err(io::ErrorKind::TimedOut.into());
        }
        let n = self.cut.max(1).min(self.input.len()).min(buf.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl Write for Script<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The simulator serves `bytes`; whatever it answers decodes as packets.
fn simulate(bytes: &[u8], cut: usize) {
    let sim = As60xSimulator::new(As60xConfig { finger: Some(1), ..As60xConfig::default() });
    let stop = AtomicBool::new(false);
    let mut port = Script { input: bytes, cut, output: Vec::new(), stop: &stop };
    sim.serve(&mut port, &stop).unwrap();
    let mut d = PacketDecoder::new();
    d.push(&port.output);
    while let Some(p) = d.next_packet() {
        assert!(p.is_ok(), "the simulator wrote a broken packet: {p:?}");
    }
    assert_eq!(d.buffered(), 0);
}

/// Valid commands with arbitrary parameters, between arbitrary bytes.
fn commandish() -> impl Strategy<Value = Vec<u8>> {
    let command = (any::<u8>().prop_map(|i| i % 0x20), proptest::collection::vec(any::<u8>(), 0..8), any::<bool>())
        .prop_map(|(instruction, params, data)| {
            let payload = [&[instruction][..], &params].concat();
            let pid = if data { examgate_as60x::Pid::EndData } else { examgate_as60x::Pid::Command };
            Packet::new(0xFFFF_FFFF, pid, payload).unwrap().encode()
        });
    let piece = prop_oneof![3 => command, 1 => proptest::collection::vec(any::<u8>(), 0..16)];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
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

    #[test]
    fn the_simulator_never_panics_and_always_answers_in_packets(bytes in commandish(), cut in 1usize..64) {
        simulate(&bytes, cut);
    }

    #[test]
    fn the_simulator_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        simulate(&bytes, 97);
    }
}
