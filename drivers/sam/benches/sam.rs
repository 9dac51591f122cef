//! `cargo bench -p examgate-sam --bench sam`: how fast a 30 01 reply (1295
//! bytes) is parsed, against copying the same bytes in the same run, and how
//! long a whole card read takes through the simulator on a pseudo-terminal.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use examgate_device_sdk::idcard::{CardSource, IdentityCard};
use examgate_device_sdk::{DeviceClass, DeviceInfo, IdCardReader};
use examgate_sam::{
    BaudRate, CardData, FrameDecoder, ReadLayout, ReadOptions, SamClient, SamReader, SamReply, SerialTransport, Timing,
    decode_reply_file, device_id_for,
};
use examgate_sim::card_file::CardFile;
use examgate_sim::sam::{SamSimulator, SimCard};
use examgate_sim::testing::{ROUND_TIME, ROUNDS, percentiles, rate};

const READS: usize = 400;
const PLACEMENTS: usize = 60;

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reply = std::fs::read(manifest.join("tests/data/reply_30_01_resident.bin")).expect("golden reply");
    assert_eq!(reply.len(), 1295);

    let mut copy = vec![0u8; reply.len()];
    let memcpy = rate(|| {
        copy.copy_from_slice(black_box(&reply));
        black_box(&copy);
    });
    let frame = rate(|| {
        let r = SamReply::parse(black_box(&reply)).expect("parses");
        black_box(CardData::parse(ReadLayout::TextPhoto, &r.data).expect("a card"));
    });
    let mut decoder = FrameDecoder::new();
    let stream = rate(|| {
        decoder.push(black_box(&reply));
        let raw = decoder.next_frame().expect("a frame").expect("valid");
        black_box(SamReply::parse(raw.as_bytes()).expect("parses"));
    });
    let card = rate(|| {
        black_box(decode_reply_file(black_box(&reply)).expect("a card"));
    });

    println!("## 30 01 reply, 1295 bytes (median of {ROUNDS} rounds of {ROUND_TIME:?})\n");
    println!("| what | frames/s | MB/s | time per frame | vs memcpy |");
    println!("|---|---:|---:|---:|---:|");
    for (what, r) in [
        ("memcpy of the 1295 bytes (baseline)", memcpy),
        ("frame parse: `SamReply::parse` + `CardData::parse`", frame),
        ("streaming: `FrameDecoder` push + next_frame + parse", stream),
        ("to a card: `decode_reply_file` (text block parsed)", card),
    ] {
        println!("| {what} | {:.0} | {:.0} | {:.0} ns | {:.1}x |", r, r * 1295.0 / 1e6, 1e9 / r, memcpy / r);
    }

    // A whole card read: find, select, read 30 01, through a pty.
    let file = CardFile::load(manifest.join("../../simulators/cards/resident.toml")).expect("sample card");
    let sim = SamSimulator::new(vec![SimCard::from(&file)]);
    sim.insert(0).expect("card 1");
    let pty = sim.spawn_pty().expect("a pseudo-terminal");
    let path = pty.path().to_str().expect("utf-8 path").to_owned();
    let transport = SerialTransport::open(path.clone(), BaudRate::B115200).expect("opens");
    let info = DeviceInfo { id: device_id_for(&path), name: "bench".into(), classes: DeviceClass::IdCard.into() };
    let options = ReadOptions { timing: Timing::default(), ..ReadOptions::default() };
    let mut reader = SamReader::new(SamClient::new(Box::new(transport), options.timing), info, options).expect("SAM");
    for _ in 0..20 {
        reader.read_card(Duration::from_secs(5)).expect("warm-up read");
    }
    let parsed = |reader: &mut SamReader| {
        let read = reader.read_card(Duration::from_secs(5)).expect("read");
        let card = IdentityCard::from_read(&read, CardSource::Sam).expect("parses");
        assert_eq!(card.fields.as_ref(), Some(&file.fields));
    };
    let whole = percentiles((0..READS).map(|_| {
        let start = Instant::now();
        parsed(&mut reader);
        start.elapsed()
    }));

    // Card placed on the reader -> parsed card, with the default 100 ms find-card poll: the
    // card goes down at a pseudo-random point of the poll cycle, as a hand would put it.
    let poll = ReadOptions::default().poll_interval;
    let mut phase = 0x9E37_79B9_7F4A_7C15_u64;
    let placed = percentiles((0..PLACEMENTS).map(|_| {
        sim.remove();
        phase ^= phase << 13;
        phase ^= phase >> 7;
        phase ^= phase << 17;
        std::thread::scope(|s| {
            let before = sim.commands();
            let waiting = s.spawn(|| {
                parsed(&mut reader);
                Instant::now()
            });
            // The reader is polling (a find came and found nothing).
            assert!(sim.wait_for_commands(before + 1, Duration::from_secs(5)));
            std::thread::sleep(poll.mul_f64((phase % 1000) as f64 / 1000.0));
            let start = Instant::now();
            sim.insert(0).expect("card 1");
            waiting.join().expect("reader thread") - start
        })
    }));

    println!("\n## Card read through the PTY simulator: find, select, 30 01, text block parsed\n");
    println!("| what | n | p50 | p90 | p99 | max |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!("| `read_card` + parse, card on the reader | {READS} | {whole} |");
    println!("| card placed -> parsed card ({poll:?} find poll) | {PLACEMENTS} | {placed} |");
    println!(
        "\n(For scale: 1295 bytes take {:?} on a real 115200-baud line; a pty has no line time.)",
        BaudRate::B115200.line_time(1295)
    );
}
