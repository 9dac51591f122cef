//! The SDK's ID card reader on a SAM module: find, select, read, with
//! retries where SW3 says one helps.

use std::time::{Duration, Instant};

use examgate_device_sdk::{CardRead, Device, DeviceError, DeviceInfo, IdCardReader, Retry};

use crate::client::{SamClient, Timing};
use crate::error::SamError;
use crate::payload::{CardData, ChipSerial, ReadLayout};
use crate::status::Sw3Error;

/// How a [`SamReader`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// 30 01 (text and photo) or 30 10 (and fingerprints).
    pub layout: ReadLayout,
    /// How often to look for a card while waiting for one.
    pub poll_interval: Duration,
    /// Find-select-read sequences one read may take when SW3 says a retry helps.
    pub attempts: u32,
    pub timing: Timing,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            layout: ReadLayout::TextPhoto,
            poll_interval: Duration::from_millis(100),
            attempts: 3,
            timing: Timing::default(),
        }
    }
}

/// A card as one read gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamCard {
    pub serial: ChipSerial,
    pub data: CardData,
}

/// An ID card reader built on a GA 467 SAM module.
pub struct SamReader {
    client: SamClient,
    info: DeviceInfo,
    options: ReadOptions,
}

impl SamReader {
    /// Wrap a client; checks that a SAM answers (`11 FF`).
    pub fn new(mut client: SamClient, info: DeviceInfo, options: ReadOptions) -> Result<SamReader, SamError> {
        client.sam_status()?;
        Ok(SamReader { client, info, options })
    }

    /// The protocol underneath, for the commands the SDK has no use for.
    pub fn client(&mut self) -> &mut SamClient {
        &mut self.client
    }

    /// Wait up to `timeout` for a card, then select and read it. SW3
    /// failures a retry can cure (41, 81, 31-33, ...) restart the sequence,
    /// up to [`ReadOptions::attempts`] times; a card that was found and is
    /// then gone gives [`SamError::CardRemoved`].
    pub fn read(&mut self, timeout: Duration) -> Result<SamCard, SamError> {
        let deadline = Instant::now() + timeout;
        let mut seen = false;
        let mut failures = 0;
        loop {
            match self.client.find_card() {
                Ok(()) => seen = true,
                Err(SamError::Status(Sw3Error::FindCardFailed)) if seen => return Err(SamError::CardRemoved),
                Err(e @ SamError::Status(Sw3Error::FindCardFailed)) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(e);
                    }
                    std::thread::sleep(self.options.poll_interval.min(deadline - now));
                    continue;
                }
                Err(e) => {
                    failures += 1;
                    if e.retry() == Retry::Useless || failures >= self.options.attempts {
                        return Err(e);
                    }
                    continue;
                }
            }
            let read = self
                .client
                .select_card()
                .and_then(|serial| Ok(SamCard { serial, data: self.client.read_card_data(self.options.layout)? }));
            match read {
                Ok(card) => return Ok(card),
                Err(e) if e.retry() == Retry::Useless => return Err(e),
                Err(e) => {
                    failures += 1;
                    if failures >= self.options.attempts {
                        // Tell a card pulled away from one that will not read.
                        return match self.client.find_card() {
                            Err(SamError::Status(Sw3Error::FindCardFailed)) => Err(SamError::CardRemoved),
                            _ => Err(e),
                        };
                    }
                }
            }
        }
    }
}

impl Device for SamReader {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn as_idcard(&mut self) -> Option<&mut dyn IdCardReader> {
        Some(self)
    }
}

impl IdCardReader for SamReader {
    fn read_card(&mut self, timeout: Duration) -> Result<CardRead, DeviceError> {
        let card = self.read(timeout)?;
        Ok(card.data.into_card_read(Some(card.serial)))
    }

    /// Asks the SAM to find a card (`20 01`). Unverified without hardware:
    /// some modules are said to answer 80 to find for a card already read
    /// until it is lifted; this simulator does not.
    fn card_present(&mut self) -> Result<bool, DeviceError> {
        match self.client.find_card() {
            Ok(()) => Ok(true),
            Err(SamError::Status(Sw3Error::FindCardFailed)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
