//! A GA 467 SAM module (the ID card decoder of second-generation ID card
//! readers), byte for byte, on a pseudo-terminal or any byte stream.
//!
//! Frames: `AA AA AA 96 69` · LEN (u16 BE, bytes after it incl. CHK) · body ·
//! CHK (XOR of LEN and body). Written here from protocols.md §1 on its own,
//! not with the driver's codec, so that the two check each other.
//!
//! It answers reset `10 FF`, status `11 FF`, SAM id `12 FF`, find `20 01`
//! (`9F`, or `80` with no card), select `20 02` (`90` + the 8-byte chip
//! serial; `81` unless a card was found), read `30 01` / `30 10` (`41`
//! unless a card was selected), appended address `30 03` (`91` when the card
//! has none); a frame with a bad checksum gets SW3 `10`, a bad or stalled
//! LEN `11`, an unknown command `21`. Faults and slowness are scripted with
//! [`SamFault`] and [`SlowReplies`], or as text with [`SamScript`].

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use examgate_device_sdk::idcard::{PHOTO_LEN, TEXT_LEN};

use crate::card_file::CardFile;
use crate::pty::{self, Heard, Pty};

mod script;
pub use script::SamScript;

const PREAMBLE: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];
/// Commands are short; a longer LEN is noise.
const MAX_COMMAND_LEN: usize = 512;
/// The SAM's id as `12 FF` answers it (the real layout is not confirmed).
pub const SAM_ID: [u8; 16] = [0x05, 0x00, 0x01, 0x00, 0x20, 0x26, 0x11, 0x25, 0, 0, 0, 0x01, 0, 0, 0, 0x01];

/// One card the simulator knows.
#[derive(Clone, PartialEq, Eq)]
pub struct SimCard {
    pub text: [u8; TEXT_LEN],
    pub photo: [u8; PHOTO_LEN],
    pub chip_serial: [u8; 8],
    /// Fingerprint records 30 10 returns (0, 512 or 1024 bytes).
    pub fingerprint: Vec<u8>,
    pub appended_address: Option<String>,
}

impl fmt::Debug for SimCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimCard({:02X?})", self.chip_serial)
    }
}

impl From<&CardFile> for SimCard {
    fn from(card: &CardFile) -> SimCard {
        let mut photo = [0; PHOTO_LEN];
        let n = card.photo.len().min(PHOTO_LEN);
        photo[..n].copy_from_slice(&card.photo[..n]);
        SimCard {
            text: card.fields.encode(),
            photo,
            chip_serial: card.chip_serial,
            fingerprint: Vec::new(),
            appended_address: card.appended_address.clone(),
        }
    }
}

/// A fault for the next exchange (or the next with a given CMD PARA; see
/// [`SamSimulator::inject_on`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SamFault {
    /// Answer the command with this SW3 and no data.
    Fail(u8),
    /// The card leaves the field when the next read arrives; that read fails (SW3 41).
    PullDuringRead,
    /// Flip a bit in the reply: the host sees a bad checksum.
    CorruptReply,
    /// Send these bytes before the reply.
    GarbageBeforeReply(Vec<u8>),
    /// Do not answer.
    DropReply,
}

/// Replies that take their time: a delay before each, then written in
/// chunks with a gap between them (the host sees partial reads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlowReplies {
    pub delay: Duration,
    /// 0: the whole reply at once.
    pub chunk_len: usize,
    pub chunk_gap: Duration,
}

#[derive(Debug, Default)]
struct State {
    cards: Vec<SimCard>,
    inserted: Option<usize>,
    found: bool,
    selected: bool,
    faults: VecDeque<(SamFault, Option<[u8; 2]>)>,
    slow: SlowReplies,
    commands: u64,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

/// A simulated SAM module. Clones share one module, so a test can script
/// the one a thread serves.
#[derive(Clone, Debug, Default)]
pub struct SamSimulator {
    shared: Arc<Shared>,
}

impl SamSimulator {
    /// A module that knows `cards`, with none on the reader.
    pub fn new(cards: Vec<SimCard>) -> SamSimulator {
        let sim = SamSimulator::default();
        sim.lock().cards = cards;
        sim
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Put card `index` (0-based) on the reader, replacing any other.
    pub fn insert(&self, index: usize) -> Result<(), String> {
        let mut s = self.lock();
        if index >= s.cards.len() {
            return Err(format!("no card {} (the simulator knows {})", index + 1, s.cards.len()));
        }
        s.inserted = Some(index);
        s.found = false;
        s.selected = false;
        Ok(())
    }

    /// Take the card off the reader.
    pub fn remove(&self) {
        let mut s = self.lock();
        s.inserted = None;
        s.found = false;
        s.selected = false;
    }

    /// The card on the reader (0-based), if any.
    pub fn inserted(&self) -> Option<usize> {
        self.lock().inserted
    }

    /// A fault for the next command.
    pub fn inject(&self, fault: SamFault) {
        self.lock().faults.push_back((fault, None));
    }

    /// A fault for the next command with this CMD PARA.
    pub fn inject_on(&self, command: [u8; 2], fault: SamFault) {
        self.lock().faults.push_back((fault, Some(command)));
    }

    /// Forget faults not yet used.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub fn set_slow(&self, slow: SlowReplies) {
        self.lock().slow = slow;
    }

    /// Commands received so far (well-formed or not).
    pub fn commands(&self) -> u64 {
        self.lock().commands
    }

    /// Wait until `count` commands have been received in all; false on timeout.
    pub fn wait_for_commands(&self, count: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        while s.commands < count {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s = self.shared.changed.wait_timeout(s, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }

    /// The reply to one incoming frame, with the faults that apply to it:
    /// the bytes to send (possibly none), and how slowly.
    fn respond(&self, incoming: Incoming) -> (Vec<u8>, SlowReplies) {
        let mut s = self.lock();
        s.commands += 1;
        self.shared.changed.notify_all();
        let code = match incoming {
            Incoming::Command { cmd, para } => Some([cmd, para]),
            _ => None,
        };
        let is_read = matches!(code, Some([0x30, 0x01 | 0x10]));
        // The first fault of a kind that applies to this exchange, used up.
        let mut take = |kind: fn(&SamFault) -> bool| {
            let i = s.faults.iter().position(|(f, on)| {
                kind(f)
                    && match f {
                        SamFault::PullDuringRead => is_read,
                        SamFault::Fail(_) => code.is_some() && on.is_none_or(|c| Some(c) == code),
                        _ => on.is_none_or(|c| Some(c) == code),
                    }
            })?;
            s.faults.remove(i).map(|(f, _)| f)
        };
        let failure = take(|f| matches!(f, SamFault::Fail(_) | SamFault::PullDuringRead));
        let drop_reply = take(|f| matches!(f, SamFault::DropReply)).is_some();
        let garbage = take(|f| matches!(f, SamFault::GarbageBeforeReply(_)));
        let corrupt = take(|f| matches!(f, SamFault::CorruptReply)).is_some();
        let mut reply = match (incoming, failure) {
            (Incoming::BadChecksum, _) => frame(0x10, &[]),
            (Incoming::BadLength, _) => frame(0x11, &[]),
            (_, Some(SamFault::Fail(sw3))) => frame(sw3, &[]),
            (_, Some(_)) => {
                s.inserted = None;
                s.found = false;
                s.selected = false;
                frame(0x41, &[])
            }
            (Incoming::Command { cmd, para }, None) => answer(&mut s, cmd, para),
        };
        if drop_reply {
            return (Vec::new(), s.slow);
        }
        if corrupt {
            // The last body byte: the checksum no longer matches.
            let at = reply.len() - 2;
            reply[at] ^= 0x01;
        }
        let mut out = match garbage {
            Some(SamFault::GarbageBeforeReply(g)) => g,
            _ => Vec::new(),
        };
        out.extend_from_slice(&reply);
        (out, s.slow)
    }

    /// Serve GA 467 on `port` until `stop` is set or the port fails for
    /// good. `port` should time out its reads (so `stop` is seen); a
    /// pseudo-terminal master whose slave is closed is waited on.
    pub fn serve<P: Read + Write>(&self, port: &mut P, stop: &AtomicBool) -> io::Result<()> {
        let mut inbox = Inbox::default();
        pty::serve(port, stop, |port, heard| match heard {
            Heard::Bytes(bytes) => {
                inbox.buf.extend_from_slice(bytes);
                while let Some(incoming) = inbox.next() {
                    self.send(port, incoming);
                }
            }
            // A frame that stopped arriving: what a SAM's byte timeout does.
            Heard::Quiet if inbox.stalled() => {
                inbox.buf.clear();
                self.send(port, Incoming::BadLength);
            }
            Heard::Quiet => {}
            Heard::HungUp => inbox.buf.clear(),
        })
    }

    fn send<P: Write>(&self, port: &mut P, incoming: Incoming) {
        let (bytes, slow) = self.respond(incoming);
        if bytes.is_empty() {
            return;
        }
        if !slow.delay.is_zero() {
            std::thread::sleep(slow.delay);
        }
        let chunk = if slow.chunk_len == 0 { bytes.len() } else { slow.chunk_len };
        for (i, part) in bytes.chunks(chunk).enumerate() {
            if i > 0 && !slow.chunk_gap.is_zero() {
                std::thread::sleep(slow.chunk_gap);
            }
            // The host may have gone; it will ask again.
            if port.write_all(part).is_err() {
                return;
            }
        }
    }

    /// Serve on a new pseudo-terminal from a thread; the host opens
    /// [`PtySam::path`] as a serial port.
    pub fn spawn_pty(&self) -> io::Result<PtySam> {
        let sim = self.clone();
        Pty::spawn("SAM", move |master, stop| sim.serve(master, stop))
    }

    /// Carry out a script command; the acknowledgement to print.
    /// [`SamScript::Wait`] and [`SamScript::Quit`] are the caller's.
    pub fn apply(&self, command: &SamScript) -> Result<String, String> {
        match command {
            SamScript::Insert(n) => self.insert(*n)?,
            SamScript::Remove => self.remove(),
            SamScript::Fault(f, None) => self.inject(f.clone()),
            SamScript::Fault(f, Some(on)) => self.inject_on(*on, f.clone()),
            SamScript::Slow(s) => self.set_slow(*s),
            SamScript::Status => {
                let s = self.lock();
                return Ok(format!(
                    "status card={} commands={} faults={}",
                    s.inserted.map_or("none".to_string(), |i| (i + 1).to_string()),
                    s.commands,
                    s.faults.len()
                ));
            }
            SamScript::Wait(_) | SamScript::Quit => {}
        }
        Ok(format!("ok {command}"))
    }
}

/// A SAM simulator serving a pseudo-terminal; stops when dropped.
pub type PtySam = Pty;

/// What arrived.
#[derive(Debug, PartialEq, Eq)]
enum Incoming {
    Command { cmd: u8, para: u8 },
    BadChecksum,
    BadLength,
}

#[derive(Debug, Default)]
struct Inbox {
    buf: Vec<u8>,
}

impl Inbox {
    fn next(&mut self) -> Option<Incoming> {
        let start = self.buf.windows(PREAMBLE.len()).position(|w| w == PREAMBLE);
        let Some(start) = start else {
            // Keep what may be the start of a preamble.
            let keep = (1..PREAMBLE.len()).rev().find(|&n| self.buf.ends_with(&PREAMBLE[..n])).unwrap_or(0);
            self.buf.drain(..self.buf.len() - keep);
            return None;
        };
        self.buf.drain(..start);
        if self.buf.len() < 7 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([self.buf[5], self.buf[6]]));
        if !(3..=MAX_COMMAND_LEN).contains(&len) {
            self.buf.drain(..PREAMBLE.len());
            return Some(Incoming::BadLength);
        }
        if self.buf.len() < 7 + len {
            return None;
        }
        let frame: Vec<u8> = self.buf.drain(..7 + len).collect();
        let chk = frame[5..frame.len() - 1].iter().fold(0, |a, b| a ^ b);
        if chk != frame[frame.len() - 1] {
            return Some(Incoming::BadChecksum);
        }
        Some(Incoming::Command { cmd: frame[7], para: frame[8] })
    }

    /// A frame has begun and not finished.
    fn stalled(&self) -> bool {
        self.buf.starts_with(&PREAMBLE)
    }
}

/// A reply frame: SW1 SW2 = 00 00.
fn frame(sw3: u8, data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(3 + data.len() + 1).expect("replies are short");
    let mut out = Vec::with_capacity(8 + data.len() + 3);
    out.extend_from_slice(&PREAMBLE);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[0x00, 0x00, sw3]);
    out.extend_from_slice(data);
    out.push(out[5..].iter().fold(0, |a, b| a ^ b));
    out
}

fn answer(s: &mut State, cmd: u8, para: u8) -> Vec<u8> {
    let card = s.inserted.map(|i| s.cards[i].clone());
    match ([cmd, para], card) {
        ([0x10, 0xFF], _) => {
            s.found = false;
            s.selected = false;
            frame(0x90, &[])
        }
        ([0x11, 0xFF], _) => frame(0x90, &[]),
        ([0x12, 0xFF], _) => frame(0x90, &SAM_ID),
        ([0x20, 0x01], Some(_)) => {
            s.found = true;
            frame(0x9F, &[0; 4])
        }
        ([0x20, 0x01], None) => frame(0x80, &[]),
        ([0x20, 0x02], Some(card)) if s.found => {
            s.selected = true;
            frame(0x90, &card.chip_serial)
        }
        ([0x20, 0x02], _) => frame(0x81, &[]),
        ([0x30, 0x01], Some(card)) if s.selected => frame(0x90, &read_payload(&card, false)),
        ([0x30, 0x10], Some(card)) if s.selected => frame(0x90, &read_payload(&card, true)),
        ([0x30, 0x03], Some(card)) if s.selected => match &card.appended_address {
            Some(address) => frame(0x90, &ucs2_padded(address, 70)),
            None => frame(0x91, &[]),
        },
        ([0x30, 0x01 | 0x10 | 0x03], _) => frame(0x41, &[]),
        _ => frame(0x21, &[]),
    }
}

/// Text length, photo length[, fingerprint length], text, photo[, fingerprint].
fn read_payload(card: &SimCard, with_fingerprint: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(6 + TEXT_LEN + PHOTO_LEN + card.fingerprint.len());
    out.extend_from_slice(&(TEXT_LEN as u16).to_be_bytes());
    out.extend_from_slice(&(PHOTO_LEN as u16).to_be_bytes());
    if with_fingerprint {
        out.extend_from_slice(&(card.fingerprint.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(&card.text);
    out.extend_from_slice(&card.photo);
    if with_fingerprint {
        out.extend_from_slice(&card.fingerprint);
    }
    out
}

fn ucs2_padded(s: &str, bytes: usize) -> Vec<u8> {
    let mut units: Vec<u16> = s.encode_utf16().take(bytes / 2).collect();
    units.resize(bytes / 2, u16::from(b' '));
    units.into_iter().flat_map(u16::to_le_bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(cmd: u8, para: u8) -> Vec<u8> {
        let mut f = vec![0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, cmd, para];
        f.push(f[5..].iter().fold(0, |a, b| a ^ b));
        f
    }

    fn card() -> SimCard {
        SimCard {
            text: [0x20; TEXT_LEN],
            photo: [7; PHOTO_LEN],
            chip_serial: [1, 2, 3, 4, 5, 6, 7, 8],
            fingerprint: Vec::new(),
            appended_address: None,
        }
    }

    /// Feed bytes to the module; what it sends back.
    fn exchange(sim: &SamSimulator, bytes: &[u8]) -> Vec<u8> {
        let mut inbox = Inbox { buf: bytes.to_vec() };
        let mut out = Vec::new();
        while let Some(incoming) = inbox.next() {
            out.extend(sim.respond(incoming).0);
        }
        out
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
    }

    #[test]
    fn answers_with_the_documented_frames() {
        let sim = SamSimulator::new(vec![card()]);
        assert_eq!(command(0x20, 0x01), hex("AA AA AA 96 69 00 03 20 01 22"));
        assert_eq!(exchange(&sim, &command(0x20, 0x01)), hex("AA AA AA 96 69 00 04 00 00 80 84"));
        sim.insert(0).unwrap();
        assert_eq!(exchange(&sim, &command(0x20, 0x01)), hex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97"));
        let select = exchange(&sim, &command(0x20, 0x02));
        assert_eq!(&select[..10], &hex("AA AA AA 96 69 00 0C 00 00 90")[..]);
        let read = exchange(&sim, &command(0x30, 0x01));
        assert_eq!(read.len(), 1295);
        assert_eq!(&read[5..12], &hex("05 08 00 00 90 01 00")[..]);
        assert_eq!(read.len(), 1295);
        assert_eq!(exchange(&sim, &command(0x30, 0x10)).len(), 1297);
    }

    #[test]
    fn reports_broken_and_unknown_commands() {
        let sim = SamSimulator::new(vec![]);
        let mut bad = command(0x11, 0xFF);
        bad[9] ^= 0xFF;
        assert_eq!(exchange(&sim, &bad)[9], 0x10);
        assert_eq!(exchange(&sim, &hex("AA AA AA 96 69 40 00"))[9], 0x11);
        assert_eq!(exchange(&sim, &command(0x55, 0x01))[9], 0x21);
        assert_eq!(exchange(&sim, &command(0x20, 0x02))[9], 0x81, "select before find");
        assert_eq!(sim.commands(), 4);
    }

    #[test]
    fn scripted_faults_apply_once() {
        let sim = SamSimulator::new(vec![card()]);
        sim.insert(0).unwrap();
        sim.inject_on([0x30, 0x01], SamFault::Fail(0x41));
        sim.inject(SamFault::CorruptReply);
        let corrupt = exchange(&sim, &command(0x11, 0xFF));
        assert_ne!(corrupt[corrupt.len() - 1], corrupt[5..corrupt.len() - 1].iter().fold(0, |a, b| a ^ b));
        exchange(&sim, &command(0x20, 0x01));
        exchange(&sim, &command(0x20, 0x02));
        assert_eq!(exchange(&sim, &command(0x30, 0x01))[9], 0x41);
        assert_eq!(exchange(&sim, &command(0x30, 0x01))[9], 0x90);
        sim.inject(SamFault::PullDuringRead);
        assert_eq!(exchange(&sim, &command(0x30, 0x01))[9], 0x41);
        assert_eq!(sim.inserted(), None);
        sim.inject(SamFault::GarbageBeforeReply(vec![1, 2, 3]));
        assert_eq!(&exchange(&sim, &command(0x11, 0xFF))[..4], &[1, 2, 3, 0xAA]);
        sim.inject(SamFault::DropReply);
        assert!(exchange(&sim, &command(0x11, 0xFF)).is_empty());
    }
}
