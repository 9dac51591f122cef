//! Templates at the edge: base64 text in, typed [`Template`] inside, with the
//! format detected from the bytes; and the matchers built into the agent.

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use examgate_device_sdk::{DeviceError, Score, Template, TemplateFormat};
use examgate_sim::fingerprint::{FORMAT_NAME as SIM_FORMAT, MAGIC as SIM_MAGIC, match_sim_templates};

use crate::error::AppError;

/// Vendor formats the agent recognises by their first bytes.
pub const VENDOR_MAGICS: &[(&[u8], &str)] = &[(SIM_MAGIC, SIM_FORMAT)];

/// Largest template accepted (ISO 19794-2 records with many minutiae stay
/// far below this).
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

/// Decoding accepts missing padding; encoding always pads.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A template's bytes as the API sends them: standard padded base64.
pub fn encode(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Read a base64 template string. Line breaks are ignored, and spaces are
/// read as `+`, which a form-urlencoded body turns into spaces when a
/// client forgets to escape it.
pub fn decode(text: &str, field: &str) -> Result<Vec<u8>, AppError> {
    let unwrapped: String = text.chars().filter(|c| !matches!(c, '\r' | '\n' | '\t')).collect();
    // Spaces after the padding are trailing blanks; any other space was a `+`.
    let unwrapped = if unwrapped.trim_end().ends_with('=') { unwrapped.trim_end() } else { unwrapped.as_str() };
    let cleaned: String = unwrapped.chars().map(|c| if c == ' ' { '+' } else { c }).collect();
    if cleaned.is_empty() {
        return Err(AppError::BadRequest(format!("{field} is empty; send the template as base64")));
    }
    if cleaned.len() > MAX_TEMPLATE_BYTES * 4 / 3 + 4 {
        return Err(AppError::BadRequest(format!("{field} is longer than {MAX_TEMPLATE_BYTES} bytes")));
    }
    LENIENT.decode(cleaned.as_bytes()).map_err(|e| AppError::BadRequest(format!("{field} is not standard base64: {e}")))
}

/// Bytes to a typed template, the format detected from the content.
pub fn detect(data: Vec<u8>, field: &str) -> Result<Template, AppError> {
    let format = TemplateFormat::detect(&data, VENDOR_MAGICS).ok_or_else(|| {
        AppError::UnknownFormat(format!(
            "{field} ({} bytes) is in no format this agent recognises; expected iso19794-2, ansi378 or vendor:{SIM_FORMAT}",
            data.len()
        ))
    })?;
    Ok(Template::new(format, data))
}

/// Base64 text to a typed template.
pub fn parse(text: &str, field: &str) -> Result<Template, AppError> {
    detect(decode(text, field)?, field)
}

/// Two templates can only be compared when they are in one format.
pub fn same_format(probe: &Template, enrolled: &Template) -> Result<(), AppError> {
    if probe.format == enrolled.format {
        Ok(())
    } else {
        Err(AppError::Device(DeviceError::FormatMismatch(format!(
            "the template is {} but the enrolled template is {}; enrol and capture with the same kind of reader",
            probe.format, enrolled.format
        ))))
    }
}

/// A matcher that runs without a device.
pub type Matcher = fn(&Template, &Template) -> Result<Score, DeviceError>;

/// The matcher built into the agent for a format, if there is one.
pub fn builtin_matcher(format: &TemplateFormat) -> Option<Matcher> {
    match format {
        TemplateFormat::Vendor(name) if name == SIM_FORMAT => Some(match_sim_templates),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use examgate_sim::SimFingerprintFactory;

    #[test]
    fn encodes_padded_and_decodes_leniently() {
        assert_eq!(encode(b"EGSF\x01"), "RUdTRgE=");
        assert_eq!(decode("RUdTRgE=", "t").unwrap(), b"EGSF\x01");
        assert_eq!(decode("RUdTRgE", "t").unwrap(), b"EGSF\x01");
        assert_eq!(decode("RUdT\r\nRgE= \n", "t").unwrap(), b"EGSF\x01");
        // `+` that a form body turned into a space.
        assert_eq!(decode("+/8=", "t").unwrap(), decode(" /8=", "t").unwrap());
    }

    #[test]
    fn rejects_what_is_not_base64() {
        assert!(decode("", "Template").unwrap_err().to_string().contains("Template is empty"));
        assert!(decode("not*base64", "Template").unwrap_err().to_string().contains("not standard base64"));
        let huge = "A".repeat(MAX_TEMPLATE_BYTES * 2);
        assert!(decode(&huge, "t").is_err());
    }

    #[test]
    fn detects_sim_templates_and_refuses_unknown_bytes() {
        let t = SimFingerprintFactory::default().template_for(1, 1);
        let parsed = parse(&encode(&t.data), "template").unwrap();
        assert_eq!(parsed.format, t.format);
        let err = parse(&encode(b"just some bytes"), "enrolled").unwrap_err();
        assert_eq!(err.kind(), examgate_protocol::ApiErrorKind::UnknownFormat);
        assert!(err.to_string().starts_with("enrolled (15 bytes)"), "{err}");
    }

    #[test]
    fn refuses_to_compare_different_formats() {
        let sim = SimFingerprintFactory::default().template_for(1, 1);
        let iso = Template::new(TemplateFormat::Iso19794_2, vec![0; 30]);
        let err = same_format(&sim, &iso).unwrap_err();
        assert_eq!(err.kind(), examgate_protocol::ApiErrorKind::FormatMismatch);
        assert!(same_format(&sim, &sim).is_ok());
    }

    #[test]
    fn only_the_simulator_format_has_a_builtin_matcher_so_far() {
        let f = SimFingerprintFactory::default();
        let matcher = builtin_matcher(&f.template_for(1, 1).format).unwrap();
        assert!(matcher(&f.template_for(1, 1), &f.template_for(1, 2)).unwrap().is_match());
        assert!(!matcher(&f.template_for(1, 1), &f.template_for(2, 1)).unwrap().is_match());
        assert!(builtin_matcher(&TemplateFormat::Iso19794_2).is_none());
    }
}
