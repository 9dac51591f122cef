//! The driver against the SAM simulator on a pseudo-terminal, in process:
//! reads of every sample card, no card, a card pulled mid-read, corrupt and
//! lost replies, slow replies, every SW3 failure. Nothing here sleeps; the
//! timeouts only guard against a hang.

use std::path::Path;
use std::time::Duration;

use examgate_device_sdk::idcard::{CardSource, IdentityCard};
use examgate_device_sdk::{DeviceClass, DeviceError, DeviceInfo, DriverFactory, ErrorKind, IdCardReader};
use examgate_sam::{
    BaudRate, Command, FrameDecoder, ReadLayout, ReadOptions, SamClient, SamFactory, SamReader, SamReply, SamSelector,
    SerialTransport, Status, Sw3Error, Timing, Transport, device_id_for,
};
use examgate_sim::card_file::CardFile;
use examgate_sim::sam::{PtySam, SAM_ID, SamFault, SamSimulator, SimCard, SlowReplies};

/// Long enough never to fire on a loaded machine; only a hang reaches it.
const GUARD: Duration = Duration::from_secs(20);
const FIND: [u8; 2] = [0x20, 0x01];
const SELECT: [u8; 2] = [0x20, 0x02];
const READ: [u8; 2] = [0x30, 0x01];

fn card_files() -> Vec<CardFile> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../simulators/cards");
    ["resident.toml", "foreigner-2023.toml", "hk-mo-tw.toml"]
        .iter()
        .map(|f| CardFile::load(dir.join(f)).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

struct Rig {
    sim: SamSimulator,
    reader: SamReader,
    cards: Vec<CardFile>,
    // Dropped last: stops the simulator thread.
    _pty: PtySam,
}

fn options() -> ReadOptions {
    ReadOptions {
        timing: Timing { answer: Duration::from_secs(5), ..Timing::default() },
        poll_interval: Duration::from_millis(5),
        ..ReadOptions::default()
    }
}

fn rig_with(options: ReadOptions) -> Rig {
    rig_from(card_files().iter().map(SimCard::from).collect(), options)
}

fn rig_from(sim_cards: Vec<SimCard>, options: ReadOptions) -> Rig {
    let cards = card_files();
    let sim = SamSimulator::new(sim_cards);
    let pty = sim.spawn_pty().unwrap();
    let transport = SerialTransport::open(pty.path().to_str().unwrap(), BaudRate::B115200).unwrap();
    let info = DeviceInfo {
        id: device_id_for(pty.path().to_str().unwrap()),
        name: "test SAM".into(),
        classes: DeviceClass::IdCard.into(),
    };
    let reader = SamReader::new(SamClient::new(Box::new(transport), options.timing), info, options).unwrap();
    Rig { sim, reader, cards, _pty: pty }
}

fn rig() -> Rig {
    rig_with(options())
}

/// The error of a call that must fail (without printing a card, which is personal data).
fn error<T>(r: Result<T, DeviceError>) -> DeviceError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn reads_every_sample_card_field_by_field() {
    let mut rig = rig();
    for (i, file) in rig.cards.clone().iter().enumerate() {
        rig.sim.insert(i).unwrap();
        let read = rig.reader.read_card(GUARD).unwrap();
        assert_eq!(read.chip_serial, file.chip_serial, "card {i}");
        assert_eq!(read.photo, file.photo, "card {i}");
        let card = IdentityCard::from_read(&read, CardSource::Sam).unwrap();
        assert_eq!(card.fields.as_ref(), Some(&file.fields), "card {i}");
        assert!(card.fields.unwrap().id_number_valid());
    }
}

#[test]
fn no_card_is_no_card() {
    let mut rig = rig();
    assert_eq!(error(rig.reader.read_card(Duration::ZERO)), DeviceError::NoCard);
    assert!(!rig.reader.card_present().unwrap());
    rig.sim.insert(0).unwrap();
    assert!(rig.reader.card_present().unwrap());
}

#[test]
fn waits_for_a_card_placed_during_the_read() {
    let Rig { sim, mut reader, _pty, .. } = rig();
    let before = sim.commands();
    let reading = std::thread::spawn(move || reader.read_card(GUARD));
    // The reader has asked for a card and found none: now place one.
    assert!(sim.wait_for_commands(before + 2, GUARD));
    sim.insert(1).unwrap();
    let read = reading.join().unwrap().unwrap();
    assert_eq!(read.chip_serial, [0x10, 0xE4, 0x20, 0x01, 0x02, 0x03, 0x04, 0x06]);
}

#[test]
fn a_card_pulled_during_the_read_is_reported_removed() {
    let mut rig = rig();
    rig.sim.insert(0).unwrap();
    rig.sim.inject(SamFault::PullDuringRead);
    assert_eq!(error(rig.reader.read_card(GUARD)), DeviceError::CardRemoved);
    assert_eq!(rig.sim.inserted(), None);
}

#[test]
fn a_failed_read_is_retried_and_succeeds() {
    let mut rig = rig();
    rig.sim.insert(0).unwrap();
    rig.sim.inject_on(READ, SamFault::Fail(0x41));
    rig.sim.inject_on(SELECT, SamFault::Fail(0x81));
    let before = rig.sim.commands();
    rig.reader.read_card(GUARD).unwrap();
    // find, select (81); find, select, read (41); find, select, read.
    assert_eq!(rig.sim.commands() - before, 8);
}

#[test]
fn corrupt_and_garbled_replies_are_asked_for_again() {
    let mut rig = rig();
    rig.sim.insert(2).unwrap();
    rig.sim.inject_on(READ, SamFault::CorruptReply);
    rig.sim.inject_on(FIND, SamFault::GarbageBeforeReply(vec![0xAA, 0xAA, 0x13, 0x96, 0x69, 0x00]));
    rig.sim.inject_on(SELECT, SamFault::GarbageBeforeReply(vec![0xAA, 0xAA, 0xAA, 0x96, 0x69, 0xFF, 0xFF]));
    let before = rig.sim.commands();
    let read = rig.reader.read_card(GUARD).unwrap();
    assert_eq!(read.chip_serial, rig.cards[2].chip_serial);
    assert_eq!(rig.sim.commands() - before, 4, "find, select, read (corrupt), read again");
    assert!(rig.reader.client().skipped_bytes() >= 13);
}

#[test]
fn a_lost_reply_is_asked_for_again() {
    let mut options = options();
    options.timing.answer = Duration::from_millis(300);
    let mut rig = rig_with(options);
    rig.sim.insert(0).unwrap();
    rig.sim.inject_on(READ, SamFault::DropReply);
    rig.reader.read_card(GUARD).unwrap();
}

#[test]
fn a_silent_sam_times_out() {
    let mut options = options();
    options.timing.answer = Duration::from_millis(100);
    let mut rig = rig_with(options);
    rig.sim.insert(0).unwrap();
    for _ in 0..3 {
        rig.sim.inject_on(FIND, SamFault::DropReply);
    }
    let err = error(rig.reader.read_card(GUARD));
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains("find card (20 01)"), "{err}");
}

#[test]
fn slow_replies_in_small_pieces_are_put_together() {
    let mut rig = rig();
    rig.sim.insert(0).unwrap();
    rig.sim.set_slow(SlowReplies {
        delay: Duration::from_millis(20),
        chunk_len: 7,
        chunk_gap: Duration::from_millis(1),
    });
    let read = rig.reader.read_card(GUARD).unwrap();
    assert_eq!(read.photo, rig.cards[0].photo);
}

/// For every documented failure code, as the answer to every 30 01: the SDK
/// error, and how many commands the driver spent (so its retry policy).
#[test]
fn every_sw3_failure_gives_its_error_and_retry_policy() {
    let mut rig = rig();
    rig.sim.insert(0).unwrap();
    for failure in Sw3Error::DOCUMENTED {
        let code = failure.code();
        for _ in 0..20 {
            rig.sim.inject_on(READ, SamFault::Fail(code));
        }
        let before = rig.sim.commands();
        let err = error(rig.reader.read_card(GUARD));
        let spent = rig.sim.commands() - before;
        rig.sim.clear_faults();
        let expected_kind = failure.to_device_error().kind();
        assert_eq!(err.kind(), expected_kind, "SW3 {code:02X}: {err}");
        let expected_spent = match code {
            // The SAM got a broken frame: the read goes 3 times, then the line is blamed.
            0x10 | 0x11 => 2 + 3,
            // Retry helps: 3 find-select-read sequences, then a find to tell a pulled card.
            0x24 | 0x31 | 0x32 | 0x33 | 0x41 | 0x47 | 0x81 | 0xFF => 3 * 3 + 1,
            // No retry: find, select, read.
            _ => 3,
        };
        assert_eq!(spent, expected_spent, "SW3 {code:02X}");
    }
}

#[test]
fn reads_text_photo_and_fingerprints_with_30_10() {
    let cards = card_files();
    let mut card = SimCard::from(&cards[0]);
    card.fingerprint = vec![0x5A; 512];
    let mut rig = rig_from(vec![card], ReadOptions { layout: ReadLayout::TextPhotoFingerprint, ..options() });
    rig.sim.insert(0).unwrap();
    let card = rig.reader.read(GUARD).unwrap();
    assert_eq!(card.data.fingerprint, vec![0x5A; 512]);
    assert_eq!(card.data.text, cards[0].fields.encode());
}

#[test]
fn sam_id_reset_and_appended_address() {
    let mut rig = rig();
    let client = rig.reader.client();
    assert_eq!(client.sam_id().unwrap(), SAM_ID);
    client.reset_sam().unwrap();
    rig.sim.insert(0).unwrap();
    let client = rig.reader.client();
    client.find_card().unwrap();
    client.select_card().unwrap();
    assert_eq!(client.appended_address().unwrap().as_deref(), Some("北京市海淀区中关村大街27号"));
    rig.sim.insert(2).unwrap();
    let client = rig.reader.client();
    client.find_card().unwrap();
    client.select_card().unwrap();
    assert_eq!(client.appended_address().unwrap(), None, "SW3 91: no appended address");
}

/// The simulator's own error replies, seen through the driver's transport
/// and decoder.
#[test]
fn the_simulator_answers_broken_commands_with_their_sw3() {
    let sim = SamSimulator::new(Vec::new());
    let pty = sim.spawn_pty().unwrap();
    let mut port = SerialTransport::open(pty.path().to_str().unwrap(), BaudRate::B115200).unwrap();
    let mut exchange = |bytes: &[u8]| {
        port.send(bytes).unwrap();
        let mut decoder = FrameDecoder::new();
        let mut buf = [0u8; 256];
        loop {
            if let Some(frame) = decoder.next_frame() {
                return SamReply::parse(frame.unwrap().as_bytes()).unwrap();
            }
            let n = port.recv(&mut buf, GUARD).unwrap();
            assert!(n > 0, "no reply");
            decoder.push(&buf[..n]);
        }
    };
    let mut bad_checksum = Command::SamStatus.frame().encode();
    bad_checksum[9] ^= 0x01;
    assert_eq!(exchange(&bad_checksum).status, Status::Failed(Sw3Error::Checksum));
    assert_eq!(exchange(&[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x7F, 0x00]).status, Status::Failed(Sw3Error::Length));
    let unknown = examgate_sam::SamFrame { cmd: 0x55, para: 0x01, data: vec![] }.encode();
    assert_eq!(exchange(&unknown).status, Status::Failed(Sw3Error::BadCommand));
    assert_eq!(exchange(&Command::FindCard.frame().encode()).status, Status::Failed(Sw3Error::FindCardFailed));
}

#[test]
fn the_factory_discovers_and_opens_a_sam_on_a_port() {
    let cards = card_files();
    let sim = SamSimulator::new(cards.iter().map(SimCard::from).collect());
    sim.insert(0).unwrap();
    let pty = sim.spawn_pty().unwrap();
    let selector: SamSelector = format!("sam:serial:{}", pty.path().display()).parse().unwrap();
    let factory = SamFactory::new(selector, options());
    assert_eq!(factory.name(), "sam");
    let found = factory.discover().unwrap();
    assert_eq!(found.len(), 1);
    let mut device = factory.open(&found[0].id).unwrap();
    let read = device.as_idcard().unwrap().read_card(GUARD).unwrap();
    assert_eq!(read.chip_serial, cards[0].chip_serial);
}

#[test]
fn opening_a_port_where_no_sam_answers_is_not_connected() {
    let sim = SamSimulator::new(Vec::new());
    for _ in 0..3 {
        sim.inject(SamFault::DropReply);
    }
    let pty = sim.spawn_pty().unwrap();
    let selector: SamSelector = format!("sam:serial:{}", pty.path().display()).parse().unwrap();
    let mut options = options();
    options.timing.answer = Duration::from_millis(100);
    let factory = SamFactory::new(selector, options);
    let id = factory.discover().unwrap().remove(0).id;
    let err = error(factory.open(&id));
    assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
    assert!(err.to_string().contains("no GA 467 SAM answers"), "{err}");
}
