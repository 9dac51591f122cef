//! ID cards through the real PC/SC stack: pcscd, vpcd, and the simulated
//! card speaking the vpcd protocol.

use std::time::Duration;

use examgate_device_sdk::idcard::{CardDate, CardFields, CardSource, CardType, IdentityCard, Nation, Sex};
use examgate_device_sdk::{DeviceId, DriverFactory, ErrorKind};
use examgate_e2e::pcscd::{Pcscd, SLOT0, SLOT0_ADDR, SLOT1, SLOT1_ADDR};
use examgate_pcsc_idcard::{PcscEvent, PcscIdCardFactory, PcscMonitor};
use examgate_sim::vpcd::{self, CardImage, CardProfile, Fault, VirtualCard};

fn person() -> CardFields {
    CardFields {
        card_type: CardType::Resident,
        name: "李小龙".into(),
        english_name: None,
        sex: Sex::Male,
        nation: Nation::from_code(1),
        birth_date: CardDate::new(1990, 3, 7).unwrap(),
        address: "广东省广州市天河区体育西路1号".into(),
        id_number: "110101199003074477".into(),
        issuer: "广州市公安局天河分局".into(),
        valid_from: CardDate::new(2020, 1, 1).unwrap(),
        valid_until: CardDate::new(2040, 1, 1),
        nationality: None,
    }
}

fn card(profile: CardProfile) -> VirtualCard {
    let mut photo = [0u8; 1024];
    for (i, b) in photo.iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    VirtualCard {
        image: CardImage {
            text: person().encode(),
            photo,
            chip_serial: [0x10, 0xE4, 0x10, 0x01, 0x02, 0x03, 0x04, 0x05],
            pupi: [0x12, 0x34, 0x56, 0x78],
        },
        profile,
    }
}

fn open(reader: &str) -> Box<dyn examgate_device_sdk::Device> {
    PcscIdCardFactory::new(Some(reader.into())).open(&DeviceId::new(reader).unwrap()).expect("open reader")
}

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn reads_decoded_and_identifier_cards_insert_remove_reinsert_and_survives_pcscd_restart() {
    let mut pcscd = Pcscd::start();
    let (tx, events) = std::sync::mpsc::channel();
    let _monitor = PcscMonitor::spawn(Some("Virtual PCD".into()), tx);
    let expect = |want: PcscEvent| {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match events.recv_timeout(left) {
                Ok(e) if e == want => return,
                Ok(_) => continue,
                Err(_) => panic!("no {want:?} event within {WAIT:?}"),
            }
        }
    };
    expect(PcscEvent::ReaderAdded(SLOT0.into()));

    // A decoded-card reader on slot 0, a bare card on slot 1: two readers at once.
    let decoded = vpcd::spawn(SLOT0_ADDR.into(), card(CardProfile::Decoded));
    let bare = vpcd::spawn(SLOT1_ADDR.into(), card(CardProfile::Identifiers));
    expect(PcscEvent::CardInserted(SLOT0.into()));
    let mut r0 = open(SLOT0);
    let mut r1 = open(SLOT1);

    let read = r0.as_idcard().unwrap().read_card(WAIT).expect("read decoded card");
    let id = IdentityCard::from_read(&read, CardSource::PcscDecoded).unwrap();
    let fields = id.fields.clone().expect("decoded fields");
    assert_eq!(fields, person());
    assert!(fields.id_number_valid());
    assert_eq!(id.chip_serial, vec![0x10, 0xE4, 0x10, 0x01, 0x02, 0x03, 0x04, 0x05]);
    assert_eq!(id.photo_wlt, card(CardProfile::Decoded).image.photo.to_vec());

    let read = r1.as_idcard().unwrap().read_card(WAIT).expect("read bare card");
    assert!(read.text.is_empty(), "identifiers only");
    assert_eq!(read.chip_serial.len(), 8);

    // Remove: presence goes false and a read waits, then reports no card.
    decoded.remove();
    expect(PcscEvent::CardRemoved(SLOT0.into()));
    wait_until(|| r0.as_idcard().unwrap().card_present() == Ok(false));
    let err = r0.as_idcard().unwrap().read_card(Duration::from_millis(300)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCard);

    // Re-insert: readable again.
    decoded.insert();
    expect(PcscEvent::CardInserted(SLOT0.into()));
    let again = r0.as_idcard().unwrap().read_card(WAIT).expect("read after re-insert");
    assert_eq!(again.text, read_text_of(&card(CardProfile::Decoded)));

    // Pulled mid-read: a clear error a retry can fix, then fine after re-insert.
    decoded.fault(Some(Fault::PullAtBlock(2)));
    let err = r0.as_idcard().unwrap().read_card(Duration::from_secs(1)).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::CardRemoved | ErrorKind::Protocol | ErrorKind::NoCard),
        "pulled card gave {err}"
    );
    assert_eq!(err.retry(), examgate_device_sdk::Retry::CanHelp);
    decoded.insert();
    r0.as_idcard().unwrap().read_card(WAIT).expect("read after the pulled card came back");

    // pcscd killed and restarted under the open readers: they recover by themselves.
    pcscd.restart();
    // The monitor follows pcscd going away and coming back.
    expect(PcscEvent::ReaderRemoved(SLOT0.into()));
    expect(PcscEvent::ReaderAdded(SLOT0.into()));
    let after = r0.as_idcard().unwrap().read_card(WAIT).expect("read after pcscd restart");
    assert_eq!(after.text, read_text_of(&card(CardProfile::Decoded)));
    drop(bare);
}

fn read_text_of(c: &VirtualCard) -> Vec<u8> {
    c.image.text.to_vec()
}

fn wait_until(mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("condition not reached within {WAIT:?}");
}

/// A card written by someone else: an independent Python vicc lays out the
/// text block by hand from protocols.md. The driver reads it field by field.
#[test]
fn reads_a_card_from_an_independent_virtual_card() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let _pcscd = Pcscd::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/vicc/decoded_card.py");
    let mut card = Command::new("python3")
        .args([script, SLOT1_ADDR.rsplit(':').next().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the independent card");
    let mut ready = String::new();
    BufReader::new(card.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    assert_eq!(ready.trim(), "ready");

    let mut reader = open(SLOT1);
    let read = reader.as_idcard().unwrap().read_card(WAIT).expect("read the independent card");
    let id = IdentityCard::from_read(&read, CardSource::PcscDecoded).unwrap();
    let f = id.fields.expect("decoded");
    assert_eq!(f.card_type, CardType::Resident);
    assert_eq!(f.name, "欧阳娜娜");
    assert_eq!(f.sex, Sex::Female);
    assert_eq!(f.nation.unwrap().label(), "维吾尔");
    assert_eq!(f.birth_date, CardDate::new(2000, 2, 29).unwrap());
    assert_eq!(f.address, "新疆维吾尔自治区喀什市人民东路12号");
    assert_eq!(f.id_number, "653101200002290024");
    assert!(f.id_number_valid());
    assert_eq!(f.issuer, "喀什市公安局");
    assert_eq!(f.valid_from, CardDate::new(2018, 3, 1).unwrap());
    assert_eq!(f.valid_until, CardDate::new(2038, 3, 1));
    assert_eq!(id.chip_serial, vec![1, 2, 3, 4, 5, 6, 7, 8]);
    let photo: Vec<u8> = (0..1024u32).map(|i| ((i * 13 + 7) % 256) as u8).collect();
    assert_eq!(id.photo_wlt, photo);

    drop(card.stdin.take());
    let _ = card.wait();
}
