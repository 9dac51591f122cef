//! The SDK's fingerprint reader on an AS60x module: capture with GenImg,
//! Img2Tz and UpChar; compare with two DownChars and Match.

use std::time::{Duration, Instant};

use examgate_device_sdk::{Device, DeviceError, DeviceInfo, FingerprintReader, Score, Template, TemplateFormat};

use crate::calibration::Calibration;
use crate::client::{As60xClient, Capture, Timing};
use crate::command::{CharBuffer, Instruction};
use crate::confirm::ConfirmError;
use crate::error::As60xError;
use crate::reply::{MatchOutcome, NativeTemplate};

/// The vendor name of the module's templates: `TemplateFormat::Vendor("as60x")`.
pub const FORMAT_NAME: &str = "as60x";

/// How an [`As60xReader`] captures and compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReaderOptions {
    /// Pause between GenImg polls while no finger is on the sensor (GenImg
    /// itself takes a few hundred milliseconds on a real module).
    pub poll_interval: Duration,
    /// Compare sequences (2 x DownChar, Match) one comparison may take when
    /// a template did not arrive whole.
    pub attempts: u32,
    pub timing: Timing,
    pub calibration: Calibration,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            poll_interval: Duration::from_millis(20),
            attempts: 2,
            timing: Timing::default(),
            calibration: Calibration::default(),
        }
    }
}

/// A fingerprint reader built on an AS60x module.
pub struct As60xReader {
    client: As60xClient,
    info: DeviceInfo,
    options: ReaderOptions,
}

impl As60xReader {
    /// Wrap a client; nothing is sent until the first call.
    pub fn new(client: As60xClient, info: DeviceInfo, options: ReaderOptions) -> As60xReader {
        As60xReader { client, info, options }
    }

    /// The protocol underneath, for what the SDK has no use for (enrolment,
    /// the library).
    pub fn client(&mut self) -> &mut As60xClient {
        &mut self.client
    }

    /// Wait up to `timeout` for a finger (GenImg until it answers `00`),
    /// then extract its features (Img2Tz into buffer 1) and upload them.
    pub fn capture(&mut self, timeout: Duration) -> Result<NativeTemplate, As60xError> {
        let deadline = Instant::now() + timeout;
        while self.client.gen_img()? == Capture::NoFinger {
            let now = Instant::now();
            if now >= deadline {
                return Err(As60xError::Module { instruction: Instruction::GenImg, error: ConfirmError::NoFinger });
            }
            std::thread::sleep(self.options.poll_interval.min(deadline - now));
        }
        self.client.img2tz(CharBuffer::One)?;
        self.client.up_char(CharBuffer::One)
    }

    /// Download both templates (buffers 1 and 2) and let the module Match
    /// them. A buffer the module holds nothing valid in (`15`: a transfer
    /// broken on the way) makes the sequence go again.
    pub fn compare(&mut self, probe: &NativeTemplate, enrolled: &NativeTemplate) -> Result<MatchOutcome, As60xError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.client.down_char(CharBuffer::One, probe)?;
            self.client.down_char(CharBuffer::Two, enrolled)?;
            match self.client.match_buffers() {
                Err(e) if e.confirm() == Some(ConfirmError::InvalidBuffer) && attempt < self.options.attempts => {}
                other => return other,
            }
        }
    }

    fn native(template: &Template, role: &str) -> Result<NativeTemplate, DeviceError> {
        match &template.format {
            TemplateFormat::Vendor(name) if name == FORMAT_NAME => NativeTemplate::new(&template.data)
                .map_err(|e| DeviceError::InvalidArgument(format!("the {role} template: {e}"))),
            other => Err(DeviceError::FormatMismatch(format!(
                "the {role} template is {other}; an AS60x module compares its own templates (vendor:{FORMAT_NAME}) only"
            ))),
        }
    }
}

impl Device for As60xReader {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn as_fingerprint(&mut self) -> Option<&mut dyn FingerprintReader> {
        Some(self)
    }
}

impl FingerprintReader for As60xReader {
    fn get_template(&mut self, timeout: Duration) -> Result<Template, DeviceError> {
        let native = self.capture(timeout)?;
        Ok(Template::new(TemplateFormat::Vendor(FORMAT_NAME.into()), native.to_vec()))
    }

    fn match_templates(&mut self, probe: &Template, enrolled: &Template) -> Result<Score, DeviceError> {
        let (probe, enrolled) = (Self::native(probe, "probe")?, Self::native(enrolled, "enrolled")?);
        let outcome = self.compare(&probe, &enrolled)?;
        Ok(self.options.calibration.score(outcome))
    }

    /// Greets the module (VfyPwd, ReadSysPara): `false` when no module is
    /// there or none answers; an error when one answers but refuses (a
    /// wrong password).
    fn enabled(&mut self) -> Result<bool, DeviceError> {
        match self.client.greet() {
            Ok(_) => Ok(true),
            Err(As60xError::Transport(_) | As60xError::NoReply { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// GenImg: whether a finger is on the sensor now.
    fn finger_present(&mut self) -> Result<bool, DeviceError> {
        Ok(self.client.gen_img()? == Capture::Taken)
    }
}
