use std::fmt;
use std::str::FromStr;

/// The format of a fingerprint template's bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TemplateFormat {
    /// ISO/IEC 19794-2:2005 finger minutiae record.
    Iso19794_2,
    /// ANSI INCITS 378-2004 finger minutiae record.
    Ansi378,
    /// A reader's own format, named by its vendor (e.g. `as60x`, `examgate-sim`).
    Vendor(String),
}

impl TemplateFormat {
    /// Guess the format from a template's bytes. Vendor formats announce
    /// themselves with a magic the caller passes in `vendor_magics`.
    ///
    /// ISO 19794-2:2005 and ANSI 378-2004 share the magic `FMR\0 20\0`; ISO
    /// has a 4-byte record length at offset 8 and ANSI a 2-byte one, so the
    /// length that matches the buffer decides.
    pub fn detect(bytes: &[u8], vendor_magics: &[(&[u8], &str)]) -> Option<TemplateFormat> {
        for (magic, name) in vendor_magics {
            if bytes.starts_with(magic) {
                return Some(TemplateFormat::Vendor((*name).to_owned()));
            }
        }
        if bytes.len() < 14 || &bytes[..8] != b"FMR\0 20\0" {
            return None;
        }
        let iso_len = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        if iso_len == bytes.len() {
            return Some(TemplateFormat::Iso19794_2);
        }
        let ansi_len = u16::from_be_bytes([bytes[8], bytes[9]]) as usize;
        let ansi_long = u32::from_be_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]) as usize;
        if ansi_len == bytes.len() || (ansi_len == 0 && ansi_long == bytes.len()) {
            return Some(TemplateFormat::Ansi378);
        }
        None
    }
}

impl fmt::Display for TemplateFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateFormat::Iso19794_2 => f.write_str("iso19794-2"),
            TemplateFormat::Ansi378 => f.write_str("ansi378"),
            TemplateFormat::Vendor(name) => write!(f, "vendor:{name}"),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown template format {0:?}: expected iso19794-2, ansi378 or vendor:NAME")]
pub struct UnknownFormat(String);

impl FromStr for TemplateFormat {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "iso19794-2" => Ok(TemplateFormat::Iso19794_2),
            "ansi378" => Ok(TemplateFormat::Ansi378),
            _ => match s.strip_prefix("vendor:") {
                Some(name) if !name.is_empty() => Ok(TemplateFormat::Vendor(name.to_owned())),
                _ => Err(UnknownFormat(s.to_owned())),
            },
        }
    }
}

/// A fingerprint template: bytes and the format they are in.
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    pub format: TemplateFormat,
    /// Capture quality 0..=100 as the reader judged it; 0 if unknown.
    pub quality: u8,
    pub data: Vec<u8>,
}

impl Template {
    pub fn new(format: TemplateFormat, data: Vec<u8>) -> Template {
        Template { format, quality: 0, data }
    }

    /// A short, non-reversible tag for logs: templates are personal data
    /// and are never logged whole.
    pub fn log_tag(&self) -> String {
        // FNV-1a: enough to tell two templates apart in a log, nothing more.
        let mut h: u32 = 0x811c_9dc5;
        for b in &self.data {
            h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
        }
        format!("{}:{}B:{h:08x}", self.format, self.data.len())
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({})", self.log_tag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for name in ["iso19794-2", "ansi378", "vendor:as60x"] {
            assert_eq!(name.parse::<TemplateFormat>().unwrap().to_string(), name);
        }
        assert!("vendor:".parse::<TemplateFormat>().is_err());
        assert!("jpeg".parse::<TemplateFormat>().is_err());
    }

    #[test]
    fn detects_iso_and_ansi_by_their_length_fields() {
        let mut iso = b"FMR\0 20\0".to_vec();
        iso.extend_from_slice(&30u32.to_be_bytes());
        iso.resize(30, 0);
        assert_eq!(TemplateFormat::detect(&iso, &[]), Some(TemplateFormat::Iso19794_2));

        let mut ansi = b"FMR\0 20\0".to_vec();
        ansi.extend_from_slice(&32u16.to_be_bytes());
        ansi.resize(32, 0);
        assert_eq!(TemplateFormat::detect(&ansi, &[]), Some(TemplateFormat::Ansi378));

        assert_eq!(TemplateFormat::detect(b"garbage bytes here", &[]), None);
        assert_eq!(
            TemplateFormat::detect(b"EGSF\x01rest", &[(b"EGSF", "examgate-sim")]),
            Some(TemplateFormat::Vendor("examgate-sim".into()))
        );
    }

    #[test]
    fn debug_output_never_shows_template_bytes() {
        let t = Template::new(TemplateFormat::Iso19794_2, vec![0xAB; 40]);
        let shown = format!("{t:?}");
        assert!(!shown.contains("171"), "{shown}");
        assert!(shown.contains("40B"));
    }
}
