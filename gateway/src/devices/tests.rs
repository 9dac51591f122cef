use std::sync::atomic::AtomicU32;
use std::time::Duration;

use examgate_device_sdk::{Device, DeviceClasses, DeviceId, FingerprintReader};
use examgate_protocol::ApiErrorKind;
use examgate_sim::SimFingerprintFactory;

use super::*;

const DEADLINE: Duration = Duration::from_secs(10);

fn fast() -> ManagerOptions {
    ManagerOptions {
        poll_interval: Duration::from_millis(20),
        reopen_interval: Duration::from_millis(20),
        rediscover_interval: Duration::from_millis(50),
        ..ManagerOptions::default()
    }
}

fn sim(options: &str) -> Driver {
    let selector: DeviceSelector = format!("sim:fingerprint?{options}").parse().unwrap();
    let DeviceSelector::SimFingerprint { config, .. } = &selector else { unreachable!() };
    Driver::simulated(selector.clone(), Arc::new(SimFingerprintFactory::new(config.clone())))
}

async fn next_event(rx: &mut broadcast::Receiver<Event>, wanted: fn(&Event) -> bool) -> Event {
    tokio::time::timeout(DEADLINE, async {
        loop {
            let e = rx.recv().await.expect("event channel open");
            if wanted(&e) {
                return e;
            }
        }
    })
    .await
    .expect("event within the deadline")
}

#[tokio::test]
async fn captures_from_the_default_reader() {
    let m = DeviceManager::start(vec![sim("")], fast());
    let (device, t) = m.capture(None, Duration::from_secs(2)).await.unwrap();
    assert_eq!(device, "sim-fp-0");
    assert_eq!(t.format.to_string(), "vendor:examgate-sim");
    assert_eq!(m.list()[0].state, DeviceState::Ready);
    m.shutdown(DEADLINE);
}

#[tokio::test]
async fn a_second_capture_while_one_runs_is_busy_not_queued() {
    let m = DeviceManager::start(vec![sim("finger=none")], fast());
    let mut first = Box::pin(m.capture(None, Duration::from_secs(30)));
    // Poll the first capture once: it takes the lease and waits for a finger.
    tokio::select! {
        biased;
        _ = &mut first => panic!("no finger yet, the capture cannot be done"),
        _ = std::future::ready(()) => {}
    }
    assert_eq!(m.list()[0].state, DeviceState::Busy);
    let err = m.capture(None, Duration::from_secs(1)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Busy);
    assert!(err.to_string().contains("sim-fp-0 is serving another request"), "{err}");
    // The simulator is scripted from outside the busy thread.
    m.sim_command("sim-fp-0", "finger 3").await.unwrap();
    let (_, t) = first.await.unwrap();
    assert_eq!(t.format.to_string(), "vendor:examgate-sim");
    // The lease died with the first request.
    m.capture(None, Duration::from_secs(1)).await.unwrap();
    m.shutdown(DEADLINE);
}

#[tokio::test]
async fn announces_fingers_and_unplugging() {
    let m = DeviceManager::start(vec![sim("")], fast());
    let mut rx = m.subscribe();
    m.sim_command("sim-fp-0", "lift").await.unwrap();
    let e = next_event(&mut rx, |e| matches!(e, Event::FingerLifted { .. })).await;
    assert_eq!(e.device(), "sim-fp-0");
    m.sim_command("sim-fp-0", "finger 2").await.unwrap();
    next_event(&mut rx, |e| matches!(e, Event::FingerPlaced { .. })).await;
    m.sim_command("sim-fp-0", "unplug").await.unwrap();
    next_event(&mut rx, |e| matches!(e, Event::DeviceDetached { .. })).await;
    assert_eq!(m.list()[0].state, DeviceState::Disconnected);
    assert!(!m.fingerprint_enabled(None).unwrap());
    let err = m.capture(None, Duration::from_millis(100)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::NotConnected);
    m.sim_command("sim-fp-0", "plug").await.unwrap();
    next_event(&mut rx, |e| matches!(e, Event::DeviceAttached { .. })).await;
    assert!(m.fingerprint_enabled(None).unwrap());
    m.shutdown(DEADLINE);
}

#[tokio::test]
async fn unknown_and_missing_devices_are_clear_errors() {
    let m = DeviceManager::start(vec![sim("")], fast());
    let err = m.capture(Some("nope"), Duration::from_secs(1)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::NotFound);
    assert!(err.to_string().contains("\"nope\""));
    m.shutdown(DEADLINE);

    let empty = DeviceManager::start(vec![], fast());
    let err = empty.capture(None, Duration::from_secs(1)).await.unwrap_err();
    assert!(err.to_string().contains("no fingerprint reader is configured"), "{err}");
    assert!(empty.list().is_empty());
}

#[tokio::test]
async fn two_sources_with_the_same_device_id_get_distinct_ids() {
    let m = DeviceManager::start(vec![sim(""), sim("seed=9")], fast());
    let ids: Vec<String> = m.list().into_iter().map(|d| d.id).collect();
    assert_eq!(ids, ["sim-fp-0", "sim-fp-0@2"]);
    let (device, _) = m.capture(Some("sim-fp-0@2"), Duration::from_secs(1)).await.unwrap();
    assert_eq!(device, "sim-fp-0@2");
    m.shutdown(DEADLINE);
}

/// A reader whose driver crashes (or panics) on its first capture ever, to
/// show the thread reopens it.
struct Flaky {
    opens: Arc<AtomicU32>,
    closes: Arc<AtomicU32>,
    captures: Arc<AtomicU32>,
    panic: bool,
}

struct FlakyDevice {
    info: DeviceInfo,
    captures: Arc<AtomicU32>,
    closes: Arc<AtomicU32>,
    panic: bool,
}

impl Drop for FlakyDevice {
    fn drop(&mut self) {
        self.closes.fetch_add(1, Ordering::SeqCst);
    }
}

impl DriverFactory for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn classes(&self) -> DeviceClasses {
        DeviceClass::Fingerprint.into()
    }
    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        Ok(vec![DeviceInfo { id: DeviceId::new("flaky-0").unwrap(), name: "flaky".into(), classes: self.classes() }])
    }
    fn open(&self, id: &DeviceId) -> Result<Box<dyn Device>, DeviceError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        let info = DeviceInfo { id: id.clone(), name: "flaky".into(), classes: self.classes() };
        Ok(Box::new(FlakyDevice {
            info,
            captures: Arc::clone(&self.captures),
            closes: Arc::clone(&self.closes),
            panic: self.panic,
        }))
    }
}

impl Device for FlakyDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn as_fingerprint(&mut self) -> Option<&mut dyn FingerprintReader> {
        Some(self)
    }
}

impl FingerprintReader for FlakyDevice {
    fn get_template(&mut self, _timeout: Duration) -> Result<Template, DeviceError> {
        if self.captures.fetch_add(1, Ordering::SeqCst) == 0 {
            if self.panic {
                panic!("deliberate test panic in a built-in driver");
            }
            return Err(DeviceError::Panic("plugin crashed (test)".into()));
        }
        Ok(SimFingerprintFactory::default().template_for(1, 1))
    }
    fn match_templates(&mut self, _: &Template, _: &Template) -> Result<Score, DeviceError> {
        Err(DeviceError::Unsupported("no matcher".into()))
    }
    fn enabled(&mut self) -> Result<bool, DeviceError> {
        Ok(true)
    }
}

fn flaky(panic: bool) -> (Driver, Arc<AtomicU32>, Arc<AtomicU32>) {
    let (opens, closes) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let captures = Arc::new(AtomicU32::new(0));
    let factory = Flaky { opens: Arc::clone(&opens), closes: Arc::clone(&closes), captures, panic };
    let selector = "plugin:/test/flaky.so".parse().unwrap();
    (Driver::new(selector, Arc::new(factory)), opens, closes)
}

#[tokio::test]
async fn a_crashed_driver_is_reopened_and_serves_again() {
    for panic in [false, true] {
        let (driver, opens, closes) = flaky(panic);
        let m = DeviceManager::start(vec![driver], fast());
        let mut rx = m.subscribe();
        let err = m.capture(None, Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(err.kind(), ApiErrorKind::Panic, "{err}");
        next_event(&mut rx, |e| matches!(e, Event::DeviceDetached { .. })).await;
        next_event(&mut rx, |e| matches!(e, Event::DeviceAttached { .. })).await;
        // The reopened device serves.
        m.capture(None, Duration::from_secs(1)).await.unwrap();
        assert_eq!(opens.load(Ordering::SeqCst), 2);
        assert_eq!(closes.load(Ordering::SeqCst), 1);
        m.shutdown(DEADLINE);
        assert_eq!(opens.load(Ordering::SeqCst), closes.load(Ordering::SeqCst), "every open device was closed");
    }
}

fn fake_cards() -> (Driver, crate::fakes::FakeCardReader) {
    let reader = crate::fakes::FakeCardReader::default();
    (Driver::new("pcsc-idcard".parse().unwrap(), Arc::new(reader.clone())), reader)
}

#[tokio::test]
async fn cards_coming_and_going_are_events_and_a_read_waits_for_one() {
    let (driver, reader) = fake_cards();
    let m = DeviceManager::start(vec![driver, sim("")], fast());
    let mut rx = m.subscribe();
    let err = m.read_card(None, Duration::from_millis(50)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::NoCard);

    let read = m.read_card(Some("fake-card-0"), Duration::from_secs(10));
    let insert = async {
        reader.insert(crate::fakes::resident_read());
    };
    let (read, ()) = tokio::join!(read, insert);
    let (device, selector, read) = read.unwrap();
    assert_eq!((device.as_str(), selector.to_string().as_str()), ("fake-card-0", "pcsc-idcard"));
    assert_eq!(read, crate::fakes::resident_read());
    let e = next_event(&mut rx, |e| matches!(e, Event::CardInserted { .. })).await;
    assert_eq!(e.device(), "fake-card-0");

    reader.remove();
    next_event(&mut rx, |e| matches!(e, Event::CardRemoved { .. })).await;
    let err = m.read_card(Some("sim-fp-0"), Duration::from_millis(50)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Unsupported, "a fingerprint reader reads no cards: {err}");
    m.shutdown(DEADLINE);
}

#[tokio::test]
async fn a_camera_unplugged_is_detached_and_a_camera_fault() {
    let selector: DeviceSelector = "sim:camera?size=320x240".parse().unwrap();
    let DeviceSelector::SimCamera { config, .. } = &selector else { unreachable!() };
    let driver = Driver::simulated(selector.clone(), Arc::new(examgate_sim::SimCameraFactory::new(config.clone())));
    let m = DeviceManager::start(vec![driver], fast());
    assert!(m.has_camera());
    let mut rx = m.subscribe();
    let (device, name) = m
        .on_camera(None, Duration::from_secs(5), |camera| (camera.map(|c| c.info().name.clone()), None))
        .await
        .unwrap();
    assert_eq!((device.as_deref(), name.as_deref()), (Some("sim-cam-0"), Some("examgate simulated camera")));
    m.sim_command("sim-cam-0", "unplug").await.unwrap();
    next_event(&mut rx, |e| matches!(e, Event::DeviceDetached { .. })).await;
    let Event::CameraFault { device, flags, .. } =
        next_event(&mut rx, |e| matches!(e, Event::CameraFault { .. })).await
    else {
        unreachable!()
    };
    assert_eq!((device.as_str(), flags), ("sim-cam-0", vec!["camera_missing".to_owned()]));
    let (_, open) = m.on_camera(None, Duration::from_secs(5), |camera| (camera.is_some(), None)).await.unwrap();
    assert!(!open, "an unplugged camera cannot be opened");
    m.sim_command("sim-cam-0", "plug").await.unwrap();
    next_event(&mut rx, |e| matches!(e, Event::DeviceAttached { .. })).await;
    m.shutdown(DEADLINE);

    // Without any camera a job still runs, with none.
    let none = DeviceManager::start(vec![], fast());
    let (device, open) = none.on_camera(None, Duration::from_secs(5), |camera| (camera.is_some(), None)).await.unwrap();
    assert_eq!((device, open), (None, false));
    assert_eq!(
        none.on_camera(Some("cam"), Duration::from_secs(1), |_| ((), None)).await.unwrap_err().kind(),
        ApiErrorKind::NotFound
    );
}

/// A plugin selector whose file is `path`, loaded in-process (no driver host in unit tests).
fn plugin_at(path: &std::path::Path) -> Driver {
    let selector: DeviceSelector = format!("plugin:{}?isolation=in-process", path.display()).parse().unwrap();
    crate::drivers::open(&selector, &crate::host::HostOptions::default()).unwrap()
}

#[tokio::test]
async fn a_plugin_that_cannot_be_loaded_leaves_the_other_devices_serving_and_is_announced_again_for_a_new_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libvendor.so");
    let m = DeviceManager::start(vec![plugin_at(&path), sim("")], fast());
    let selectors = m.selectors();
    assert_eq!(selectors[0].state, SelectorState::Failed);
    assert!(selectors[0].reason.as_deref().unwrap().contains("No such file"), "{selectors:?}");
    assert_eq!(selectors[1].state, SelectorState::Ready);
    let (device, _) = m.capture(None, Duration::from_secs(2)).await.unwrap();
    assert_eq!(device, "sim-fp-0");
    let missing = m.missing();
    assert_eq!((missing.len(), missing[0].state), (1, SelectorState::Failed));

    // The vendor's file appears but is no library: tried at once (not after
    // its backoff), failed again, announced for the new reason.
    let mut events = m.subscribe();
    std::fs::write(&path, b"not an ELF file").unwrap();
    let Event::DeviceFailed { device, reason, next_retry, .. } =
        next_event(&mut events, |e| matches!(e, Event::DeviceFailed { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(device, format!("plugin:{}?isolation=in-process", path.display()));
    assert!(reason.starts_with("plugin libvendor.so: cannot load: "), "{reason}");
    assert!(!reason.contains("No such file"), "{reason}");
    assert!(next_retry.is_some());
    let failed = &m.selectors()[0];
    assert_eq!((failed.state, failed.failures), (SelectorState::Failed, 2));
    m.shutdown(DEADLINE);
}

/// A driver whose service is away, as pcsc-idcard is while pcscd is stopped.
struct ServiceAway;

impl DriverFactory for ServiceAway {
    fn name(&self) -> &str {
        "away"
    }
    fn classes(&self) -> DeviceClasses {
        DeviceClass::IdCard.into()
    }
    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        Err(DeviceError::NotConnected("pcscd is not running".into()))
    }
    fn open(&self, id: &DeviceId) -> Result<Box<dyn Device>, DeviceError> {
        Err(DeviceError::NotConnected(format!("no {id}")))
    }
}

#[test]
fn a_driver_without_devices_is_waiting_and_says_why() {
    let m = DeviceManager::start(vec![Driver::new("pcsc-idcard".parse().unwrap(), Arc::new(ServiceAway))], fast());
    let entry = &m.selectors()[0];
    assert_eq!(entry.state, SelectorState::Waiting, "{entry:?}");
    assert!(entry.reason.as_deref().is_some_and(|r| r.contains("pcscd is not running")), "{entry:?}");
    assert_eq!((entry.next_retry, entry.failures), (None, 0));
    assert_eq!(m.missing()[0].state, SelectorState::Waiting);
    m.shutdown(DEADLINE);
}
