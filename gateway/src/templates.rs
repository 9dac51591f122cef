//! Templates at the edge: base64 text in, typed [`Template`] inside, with the
//! format detected from the bytes; and the matchers built into the agent:
//! examgate's minutiae matcher (`examgate-minutiae`) for ISO 19794-2 and
//! ANSI 378 records, in any mix, and the simulator's for its own format.

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use examgate_device_sdk::{DeviceError, Score, Template, TemplateFormat};
use examgate_minutiae::{PreparedRecord, TemplateError};
use examgate_sim::fingerprint::{FORMAT_NAME as SIM_FORMAT, MAGIC as SIM_MAGIC, match_sim_templates};

use crate::error::AppError;

/// Vendor formats the agent recognises by their first bytes.
use examgate_as60x::FORMAT_NAME as AS60X_FORMAT;

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
    // An AS60x module's native template has no magic: 512 bytes that are not an ISO/ANSI record.
    let native = || examgate_as60x::is_native_template(&data).then(|| TemplateFormat::Vendor(AS60X_FORMAT.to_owned()));
    let format = TemplateFormat::detect(&data, VENDOR_MAGICS).or_else(native).ok_or_else(|| {
        AppError::UnknownFormat(format!(
            "{field} ({} bytes) is in no format this agent recognises; expected iso19794-2, ansi378, vendor:{SIM_FORMAT} or vendor:{AS60X_FORMAT}",
            data.len()
        ))
    })?;
    Ok(Template::new(format, data))
}

/// Base64 text to a typed template.
pub fn parse(text: &str, field: &str) -> Result<Template, AppError> {
    detect(decode(text, field)?, field)
}

/// The names a caller knows its two templates by, for messages
/// (`template` / `enrolled` in the REST API, `Template` / `OldTemplate` in
/// the legacy one, file names in the CLI).
#[derive(Clone, Copy, Debug)]
pub struct FieldNames<'a> {
    pub probe: &'a str,
    pub enrolled: &'a str,
}

impl FieldNames<'static> {
    pub const REST: FieldNames<'static> = FieldNames { probe: "template", enrolled: "enrolled" };
    pub const LEGACY: FieldNames<'static> = FieldNames { probe: "Template", enrolled: "OldTemplate" };
}

/// Whether a format is a standard minutiae record (ISO 19794-2 or ANSI 378).
fn is_minutiae(format: &TemplateFormat) -> bool {
    matches!(format, TemplateFormat::Iso19794_2 | TemplateFormat::Ansi378)
}

/// Whether the agent can compare the two templates at all: two minutiae
/// records (ISO and ANSI mix freely), or two templates of one vendor's format.
pub fn comparable(probe: &Template, enrolled: &Template, names: FieldNames<'_>) -> Result<(), AppError> {
    if probe.format == enrolled.format || (is_minutiae(&probe.format) && is_minutiae(&enrolled.format)) {
        return Ok(());
    }
    Err(AppError::Device(DeviceError::FormatMismatch(format!(
        "{} is {} but {} is {}: the agent cannot compare these two formats; \
         compare ISO 19794-2 / ANSI 378 templates, or two templates of the same reader",
        names.probe, probe.format, names.enrolled, enrolled.format
    ))))
}

/// Compare two ISO 19794-2 / ANSI 378 records with examgate's minutiae matcher.
fn match_minutiae(probe: &Template, enrolled: &Template, names: FieldNames<'_>) -> Result<Score, DeviceError> {
    let prepare = |t: &Template, name: &str| {
        PreparedRecord::from_template(t).map_err(|e| match e {
            TemplateError::Record(e) => {
                DeviceError::InvalidArgument(format!("{name} is not a valid {} record: {e}", t.format))
            }
            e @ TemplateError::Vendor(_) => DeviceError::FormatMismatch(format!("{name}: {e}")),
        })
    };
    Ok(prepare(probe, names.probe)?.score(&prepare(enrolled, names.enrolled)?))
}

/// Compare two templates with a matcher built into the agent, when there is
/// one for their formats: examgate's minutiae matcher for ISO / ANSI
/// records, the simulator's for its own. `None`: only a reader can compare
/// them. Call [`comparable`] first.
pub fn builtin_match(probe: &Template, enrolled: &Template, names: FieldNames<'_>) -> Option<Result<Score, AppError>> {
    if is_minutiae(&probe.format) && is_minutiae(&enrolled.format) {
        return Some(match_minutiae(probe, enrolled, names).map_err(AppError::Device));
    }
    match (&probe.format, &enrolled.format) {
        (TemplateFormat::Vendor(a), TemplateFormat::Vendor(b)) if a == SIM_FORMAT && b == SIM_FORMAT => {
            Some(match_sim_templates(probe, enrolled).map_err(AppError::Device))
        }
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

    fn sample(name: &str) -> Template {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../drivers/minutiae/tests/data").join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        detect(bytes, name).unwrap()
    }

    fn score(a: &Template, b: &Template) -> Result<Score, AppError> {
        comparable(a, b, FieldNames::REST)?;
        builtin_match(a, b, FieldNames::REST).expect("a built-in matcher")
    }

    #[test]
    fn refuses_to_compare_what_no_matcher_here_can() {
        let sim = SimFingerprintFactory::default().template_for(1, 1);
        let iso = sample("finger1_impression1.iso.fmr");
        let err = comparable(&sim, &iso, FieldNames::LEGACY).unwrap_err();
        assert_eq!(err.kind(), examgate_protocol::ApiErrorKind::FormatMismatch);
        let message = err.to_string();
        assert!(message.contains("Template is vendor:examgate-sim but OldTemplate is iso19794-2"), "{message}");
        assert!(message.contains("cannot compare"), "{message}");
        let other_vendor = Template::new(TemplateFormat::Vendor("as60x".into()), vec![0; 512]);
        assert!(comparable(&sim, &other_vendor, FieldNames::REST).is_err());
        assert!(comparable(&sim, &sim, FieldNames::REST).is_ok());
        assert!(builtin_match(&other_vendor, &other_vendor, FieldNames::REST).is_none());
    }

    #[test]
    fn iso_and_ansi_records_match_in_any_mix() {
        let iso1 = sample("finger1_impression1.iso.fmr");
        let ansi1 = sample("finger1_impression2.ansi.fmr");
        let iso2 = sample("finger2_impression1.iso.fmr");
        assert_eq!((iso1.format.clone(), ansi1.format.clone()), (TemplateFormat::Iso19794_2, TemplateFormat::Ansi378));
        assert!(score(&iso1, &ansi1).unwrap().is_match());
        assert!(score(&ansi1, &iso1).unwrap().is_match());
        assert!(!score(&iso1, &iso2).unwrap().is_match());
        assert!(!score(&ansi1, &iso2).unwrap().is_match());
    }

    #[test]
    fn a_corrupt_record_is_named_in_the_error() {
        let iso1 = sample("finger1_impression1.iso.fmr");
        let mut bad = iso1.data.clone();
        bad[27] = 0xFF; // the first view's minutia count, far past the record's end
        let bad = detect(bad, "t").unwrap();
        let err = score(&bad, &iso1).unwrap_err();
        assert_eq!(err.kind(), examgate_protocol::ApiErrorKind::InvalidArgument);
        let message = err.to_string();
        assert!(message.contains("template is not a valid iso19794-2 record: "), "{message}");
        assert!(message.contains("minutiae"), "{message}");
    }

    #[test]
    fn the_simulator_format_has_its_own_matcher() {
        let f = SimFingerprintFactory::default();
        let (a, b, c) = (f.template_for(1, 1), f.template_for(1, 2), f.template_for(2, 1));
        assert!(score(&a, &b).unwrap().is_match());
        assert!(!score(&a, &c).unwrap().is_match());
    }
}
