//! What acks carry after their confirmation code, as typed values, and the
//! module's native template.

use std::fmt;

/// The data packet size a module is set to (system parameter, code 0..=3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PacketSize {
    B32,
    B64,
    #[default]
    B128,
    B256,
}

impl PacketSize {
    pub const ALL: [PacketSize; 4] = [PacketSize::B32, PacketSize::B64, PacketSize::B128, PacketSize::B256];

    pub fn bytes(self) -> usize {
        32 << self.code()
    }

    /// The system parameter's value.
    pub fn code(self) -> u16 {
        match self {
            PacketSize::B32 => 0,
            PacketSize::B64 => 1,
            PacketSize::B128 => 2,
            PacketSize::B256 => 3,
        }
    }

    pub fn from_code(code: u16) -> Option<PacketSize> {
        PacketSize::ALL.into_iter().find(|p| p.code() == code)
    }

    pub fn from_bytes(bytes: usize) -> Option<PacketSize> {
        PacketSize::ALL.into_iter().find(|p| p.bytes() == bytes)
    }
}

impl fmt::Display for PacketSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.bytes())
    }
}

/// The 16 bytes ReadSysPara answers (layout as libdriver/as608 and
/// Adafruit's library read it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysParams {
    pub status_register: u16,
    pub system_id: u16,
    /// Library pages (templates the module can store).
    pub library_size: u16,
    /// 1 (most permissive) ..= 5 (strictest).
    pub security_level: u16,
    pub address: u32,
    pub packet_size: PacketSize,
    /// N of N x 9600 baud.
    pub baud_multiplier: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SysParamsError {
    #[error("system parameters are 16 bytes, not {0}")]
    Length(usize),
    #[error("system parameter packet size code {0} is not 0..=3 (32, 64, 128 or 256 bytes)")]
    PacketSize(u16),
}

impl SysParams {
    pub const LEN: usize = 16;

    pub fn parse(bytes: &[u8]) -> Result<SysParams, SysParamsError> {
        let b: &[u8; 16] = bytes.try_into().map_err(|_| SysParamsError::Length(bytes.len()))?;
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        Ok(SysParams {
            status_register: u16_at(0),
            system_id: u16_at(2),
            library_size: u16_at(4),
            security_level: u16_at(6),
            address: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            packet_size: PacketSize::from_code(u16_at(12)).ok_or(SysParamsError::PacketSize(u16_at(12)))?,
            baud_multiplier: u16_at(14),
        })
    }

    pub fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[0..2].copy_from_slice(&self.status_register.to_be_bytes());
        out[2..4].copy_from_slice(&self.system_id.to_be_bytes());
        out[4..6].copy_from_slice(&self.library_size.to_be_bytes());
        out[6..8].copy_from_slice(&self.security_level.to_be_bytes());
        out[8..12].copy_from_slice(&self.address.to_be_bytes());
        out[12..14].copy_from_slice(&self.packet_size.code().to_be_bytes());
        out[14..16].copy_from_slice(&self.baud_multiplier.to_be_bytes());
        out
    }

    /// The baud rate the module's UART is set to.
    pub fn baud(&self) -> u32 {
        u32::from(self.baud_multiplier) * 9600
    }
}

/// The module's own verdict on a Match: confirmation `00` or `08`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    Match,
    NoMatch,
}

/// What Match answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatchOutcome {
    pub verdict: Verdict,
    /// The module's raw score (0 to a few hundred).
    pub score: u16,
}

/// What Search answered when it found a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchHit {
    pub page: u16,
    pub score: u16,
}

/// Length of the module's templates.
pub const TEMPLATE_LEN: usize = 512;

/// A template in the module's own format: 512 opaque bytes. Personal data:
/// `Debug` shows a short hash only.
#[derive(Clone, PartialEq, Eq)]
pub struct NativeTemplate(Box<[u8; TEMPLATE_LEN]>);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an AS60x template is 512 bytes, not {0}")]
pub struct TemplateLengthError(pub usize);

impl NativeTemplate {
    pub fn new(bytes: &[u8]) -> Result<NativeTemplate, TemplateLengthError> {
        let array: [u8; TEMPLATE_LEN] = bytes.try_into().map_err(|_| TemplateLengthError(bytes.len()))?;
        Ok(NativeTemplate(Box::new(array)))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0[..]
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.0.to_vec()
    }
}

/// Whether `bytes` can be an AS60x module's template. The format has no
/// published magic, so its length is the only tell; ISO 19794-2 and ANSI 378
/// records (which start `FMR\0`) are ruled out.
///
/// ```
/// use examgate_as60x::is_native_template;
/// assert!(is_native_template(&[0x03; 512]));
/// assert!(!is_native_template(&[0x03; 511]));
/// ```
pub fn is_native_template(bytes: &[u8]) -> bool {
    bytes.len() == TEMPLATE_LEN && !bytes.starts_with(b"FMR\0")
}

impl fmt::Debug for NativeTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.0.iter().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193));
        write!(f, "NativeTemplate({h:08x})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_sizes_are_32_to_256() {
        assert_eq!(PacketSize::ALL.map(PacketSize::bytes), [32, 64, 128, 256]);
        for p in PacketSize::ALL {
            assert_eq!(PacketSize::from_code(p.code()), Some(p));
            assert_eq!(PacketSize::from_bytes(p.bytes()), Some(p));
        }
        assert_eq!(PacketSize::from_code(4), None);
    }

    #[test]
    fn sys_params_read_the_documented_layout() {
        let bytes = [0, 0, 0, 9, 0x01, 0x2C, 0, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0, 2, 0, 6];
        let p = SysParams::parse(&bytes).unwrap();
        assert_eq!(p.library_size, 300);
        assert_eq!(p.security_level, 3);
        assert_eq!(p.address, 0xFFFF_FFFF);
        assert_eq!(p.packet_size, PacketSize::B128);
        assert_eq!(p.baud(), 57_600);
        assert_eq!(p.encode(), bytes);
        assert_eq!(SysParams::parse(&bytes[..15]), Err(SysParamsError::Length(15)));
        let mut bad = bytes;
        bad[13] = 7;
        assert_eq!(SysParams::parse(&bad), Err(SysParamsError::PacketSize(7)));
    }

    #[test]
    fn templates_are_512_bytes_and_never_shown() {
        assert_eq!(NativeTemplate::new(&[1; 7]), Err(TemplateLengthError(7)));
        let t = NativeTemplate::new(&[0xAB; 512]).unwrap();
        assert_eq!(t.as_bytes().len(), 512);
        let mut iso = b"FMR\0 20\0".to_vec();
        iso.resize(512, 0);
        assert!(!is_native_template(&iso));
        let shown = format!("{t:?}");
        assert!(!shown.contains("171") && !shown.contains("AB"), "{shown}");
    }
}
