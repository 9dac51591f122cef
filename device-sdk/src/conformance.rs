//! The behaviour every fingerprint driver must show, run against any
//! [`DriverFactory`]: a built-in driver, a plugin loaded in-process, or a
//! plugin behind the agent's driver host.
//!
//! Checks that need a finger placed or a cable pulled use the device's
//! simulation hooks ([`SimControl`](crate::SimControl)); a driver without
//! them gets those checks reported as skipped, never as passed.
//!
//! ```ignore
//! let report = examgate_device_sdk::conformance::run(&factory, &Options::default());
//! report.assert_all_passed();
//! ```

use std::fmt;
use std::time::Duration;

use crate::{Device, DeviceClass, DeviceError, DriverFactory, ErrorKind, SimCommand, Template, TemplateFormat};

/// How the suite drives the device.
#[derive(Clone, Debug)]
pub struct Options {
    /// Timeout for a capture with a finger on the sensor.
    pub capture_timeout: Duration,
    /// Timeout for a capture that must fail for want of a finger.
    pub no_finger_timeout: Duration,
    /// Distinct fingers to enrol (at least 2).
    pub fingers: u32,
    /// Impressions taken of each finger (at least 2).
    pub impressions: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            capture_timeout: Duration::from_secs(5),
            no_finger_timeout: Duration::from_millis(300),
            fingers: 3,
            impressions: 3,
        }
    }
}

/// Outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

#[derive(Clone, Debug)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
}

/// Every check the suite ran, in order.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub driver: String,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| matches!(c.outcome, Outcome::Failed(_)))
    }
    pub fn skipped(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| matches!(c.outcome, Outcome::Skipped(_)))
    }
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }
    /// Panic with the report unless every check passed and none was skipped.
    pub fn assert_all_passed(&self) {
        assert!(
            self.passed() && self.skipped().next().is_none() && !self.checks.is_empty(),
            "conformance failed:\n{self}"
        );
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "conformance of {}:", self.driver)?;
        for c in &self.checks {
            match &c.outcome {
                Outcome::Passed => writeln!(f, "  PASS {}", c.name)?,
                Outcome::Failed(why) => writeln!(f, "  FAIL {}: {why}", c.name)?,
                Outcome::Skipped(why) => writeln!(f, "  SKIP {}: {why}", c.name)?,
            }
        }
        let failed = self.failures().count();
        let skipped = self.skipped().count();
        write!(f, "{} checks, {} failed, {} skipped", self.checks.len(), failed, skipped)
    }
}

type CheckResult = Result<(), Outcome>;

fn fail(why: impl Into<String>) -> Outcome {
    Outcome::Failed(why.into())
}

struct Suite<'a> {
    factory: &'a dyn DriverFactory,
    options: &'a Options,
    report: Report,
}

impl Suite<'_> {
    fn record(&mut self, name: &'static str, result: CheckResult) -> bool {
        let outcome = match result {
            Ok(()) => Outcome::Passed,
            Err(o) => o,
        };
        let ok = outcome == Outcome::Passed;
        self.report.checks.push(Check { name, outcome });
        ok
    }
}

fn sim(device: &mut dyn Device, cmd: SimCommand) -> CheckResult {
    match device.as_sim() {
        None => Err(Outcome::Skipped("the driver has no simulation hooks to script this".into())),
        Some(s) => s.control(&cmd).map_err(|e| match e.kind() {
            ErrorKind::Unsupported => Outcome::Skipped(format!("simulation hook `{cmd}` unsupported: {e}")),
            _ => fail(format!("simulation hook `{cmd}` failed: {e}")),
        }),
    }
}

fn capture(device: &mut dyn Device, timeout: Duration) -> Result<Template, DeviceError> {
    match device.as_fingerprint() {
        Some(fp) => fp.get_template(timeout),
        None => Err(DeviceError::Unsupported("not a fingerprint reader".into())),
    }
}

fn fingerprint(device: &mut dyn Device) -> Result<&mut dyn crate::FingerprintReader, Outcome> {
    device.as_fingerprint().ok_or_else(|| fail("device lists the fingerprint class but as_fingerprint() is None"))
}

/// Run the fingerprint conformance suite against a driver.
pub fn run(factory: &dyn DriverFactory, options: &Options) -> Report {
    let mut suite = Suite { factory, options, report: Report { driver: factory.name().to_owned(), checks: vec![] } };
    run_fingerprint(&mut suite);
    suite.report
}

fn run_fingerprint(s: &mut Suite<'_>) {
    let opts = s.options.clone();
    let fingers = opts.fingers.max(2);
    let impressions = opts.impressions.max(2);

    // Enumerate.
    let discovered = s.factory.discover();
    let info = match discovered {
        Err(e) => {
            s.record("enumerate", Err(fail(format!("discover failed: {e}"))));
            return;
        }
        Ok(list) => {
            let mut ids: Vec<_> = list.iter().map(|d| d.id.clone()).collect();
            ids.sort();
            ids.dedup();
            let result = if ids.len() != list.len() {
                Err(fail("discover reported the same device id twice"))
            } else if let Some(bad) = list.iter().find(|d| d.classes.bits() & !s.factory.classes().bits() != 0) {
                Err(fail(format!("device {} claims classes the driver does not offer", bad.id)))
            } else {
                Ok(())
            };
            s.record("enumerate", result);
            match list.into_iter().find(|d| d.classes.contains(DeviceClass::Fingerprint)) {
                Some(info) => info,
                None => {
                    s.record("enumerate: a fingerprint reader is present", Err(fail("no fingerprint reader found")));
                    return;
                }
            }
        }
    };

    // Open.
    let mut device = match s.factory.open(&info.id) {
        Ok(d) => d,
        Err(e) => {
            s.record("open", Err(fail(format!("open {} failed: {e}", info.id))));
            return;
        }
    };
    let open_ok = if device.info().id != info.id { Err(fail("opened device reports another id")) } else { Ok(()) };
    s.record("open", open_ok);

    let enabled = fingerprint(device.as_mut()).and_then(|fp| match fp.enabled() {
        Ok(true) => Ok(()),
        Ok(false) => Err(fail("enabled() is false for a plugged-in reader")),
        Err(e) => Err(fail(format!("enabled() failed: {e}"))),
    });
    s.record("enabled", enabled);

    // Capture: every finger, several impressions.
    let mut prints: Vec<Vec<Template>> = Vec::new();
    let capture_all = (|| -> CheckResult {
        for finger in 1..=fingers {
            let mut these = Vec::new();
            for _ in 0..impressions {
                sim(device.as_mut(), SimCommand::PlaceFinger(finger))?;
                let t = capture(device.as_mut(), opts.capture_timeout)
                    .map_err(|e| fail(format!("capture of finger {finger} failed: {e}")))?;
                if t.data.is_empty() {
                    return Err(fail("capture returned an empty template"));
                }
                if t.quality > 100 {
                    return Err(fail(format!("quality {} above 100", t.quality)));
                }
                these.push(t);
            }
            prints.push(these);
        }
        sim(device.as_mut(), SimCommand::LiftFinger)
    })();
    let captured = s.record("capture", capture_all);

    if captured {
        let genuine = (|| -> CheckResult {
            for (f, these) in prints.iter().enumerate() {
                for (i, a) in these.iter().enumerate() {
                    for b in these.iter().skip(i + 1) {
                        let fp = fingerprint(device.as_mut())?;
                        let score = fp.match_templates(a, b).map_err(|e| fail(format!("match failed: {e}")))?;
                        if !score.is_match() {
                            return Err(fail(format!(
                                "two impressions of finger {} scored {score}, need > 800",
                                f + 1
                            )));
                        }
                    }
                }
            }
            Ok(())
        })();
        s.record("match: same finger above 800", genuine);

        let impostor = (|| -> CheckResult {
            for (f, these) in prints.iter().enumerate() {
                for (g, others) in prints.iter().enumerate().skip(f + 1) {
                    for a in these {
                        for b in others {
                            let fp = fingerprint(device.as_mut())?;
                            let score = fp.match_templates(a, b).map_err(|e| fail(format!("match failed: {e}")))?;
                            if score.is_match() {
                                return Err(fail(format!(
                                    "fingers {} and {} scored {score}, need <= 800",
                                    f + 1,
                                    g + 1
                                )));
                            }
                        }
                    }
                }
            }
            Ok(())
        })();
        s.record("match: different fingers at or below 800", impostor);

        let garbage = (|| -> CheckResult {
            let bad = Template::new(prints[0][0].format.clone(), vec![0x5A; 7]);
            let fp = fingerprint(device.as_mut())?;
            match fp.match_templates(&bad, &prints[0][0]) {
                Ok(score) => Err(fail(format!("a 7-byte garbage template scored {score} instead of an error"))),
                Err(e) if matches!(e.kind(), ErrorKind::InvalidArgument | ErrorKind::FormatMismatch) => Ok(()),
                Err(e) => Err(fail(format!(
                    "garbage template gave {:?}, expected invalid_argument or format_mismatch",
                    e.kind()
                ))),
            }
        })();
        s.record("match: malformed template is refused", garbage);

        let foreign = (|| -> CheckResult {
            let alien = Template::new(TemplateFormat::Vendor("no-such-vendor".into()), prints[0][0].data.clone());
            let fp = fingerprint(device.as_mut())?;
            match fp.match_templates(&alien, &prints[0][0]) {
                Ok(score) => Err(fail(format!("a template of an unknown vendor format scored {score}"))),
                Err(e) if e.kind() == ErrorKind::FormatMismatch || e.kind() == ErrorKind::InvalidArgument => Ok(()),
                Err(e) => Err(fail(format!("unknown format gave {:?}, expected format_mismatch", e.kind()))),
            }
        })();
        s.record("match: unknown format is refused", foreign);
    }

    // Missing finger.
    let missing = (|| -> CheckResult {
        sim(device.as_mut(), SimCommand::LiftFinger)?;
        match capture(device.as_mut(), opts.no_finger_timeout) {
            Ok(_) => Err(fail("capture with no finger returned a template")),
            Err(e) if matches!(e.kind(), ErrorKind::NoFinger | ErrorKind::Timeout) => Ok(()),
            Err(e) => Err(fail(format!("capture with no finger gave {:?}, expected no_finger or timeout", e.kind()))),
        }
    })();
    s.record("capture: missing finger is an error", missing);

    // Poor quality.
    let poor = (|| -> CheckResult {
        sim(device.as_mut(), SimCommand::PoorQuality(1))?;
        sim(device.as_mut(), SimCommand::PlaceFinger(1))?;
        let first = capture(device.as_mut(), opts.capture_timeout);
        let second = capture(device.as_mut(), opts.capture_timeout);
        sim(device.as_mut(), SimCommand::LiftFinger)?;
        match (first, second) {
            (Ok(_), _) => Err(fail("scripted poor-quality capture succeeded")),
            (Err(e), _) if e.kind() != ErrorKind::PoorQuality => {
                Err(fail(format!("expected poor_quality, got {:?}", e.kind())))
            }
            (Err(_), Err(e)) => Err(fail(format!("capture after a poor one failed: {e}"))),
            (Err(_), Ok(_)) => Ok(()),
        }
    })();
    s.record("capture: poor quality is an error a retry can fix", poor);

    // Unplugged device.
    let unplugged = (|| -> CheckResult {
        sim(device.as_mut(), SimCommand::Unplug)?;
        sim(device.as_mut(), SimCommand::PlaceFinger(1))?;
        let got = capture(device.as_mut(), opts.no_finger_timeout);
        let enabled = fingerprint(device.as_mut())?.enabled();
        sim(device.as_mut(), SimCommand::Plug)?;
        match got {
            Err(e) if e.kind() == ErrorKind::NotConnected => {}
            Err(e) => {
                return Err(fail(format!(
                    "capture on an unplugged reader gave {:?}, expected not_connected",
                    e.kind()
                )));
            }
            Ok(_) => return Err(fail("capture on an unplugged reader returned a template")),
        }
        match enabled {
            Ok(false) => {}
            Err(e) if e.kind() == ErrorKind::NotConnected => {}
            other => return Err(fail(format!("enabled() on an unplugged reader gave {other:?}"))),
        }
        capture(device.as_mut(), opts.capture_timeout)
            .map_err(|e| fail(format!("capture after replug failed: {e}")))?;
        sim(device.as_mut(), SimCommand::LiftFinger)
    })();
    s.record("unplug: not_connected, then back after replug", unplugged);

    // Close and reopen.
    drop(device);
    let reopen = (|| -> CheckResult {
        let mut again = s.factory.open(&info.id).map_err(|e| fail(format!("reopen failed: {e}")))?;
        fingerprint(again.as_mut())?.enabled().map_err(|e| fail(format!("enabled() after reopen failed: {e}")))?;
        sim(again.as_mut(), SimCommand::PlaceFinger(1))?;
        capture(again.as_mut(), opts.capture_timeout).map_err(|e| fail(format!("capture after reopen failed: {e}")))?;
        sim(again.as_mut(), SimCommand::LiftFinger)
    })();
    s.record("close and reopen", reopen);
}
