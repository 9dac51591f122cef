//! `cargo bench -p examgate-as60x --bench as60x`: how fast packets are
//! parsed, against copying the same bytes in the same run; how long a
//! capture (GenImg, Img2Tz, UpChar) and a match (2 x DownChar, Match) take
//! through the simulator on a pseudo-terminal; and the simulator's genuine
//! and impostor scores that the calibration rests on.

use std::hint::black_box;
use std::time::{Duration, Instant};

use examgate_as60x::{
    As60xClient, As60xReader, BaudRate, Calibration, CharBuffer, MatchOutcome, NativeTemplate, Packet, PacketDecoder,
    Pid, ReaderOptions, SerialTransport, Verdict, device_id_for,
};
use examgate_device_sdk::{DeviceClass, DeviceInfo};
use examgate_sim::as60x::{As60xConfig, As60xSimulator, match_threshold};
use examgate_sim::testing::{ROUND_TIME, ROUNDS, percentiles, rate};

const CAPTURES: usize = 300;
const MATCHES: usize = 300;
const FINGERS: u32 = 40;
const IMPRESSIONS: u64 = 4;

fn reader_on(path: &str) -> As60xReader {
    let options = ReaderOptions::default();
    let transport = SerialTransport::new(path, BaudRate::default());
    let client = As60xClient::new(Box::new(transport), 0xFFFF_FFFF, Default::default(), options.timing);
    let info = DeviceInfo { id: device_id_for(path), name: "bench".into(), classes: DeviceClass::Fingerprint.into() };
    As60xReader::new(client, info, options)
}

fn parse_rates(template: &[u8]) {
    // What UpChar puts on the line at the default packet size: an ack, then 4 x 128 bytes.
    let mut upload = Packet::new(0xFFFF_FFFF, Pid::Ack, vec![0]).expect("ack").encode();
    let chunks: Vec<&[u8]> = template.chunks(128).collect();
    for (i, c) in chunks.iter().enumerate() {
        let pid = if i + 1 == chunks.len() { Pid::EndData } else { Pid::Data };
        Packet::new(0xFFFF_FFFF, pid, c.to_vec()).expect("data").encode_into(&mut upload);
    }
    let one = Packet::new(0xFFFF_FFFF, Pid::Data, template[..128].to_vec()).expect("data").encode();

    let mut copy = vec![0u8; upload.len()];
    let memcpy_upload = rate(|| {
        copy.copy_from_slice(black_box(&upload));
        black_box(&copy);
    });
    let mut copy_one = vec![0u8; one.len()];
    let memcpy_one = rate(|| {
        copy_one.copy_from_slice(black_box(&one));
        black_box(&copy_one);
    });
    let parse_one = rate(|| {
        black_box(Packet::parse(black_box(&one)).expect("parses"));
    });
    let mut decoder = PacketDecoder::new();
    let stream = rate(|| {
        decoder.push(black_box(&upload));
        let mut template = Vec::with_capacity(512);
        while let Some(p) = decoder.next_packet() {
            let p = p.expect("valid");
            if p.pid() != Pid::Ack {
                template.extend_from_slice(p.payload());
            }
        }
        black_box(NativeTemplate::new(&template).expect("512 bytes"));
    });

    println!("## Packet parsing (median of {ROUNDS} rounds of {ROUND_TIME:?})\n");
    println!("| what | bytes | per second | MB/s | time each | vs memcpy |");
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |what: &str, bytes: usize, r: f64, base: f64| {
        println!(
            "| {what} | {bytes} | {r:.0} | {:.0} | {:.0} ns | {:.1}x |",
            r * bytes as f64 / 1e6,
            1e9 / r,
            base / r
        );
    };
    row("memcpy of one 128-byte data packet (baseline)", one.len(), memcpy_one, memcpy_one);
    row("`Packet::parse` of that packet (envelope, LEN, sum)", one.len(), parse_one, memcpy_one);
    row("memcpy of a whole UpChar reply (baseline)", upload.len(), memcpy_upload, memcpy_upload);
    row("`PacketDecoder`: UpChar reply to a `NativeTemplate`", upload.len(), stream, memcpy_upload);
}

fn pty_latencies() {
    println!("\n## Through the simulator on a pseudo-terminal\n");
    println!("| what | n | p50 | p90 | p99 | max |");
    println!("|---|---:|---:|---:|---:|---:|");
    for size in [32, 128, 256] {
        let sim = As60xSimulator::new(As60xConfig { packet_size: size, finger: Some(1), ..As60xConfig::default() });
        let handle = sim.spawn_pty(None).expect("a pseudo-terminal");
        let path = handle.port().expect("plugged").to_str().expect("utf-8").to_owned();
        let mut reader = reader_on(&path);
        for _ in 0..20 {
            reader.capture(Duration::from_secs(5)).expect("warm-up capture");
        }
        let captures = percentiles((0..CAPTURES).map(|_| {
            let start = Instant::now();
            black_box(reader.capture(Duration::from_secs(5)).expect("capture"));
            start.elapsed()
        }));
        println!("| capture: GenImg, Img2Tz, UpChar ({size}-byte packets) | {CAPTURES} | {captures} |");
        if size == 128 {
            let a = NativeTemplate::new(&sim.template_for(1, 1)).expect("template");
            let b = NativeTemplate::new(&sim.template_for(1, 2)).expect("template");
            for _ in 0..20 {
                reader.compare(&a, &b).expect("warm-up match");
            }
            let matches = percentiles((0..MATCHES).map(|_| {
                let start = Instant::now();
                black_box(reader.compare(&a, &b).expect("match"));
                start.elapsed()
            }));
            println!("| match: 2 x DownChar, Match (128-byte packets) | {MATCHES} | {matches} |");
            let client = reader.client();
            let downloads = percentiles((0..MATCHES).map(|_| {
                let start = Instant::now();
                client.down_char(CharBuffer::One, &a).expect("download");
                client.down_char(CharBuffer::Two, &b).expect("download");
                client.template_num().expect("a round trip behind the downloads");
                start.elapsed()
            }));
            println!("| of which 2 x DownChar (+ TemplateNum round trip) | {MATCHES} | {downloads} |");
            let on_module = percentiles((0..MATCHES).map(|_| {
                let start = Instant::now();
                black_box(As60xSimulator::match_score(a.as_bytes(), b.as_bytes()));
                start.elapsed()
            }));
            println!("| of which the simulator's matcher alone (in process) | {MATCHES} | {on_module} |");
        }
    }
    let line = BaudRate::default();
    println!(
        "\n(For scale: on a real 57600-baud line an UpChar reply at 128-byte packets ({} bytes) takes {:?} and \
         two DownChars {:?}; a real module also spends hundreds of ms in GenImg and Img2Tz. A pty has no line time.)",
        12 + 4 * 139,
        line.line_time(12 + 4 * 139),
        line.line_time(2 * (13 + 12 + 4 * 139)),
    );
}

fn calibration() {
    let sim = As60xSimulator::default();
    let templates: Vec<Vec<Vec<u8>>> =
        (1..=FINGERS).map(|f| (1..=IMPRESSIONS).map(|i| sim.template_for(f, i)).collect()).collect();
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for (f, these) in templates.iter().enumerate() {
        for (i, a) in these.iter().enumerate() {
            for b in &these[i + 1..] {
                genuine.push(As60xSimulator::match_score(a, b));
            }
            for others in &templates[f + 1..] {
                for b in others {
                    impostor.push(As60xSimulator::match_score(a, b));
                }
            }
        }
    }
    genuine.sort();
    impostor.sort();
    let at = |v: &[u16], p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
    let threshold = match_threshold(3);
    let calibration = Calibration::default();
    let scaled = |raw: u16| {
        let verdict = if raw >= threshold { Verdict::Match } else { Verdict::NoMatch };
        calibration.score(MatchOutcome { verdict, score: raw })
    };
    let false_rejects = genuine.iter().filter(|s| !scaled(**s).is_match()).count();
    let false_accepts = impostor.iter().filter(|s| scaled(**s).is_match()).count();

    println!("\n## Simulated module scores ({FINGERS} fingers x {IMPRESSIONS} impressions, seed {:#x})\n", 0xE6A7E);
    println!("| pairs | n | min | p1 | p10 | p50 | p90 | max |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (what, v) in [("genuine (one finger)", &genuine), ("impostor (two fingers)", &impostor)] {
        println!(
            "| {what} | {} | {} | {} | {} | {} | {} | {} |",
            v.len(),
            v[0],
            at(v, 0.01),
            at(v, 0.10),
            at(v, 0.50),
            at(v, 0.90),
            v[v.len() - 1]
        );
    }
    println!(
        "\nModule threshold (level 3): raw {threshold}. Calibration floor {} -> 801, ceiling {} -> 1000. \
         Above 800: {false_rejects} of {} genuine pairs rejected ({:.2} %), {false_accepts} of {} impostor pairs accepted.",
        calibration.floor,
        calibration.ceiling,
        genuine.len(),
        100.0 * false_rejects as f64 / genuine.len() as f64,
        impostor.len(),
    );
    println!(
        "Calibrated: genuine p10 {} / p50 {}, impostor max {}.",
        scaled(at(&genuine, 0.10)),
        scaled(at(&genuine, 0.50)),
        scaled(impostor[impostor.len() - 1])
    );
}

fn main() {
    let template = As60xSimulator::default().template_for(1, 1);
    parse_rates(&template);
    pty_latencies();
    calibration();
}
