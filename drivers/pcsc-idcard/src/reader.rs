//! PC/SC readers as examgate devices.

use std::ffi::{CStr, CString};
use std::time::{Duration, Instant};

use examgate_device_sdk::{
    CardRead, Device, DeviceClass, DeviceClasses, DeviceError, DeviceId, DeviceInfo, DriverFactory, ErrorKind,
    IdCardReader,
};
use pcsc::{Card, Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

use crate::apdu::{self, BLOCKS, GET_CHIP_SERIAL, GET_UID, RECORD_LEN};

/// Device id for a reader name: the name itself when it fits the ABI's 63
/// bytes, else a prefix and a hash, stable across discovery.
pub fn device_id_for(reader: &str) -> DeviceId {
    if let Ok(id) = DeviceId::new(reader) {
        return id;
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in reader.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    let mut end = 54.min(reader.len());
    while !reader.is_char_boundary(end) {
        end -= 1;
    }
    DeviceId::new(format!("{}~{h:08x}", &reader[..end])).expect("fits by construction")
}

/// Lists PC/SC readers (all, or those whose name contains a filter) and
/// opens them as ID card readers.
#[derive(Clone, Debug, Default)]
pub struct PcscIdCardFactory {
    filter: Option<String>,
}

impl PcscIdCardFactory {
    /// `filter`: only readers whose name contains it (the selector's
    /// `pcsc-idcard:READER NAME`).
    pub fn new(filter: Option<String>) -> Self {
        PcscIdCardFactory { filter }
    }

    fn readers(&self, ctx: &Context) -> Result<Vec<CString>, DeviceError> {
        let all = match ctx.list_readers_owned() {
            Ok(r) => r,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(e) => return Err(map_err(e, "list readers")),
        };
        Ok(all.into_iter().filter(|r| self.filter.as_deref().is_none_or(|f| r.to_string_lossy().contains(f))).collect())
    }
}

fn establish() -> Result<Context, DeviceError> {
    Context::establish(Scope::User).map_err(|e| match e {
        pcsc::Error::NoService | pcsc::Error::ServiceStopped => {
            DeviceError::NotConnected("pcscd is not running; start it (systemctl start pcscd)".into())
        }
        e => map_err(e, "connect to pcscd"),
    })
}

/// True for errors after which the context is dead (pcscd restarted).
fn service_lost(e: &pcsc::Error) -> bool {
    matches!(
        e,
        pcsc::Error::NoService
            | pcsc::Error::ServiceStopped
            | pcsc::Error::InvalidHandle
            | pcsc::Error::CommError
            | pcsc::Error::InternalError
    )
}

fn map_err(e: pcsc::Error, doing: &str) -> DeviceError {
    use pcsc::Error as E;
    match e {
        E::NoSmartcard | E::Timeout => DeviceError::NoCard,
        // NotTransacted: pcscd lost the card between connect and transmit.
        E::RemovedCard | E::ResetCard | E::UnpoweredCard | E::NotTransacted => DeviceError::CardRemoved,
        E::UnresponsiveCard => {
            DeviceError::Protocol(format!("{doing}: the card does not answer; take it off and put it back"))
        }
        E::ReaderUnavailable | E::UnknownReader | E::NoReadersAvailable => {
            DeviceError::NotConnected(format!("{doing}: the card reader is gone"))
        }
        E::SharingViolation => DeviceError::Busy(format!("{doing}: another program holds the card")),
        e if service_lost(&e) => DeviceError::NotConnected(format!("{doing}: lost pcscd ({e}); reconnecting")),
        e => DeviceError::Protocol(format!("{doing}: {e}")),
    }
}

impl DriverFactory for PcscIdCardFactory {
    fn name(&self) -> &str {
        "pcsc-idcard"
    }

    fn classes(&self) -> DeviceClasses {
        DeviceClass::IdCard.into()
    }

    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        let ctx = establish()?;
        Ok(self
            .readers(&ctx)?
            .into_iter()
            .map(|r| {
                let name = r.to_string_lossy().into_owned();
                DeviceInfo { id: device_id_for(&name), name, classes: DeviceClass::IdCard.into() }
            })
            .collect())
    }

    fn open(&self, id: &DeviceId) -> Result<Box<dyn Device>, DeviceError> {
        let ctx = establish()?;
        let reader = self
            .readers(&ctx)?
            .into_iter()
            .find(|r| &device_id_for(&r.to_string_lossy()) == id)
            .ok_or_else(|| DeviceError::NotConnected(format!("no PC/SC reader {id}")))?;
        let info = DeviceInfo {
            id: id.clone(),
            name: reader.to_string_lossy().into_owned(),
            classes: DeviceClass::IdCard.into(),
        };
        Ok(Box::new(PcscIdCard { info, reader, ctx: Some(ctx) }))
    }
}

/// One PC/SC reader. Holds a context, re-established when pcscd restarts.
struct PcscIdCard {
    info: DeviceInfo,
    reader: CString,
    ctx: Option<Context>,
}

impl PcscIdCard {
    fn ctx(&mut self) -> Result<&Context, DeviceError> {
        if self.ctx.is_none() {
            self.ctx = Some(establish()?);
        }
        Ok(self.ctx.as_ref().expect("set above"))
    }

    /// Run `f` with a live context; if pcscd went away in between, make a
    /// new context and try once more.
    fn with_ctx<T>(
        &mut self,
        mut f: impl FnMut(&Context, &CStr) -> Result<T, pcsc::Error>,
        doing: &str,
    ) -> Result<T, DeviceError> {
        for attempt in 0..2 {
            let reader = self.reader.clone();
            let result = f(self.ctx()?, &reader);
            match result {
                Ok(v) => return Ok(v),
                Err(e) if service_lost(&e) && attempt == 0 => {
                    tracing::info!(reader = %self.info.name, error = %e, "pcscd connection lost; re-establishing");
                    self.ctx = None;
                }
                Err(e) => {
                    if service_lost(&e) {
                        self.ctx = None;
                    }
                    return Err(map_err(e, doing));
                }
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    fn state(&mut self, timeout: Duration) -> Result<State, DeviceError> {
        self.with_ctx(
            |ctx, reader| {
                let mut states = [ReaderState::new(reader.to_owned(), State::UNAWARE)];
                ctx.get_status_change(timeout, &mut states)?;
                Ok(states[0].event_state())
            },
            "read the reader's state",
        )
    }

    /// Wait up to `timeout` for a card on the reader.
    fn wait_for_card(&mut self, timeout: Duration) -> Result<(), DeviceError> {
        let deadline = Instant::now() + timeout;
        let mut known = State::UNAWARE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let result = self.with_ctx(
                |ctx, reader| {
                    let mut states = [ReaderState::new(reader.to_owned(), known)];
                    match ctx.get_status_change(left, &mut states) {
                        Ok(()) => Ok(Some(states[0].event_state())),
                        Err(pcsc::Error::Timeout) => Ok(None),
                        Err(e) => Err(e),
                    }
                },
                "wait for a card",
            )?;
            match result {
                None => return Err(DeviceError::NoCard),
                Some(state) if state.contains(State::UNKNOWN) || state.contains(State::UNAVAILABLE) => {
                    return Err(DeviceError::NotConnected(format!("reader {} is gone", self.info.name)));
                }
                Some(state) if state.contains(State::PRESENT) && !state.contains(State::MUTE) => return Ok(()),
                Some(state) => {
                    known = state & !State::CHANGED;
                    if Instant::now() >= deadline {
                        return Err(DeviceError::NoCard);
                    }
                }
            }
        }
    }
}

fn transmit(card: &Card, command: &[u8]) -> Result<(Vec<u8>, [u8; 2]), pcsc::Error> {
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    let response = card.transmit(command, &mut buf)?;
    match apdu::split(response) {
        Some((data, sw)) => Ok((data.to_vec(), sw)),
        None => Err(pcsc::Error::InvalidValue),
    }
}

/// Read everything the card and reader give.
fn read_connected(card: &Card) -> Result<CardRead, pcsc::Error> {
    let atr = card.status2_owned()?.atr().to_vec();
    let (_uid, _) = transmit(card, &GET_UID)?;
    let (serial, sw) = transmit(card, &GET_CHIP_SERIAL)?;
    let chip_serial = if sw == [0x90, 0x00] { serial } else { Vec::new() };
    let mut read = CardRead { text: Vec::new(), photo: Vec::new(), chip_serial };
    if !apdu::atr_says_decoded(&atr) {
        return Ok(read);
    }
    let mut record = Vec::with_capacity(RECORD_LEN);
    for n in 0..BLOCKS {
        let (data, sw) = transmit(card, &apdu::read_block(n))?;
        if sw != [0x90, 0x00] {
            if n == 0 {
                // The reader refuses FF B0: identifiers only.
                return Ok(read);
            }
            return Err(pcsc::Error::InvalidValue);
        }
        record.extend_from_slice(&data);
    }
    match apdu::parse_record(&record) {
        Ok((text, photo)) => {
            read.text = text;
            read.photo = photo;
            Ok(read)
        }
        Err(_) => Err(pcsc::Error::InvalidValue),
    }
}

impl Device for PcscIdCard {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn as_idcard(&mut self) -> Option<&mut dyn IdCardReader> {
        Some(self)
    }
}

impl PcscIdCard {
    fn read_once(&mut self) -> Result<CardRead, DeviceError> {
        self.with_ctx(
            |ctx, reader| {
                let card = ctx.connect(reader, ShareMode::Shared, Protocols::ANY)?;
                let read = read_connected(&card);
                let _ = card.disconnect(Disposition::LeaveCard);
                read
            },
            "read the card",
        )
        .map_err(|e| match e {
            DeviceError::Protocol(m) if m.contains("invalid") => DeviceError::Protocol(
                "the reader's decoded-card record is malformed; take the card off and try again".into(),
            ),
            e => e,
        })
    }
}

impl IdCardReader for PcscIdCard {
    fn read_card(&mut self, timeout: Duration) -> Result<CardRead, DeviceError> {
        let deadline = Instant::now() + timeout;
        self.wait_for_card(timeout)?;
        // A card put down a moment ago, or swapped, can fail its first
        // exchange while pcscd settles: retry while the card is there.
        let mut first_error = None;
        for attempt in 0..5u32 {
            match self.read_once() {
                Ok(read) => return Ok(read),
                Err(e) if matches!(e.kind(), ErrorKind::CardRemoved | ErrorKind::Protocol) => {
                    tracing::debug!(reader = %self.info.name, attempt, error = %e, "card read failed; retrying");
                    first_error.get_or_insert(e);
                    let pause = Duration::from_millis(50 << attempt);
                    if Instant::now() + pause >= deadline {
                        break;
                    }
                    std::thread::sleep(pause);
                    let left = deadline.saturating_duration_since(Instant::now());
                    if self.wait_for_card(left).is_err() {
                        break;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(first_error.unwrap_or(DeviceError::NoCard))
    }

    fn card_present(&mut self) -> Result<bool, DeviceError> {
        let state = self.state(Duration::ZERO)?;
        if state.contains(State::UNKNOWN) || state.contains(State::UNAVAILABLE) {
            return Err(DeviceError::NotConnected(format!("reader {} is gone", self.info.name)));
        }
        Ok(state.contains(State::PRESENT) && !state.contains(State::MUTE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reader_names_get_stable_short_ids() {
        let long = "Generic Smart Card Reader Interface [Smart Card Reader Interface] (20070818000000000) 00 00";
        let a = device_id_for(long);
        assert_eq!(a, device_id_for(long));
        assert!(a.as_str().len() <= 63);
        assert_eq!(device_id_for("Virtual PCD 00 00").as_str(), "Virtual PCD 00 00");
    }
}
