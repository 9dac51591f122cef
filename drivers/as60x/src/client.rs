//! Commands and typed replies over a [`Transport`]. A reply broken on the
//! way (bad checksum, lost, or the module saying it got a broken packet,
//! `01`) costs a resend, not an error. The client greets the module
//! (VfyPwd, ReadSysPara) whenever the port was (re)opened, so callers never
//! see a reconnect, only `NotConnected` while the module is away.

use std::time::{Duration, Instant};

use crate::command::{CharBuffer, Command, Instruction, Password};
use crate::confirm::{CONFIRM_OK, ConfirmError};
use crate::decoder::PacketDecoder;
use crate::error::As60xError;
use crate::packet::{HEADER_LEN, Packet, PacketError, Pid};
use crate::reply::{MatchOutcome, NativeTemplate, SearchHit, SysParams, TEMPLATE_LEN, Verdict};
use crate::transport::{Link, Transport};

/// How long to wait for replies, and how often to send a command whose
/// reply was broken on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Time the module may take before its reply starts (GenImg and Search are the slowest).
    pub answer: Duration,
    /// Line time of one byte (from the baud rate; zero for a pseudo-terminal).
    pub per_byte: Duration,
    /// Sends of one command, at most.
    pub sends: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { answer: Duration::from_secs(2), per_byte: Duration::ZERO, sends: 3 }
    }
}

impl Timing {
    fn wait(&self, reply_bytes: usize) -> Duration {
        self.answer + self.per_byte * (2 * reply_bytes as u32)
    }
}

/// An ack: the confirmation code and the results after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub confirm: u8,
    pub results: Vec<u8>,
}

/// What GenImg found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    /// An image is in the module's image buffer.
    Taken,
    NoFinger,
}

/// Speaks the AS60x protocol to one module address over a transport.
pub struct As60xClient {
    transport: Box<dyn Transport>,
    decoder: PacketDecoder,
    address: u32,
    password: Password,
    timing: Timing,
    /// `None` until the module is greeted, and again after it may have gone.
    params: Option<SysParams>,
    buf: Vec<u8>,
}

impl As60xClient {
    /// A client for the module at `address`; nothing is sent until the first command.
    pub fn new(transport: Box<dyn Transport>, address: u32, password: Password, timing: Timing) -> As60xClient {
        As60xClient {
            transport,
            decoder: PacketDecoder::new(),
            address,
            password,
            timing,
            params: None,
            buf: vec![0; 4096],
        }
    }

    pub fn describe(&self) -> String {
        self.transport.describe()
    }

    /// Bytes skipped as garbage or broken packets since the client was made.
    pub fn skipped_bytes(&self) -> u64 {
        self.decoder.skipped()
    }

    /// The module's parameters as last read, if it is greeted.
    pub fn params(&self) -> Option<SysParams> {
        self.params
    }

    /// Open the port if needed and, if it was (re)opened or the module may
    /// have restarted, greet it: VfyPwd, then ReadSysPara (its packet size).
    pub fn connect(&mut self) -> Result<SysParams, As60xError> {
        let link = self.transport.open()?;
        match (link, self.params) {
            (Link::AlreadyOpen, Some(params)) => Ok(params),
            _ => self.greet(),
        }
    }

    /// Greet the module now, whatever the state: what `Enabled` asks.
    pub fn greet(&mut self) -> Result<SysParams, As60xError> {
        self.params = None;
        self.transport.open()?;
        let result = self.verify_password().and_then(|()| self.read_sys_para());
        if let Ok(params) = result {
            self.params = Some(params);
        }
        self.forget_on_loss(result)
    }

    fn forget_on_loss<T>(&mut self, result: Result<T, As60xError>) -> Result<T, As60xError> {
        if let Err(e) = &result
            && e.loses_session()
        {
            self.params = None;
        }
        result
    }

    /// Send `command` and return its ack, whatever the confirmation code,
    /// except that a broken reply, no reply, or `01` makes it go again, up
    /// to [`Timing::sends`] times.
    pub fn transact(&mut self, command: Command) -> Result<Ack, As60xError> {
        let result = self.transact_inner(command);
        self.forget_on_loss(result)
    }

    fn transact_inner(&mut self, command: Command) -> Result<Ack, As60xError> {
        let instruction = command.instruction();
        let bytes = command.packet(self.address).encode();
        let mut last = None;
        for _ in 0..self.timing.sends.max(1) {
            self.send_fresh(&bytes)?;
            match self.await_ack(instruction) {
                Ok(ack) if ack.confirm == ConfirmError::PacketError.code() => {
                    last = Some(As60xError::Module { instruction, error: ConfirmError::PacketError });
                }
                Ok(ack) => return Ok(ack),
                Err(e @ (As60xError::Packet(_) | As60xError::NoReply { .. })) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("sent at least once"))
    }

    /// Send after dropping whatever an earlier exchange left behind.
    fn send_fresh(&mut self, bytes: &[u8]) -> Result<(), As60xError> {
        self.decoder.clear();
        self.transport.discard_input()?;
        self.transport.send(bytes)?;
        Ok(())
    }

    /// The next packet from this module, or why there is none by `deadline`.
    fn next_packet(&mut self, instruction: Instruction, deadline: Instant) -> Result<Packet, As60xError> {
        loop {
            match self.decoder.next_packet() {
                Some(Ok(p)) if p.address() == self.address => return Ok(p),
                // Another module's on a shared line, or noise that looked like a header: the reply may still come.
                Some(Ok(_)) | Some(Err(PacketError::UnknownPid(_) | PacketError::LengthOutOfRange { .. })) => {}
                Some(Err(e)) => return Err(e.into()),
                None => {
                    let now = Instant::now();
                    if now >= deadline {
                        self.decoder.abandon_partial();
                        return Err(As60xError::NoReply {
                            instruction,
                            port: self.transport.describe(),
                            waited: self.timing.answer,
                        });
                    }
                    let n = self.transport.recv(&mut self.buf, deadline - now)?;
                    self.decoder.push(&self.buf[..n]);
                }
            }
        }
    }

    fn await_ack(&mut self, instruction: Instruction) -> Result<Ack, As60xError> {
        let deadline = Instant::now() + self.timing.wait(HEADER_LEN + 3 + instruction.result_len());
        loop {
            let packet = self.next_packet(instruction, deadline)?;
            if packet.pid() != Pid::Ack {
                continue; // a data packet left from an upload given up on
            }
            let mut payload = packet.into_payload();
            let confirm = payload.remove(0);
            return Ok(Ack { confirm, results: payload });
        }
    }

    /// The results of a successful ack (exactly `instruction`'s length), or the module's error.
    fn ok(&mut self, command: Command) -> Result<Vec<u8>, As60xError> {
        self.connect()?;
        let instruction = command.instruction();
        let ack = self.transact(command)?;
        results(instruction, ack)
    }

    /// VfyPwd with the configured password.
    pub fn verify_password(&mut self) -> Result<(), As60xError> {
        let ack = self.transact(Command::VfyPwd(self.password))?;
        results(Instruction::VfyPwd, ack).map(drop)
    }

    /// ReadSysPara.
    pub fn read_sys_para(&mut self) -> Result<SysParams, As60xError> {
        let ack = self.transact(Command::ReadSysPara)?;
        Ok(SysParams::parse(&results(Instruction::ReadSysPara, ack)?)?)
    }

    /// GenImg: take an image if a finger is on the sensor.
    pub fn gen_img(&mut self) -> Result<Capture, As60xError> {
        match self.ok(Command::GenImg) {
            Ok(_) => Ok(Capture::Taken),
            Err(As60xError::Module { error: ConfirmError::NoFinger, .. }) => Ok(Capture::NoFinger),
            Err(e) => Err(e),
        }
    }

    /// Img2Tz: the image's features into `buffer`.
    pub fn img2tz(&mut self, buffer: CharBuffer) -> Result<(), As60xError> {
        self.ok(Command::Img2Tz(buffer)).map(drop)
    }

    /// RegModel: merge buffers 1 and 2 into one template.
    pub fn reg_model(&mut self) -> Result<(), As60xError> {
        self.ok(Command::RegModel).map(drop)
    }

    /// Match buffers 1 and 2: the module's verdict and raw score.
    pub fn match_buffers(&mut self) -> Result<MatchOutcome, As60xError> {
        self.connect()?;
        let ack = self.transact(Command::Match)?;
        let verdict = match ack.confirm {
            CONFIRM_OK => Verdict::Match,
            code if code == ConfirmError::NoMatch.code() => Verdict::NoMatch,
            code => {
                return Err(As60xError::Module {
                    instruction: Instruction::Match,
                    error: ConfirmError::from_code(code),
                });
            }
        };
        let score = two_bytes(Instruction::Match, &ack.results)?;
        Ok(MatchOutcome { verdict, score })
    }

    /// Search `count` library pages from `start` for `buffer`'s features.
    pub fn search(&mut self, buffer: CharBuffer, start: u16, count: u16) -> Result<Option<SearchHit>, As60xError> {
        match self.ok(Command::Search { buffer, start, count }) {
            Ok(r) => {
                Ok(Some(SearchHit { page: u16::from_be_bytes([r[0], r[1]]), score: u16::from_be_bytes([r[2], r[3]]) }))
            }
            Err(As60xError::Module { error: ConfirmError::NotFound, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Store `buffer` at library `page`.
    pub fn store(&mut self, buffer: CharBuffer, page: u16) -> Result<(), As60xError> {
        self.ok(Command::Store { buffer, page }).map(drop)
    }

    /// Load library `page` into `buffer`.
    pub fn load_char(&mut self, buffer: CharBuffer, page: u16) -> Result<(), As60xError> {
        self.ok(Command::LoadChar { buffer, page }).map(drop)
    }

    /// Delete `count` library pages from `page`.
    pub fn delete_char(&mut self, page: u16, count: u16) -> Result<(), As60xError> {
        self.ok(Command::DeleteChar { page, count }).map(drop)
    }

    /// Delete every template in the library.
    pub fn empty(&mut self) -> Result<(), As60xError> {
        self.ok(Command::Empty).map(drop)
    }

    /// How many library pages hold a template.
    pub fn template_num(&mut self) -> Result<u16, As60xError> {
        let r = self.ok(Command::TemplateNum)?;
        Ok(u16::from_be_bytes([r[0], r[1]]))
    }

    /// UpChar: `buffer`'s template, reassembled from data packets of the
    /// module's packet size. A broken packet makes the whole upload go again.
    pub fn up_char(&mut self, buffer: CharBuffer) -> Result<NativeTemplate, As60xError> {
        let params = self.connect()?;
        let result = self.up_char_inner(buffer, params.packet_size.bytes());
        self.forget_on_loss(result)
    }

    fn up_char_inner(&mut self, buffer: CharBuffer, packet_size: usize) -> Result<NativeTemplate, As60xError> {
        let instruction = Instruction::UpChar;
        let bytes = Command::UpChar(buffer).packet(self.address).encode();
        let packets = TEMPLATE_LEN.div_ceil(packet_size);
        let mut last = None;
        for _ in 0..self.timing.sends.max(1) {
            self.send_fresh(&bytes)?;
            let attempt = self.await_ack(instruction).and_then(|ack| {
                results(instruction, ack)?;
                let deadline = Instant::now() + self.timing.wait(TEMPLATE_LEN + packets * (HEADER_LEN + 2));
                let mut template = Vec::with_capacity(TEMPLATE_LEN);
                loop {
                    let packet = self.next_packet(instruction, deadline)?;
                    let pid = packet.pid();
                    if !matches!(pid, Pid::Data | Pid::EndData) {
                        return Err(As60xError::UnexpectedReply { instruction, why: format!("a {pid:?} packet among the data") });
                    }
                    if packet.payload().len() > packet_size || template.len() + packet.payload().len() > TEMPLATE_LEN {
                        return Err(As60xError::UnexpectedReply {
                            instruction,
                            why: format!(
                                "a {}-byte data packet after {} bytes; the module's packet size is {packet_size} and a template {TEMPLATE_LEN} bytes",
                                packet.payload().len(),
                                template.len()
                            ),
                        });
                    }
                    template.extend_from_slice(packet.payload());
                    if pid == Pid::EndData {
                        return Ok(NativeTemplate::new(&template)?);
                    }
                }
            });
            match attempt {
                Ok(t) => return Ok(t),
                Err(e @ (As60xError::Packet(_) | As60xError::NoReply { .. } | As60xError::UnexpectedReply { .. })) => {
                    last = Some(e)
                }
                Err(As60xError::Module {
                    error: ConfirmError::PacketError | ConfirmError::UploadFailed,
                    instruction,
                }) => last = Some(As60xError::Module { instruction, error: ConfirmError::UploadFailed }),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("sent at least once"))
    }

    /// DownChar: `template` into `buffer`, in data packets of the module's
    /// packet size. The module does not acknowledge the data; a broken
    /// transfer shows at the next command that uses the buffer (`15`).
    pub fn down_char(&mut self, buffer: CharBuffer, template: &NativeTemplate) -> Result<(), As60xError> {
        let params = self.connect()?;
        let size = params.packet_size.bytes();
        let mut data = Vec::with_capacity(TEMPLATE_LEN + TEMPLATE_LEN.div_ceil(size) * (HEADER_LEN + 2));
        let chunks: Vec<&[u8]> = template.as_bytes().chunks(size).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let pid = if i + 1 == chunks.len() { Pid::EndData } else { Pid::Data };
            Packet::new(self.address, pid, chunk.to_vec()).expect("chunks of 32..=256 bytes").encode_into(&mut data);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let ack = self.transact(Command::DownChar(buffer))?;
            match results(Instruction::DownChar, ack) {
                Ok(_) => break,
                Err(As60xError::Module { error: ConfirmError::CannotReceive, .. }) if attempt < self.timing.sends => {}
                Err(e) => return Err(e),
            }
        }
        let sent = self.transport.send(&data).map_err(As60xError::from);
        self.forget_on_loss(sent)
    }
}

/// The results of an ack that must carry `00`, checked for their length.
fn results(instruction: Instruction, ack: Ack) -> Result<Vec<u8>, As60xError> {
    if ack.confirm != CONFIRM_OK {
        return Err(As60xError::Module { instruction, error: ConfirmError::from_code(ack.confirm) });
    }
    if ack.results.len() != instruction.result_len() {
        return Err(As60xError::UnexpectedReply {
            instruction,
            why: format!("{} result bytes, expected {}", ack.results.len(), instruction.result_len()),
        });
    }
    Ok(ack.results)
}

fn two_bytes(instruction: Instruction, results: &[u8]) -> Result<u16, As60xError> {
    match results {
        [hi, lo] => Ok(u16::from_be_bytes([*hi, *lo])),
        other => {
            Err(As60xError::UnexpectedReply { instruction, why: format!("{} result bytes, expected 2", other.len()) })
        }
    }
}
