//! Fake devices for the agent's unit tests (the real readers need pcscd or
//! a serial port; those run end to end in `tests/`).

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use examgate_device_sdk::idcard::{CardDate, CardFields, CardType, Nation, Sex};
use examgate_device_sdk::{
    CardRead, Device, DeviceClass, DeviceClasses, DeviceError, DeviceId, DeviceInfo, DriverFactory, IdCardReader,
};

/// A resident card with a valid ID number.
pub fn resident() -> CardFields {
    CardFields {
        card_type: CardType::Resident,
        name: "张伟".into(),
        english_name: None,
        sex: Sex::Male,
        nation: Nation::from_code(1),
        birth_date: CardDate::new(1990, 3, 7).unwrap(),
        address: "北京市朝阳区建国路1号院2号楼301".into(),
        id_number: "110105199003071239".into(),
        issuer: "北京市公安局朝阳分局".into(),
        valid_from: CardDate::new(2020, 5, 1).unwrap(),
        valid_until: CardDate::new(2040, 5, 1),
        nationality: None,
    }
}

/// What a decoded-card reader reads from [`resident`].
pub fn resident_read() -> CardRead {
    CardRead {
        text: resident().encode().to_vec(),
        photo: (0..1024u32).map(|i| (i * 7 % 251) as u8).collect(),
        chip_serial: vec![0x10, 0xE4, 0x10, 0x01, 0x02, 0x03, 0x04, 0x05],
    }
}

#[derive(Default)]
struct Slot {
    card: Mutex<Option<CardRead>>,
    changed: Condvar,
}

/// One fake ID card reader, `fake-card-0`; a test puts cards on it and
/// takes them off while the agent owns it.
#[derive(Clone, Default)]
pub struct FakeCardReader {
    slot: Arc<Slot>,
}

impl FakeCardReader {
    pub fn insert(&self, read: CardRead) {
        *self.slot.card.lock().unwrap() = Some(read);
        self.slot.changed.notify_all();
    }

    pub fn remove(&self) {
        *self.slot.card.lock().unwrap() = None;
        self.slot.changed.notify_all();
    }

    fn info() -> DeviceInfo {
        DeviceInfo {
            id: DeviceId::new("fake-card-0").unwrap(),
            name: "fake ID card reader".into(),
            classes: DeviceClass::IdCard.into(),
        }
    }
}

impl DriverFactory for FakeCardReader {
    fn name(&self) -> &str {
        "fake-idcard"
    }
    fn classes(&self) -> DeviceClasses {
        DeviceClass::IdCard.into()
    }
    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        Ok(vec![Self::info()])
    }
    fn open(&self, _: &DeviceId) -> Result<Box<dyn Device>, DeviceError> {
        Ok(Box::new(FakeCard { info: Self::info(), slot: Arc::clone(&self.slot) }))
    }
}

struct FakeCard {
    info: DeviceInfo,
    slot: Arc<Slot>,
}

impl Device for FakeCard {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn as_idcard(&mut self) -> Option<&mut dyn IdCardReader> {
        Some(self)
    }
}

impl IdCardReader for FakeCard {
    fn read_card(&mut self, timeout: Duration) -> Result<CardRead, DeviceError> {
        let deadline = Instant::now() + timeout;
        let mut card = self.slot.card.lock().unwrap();
        loop {
            if let Some(read) = card.as_ref() {
                return Ok(read.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(DeviceError::NoCard);
            }
            card = self.slot.changed.wait_timeout(card, left).unwrap().0;
        }
    }

    fn card_present(&mut self) -> Result<bool, DeviceError> {
        Ok(self.slot.card.lock().unwrap().is_some())
    }
}
