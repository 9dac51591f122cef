//! The driver against the AS60x simulator on a pseudo-terminal, in process:
//! captures in every packet size, matches, no finger, poor captures, a
//! wrong password, broken and lost replies, every confirmation code, the
//! library, and a module unplugged mid-capture that comes back. Nothing
//! here sleeps: tests await the simulator's counters; the timeouts only
//! guard against a hang.

use std::path::PathBuf;
use std::time::Duration;

use examgate_as60x::{
    As60xClient, As60xFactory, As60xReader, As60xSelector, BaudRate, CharBuffer, ConfirmError, FORMAT_NAME, PacketSize,
    Password, ReaderOptions, SerialPortEntry, SerialTransport, Timing, Verdict, device_id_for,
};
use examgate_device_sdk::{
    DeviceClass, DeviceError, DeviceInfo, DriverFactory, ErrorKind, FingerprintReader, Template, TemplateFormat,
};
use examgate_sim::as60x::{As60xConfig, As60xFault, As60xSimHandle, As60xSimulator, PoorReason};

/// Long enough never to fire on a loaded machine; only a hang reaches it.
const GUARD: Duration = Duration::from_secs(20);
const GEN_IMG: u8 = 0x01;
const IMG2TZ: u8 = 0x02;
const MATCH: u8 = 0x03;
const UP_CHAR: u8 = 0x08;

struct Rig {
    reader: As60xReader,
    // Dropped last: stops the simulator and removes the link.
    handle: As60xSimHandle,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn sim(&self) -> &As60xSimulator {
        self.handle.simulator()
    }
}

fn options() -> ReaderOptions {
    ReaderOptions { poll_interval: Duration::from_millis(5), ..ReaderOptions::default() }
}

fn rig_with(config: As60xConfig, password: Password, options: ReaderOptions) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyAS608");
    let handle = As60xSimulator::new(config).spawn_pty(Some(link.clone())).unwrap();
    let reader = reader_on(&link, password, options);
    Rig { reader, handle, _dir: dir }
}

fn reader_on(link: &std::path::Path, password: Password, options: ReaderOptions) -> As60xReader {
    let path = link.to_str().unwrap();
    let transport = SerialTransport::new(path, BaudRate::default());
    let client = As60xClient::new(Box::new(transport), 0xFFFF_FFFF, password, options.timing);
    let info =
        DeviceInfo { id: device_id_for(path), name: "test AS608".into(), classes: DeviceClass::Fingerprint.into() };
    As60xReader::new(client, info, options)
}

fn rig() -> Rig {
    rig_with(As60xConfig::default(), Password(0), options())
}

/// The error of a call that must fail (without printing a template).
fn error<T>(r: Result<T, DeviceError>) -> DeviceError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn native(data: Vec<u8>) -> Template {
    Template::new(TemplateFormat::Vendor(FORMAT_NAME.into()), data)
}

#[test]
fn captures_the_module_template_in_every_packet_size() {
    for size in [32, 64, 128, 256] {
        let config = As60xConfig { packet_size: size, finger: Some(2), ..As60xConfig::default() };
        let mut rig = rig_with(config, Password(0), options());
        let t = rig.reader.get_template(GUARD).unwrap();
        assert_eq!(t.format, TemplateFormat::Vendor("as60x".into()));
        assert_eq!(t.data, rig.sim().template_for(2, 1), "packet size {size}");
        let params = rig.reader.client().params().unwrap();
        assert_eq!(params.packet_size, PacketSize::from_bytes(size).unwrap());
        assert_eq!((params.library_size, params.security_level, params.baud()), (300, 3, 57_600));
        assert_eq!(rig.sim().counters().uploads, 1);
    }
}

#[test]
fn one_finger_matches_above_800_and_two_fingers_below() {
    let mut rig = rig();
    let mut capture = |finger| {
        rig.sim().place_finger(finger).unwrap();
        rig.reader.get_template(GUARD).unwrap()
    };
    let (a1, a2, b) = (capture(1), capture(1), capture(2));
    let same = rig.reader.match_templates(&a1, &a2).unwrap();
    let other = rig.reader.match_templates(&a1, &b).unwrap();
    assert!(same.is_match(), "same finger scored {same}");
    assert!(!other.is_match(), "two fingers scored {other}");
    let raw = As60xSimulator::match_score(&a1.data, &a2.data);
    assert_eq!(
        rig.reader
            .compare(
                &examgate_as60x::NativeTemplate::new(&a1.data).unwrap(),
                &examgate_as60x::NativeTemplate::new(&a2.data).unwrap()
            )
            .unwrap(),
        examgate_as60x::MatchOutcome { verdict: Verdict::Match, score: raw },
        "the module's own score"
    );
    assert_eq!(rig.sim().counters().matches, 3);
}

#[test]
fn templates_of_other_formats_or_lengths_are_refused() {
    let mut rig = rig();
    let good = native(rig.sim().template_for(1, 1));
    let short = native(vec![0x5A; 7]);
    assert_eq!(error(rig.reader.match_templates(&short, &good)).kind(), ErrorKind::InvalidArgument);
    let iso = Template::new(TemplateFormat::Iso19794_2, good.data.clone());
    let err = error(rig.reader.match_templates(&good, &iso));
    assert_eq!(err.kind(), ErrorKind::FormatMismatch);
    assert!(err.to_string().contains("iso19794-2"), "{err}");
    assert_eq!(rig.sim().counters().packets, 0, "refused before anything was sent");
}

#[test]
fn garbage_of_the_right_length_scores_low() {
    let mut rig = rig();
    let good = native(rig.sim().template_for(1, 1));
    let score = rig.reader.match_templates(&native(vec![0x5A; 512]), &good).unwrap();
    assert_eq!(score.get(), 1);
}

#[test]
fn no_finger_is_no_finger() {
    let mut rig = rig();
    assert_eq!(error(rig.reader.get_template(Duration::from_millis(50))), DeviceError::NoFinger);
    assert!(!rig.reader.finger_present().unwrap());
    rig.sim().place_finger(1).unwrap();
    assert!(rig.reader.finger_present().unwrap());
}

#[test]
fn waits_for_a_finger_placed_during_the_capture() {
    let Rig { mut reader, handle, _dir } = rig();
    let sim = handle.simulator().clone();
    let capturing = std::thread::spawn(move || reader.get_template(GUARD).map(|t| t.data));
    // The reader is polling: GenImg came twice and found no finger.
    assert!(sim.wait_for(GUARD, |c| c.captures >= 2));
    sim.place_finger(3).unwrap();
    assert_eq!(capturing.join().unwrap().unwrap(), sim.template_for(3, 1));
}

#[test]
fn poor_captures_say_why_and_a_retry_succeeds() {
    let mut rig = rig();
    rig.sim().place_finger(1).unwrap();
    for (reason, words) in [
        (PoorReason::CaptureFailed, "could not take an image"),
        (PoorReason::TooDry, "too dry"),
        (PoorReason::TooWet, "too wet"),
        (PoorReason::TooMessy, "too messy"),
        (PoorReason::TooFewFeatures, "too few features"),
    ] {
        rig.sim().poor_quality(1, reason);
        let err = error(rig.reader.get_template(GUARD));
        assert_eq!(err.kind(), ErrorKind::PoorQuality, "{reason}");
        assert!(err.to_string().contains(words), "{reason}: {err}");
        rig.reader.get_template(GUARD).unwrap();
    }
}

#[test]
fn a_wrong_password_is_a_driver_error_a_retry_cannot_fix() {
    let config = As60xConfig { password: 0x1234, finger: Some(1), ..As60xConfig::default() };
    let Rig { mut reader, handle, _dir } = rig_with(config, Password(0), options());
    let err = error(reader.get_template(GUARD));
    assert_eq!(err.kind(), ErrorKind::Driver, "{err}");
    assert!(err.to_string().contains("password="), "{err}");
    assert_eq!(error(reader.enabled()).kind(), ErrorKind::Driver);
    drop(reader); // the port is exclusive

    let link = handle.port().unwrap();
    let factory = As60xFactory::with_options(As60xSelector::path(link.to_str().unwrap()), options());
    let id = factory.discover().unwrap().remove(0).id;
    assert_eq!(error(factory.open(&id)).kind(), ErrorKind::Driver);
    let selector = format!("as60x:{}?password=0x1234", link.display()).parse().unwrap();
    let mut device = As60xFactory::with_options(selector, options()).open(&id).unwrap();
    device.as_fingerprint().unwrap().get_template(GUARD).unwrap();
}

#[test]
fn a_module_unplugged_mid_capture_is_not_connected_then_comes_back() {
    let Rig { mut reader, mut handle, _dir } = rig();
    let sim = handle.simulator().clone();
    assert!(reader.enabled().unwrap());
    let capturing = std::thread::spawn(move || {
        let got = reader.get_template(GUARD);
        (reader, got)
    });
    assert!(sim.wait_for(GUARD, |c| c.captures >= 2), "the reader polls for a finger");
    handle.unplug().unwrap();
    let (mut reader, got) = capturing.join().unwrap();
    let err = error(got);
    assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
    assert!(!reader.enabled().unwrap(), "unplugged");
    assert_eq!(error(reader.get_template(GUARD)).kind(), ErrorKind::NotConnected);

    handle.plug().unwrap();
    sim.place_finger(4).unwrap();
    let t = reader.get_template(GUARD).unwrap();
    assert_eq!(t.data, sim.template_for(4, 1));
    assert!(reader.enabled().unwrap());
}

/// Every documented confirmation code as the answer to Img2Tz: the SDK
/// error, and how many commands the driver spent (its retry policy).
#[test]
fn every_confirmation_code_gives_its_error_and_retry_policy() {
    let mut rig = rig();
    rig.sim().place_finger(1).unwrap();
    assert!(rig.reader.enabled().unwrap(), "greeted before counting");
    for failure in ConfirmError::DOCUMENTED.into_iter().chain([ConfirmError::Undocumented(0x42)]) {
        let code = failure.code();
        for _ in 0..3 {
            rig.sim().inject(As60xFault::Fail(code), Some(IMG2TZ));
        }
        let before = rig.sim().counters().packets;
        let err = error(rig.reader.get_template(GUARD));
        let spent = rig.sim().counters().packets - before;
        rig.sim().clear_faults();
        assert_eq!(err.kind(), failure.to_device_error().kind(), "code {code:02X}: {err}");
        // GenImg, then Img2Tz: three times for 01 (the module got a broken packet), else once.
        assert_eq!(spent, if code == 0x01 { 4 } else { 2 }, "code {code:02X}");
    }
}

#[test]
fn broken_and_lost_replies_are_asked_for_again() {
    let opts =
        ReaderOptions { timing: Timing { answer: Duration::from_millis(300), ..Timing::default() }, ..options() };
    let mut rig = rig_with(As60xConfig { finger: Some(5), ..As60xConfig::default() }, Password(0), opts);
    rig.sim().inject(As60xFault::GarbageBeforeReply(vec![0xEF, 0x01, 0x13, 0xEF, 0x00, 0xFF]), Some(GEN_IMG));
    rig.sim().inject(As60xFault::CorruptReply, Some(UP_CHAR));
    rig.sim().inject(As60xFault::DropReply, Some(IMG2TZ));
    let before = rig.sim().counters().packets;
    let t = rig.reader.get_template(GUARD).unwrap();
    assert_eq!(t.data, rig.sim().template_for(5, 1));
    // VfyPwd, ReadSysPara, GenImg, Img2Tz (lost), Img2Tz, UpChar (corrupt ack), UpChar.
    assert_eq!(rig.sim().counters().packets - before, 7);
    assert!(rig.reader.client().skipped_bytes() >= 6);

    rig.sim().inject(As60xFault::Fail(0x15), Some(MATCH));
    let a = native(rig.sim().template_for(5, 1));
    assert!(rig.reader.match_templates(&a, &a).unwrap().is_match(), "a lost download is sent again");
    for _ in 0..3 {
        rig.sim().inject(As60xFault::DropReply, Some(MATCH));
    }
    assert_eq!(error(rig.reader.match_templates(&a, &a)).kind(), ErrorKind::Timeout);
}

#[test]
fn the_module_verdict_caps_the_score() {
    let mut rig = rig_with(As60xConfig::default(), Password(0), options());
    rig.sim().set_security_level(5).unwrap();
    let (a, b) = (rig.sim().template_for(1, 1), rig.sim().template_for(1, 2));
    let raw = As60xSimulator::match_score(&a, &b);
    let score = rig.reader.match_templates(&native(a.clone()), &native(b.clone())).unwrap();
    assert_eq!(score.is_match(), raw >= 80, "raw {raw}, level 5 needs 80: {score}");
    rig.sim().inject(As60xFault::Fail(0x08), Some(MATCH));
    let refused = rig.reader.match_templates(&native(a), &native(b)).unwrap();
    assert!(!refused.is_match() && refused.get() == 1, "the module said no: {refused}");
}

#[test]
fn enrols_searches_and_empties_the_library() {
    let mut rig = rig_with(As60xConfig { finger: Some(6), ..As60xConfig::default() }, Password(0), options());
    let client = rig.reader.client();
    for buffer in [CharBuffer::One, CharBuffer::Two] {
        assert_eq!(client.gen_img().unwrap(), examgate_as60x::Capture::Taken);
        client.img2tz(buffer).unwrap();
    }
    client.reg_model().unwrap();
    client.store(CharBuffer::One, 5).unwrap();
    assert_eq!(client.template_num().unwrap(), 1);
    let err = client.store(CharBuffer::One, 300).unwrap_err();
    assert_eq!(err.confirm(), Some(ConfirmError::PageOutOfRange));

    client.gen_img().unwrap();
    client.img2tz(CharBuffer::One).unwrap();
    let hit = client.search(CharBuffer::One, 0, 300).unwrap().expect("found");
    assert_eq!(hit.page, 5);
    assert!(hit.score >= 50, "{hit:?}");
    assert_eq!(client.search(CharBuffer::One, 6, 100).unwrap(), None);
    client.load_char(CharBuffer::Two, 5).unwrap();
    assert_eq!(client.load_char(CharBuffer::Two, 6).unwrap_err().confirm(), Some(ConfirmError::LibraryReadError));
    client.delete_char(5, 1).unwrap();
    assert_eq!(client.template_num().unwrap(), 0);
    client.store(CharBuffer::Two, 9).unwrap();
    client.empty().unwrap();
    assert_eq!(client.template_num().unwrap(), 0);
    assert_eq!(rig.sim().library_len(), 0);
}

#[test]
fn the_factory_opens_a_module_by_path_and_finds_one_behind_a_bridge() {
    let rig = rig_with(As60xConfig { finger: Some(1), ..As60xConfig::default() }, Password(0), options());
    let link: PathBuf = rig.handle.port().unwrap();
    let path = link.to_str().unwrap().to_owned();
    drop(rig.reader); // the port is exclusive

    let factory = As60xFactory::with_options(format!("as60x:{path}").parse().unwrap(), options());
    assert_eq!(factory.name(), "as60x");
    let found = factory.discover().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id.as_str(), path);
    let mut device = factory.open(&found[0].id).unwrap();
    device.as_fingerprint().unwrap().get_template(GUARD).unwrap();
    drop(device);

    struct Ports(Vec<SerialPortEntry>);
    impl examgate_as60x::PortLister for Ports {
        fn list(&self) -> Result<Vec<SerialPortEntry>, DeviceError> {
            Ok(self.0.clone())
        }
    }
    // A port where nothing answers: a pseudo-terminal whose other side stays silent.
    use serialport::SerialPort;
    let (_silent_master, silent) = serialport::TTYPort::pair().unwrap();
    let silent_path = silent.name().unwrap();
    drop(silent);
    let ports = Ports(vec![
        SerialPortEntry { path: path.clone(), usb: Some((0x1a86, 0x7523)) },
        SerialPortEntry { path: silent_path, usb: Some((0x10c4, 0xea60)) },
    ]);
    let auto = As60xFactory::with_options(As60xSelector::auto(), options()).with_lister(ports);
    let found = auto.discover().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].name.contains("CH340"), "{}", found[0].name);
    let mut device = auto.open(&found[0].id).unwrap();
    assert!(device.as_fingerprint().unwrap().enabled().unwrap());
    // Held open by this driver: still listed (the probe cannot tell it is ours, so it assumes so).
    assert_eq!(auto.discover().unwrap().len(), 1);
}
