//! ID card latency through the real PC/SC stack (pcscd + vpcd + the
//! simulated card), in one run:
//! - baseline: one `FF CA` APDU round trip through pcscd on a connected card;
//! - a whole card read (`read_card`: connect, 2 identifier APDUs, 6 FF B0 blocks);
//! - from the card's insertion (the monitor's event) to a parsed `IdentityCard`;
//! - parsing the 256-byte text block alone, against copying it.
//!
//! Run: `make bench-idcard` (or `cargo bench -p examgate-e2e --bench idcard`).
//! Needs pcscd and vsmartcard-vpcd installed; stops any running pcscd.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use examgate_device_sdk::idcard::{CardDate, CardFields, CardSource, CardType, IdentityCard, Nation, Sex};
use examgate_device_sdk::{DeviceId, DriverFactory};
use examgate_e2e::pcscd::{Pcscd, SLOT0, SLOT0_ADDR};
use examgate_pcsc_idcard::{PcscEvent, PcscIdCardFactory, PcscMonitor};
use examgate_sim::vpcd::{self, CardImage, CardProfile, VirtualCard};

fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort();
    samples[(samples.len() * p / 100).min(samples.len() - 1)]
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn main() {
    let fields = CardFields {
        card_type: CardType::Resident,
        name: "王五".into(),
        english_name: None,
        sex: Sex::Female,
        nation: Nation::from_code(5),
        birth_date: CardDate::new(1985, 6, 1).unwrap(),
        address: "新疆维吾尔自治区乌鲁木齐市天山区1号".into(),
        id_number: "440524188001010014".into(),
        issuer: "乌鲁木齐市公安局".into(),
        valid_from: CardDate::new(2019, 5, 1).unwrap(),
        valid_until: None,
        nationality: None,
    };
    let text = fields.encode();
    let card = VirtualCard {
        image: CardImage { text, photo: [0x33; 1024], chip_serial: [1, 2, 3, 4, 5, 6, 7, 8], pupi: [9, 9, 9, 9] },
        profile: CardProfile::Decoded,
    };

    let _pcscd = Pcscd::start();
    let (tx, events) = mpsc::channel();
    let _monitor = PcscMonitor::spawn(Some(SLOT0.into()), tx);
    let handle = vpcd::spawn(SLOT0_ADDR.into(), card);
    let wait_for = |want: PcscEvent| loop {
        if events.recv_timeout(Duration::from_secs(10)).expect("pcsc event") == want {
            return Instant::now();
        }
    };
    wait_for(PcscEvent::CardInserted(SLOT0.into()));
    let mut reader = PcscIdCardFactory::new(Some(SLOT0.into())).open(&DeviceId::new(SLOT0).unwrap()).expect("open");
    let rounds = 200;

    // Baseline: one APDU round trip through pcscd.
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let name = std::ffi::CString::new(SLOT0).unwrap();
    let raw = ctx.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY).unwrap();
    let mut buf = [0u8; 300];
    let mut apdu: Vec<Duration> = (0..rounds * 5)
        .map(|_| {
            let t = Instant::now();
            raw.transmit(&[0xFF, 0xCA, 0, 0, 0], &mut buf).unwrap();
            t.elapsed()
        })
        .collect();
    drop(raw);

    let mut reads: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            let read = reader.as_idcard().unwrap().read_card(Duration::from_secs(5)).expect("read");
            let parsed = IdentityCard::from_read(&read, CardSource::PcscDecoded).expect("parse");
            std::hint::black_box(parsed);
            t.elapsed()
        })
        .collect();

    // Insertion to parsed card: the agent's path when a candidate puts the card down.
    let mut inserted: Vec<Duration> = Vec::new();
    for _ in 0..20 {
        handle.remove();
        wait_for(PcscEvent::CardRemoved(SLOT0.into()));
        handle.insert();
        let seen = wait_for(PcscEvent::CardInserted(SLOT0.into()));
        let read = reader.as_idcard().unwrap().read_card(Duration::from_secs(5)).expect("read");
        std::hint::black_box(IdentityCard::from_read(&read, CardSource::PcscDecoded).expect("parse"));
        inserted.push(seen.elapsed());
    }

    let parse_rounds = 100_000;
    let t = Instant::now();
    for _ in 0..parse_rounds {
        std::hint::black_box(CardFields::parse(std::hint::black_box(&text)).unwrap());
    }
    let parse = t.elapsed() / parse_rounds;
    let t = Instant::now();
    for _ in 0..parse_rounds {
        std::hint::black_box(std::hint::black_box(&text).to_vec());
    }
    let copy = t.elapsed() / parse_rounds;

    let base = percentile(&mut apdu, 50);
    println!("ID card through pcscd + vpcd + simulated card ({rounds} reads)");
    println!("| path | p50 µs | p99 µs | ratio p50 to one APDU |");
    println!("|---|---|---|---|");
    println!("| one APDU round trip (baseline) | {} | {} | 1.0x |", us(base), us(percentile(&mut apdu, 99)));
    let r50 = percentile(&mut reads, 50);
    println!(
        "| read_card + parse (8 APDUs + connect) | {} | {} | {:.1}x |",
        us(r50),
        us(percentile(&mut reads, 99)),
        r50.as_secs_f64() / base.as_secs_f64()
    );
    let i50 = percentile(&mut inserted, 50);
    println!(
        "| card-present event to parsed card | {} | {} | {:.1}x |",
        us(i50),
        us(percentile(&mut inserted, 99)),
        i50.as_secs_f64() / base.as_secs_f64()
    );
    println!();
    println!(
        "text block parse: {:.0} ns ({:.1} M blocks/s), copy of the same 256 bytes: {:.0} ns; ratio {:.1}x",
        parse.as_nanos(),
        1e3 / parse.as_nanos().max(1) as f64,
        copy.as_nanos(),
        parse.as_secs_f64() / copy.as_secs_f64().max(1e-12)
    );
}
