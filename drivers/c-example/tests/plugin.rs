//! The C example plugin, loaded through the real C ABI: calibration,
//! refusal of malformed input, and the simulated reader's behaviour beyond
//! what the conformance suite (run in examgate-e2e) checks.
//!
//! Every test shares the one copy of the library this process maps, and
//! with it the reader's state, so they take turns (`fixture`).

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use examgate_c_example::{DEVICE_ID, NAME, TEMPLATE_LEN, plugin_path};
use examgate_device_sdk::abi::{self, EgDevice, EgMsg, EgPlugin, EgStr};
use examgate_device_sdk::loader::PluginLibrary;
use examgate_device_sdk::{
    Device, DeviceId, DriverFactory, ErrorKind, FingerprintReader, SimCommand, Template, TemplateFormat,
};

static TURN: Mutex<()> = Mutex::new(());

/// The loaded plugin, this test's turn, and the reader reset: plugged, no
/// finger, no scripted failures.
fn fixture() -> (MutexGuard<'static, ()>, PluginLibrary) {
    let turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let lib = PluginLibrary::load(&plugin_path()).expect("load the C example plugin");
    let raw = Raw::load();
    let dev = raw.open().expect("open through the raw ABI");
    for cmd in ["plug", "lift", "poor-quality 0"] {
        assert_eq!(raw.control(dev, cmd), (abi::EG_OK, String::new()), "{cmd}");
    }
    raw.close(dev);
    (turn, lib)
}

fn id() -> DeviceId {
    DeviceId::new(DEVICE_ID).expect("valid id")
}

fn open(lib: &PluginLibrary) -> Box<dyn Device> {
    lib.open(&id()).expect("open c-fp-0")
}

fn fp(device: &mut Box<dyn Device>) -> &mut dyn FingerprintReader {
    device.as_fingerprint().expect("a fingerprint reader")
}

fn sim(device: &mut Box<dyn Device>, command: SimCommand) {
    device.as_sim().expect("sim hooks").control(&command).expect("sim command");
}

fn capture(device: &mut Box<dyn Device>, finger: u32) -> Template {
    sim(device, SimCommand::PlaceFinger(finger));
    fp(device).get_template(Duration::from_secs(1)).expect("capture")
}

#[test]
fn genuine_and_impostor_scores_separate_over_many_fingers() {
    let (_turn, lib) = fixture();
    let mut device = open(&lib);
    let prints: Vec<Vec<Template>> =
        (1..=30).map(|finger| (0..3).map(|_| capture(&mut device, finger)).collect()).collect();
    let mut genuine_min = u16::MAX;
    let mut impostor_max = 0;
    for (f, these) in prints.iter().enumerate() {
        for (i, a) in these.iter().enumerate() {
            for b in &these[i + 1..] {
                genuine_min = genuine_min.min(fp(&mut device).match_templates(a, b).unwrap().get());
            }
            for others in &prints[f + 1..] {
                for b in others {
                    impostor_max = impostor_max.max(fp(&mut device).match_templates(a, b).unwrap().get());
                }
            }
        }
    }
    // Genuine distances sit near 20 bits (score ~940), impostors near 128
    // (~530): both bounds hold with many standard deviations to spare.
    assert!(genuine_min > 850, "weakest genuine score {genuine_min}");
    assert!(impostor_max < 750, "strongest impostor score {impostor_max}");
}

#[test]
fn templates_are_the_documented_vendor_format() {
    let (_turn, lib) = fixture();
    let mut device = open(&lib);
    let t = capture(&mut device, 4);
    assert_eq!(t.format, TemplateFormat::Vendor(NAME.into()));
    assert_eq!(t.data.len(), TEMPLATE_LEN);
    assert_eq!(&t.data[..5], b"CXFP\x01");
    assert_eq!(t.data[5], t.quality);
    assert!((70..=95).contains(&t.quality), "quality {}", t.quality);
    assert_eq!(u16::from_le_bytes([t.data[6], t.data[7]]), 256);
    let same = fp(&mut device).match_templates(&t, &t).unwrap();
    assert_eq!(same.get(), 1000);
}

#[test]
fn malformed_templates_are_refused_with_the_reason() {
    let (_turn, lib) = fixture();
    let mut device = open(&lib);
    let good = capture(&mut device, 2);
    let with = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut t = good.clone();
        edit(&mut t.data);
        t
    };
    let cases: [(Template, ErrorKind, &str); 7] = [
        (with(&|d| d.truncate(39)), ErrorKind::InvalidArgument, "probe template is 39 bytes"),
        (with(&|d| d[0] = b'X'), ErrorKind::InvalidArgument, "magic"),
        (with(&|d| d[4] = 2), ErrorKind::InvalidArgument, "version 2"),
        (with(&|d| d[7] = 0), ErrorKind::InvalidArgument, "0 feature bits"),
        (with(&|d| d[5] = 200), ErrorKind::InvalidArgument, "quality 200"),
        (Template::new(TemplateFormat::Iso19794_2, good.data.clone()), ErrorKind::FormatMismatch, "format code 1"),
        (
            Template::new(TemplateFormat::Vendor("examgate-sim".into()), good.data.clone()),
            ErrorKind::FormatMismatch,
            "\"examgate-sim\"",
        ),
    ];
    for (probe, kind, reason) in cases {
        let err = fp(&mut device).match_templates(&probe, &good).unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.to_string().contains(reason), "expected {reason:?} in: {err}");
    }
    let err = fp(&mut device).match_templates(&good, &with(&|d| d.push(0))).unwrap_err();
    assert!(err.to_string().contains("enrolled template is 41 bytes"), "{err}");
}

#[test]
fn capture_without_a_finger_waits_for_the_timeout() {
    let (_turn, lib) = fixture();
    let mut device = open(&lib);
    let started = Instant::now();
    let err = fp(&mut device).get_template(Duration::from_millis(200)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoFinger, "{err}");
    // It waited for a finger rather than failing at once (a lower bound only:
    // the no_finger kind above already shows the wait ended).
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(200), "{waited:?}");
}

#[test]
fn a_finger_placed_during_a_capture_ends_the_wait() {
    let (_turn, lib) = fixture();
    let mut waiting = open(&lib);
    let mut scripting = open(&lib);
    let capture = std::thread::spawn(move || fp(&mut waiting).get_template(Duration::from_secs(30)));
    sim(&mut scripting, SimCommand::PlaceFinger(5));
    // A template (not no_finger) means the placed finger ended the wait.
    let t = capture.join().expect("capture thread").expect("a template once the finger is down");
    assert_eq!(t.data.len(), TEMPLATE_LEN);
}

#[test]
fn unplug_ends_a_waiting_capture() {
    let (_turn, lib) = fixture();
    let mut waiting = open(&lib);
    let mut scripting = open(&lib);
    let capture = std::thread::spawn(move || fp(&mut waiting).get_template(Duration::from_secs(30)));
    sim(&mut scripting, SimCommand::Unplug);
    let err = capture.join().expect("capture thread").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
    sim(&mut scripting, SimCommand::Plug);
}

#[test]
fn an_unplugged_reader_disappears_until_plugged_back() {
    let (_turn, lib) = fixture();
    let mut device = open(&lib);
    sim(&mut device, SimCommand::Unplug);
    assert_eq!(lib.discover().unwrap(), vec![]);
    assert_eq!(lib.open(&id()).err().map(|e| e.kind()), Some(ErrorKind::NotConnected));
    assert!(!fp(&mut device).enabled().unwrap());
    assert_eq!(fp(&mut device).finger_present().unwrap_err().kind(), ErrorKind::NotConnected);
    // Matching is computation only: it needs no sensor.
    let t = Template::new(TemplateFormat::Vendor(NAME.into()), {
        let mut d = b"CXFP\x01\x50\x00\x01".to_vec();
        d.resize(TEMPLATE_LEN, 0xA5);
        d
    });
    assert_eq!(fp(&mut device).match_templates(&t, &t).unwrap().get(), 1000);
    sim(&mut device, SimCommand::Plug);
    assert_eq!(lib.discover().unwrap().len(), 1);
    assert!(fp(&mut device).enabled().unwrap());
}

#[test]
fn reader_state_survives_close_and_reopen() {
    let (_turn, lib) = fixture();
    let mut first = open(&lib);
    sim(&mut first, SimCommand::PlaceFinger(3));
    sim(&mut first, SimCommand::PoorQuality(1));
    drop(first);
    let mut second = open(&lib);
    assert!(fp(&mut second).finger_present().unwrap());
    let err = fp(&mut second).get_template(Duration::from_secs(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PoorQuality, "{err}");
    fp(&mut second).get_template(Duration::from_secs(1)).expect("the next capture is fine");
    sim(&mut second, SimCommand::LiftFinger);
    assert!(!fp(&mut second).finger_present().unwrap());
}

#[test]
fn sim_commands_outside_the_vocabulary_are_unsupported() {
    let (_turn, _lib) = fixture();
    let raw = Raw::load();
    let dev = raw.open().expect("open");
    for (command, status, reason) in [
        ("explode", 11, "unknown sim command \"explode\""),
        ("", 11, "unknown sim command"),
        ("lift now", 11, "unknown sim command"),
        ("finger", 11, "unknown sim command"),
        ("finger 0", 10, "positive integer"),
        ("finger x", 10, "positive integer"),
        ("finger 99999999999", 10, "positive integer"),
        ("poor-quality -1", 10, "non-negative integer"),
        ("  finger\t2  ", abi::EG_OK, ""),
        ("lift", abi::EG_OK, ""),
    ] {
        let (got, message) = raw.control(dev, command);
        assert_eq!(got, status, "{command:?}: {message}");
        assert!(message.contains(reason), "{command:?}: {message}");
    }
    raw.close(dev);
}

#[test]
fn open_of_another_id_names_the_one_it_has() {
    let (_turn, _lib) = fixture();
    let raw = Raw::load();
    let (status, message) = raw.open_id("c-fp-9").expect_err("no such device");
    assert_eq!(status, ErrorKind::NotConnected.code());
    assert!(message.contains("\"c-fp-9\"") && message.contains(DEVICE_ID), "{message}");
}

#[test]
fn discover_respects_the_capacity() {
    let (_turn, _lib) = fixture();
    let raw = Raw::load();
    let discover = raw.desc().discover.expect("discover");
    let mut count = 99usize;
    let mut msg = EgMsg::new();
    // SAFETY: a zero-capacity buffer may be null; count and msg are valid.
    let status = unsafe { discover(std::ptr::null_mut(), 0, &mut count, &mut msg) };
    assert_eq!((status, count), (abi::EG_OK, 0));
}

/// The plugin's descriptor, called directly: for what the typed loader
/// cannot express (unknown sim commands, other ids, a zero capacity).
struct Raw {
    desc: *const EgPlugin,
    _lib: libloading::Library,
}

impl Raw {
    fn load() -> Raw {
        // SAFETY: the C example plugin has no initialisers.
        let lib = unsafe { libloading::Library::new(plugin_path()) }.expect("map the plugin");
        // SAFETY: the entry point's type is fixed by the ABI; the descriptor
        // it returns is static data in the library, which `_lib` keeps mapped.
        let desc = unsafe {
            let entry = *lib.get::<abi::EntryFn>(abi::ENTRY_SYMBOL).expect("entry point");
            entry()
        };
        assert!(!desc.is_null());
        Raw { desc, _lib: lib }
    }

    fn desc(&self) -> &EgPlugin {
        // SAFETY: non-null, static in the mapped library (see `load`).
        unsafe { &*self.desc }
    }

    fn open(&self) -> Result<*mut EgDevice, (i32, String)> {
        self.open_id(DEVICE_ID)
    }

    fn open_id(&self, id: &str) -> Result<*mut EgDevice, (i32, String)> {
        let open = self.desc().open.expect("open");
        let mut dev = std::ptr::null_mut();
        let mut msg = EgMsg::new();
        // SAFETY: the id and the out-pointers are valid for the call.
        let status = unsafe { open(EgStr { ptr: id.as_ptr().cast(), len: id.len() }, &mut dev, &mut msg) };
        if status == abi::EG_OK { Ok(dev) } else { Err((status, msg.get())) }
    }

    fn control(&self, dev: *mut EgDevice, command: &str) -> (i32, String) {
        // SAFETY: the plugin's sim table is static; checked non-null here.
        let sim = unsafe { self.desc().sim.as_ref() }.expect("sim table");
        let control = sim.control.expect("sim control");
        let mut msg = EgMsg::new();
        // SAFETY: `dev` is open; the command and msg are valid for the call.
        let status = unsafe { control(dev, EgStr { ptr: command.as_ptr().cast(), len: command.len() }, &mut msg) };
        (status, msg.get())
    }

    fn close(&self, dev: *mut EgDevice) {
        let close = self.desc().close.expect("close");
        // SAFETY: `dev` came from open and is closed once.
        unsafe { close(dev) };
    }
}
