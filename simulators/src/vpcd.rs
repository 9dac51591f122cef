//! A virtual second-generation ID card for vsmartcard's vpcd, the virtual
//! PC/SC reader: it connects to vpcd over TCP and answers the real pcscd's
//! commands byte for byte, as a card on a decoded-card reader (one with a
//! built-in SAM) or as a bare card giving identifiers only.
//!
//! vpcd wire: every message is a 2-byte big-endian length and a payload. A
//! 1-byte payload is a control code (00 power off, 01 power on, 02 reset,
//! 04 get ATR, answered with the ATR); anything longer is a C-APDU,
//! answered with the R-APDU.
//!
//! The card answers:
//! - `FF CA 00 00 00`: the 4-byte PUPI (PC/SC part 3 GET DATA) + `90 00`;
//! - `00 36 00 00 08`: the 8-byte chip serial + `90 00`;
//! - `FF B0 0n 00 00`, n = 0..5 (decoded profile only): block n of the
//!   1284-byte record (text length u16 BE = 256, photo length u16 BE =
//!   1024, text, WLT photo) + `90 00`; block 5 holds the last 4 bytes.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::linux::net::TcpStreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use examgate_device_sdk::idcard::{PHOTO_LEN, TEXT_LEN};

/// Length of the decoded-card record read with `FF B0`.
pub const RECORD_LEN: usize = 4 + TEXT_LEN + PHOTO_LEN;
/// `FF B0` block size.
pub const BLOCK_LEN: usize = 256;

/// How the simulated reader presents the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardProfile {
    /// A reader with a built-in SAM: `FF B0` reads the decoded card.
    Decoded,
    /// A reader without SAM: identifiers only, `FF B0` refused.
    Identifiers,
}

impl std::str::FromStr for CardProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "decoded" => Ok(CardProfile::Decoded),
            "identifiers" => Ok(CardProfile::Identifiers),
            other => Err(format!("unknown card profile {other:?}: expected decoded or identifiers")),
        }
    }
}

/// What is on the card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardImage {
    pub text: [u8; TEXT_LEN],
    pub photo: [u8; PHOTO_LEN],
    pub chip_serial: [u8; 8],
    pub pupi: [u8; 4],
}

impl CardImage {
    /// The record `FF B0` reads.
    pub fn record(&self) -> Vec<u8> {
        let mut r = Vec::with_capacity(RECORD_LEN);
        r.extend_from_slice(&(TEXT_LEN as u16).to_be_bytes());
        r.extend_from_slice(&(PHOTO_LEN as u16).to_be_bytes());
        r.extend_from_slice(&self.text);
        r.extend_from_slice(&self.photo);
        r
    }
}

const SW_OK: [u8; 2] = [0x90, 0x00];
const SW_INS_NOT_SUPPORTED: [u8; 2] = [0x6D, 0x00];
const SW_WRONG_P1P2: [u8; 2] = [0x6B, 0x00];
const SW_WRONG_LENGTH: [u8; 2] = [0x67, 0x00];

/// The card's answers, without any transport: a pure function of the APDU.
#[derive(Clone, Debug)]
pub struct VirtualCard {
    pub image: CardImage,
    pub profile: CardProfile,
}

impl VirtualCard {
    /// ATR of a contactless type-B card as a PC/SC reader reports it; the
    /// decoded profile carries `90 00` at bytes 13-14, which is how hosts
    /// recognise a reader that presents the decoded card.
    pub fn atr(&self) -> Vec<u8> {
        let historical: [u8; 11] = match self.profile {
            CardProfile::Decoded => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x90, 0x00],
            CardProfile::Identifiers => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        };
        let mut atr = vec![0x3B, 0x80 | historical.len() as u8, 0x80, 0x01];
        atr.extend_from_slice(&historical);
        let tck = atr[1..].iter().fold(0u8, |x, b| x ^ b);
        atr.push(tck);
        atr
    }

    /// Answer one command APDU.
    pub fn answer(&self, apdu: &[u8]) -> Vec<u8> {
        let sw = |data: &[u8], sw: [u8; 2]| [data, &sw].concat();
        match apdu {
            [0xFF, 0xCA, 0x00, 0x00, 0x00] => sw(&self.image.pupi, SW_OK),
            [0xFF, 0xCA, ..] => sw(&[], SW_WRONG_P1P2),
            [0x00, 0x36, 0x00, 0x00, 0x08] => sw(&self.image.chip_serial, SW_OK),
            [0x00, 0x36, ..] => sw(&[], SW_WRONG_LENGTH),
            [0xFF, 0xB0, p1, 0x00, 0x00] if self.profile == CardProfile::Decoded => {
                let record = self.image.record();
                let start = usize::from(*p1) * BLOCK_LEN;
                if start >= record.len() {
                    return sw(&[], SW_WRONG_P1P2);
                }
                let end = (start + BLOCK_LEN).min(record.len());
                sw(&record[start..end], SW_OK)
            }
            _ => sw(&[], SW_INS_NOT_SUPPORTED),
        }
    }
}

/// Scripted faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The card leaves the field when block `n` of the record is asked for.
    PullAtBlock(u8),
}

#[derive(Debug)]
struct Control {
    inserted: bool,
    fault: Option<Fault>,
}

#[derive(Debug)]
struct Shared {
    control: Mutex<Control>,
    changed: Condvar,
    /// Bumped when the card connects; lets callers await insertion.
    connections: AtomicU64,
    apdus: AtomicU64,
}

/// Scripts a running virtual card: insert, remove, pull it mid-read.
#[derive(Clone, Debug)]
pub struct CardHandle {
    shared: Arc<Shared>,
}

impl CardHandle {
    pub fn insert(&self) {
        self.set(|c| c.inserted = true);
    }
    pub fn remove(&self) {
        self.set(|c| c.inserted = false);
    }
    pub fn fault(&self, fault: Option<Fault>) {
        self.set(|c| c.fault = fault);
    }
    /// How many times the card has connected to vpcd.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }
    /// APDUs answered so far.
    pub fn apdus(&self) -> u64 {
        self.shared.apdus.load(Ordering::SeqCst)
    }
    fn set(&self, f: impl FnOnce(&mut Control)) {
        f(&mut self.shared.control.lock().unwrap_or_else(|p| p.into_inner()));
        self.shared.changed.notify_all();
    }
}

fn read_message(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    // vpcd sends length and payload in separate small writes, so with
    // Nagle on its side each waits for our ACK: ACK at once, after every
    // read (Linux leaves quick-ACK mode on its own).
    let _ = stream.set_quickack(true);
    // Idle waits time out (so that a removal is noticed) only before the
    // first byte: a message once started is read whole.
    let mut len = [0u8; 2];
    let n = stream.read(&mut len)?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let idle_timeout = stream.read_timeout()?;
    stream.set_read_timeout(None)?;
    let rest: io::Result<Vec<u8>> = (|| {
        if n == 1 {
            stream.read_exact(&mut len[1..])?;
        }
        let _ = stream.set_quickack(true);
        let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut payload)?;
        Ok(payload)
    })();
    stream.set_read_timeout(idle_timeout)?;
    let payload = rest?;
    let _ = stream.set_quickack(true);
    Ok(payload)
}

fn write_message(stream: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let len =
        u16::try_from(payload.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message too long"))?;
    stream.write_all(&[&len.to_be_bytes()[..], payload].concat())
}

/// Run a virtual card against vpcd at `addr` (e.g. `127.0.0.1:35963`) on
/// a thread of its own; the card starts inserted, and leaves (its thread
/// ends) when the last `CardHandle` is dropped. It reconnects whenever
/// vpcd goes away (pcscd restarting), as long as the card is inserted.
pub fn spawn(addr: String, card: VirtualCard) -> CardHandle {
    let shared = Arc::new(Shared {
        control: Mutex::new(Control { inserted: true, fault: None }),
        changed: Condvar::new(),
        connections: AtomicU64::new(0),
        apdus: AtomicU64::new(0),
    });
    let handle = CardHandle { shared: Arc::clone(&shared) };
    std::thread::Builder::new()
        .name("vpcd-card".into())
        .spawn(move || run(&addr, &card, &shared))
        .expect("spawn vpcd card thread");
    handle
}

/// The card's thread ends once every `CardHandle` is gone: only the thread
/// itself still holds the shared state.
fn abandoned(shared: &Arc<Shared>) -> bool {
    Arc::strong_count(shared) == 1
}

fn run(addr: &str, card: &VirtualCard, shared: &Arc<Shared>) {
    loop {
        // Wait until inserted.
        {
            let mut c = shared.control.lock().unwrap_or_else(|p| p.into_inner());
            while !c.inserted {
                if abandoned(shared) {
                    return;
                }
                c = shared.changed.wait_timeout(c, Duration::from_millis(100)).unwrap_or_else(|p| p.into_inner()).0;
            }
        }
        if abandoned(shared) {
            return;
        }
        let mut stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(_) => {
                // vpcd not listening (pcscd down): try again shortly.
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // Short reads so that a removal is noticed while idle.
        let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
        shared.connections.fetch_add(1, Ordering::SeqCst);
        serve(&mut stream, card, shared);
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
}

fn serve(stream: &mut TcpStream, card: &VirtualCard, shared: &Arc<Shared>) {
    loop {
        if abandoned(shared) {
            return;
        }
        let fault = {
            let c = shared.control.lock().unwrap_or_else(|p| p.into_inner());
            if !c.inserted {
                return;
            }
            c.fault
        };
        let message = match read_message(stream) {
            Ok(m) => m,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
            Err(_) => return,
        };
        let reply = match message.as_slice() {
            [0x04] => Some(card.atr()),
            [_] => None, // power off / on / reset: no answer
            apdu => {
                if let (Some(Fault::PullAtBlock(n)), [0xFF, 0xB0, p1, ..]) = (fault, apdu)
                    && *p1 == n
                {
                    // The card leaves the reader's field: gone until re-inserted.
                    let mut c = shared.control.lock().unwrap_or_else(|p| p.into_inner());
                    c.inserted = false;
                    c.fault = None;
                    return;
                }
                shared.apdus.fetch_add(1, Ordering::SeqCst);
                Some(card.answer(apdu))
            }
        };
        if let Some(reply) = reply
            && write_message(stream, &reply).is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(profile: CardProfile) -> VirtualCard {
        let mut text = [0x20u8; TEXT_LEN];
        text[0] = 0x41;
        VirtualCard {
            image: CardImage {
                text,
                photo: [0x57; PHOTO_LEN],
                chip_serial: [0x10, 0xE4, 0x10, 0x01, 0x02, 0x03, 0x04, 0x05],
                pupi: [0xDE, 0xAD, 0xBE, 0xEF],
            },
            profile,
        }
    }

    #[test]
    fn answers_identifier_commands() {
        let c = card(CardProfile::Identifiers);
        assert_eq!(c.answer(&[0xFF, 0xCA, 0, 0, 0]), vec![0xDE, 0xAD, 0xBE, 0xEF, 0x90, 0x00]);
        // protocols.md example reply to 00 36 00 00 08.
        assert_eq!(c.answer(&[0x00, 0x36, 0, 0, 8]), vec![0x10, 0xE4, 0x10, 0x01, 0x02, 0x03, 0x04, 0x05, 0x90, 0x00]);
        assert_eq!(c.answer(&[0xFF, 0xB0, 0, 0, 0]), vec![0x6D, 0x00]);
    }

    #[test]
    fn serves_the_record_in_six_blocks() {
        let c = card(CardProfile::Decoded);
        let mut record = Vec::new();
        for n in 0..6u8 {
            let r = c.answer(&[0xFF, 0xB0, n, 0, 0]);
            assert_eq!(&r[r.len() - 2..], &[0x90, 0x00]);
            record.extend_from_slice(&r[..r.len() - 2]);
        }
        assert_eq!(record.len(), 1284);
        assert_eq!(&record[..4], &[0x01, 0x00, 0x04, 0x00]);
        assert_eq!(record, c.image.record());
        assert_eq!(c.answer(&[0xFF, 0xB0, 6, 0, 0]), vec![0x6B, 0x00]);
    }

    #[test]
    fn atr_marks_decoded_readers_and_has_a_valid_check_byte() {
        let decoded = card(CardProfile::Decoded).atr();
        assert_eq!(&decoded[13..15], &[0x90, 0x00]);
        assert_eq!(decoded[1..].iter().fold(0u8, |x, b| x ^ b), 0, "TCK makes the XOR zero");
        let bare = card(CardProfile::Identifiers).atr();
        assert_ne!(&bare[13..15], &[0x90, 0x00]);
    }
}
