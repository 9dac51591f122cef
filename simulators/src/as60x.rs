//! A ZhianTec / Synochip AS608 (R30x protocol) fingerprint module, byte for
//! byte, on a pseudo-terminal or any byte stream (protocols.md §2).
//!
//! It answers VfyPwd / SetPwd, ReadSysPara, GenImg (`02` with no finger),
//! Img2Tz, Match (confirmation and a 2-byte score), Search, RegModel,
//! Store, LoadChar, UpChar (an ack, then data packets of the configured size
//! ending with PID 08), DownChar (an ack, then it takes the host's data
//! packets), DeleteChar, Empty and TemplateNum. A command with a bad
//! checksum or an impossible LEN gets `01`; one addressed to another module
//! gets nothing. With a password set, every command but VfyPwd gets `13`
//! until the host verifies it.
//!
//! Fingers, impressions and scores are modelled in [`finger`]; placements,
//! poor captures and faults are scripted on [`As60xSimulator`] or as text
//! with [`As60xScript`]; [`As60xSimulator::spawn_pty`] serves it on a
//! pseudo-terminal whose [`As60xSimHandle`] unplugs and replugs it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod finger;
mod pty;
mod script;
mod wire;

pub use pty::As60xSimHandle;
pub use script::As60xScript;

use wire::{Incoming, PID_ACK, PID_COMMAND, PID_DATA, PID_END, packet};

/// The people the simulator knows unless told otherwise (as `sim:fingerprint`).
pub const DEFAULT_SEED: u64 = 0xE6A7E;
/// Templates the module's library holds.
pub const LIBRARY_SIZE: u16 = 300;
/// Length of a template (UpChar / DownChar).
pub const TEMPLATE_LEN: usize = finger::TEMPLATE_LEN;

/// The Match score the module needs for a match at each security level
/// (1..=5). The real module's thresholds are not published; these are the
/// simulator's, chosen so that level 3 sits well above its impostor scores.
pub fn match_threshold(security_level: u16) -> u16 {
    match security_level {
        0 | 1 => 30,
        2 => 40,
        3 => 50,
        4 => 65,
        _ => 80,
    }
}

/// Why a scripted capture fails, and so at which step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PoorReason {
    /// `03` from GenImg.
    CaptureFailed,
    /// `04` from GenImg.
    TooDry,
    /// `05` from GenImg.
    TooWet,
    /// `06` from Img2Tz.
    TooMessy,
    /// `07` from Img2Tz.
    #[default]
    TooFewFeatures,
}

impl PoorReason {
    const ALL: [PoorReason; 5] = [
        PoorReason::CaptureFailed,
        PoorReason::TooDry,
        PoorReason::TooWet,
        PoorReason::TooMessy,
        PoorReason::TooFewFeatures,
    ];

    /// The confirmation code the module answers.
    pub fn code(self) -> u8 {
        match self {
            PoorReason::CaptureFailed => 0x03,
            PoorReason::TooDry => 0x04,
            PoorReason::TooWet => 0x05,
            PoorReason::TooMessy => 0x06,
            PoorReason::TooFewFeatures => 0x07,
        }
    }

    fn at_gen_img(self) -> bool {
        matches!(self, PoorReason::CaptureFailed | PoorReason::TooDry | PoorReason::TooWet)
    }

    fn name(self) -> &'static str {
        match self {
            PoorReason::CaptureFailed => "capture-failed",
            PoorReason::TooDry => "too-dry",
            PoorReason::TooWet => "too-wet",
            PoorReason::TooMessy => "too-messy",
            PoorReason::TooFewFeatures => "too-few-features",
        }
    }
}

impl fmt::Display for PoorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PoorReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PoorReason::ALL.into_iter().find(|r| r.name() == s).ok_or_else(|| format!("unknown poor-quality reason {s:?}"))
    }
}

/// A fault for the next command (or the next with a given instruction code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum As60xFault {
    /// Answer with this confirmation code (and zeroed results); the command has no effect.
    Fail(u8),
    /// Flip a bit in the reply: the host sees a bad checksum.
    CorruptReply,
    /// Send these bytes before the reply.
    GarbageBeforeReply(Vec<u8>),
    /// Do not answer.
    DropReply,
}

/// How a simulated module starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct As60xConfig {
    /// Seeds the fingers: two simulators with one seed know the same people.
    pub seed: u64,
    pub address: u32,
    pub password: u32,
    /// 32, 64, 128 or 256.
    pub packet_size: usize,
    /// 1..=5, see [`match_threshold`].
    pub security_level: u16,
    /// The finger on the sensor at start, if any.
    pub finger: Option<u32>,
}

impl Default for As60xConfig {
    fn default() -> Self {
        As60xConfig {
            seed: DEFAULT_SEED,
            address: 0xFFFF_FFFF,
            password: 0,
            packet_size: 128,
            security_level: 3,
            finger: None,
        }
    }
}

/// What the module has received, for tests to await instead of sleeping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets received, well-formed or not.
    pub packets: u64,
    /// GenImg commands (finger or not).
    pub captures: u64,
    pub uploads: u64,
    pub matches: u64,
    /// Packets with a bad checksum or LEN.
    pub broken: u64,
}

#[derive(Debug)]
struct State {
    config: As60xConfig,
    verified: bool,
    finger: Option<u32>,
    impressions: HashMap<u32, u64>,
    /// The image buffer: which impression of which finger GenImg took.
    image: Option<(u32, u64)>,
    buffers: [Option<Vec<u8>>; 2],
    library: BTreeMap<u16, Vec<u8>>,
    poor: Option<(u32, PoorReason)>,
    faults: VecDeque<(As60xFault, Option<u8>)>,
    downloading: Option<(usize, Vec<u8>)>,
    counters: Counters,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

/// A simulated AS608. Clones share one module, so a test can script the one
/// a thread serves.
#[derive(Clone, Debug)]
pub struct As60xSimulator {
    shared: Arc<Shared>,
}

impl Default for As60xSimulator {
    fn default() -> Self {
        As60xSimulator::new(As60xConfig::default())
    }
}

impl As60xSimulator {
    pub fn new(config: As60xConfig) -> As60xSimulator {
        let state = State {
            finger: config.finger,
            config,
            verified: false,
            impressions: HashMap::new(),
            image: None,
            buffers: [None, None],
            library: BTreeMap::new(),
            poor: None,
            faults: VecDeque::new(),
            downloading: None,
            counters: Counters::default(),
        };
        As60xSimulator { shared: Arc::new(Shared { state: Mutex::new(state), changed: Condvar::new() }) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Put finger `n` (1-based) on the sensor.
    pub fn place_finger(&self, n: u32) -> Result<(), String> {
        if n == 0 {
            return Err("fingers count from 1".into());
        }
        self.lock().finger = Some(n);
        Ok(())
    }

    /// Take the finger off the sensor.
    pub fn lift(&self) {
        self.lock().finger = None;
    }

    pub fn finger(&self) -> Option<u32> {
        self.lock().finger
    }

    /// The next `count` captures fail for `reason`.
    pub fn poor_quality(&self, count: u32, reason: PoorReason) {
        self.lock().poor = (count > 0).then_some((count, reason));
    }

    /// A fault for the next command, or the next with instruction code `on`.
    pub fn inject(&self, fault: As60xFault, on: Option<u8>) {
        self.lock().faults.push_back((fault, on));
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Set the module's password; the host must verify it again.
    pub fn set_password(&self, password: u32) {
        let mut s = self.lock();
        s.config.password = password;
        s.verified = false;
    }

    pub fn set_packet_size(&self, bytes: usize) -> Result<(), String> {
        if ![32, 64, 128, 256].contains(&bytes) {
            return Err(format!("packet size {bytes} is not 32, 64, 128 or 256"));
        }
        self.lock().config.packet_size = bytes;
        Ok(())
    }

    pub fn set_security_level(&self, level: u16) -> Result<(), String> {
        if !(1..=5).contains(&level) {
            return Err(format!("security level {level} is not 1..=5"));
        }
        self.lock().config.security_level = level;
        Ok(())
    }

    /// The score Match needs for `00` now.
    pub fn threshold(&self) -> u16 {
        match_threshold(self.lock().config.security_level)
    }

    pub fn counters(&self) -> Counters {
        self.lock().counters
    }

    /// Templates in the library.
    pub fn library_len(&self) -> usize {
        self.lock().library.len()
    }

    /// Wait until `done` holds for the counters; false on timeout.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&Counters) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        while !done(&s.counters) {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s = self.shared.changed.wait_timeout(s, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }

    /// The template the module uploads after capturing impression `index`
    /// (1-based: the module's first capture of a finger is impression 1).
    pub fn template_for(&self, finger: u32, index: u64) -> Vec<u8> {
        let seed = self.lock().config.seed;
        template(seed, finger, index)
    }

    /// The module's Match score of two templates (0 when either is not one).
    pub fn match_score(a: &[u8], b: &[u8]) -> u16 {
        match (finger::decode(a), finger::decode(b)) {
            (Some(a), Some(b)) => finger::score(&a, &b),
            _ => 0,
        }
    }

    /// Power comes back: RAM (image, buffers, password check) is empty,
    /// flash (library, settings) kept.
    fn power_on(&self) {
        let mut s = self.lock();
        s.verified = false;
        s.image = None;
        s.buffers = [None, None];
        s.downloading = None;
    }

    /// The bytes to send for one incoming packet (possibly none).
    fn respond(&self, incoming: Incoming) -> Vec<u8> {
        let mut s = self.lock();
        s.counters.packets += 1;
        self.shared.changed.notify_all();
        let address = s.config.address;
        let (to, pid, payload) = match incoming {
            Incoming::Broken => {
                s.counters.broken += 1;
                s.abort_download();
                return packet(address, PID_ACK, &[0x01]);
            }
            Incoming::Packet { address: to, pid, payload } => (to, pid, payload),
        };
        if to != address {
            return Vec::new();
        }
        match pid {
            PID_DATA | PID_END => {
                s.take_data(&payload, pid == PID_END);
                return Vec::new();
            }
            PID_COMMAND => {}
            _ => return Vec::new(),
        }
        s.abort_download();
        let instruction = payload[0];
        let mut take = |kind: fn(&As60xFault) -> bool| {
            let i = s.faults.iter().position(|(f, on)| kind(f) && on.is_none_or(|c| c == instruction))?;
            s.faults.remove(i).map(|(f, _)| f)
        };
        let fail = take(|f| matches!(f, As60xFault::Fail(_)));
        let drop_reply = take(|f| matches!(f, As60xFault::DropReply)).is_some();
        let garbage = take(|f| matches!(f, As60xFault::GarbageBeforeReply(_)));
        let corrupt = take(|f| matches!(f, As60xFault::CorruptReply)).is_some();
        let mut reply = match fail {
            Some(As60xFault::Fail(code)) => {
                let mut data = vec![code];
                data.resize(1 + result_len(instruction), 0);
                packet(address, PID_ACK, &data)
            }
            _ => s.answer(&payload),
        };
        if drop_reply {
            return Vec::new();
        }
        if corrupt {
            // The confirmation code: the SUM no longer matches.
            reply[9] ^= 0x01;
        }
        let mut out = match garbage {
            Some(As60xFault::GarbageBeforeReply(g)) => g,
            _ => Vec::new(),
        };
        out.extend_from_slice(&reply);
        out
    }

    /// Carry out a script command that is the simulator's own; the
    /// acknowledgement to print. Plugging, waiting and quitting are the
    /// caller's ([`As60xSimHandle::apply`] does the first).
    pub fn apply(&self, command: &As60xScript) -> Result<String, String> {
        match command {
            As60xScript::Finger(n) => self.place_finger(*n)?,
            As60xScript::Lift => self.lift(),
            As60xScript::PoorQuality(n, reason) => self.poor_quality(*n, *reason),
            As60xScript::Fault(f, on) => self.inject(f.clone(), *on),
            As60xScript::Password(p) => self.set_password(*p),
            As60xScript::PacketSize(n) => self.set_packet_size(*n)?,
            As60xScript::SecurityLevel(n) => self.set_security_level(*n)?,
            As60xScript::Status => {
                let s = self.lock();
                return Ok(format!(
                    "status finger={} captures={} packets={} library={} packet-size={}",
                    s.finger.map_or("none".to_string(), |f| f.to_string()),
                    s.counters.captures,
                    s.counters.packets,
                    s.library.len(),
                    s.config.packet_size,
                ));
            }
            As60xScript::Unplug | As60xScript::Plug | As60xScript::Wait(_) | As60xScript::Quit => {}
        }
        Ok(format!("ok {command}"))
    }
}

fn template(seed: u64, finger: u32, index: u64) -> Vec<u8> {
    let quality = 60 + (crate::rng::mix(&[seed, u64::from(finger), index]) % 36) as u8;
    finger::encode(&finger::impression(seed, finger, index), quality)
}

/// Result bytes after the confirmation code (as the driver's documentation lists them).
fn result_len(instruction: u8) -> usize {
    match instruction {
        0x03 | 0x1D => 2,
        0x04 | 0x1B => 4,
        0x0F => 16,
        _ => 0,
    }
}

impl State {
    fn ack(&self, code: u8, results: &[u8]) -> Vec<u8> {
        let mut payload = vec![code];
        payload.extend_from_slice(results);
        packet(self.config.address, PID_ACK, &payload)
    }

    fn abort_download(&mut self) {
        if let Some((b, _)) = self.downloading.take() {
            self.buffers[b] = None;
        }
    }

    /// A data packet of a DownChar; ignored when none is under way.
    fn take_data(&mut self, payload: &[u8], last: bool) {
        let size = self.config.packet_size;
        let Some((b, data)) = &mut self.downloading else { return };
        if payload.len() > size || data.len() + payload.len() > TEMPLATE_LEN {
            self.abort_download();
            return;
        }
        data.extend_from_slice(payload);
        if last {
            let (b, data) = (*b, std::mem::take(data));
            self.downloading = None;
            self.buffers[b] = (data.len() == TEMPLATE_LEN).then_some(data);
        }
    }

    fn threshold(&self) -> u16 {
        match_threshold(self.config.security_level)
    }

    fn answer(&mut self, payload: &[u8]) -> Vec<u8> {
        let (instruction, params) = (payload[0], &payload[1..]);
        if self.config.password != 0 && !self.verified && instruction != 0x13 {
            return self.ack(0x13, &[]);
        }
        let buffer = |id: u8| usize::from(id).checked_sub(1).filter(|b| *b < 2);
        let u16_at = |i: usize| u16::from_be_bytes([params[i], params[i + 1]]);
        let size = LIBRARY_SIZE;
        match (instruction, params.len()) {
            (0x01, 0) => {
                self.counters.captures += 1;
                self.image = None;
                let Some(f) = self.finger else { return self.ack(0x02, &[]) };
                if let Some(code) = self.poor_capture(true) {
                    return self.ack(code, &[]);
                }
                let index = self.impressions.entry(f).or_insert(0);
                *index += 1;
                self.image = Some((f, *index));
                self.ack(0x00, &[])
            }
            (0x02, 1) => {
                let (Some(b), Some((f, index))) = (buffer(params[0]), self.image) else {
                    return self.ack(0x15, &[]);
                };
                if let Some(code) = self.poor_capture(false) {
                    return self.ack(code, &[]);
                }
                self.buffers[b] = Some(template(self.config.seed, f, index));
                self.ack(0x00, &[])
            }
            (0x03, 0) => {
                self.counters.matches += 1;
                let [Some(a), Some(b)] = &self.buffers else { return self.ack(0x15, &[0, 0]) };
                let score = As60xSimulator::match_score(a, b);
                self.ack(if score >= self.threshold() { 0x00 } else { 0x08 }, &score.to_be_bytes())
            }
            (0x04, 5) => {
                let Some(Some(probe)) = buffer(params[0]).map(|b| &self.buffers[b]) else {
                    return self.ack(0x15, &[0; 4]);
                };
                let (start, count) = (u16_at(1), u16_at(3));
                let best = self
                    .library
                    .range(start..start.saturating_add(count))
                    .map(|(page, t)| (As60xSimulator::match_score(probe, t), *page))
                    .max_by_key(|(score, page)| (*score, std::cmp::Reverse(*page)));
                match best {
                    Some((score, page)) if score >= self.threshold() => {
                        let mut out = page.to_be_bytes().to_vec();
                        out.extend_from_slice(&score.to_be_bytes());
                        self.ack(0x00, &out)
                    }
                    _ => self.ack(0x09, &[0; 4]),
                }
            }
            (0x05, 0) => match &self.buffers {
                [Some(a), Some(b)] if As60xSimulator::match_score(a, b) >= self.threshold() => {
                    self.buffers[1] = self.buffers[0].clone();
                    self.ack(0x00, &[])
                }
                _ => self.ack(0x0A, &[]),
            },
            (0x06, 3) => match (buffer(params[0]), u16_at(1)) {
                (_, page) if page >= size => self.ack(0x0B, &[]),
                (Some(b), page) => match self.buffers[b].clone() {
                    Some(t) => {
                        self.library.insert(page, t);
                        self.ack(0x00, &[])
                    }
                    None => self.ack(0x15, &[]),
                },
                (None, _) => self.ack(0x15, &[]),
            },
            (0x07, 3) => match (buffer(params[0]), u16_at(1)) {
                (_, page) if page >= size => self.ack(0x0B, &[]),
                (None, _) => self.ack(0x15, &[]),
                (Some(b), page) => match self.library.get(&page).cloned() {
                    Some(t) => {
                        self.buffers[b] = Some(t);
                        self.ack(0x00, &[])
                    }
                    None => self.ack(0x0C, &[]),
                },
            },
            (0x08, 1) => {
                let Some(b) = buffer(params[0]) else { return self.ack(0x15, &[]) };
                let Some(data) = self.buffers[b].clone() else { return self.ack(0x0D, &[]) };
                self.counters.uploads += 1;
                let mut out = self.ack(0x00, &[]);
                let chunks: Vec<&[u8]> = data.chunks(self.config.packet_size).collect();
                for (i, chunk) in chunks.iter().enumerate() {
                    let pid = if i + 1 == chunks.len() { PID_END } else { PID_DATA };
                    out.extend(packet(self.config.address, pid, chunk));
                }
                out
            }
            (0x09, 1) => {
                let Some(b) = buffer(params[0]) else { return self.ack(0x15, &[]) };
                self.buffers[b] = None;
                self.downloading = Some((b, Vec::with_capacity(TEMPLATE_LEN)));
                self.ack(0x00, &[])
            }
            (0x0C, 4) => {
                let (page, count) = (u16_at(0), u16_at(2));
                if u32::from(page) + u32::from(count) > u32::from(size) {
                    return self.ack(0x10, &[]);
                }
                let doomed: Vec<u16> = self.library.range(page..page + count).map(|(p, _)| *p).collect();
                for p in doomed {
                    self.library.remove(&p);
                }
                self.ack(0x00, &[])
            }
            (0x0D, 0) => {
                self.library.clear();
                self.ack(0x00, &[])
            }
            (0x0F, 0) => {
                let mut p = Vec::with_capacity(16);
                p.extend_from_slice(&[0x00, 0x00]); // status register: idle
                p.extend_from_slice(&[0x00, 0x09]); // system identifier
                p.extend_from_slice(&size.to_be_bytes());
                p.extend_from_slice(&self.config.security_level.to_be_bytes());
                p.extend_from_slice(&self.config.address.to_be_bytes());
                let code = self.config.packet_size.trailing_zeros().saturating_sub(5) as u16;
                p.extend_from_slice(&code.to_be_bytes());
                p.extend_from_slice(&6u16.to_be_bytes()); // 57600 baud
                self.ack(0x00, &p)
            }
            (0x12, 4) => {
                self.config.password = u32::from_be_bytes([params[0], params[1], params[2], params[3]]);
                self.ack(0x00, &[])
            }
            (0x13, 4) => {
                self.verified =
                    u32::from_be_bytes([params[0], params[1], params[2], params[3]]) == self.config.password;
                self.ack(if self.verified { 0x00 } else { 0x13 }, &[])
            }
            (0x1D, 0) => {
                let n = self.library.len() as u16;
                self.ack(0x00, &n.to_be_bytes())
            }
            // An instruction this module does not take, or wrong parameters.
            _ => self.ack(0x01, &[]),
        }
    }

    /// Use up one scripted poor capture at this step; its code.
    fn poor_capture(&mut self, at_gen_img: bool) -> Option<u8> {
        let (left, reason) = self.poor?;
        if reason.at_gen_img() != at_gen_img {
            return None;
        }
        self.poor = (left > 1).then_some((left - 1, reason));
        Some(reason.code())
    }
}

#[cfg(test)]
mod tests;
