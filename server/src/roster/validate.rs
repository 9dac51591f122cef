//! Every field of every booking checked, all errors collected: a person fixes
//! the whole file in one go, not one row per attempt.

use std::collections::HashMap;
use std::io::Cursor;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use examgate_device_sdk::TemplateFormat;
use examgate_device_sdk::idcard::id_check_valid;
use examgate_minutiae::Standard;
use examgate_protocol::login::TemplateData;

use super::dates::{ExamDate, session_date};
use super::parse::{RawBooking, RawTemplate, Source};
use super::{
    MAX_PHOTO_BYTES, MAX_STANDARD_TEMPLATE_BYTES, MAX_TEMPLATES, MAX_VENDOR_TEMPLATE_BYTES, RosterFiles, RowError,
};

/// The exam languages (`web/seat/i18n/languages.json`).
pub const LANGUAGES: [&str; 12] = ["zh-CN", "en", "fr", "de", "ru", "es", "ar", "ja", "ko", "mn-Mong", "ug", "kk-Arab"];
/// Short codes accepted for the three languages whose code names a script or region.
const LANGUAGE_ALIASES: [(&str, &str); 3] = [("zh", "zh-CN"), ("mn", "mn-Mong"), ("kk", "kk-Arab")];

/// A booking that passed every check, normalised, its photo and templates in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidBooking {
    pub line: usize,
    pub booking_number: String,
    /// 18 characters, a final `x` written `X`.
    pub id_number: String,
    pub name: String,
    pub session: String,
    pub exam_date: ExamDate,
    /// One of [`LANGUAGES`].
    pub language: String,
    /// JPEG or PNG bytes that decode.
    pub photo: Vec<u8>,
    pub templates: Vec<ValidTemplate>,
    /// The exam definition's id, if the roster names one.
    pub exam: Option<String>,
}

// Personal data: never printed whole.
impl std::fmt::Debug for ValidBooking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ValidBooking({} on line {}, {} templates)", self.booking_number, self.line, self.templates.len())
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct ValidTemplate {
    pub format: TemplateFormat,
    pub data: Vec<u8>,
}

impl ValidTemplate {
    /// As the agent API and the sealed column write templates.
    pub fn to_data(&self) -> TemplateData {
        TemplateData { format: self.format.to_string(), data: STANDARD.encode(&self.data) }
    }
}

/// Checks every booking; duplicates within the file are reported on the later row.
pub fn bookings(raw: &[RawBooking], files: &dyn RosterFiles) -> (Vec<ValidBooking>, Vec<RowError>) {
    let mut valid = Vec::new();
    let mut errors = Vec::new();
    let mut booking_lines: HashMap<String, usize> = HashMap::new();
    let mut id_lines: HashMap<(String, ExamDate), usize> = HashMap::new();
    for r in raw {
        let mut row_errors: Vec<(&str, String)> = Vec::new();
        let e = &mut row_errors;
        let booking_number = keep(e, "booking_number", required(&r.booking_number).and_then(booking_number));
        let id_number = keep(e, "id_number", required(&r.id_number).and_then(id_number));
        let name = keep(e, "name", required(&r.name).and_then(name));
        let session = keep(e, "session", required(&r.session).and_then(|s| Ok((s.to_owned(), session_date(s)?))));
        let language = keep(e, "language", required(&r.language).and_then(language));
        let photo = keep(e, "photo", photo(r.photo.as_ref(), files));
        let templates = keep(e, "templates", templates(r.templates.as_deref().unwrap_or_default(), files));
        let exam = keep(e, "exam", r.exam.as_deref().map(exam_id).transpose());
        if let Some(b) = &booking_number {
            match booking_lines.get(b) {
                Some(first) => row_errors.push(("booking_number", format!("also on {} {first}", noun(r)))),
                None => {
                    booking_lines.insert(b.clone(), r.line);
                }
            }
        }
        if let (Some(id), Some((_, date))) = (&id_number, &session) {
            match id_lines.get(&(id.clone(), *date)) {
                Some(first) => row_errors
                    .push(("id_number", format!("the same ID number is booked on {date} on {} {first}", noun(r)))),
                None => {
                    id_lines.insert((id.clone(), *date), r.line);
                }
            }
        }
        match (booking_number, id_number, name, session, language, photo, templates) {
            (
                Some(booking_number),
                Some(id_number),
                Some(name),
                Some((session, exam_date)),
                Some(language),
                Some(photo),
                Some(templates),
            ) if row_errors.is_empty() && exam.is_some() => {
                valid.push(ValidBooking {
                    line: r.line,
                    booking_number,
                    id_number,
                    name,
                    session,
                    exam_date,
                    language,
                    photo,
                    templates,
                    exam: exam.flatten(),
                });
            }
            (booking_number, ..) => errors.extend(row_errors.into_iter().map(|(field, reason)| RowError {
                booking_number: booking_number.clone(),
                ..RowError::new(r.place, r.line, field, reason)
            })),
        }
    }
    (valid, errors)
}

/// An exam id as exam definitions have them: a word of at most 64 characters.
fn exam_id(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.chars().count() > 64 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{s:?} is not an exam id (a word of at most 64 characters)"));
    }
    Ok(s.to_owned())
}

fn keep<T>(errors: &mut Vec<(&'static str, String)>, field: &'static str, result: Result<T, String>) -> Option<T> {
    result.map_err(|reason| errors.push((field, reason))).ok()
}

fn noun(r: &RawBooking) -> &'static str {
    match r.place {
        super::Place::Line => "line",
        super::Place::Booking => "booking",
    }
}

fn required(value: &Option<String>) -> Result<&str, String> {
    match value.as_deref().map(str::trim) {
        None => Err("missing".into()),
        Some("") => Err("empty".into()),
        Some(v) => Ok(v),
    }
}

/// 1 to 32 of `A-Z a-z 0-9 -`.
pub fn booking_number(s: &str) -> Result<String, String> {
    if s.len() > 32 || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err("must be 1 to 32 characters of A-Z, a-z, 0-9 and '-'".into());
    }
    Ok(s.to_owned())
}

/// 17 digits and a check character (a digit or X) that GB 11643's MOD 11-2 confirms.
pub fn id_number(s: &str) -> Result<String, String> {
    let s = s.to_ascii_uppercase();
    let chars = s.chars().count();
    if chars != 18 {
        return Err(format!("must be 18 characters, not {chars}"));
    }
    let (body, last) = s.split_at(17);
    if !body.bytes().all(|b| b.is_ascii_digit()) || !(last == "X" || last.bytes().all(|b| b.is_ascii_digit())) {
        return Err("must be 17 digits followed by a digit or X".into());
    }
    if !id_check_valid(&s) {
        return Err("the check character (the 18th) does not match the first 17 digits: a typing error?".into());
    }
    Ok(s)
}

/// Non-empty, at most 64 characters, no control characters.
pub fn name(s: &str) -> Result<String, String> {
    let chars = s.chars().count();
    if chars > 64 {
        return Err(format!("is {chars} characters long; at most 64"));
    }
    if s.chars().any(char::is_control) {
        return Err("contains a control character (a line break or tab?)".into());
    }
    Ok(s.to_owned())
}

/// One of the exam languages' codes; `zh`, `mn` and `kk` stand for `zh-CN`, `mn-Mong` and `kk-Arab`.
pub fn language(s: &str) -> Result<String, String> {
    if let Some(code) = LANGUAGES.iter().find(|c| **c == s) {
        return Ok((*code).to_owned());
    }
    if let Some((_, code)) = LANGUAGE_ALIASES.iter().find(|(alias, _)| *alias == s) {
        return Ok((*code).to_owned());
    }
    Err(format!("{s:?} is not an exam language; one of {}", LANGUAGES.join(" ")))
}

fn read(source: &Source, files: &dyn RosterFiles, limit: usize) -> Result<Vec<u8>, String> {
    match source {
        Source::File(path) if path.is_empty() => Err("names no file".into()),
        Source::File(path) => files.read(path, limit).map_err(|e| format!("{path}: {e}")),
        Source::Base64(data) => {
            let bytes = STANDARD.decode(data.trim()).map_err(|e| format!("inline data is not base64: {e}"))?;
            if bytes.len() > limit {
                return Err(format!("inline data is larger than {limit} bytes"));
            }
            Ok(bytes)
        }
    }
}

/// At most 1 MiB, a JPEG or PNG that decodes (a truncated or mislabelled file is caught here, not at the console).
pub fn photo(source: Option<&Source>, files: &dyn RosterFiles) -> Result<Vec<u8>, String> {
    let source = source.ok_or("missing")?;
    let bytes = read(source, files, MAX_PHOTO_BYTES)?;
    let format = match image::guess_format(&bytes) {
        Ok(f @ (image::ImageFormat::Jpeg | image::ImageFormat::Png)) => f,
        _ => return Err("is not a JPEG or PNG image".into()),
    };
    let mut reader = image::ImageReader::with_format(Cursor::new(&bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(10_000);
    limits.max_image_height = Some(10_000);
    limits.max_alloc = Some(256 << 20);
    reader.limits(limits);
    let kind = if format == image::ImageFormat::Png { "PNG" } else { "JPEG" };
    reader.decode().map_err(|e| format!("does not decode as {kind}: {e}"))?;
    if format == image::ImageFormat::Jpeg && !jpeg_is_complete(&bytes) {
        return Err("does not decode as JPEG: the image data ends before its end marker (a cut-off file?)".into());
    }
    Ok(bytes)
}

/// The decoder fills a cut-off JPEG with grey; the end-of-image marker after
/// the last start-of-scan shows the file is whole. (Inside scan data 0xFF is
/// always stuffed, so FF D9 there is the marker; an EXIF thumbnail's markers
/// come before the main image's scan.)
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last = |marker: u8| bytes.windows(2).rposition(|w| w == [0xff, marker]);
    matches!((last(0xda), last(0xd9)), (Some(sos), Some(eoi)) if eoi > sos)
}

/// 1 to 10 enrolled templates.
pub fn templates(raw: &[RawTemplate], files: &dyn RosterFiles) -> Result<Vec<ValidTemplate>, String> {
    if raw.is_empty() || raw.len() > MAX_TEMPLATES {
        return Err(format!("{} templates given; 1 to {MAX_TEMPLATES} needed", raw.len()));
    }
    let mut problems = Vec::new();
    let mut valid = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        match template(t, files) {
            Ok(t) => valid.push(t),
            Err(e) => problems.push(format!("template {}: {e}", i + 1)),
        }
    }
    if problems.is_empty() { Ok(valid) } else { Err(problems.join("; ")) }
}

/// ISO 19794-2 and ANSI 378 records must parse (the format, if stated, must be what
/// the record is); a reader's own format is taken as given, 1 byte to 4 KiB.
pub fn template(t: &RawTemplate, files: &dyn RosterFiles) -> Result<ValidTemplate, String> {
    let stated = t.format.as_deref().map(str::parse::<TemplateFormat>).transpose().map_err(|e| e.to_string())?;
    if let Some(TemplateFormat::Vendor(name)) = &stated {
        if name.len() > 32 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(format!("vendor format name {name:?} must be 1 to 32 of A-Z, a-z, 0-9, '-', '_', '.'"));
        }
        let data = read(&t.source, files, MAX_VENDOR_TEMPLATE_BYTES)?;
        if data.is_empty() {
            return Err("is empty".into());
        }
        return Ok(ValidTemplate { format: TemplateFormat::Vendor(name.clone()), data });
    }
    let data = read(&t.source, files, MAX_STANDARD_TEMPLATE_BYTES)?;
    let standard = examgate_minutiae::detect_standard(&data).map_err(|e| {
        format!("is not an ISO 19794-2 or ANSI 378 record ({e}); name a reader's own format as vendor:NAME")
    })?;
    let detected = match standard {
        Standard::Iso19794_2_2005 => TemplateFormat::Iso19794_2,
        Standard::Ansi378_2004 => TemplateFormat::Ansi378,
    };
    if let Some(stated) = stated.filter(|s| *s != detected) {
        return Err(format!("is labelled {stated} but the record is {detected}"));
    }
    examgate_minutiae::parse_as(&data, standard).map_err(|e| format!("is not a valid {detected} record: {e}"))?;
    Ok(ValidTemplate { format: detected, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_need_the_right_check_character() {
        assert_eq!(id_number("11010519491231002x").unwrap(), "11010519491231002X");
        assert!(id_number("110105194912310021").unwrap_err().contains("check character"));
        assert!(id_number("1101051949123100").unwrap_err().contains("18 characters"));
        assert!(id_number("11010519491231002Y").unwrap_err().contains("17 digits"));
    }

    #[test]
    fn languages_take_the_short_aliases_and_store_the_canonical_code() {
        assert_eq!(language("zh").unwrap(), "zh-CN");
        assert_eq!(language("mn").unwrap(), "mn-Mong");
        assert_eq!(language("kk-Arab").unwrap(), "kk-Arab");
        assert!(language("cn").is_err());
        assert!(language("EN").is_err());
    }

    #[test]
    fn booking_numbers_and_names_are_bounded() {
        assert!(booking_number("2026-11-25-001").is_ok());
        assert!(booking_number("A 1").is_err());
        assert!(booking_number(&"1".repeat(33)).is_err());
        assert!(name(&"李".repeat(64)).is_ok());
        assert!(name(&"李".repeat(65)).is_err());
        assert!(name("Li\tLei").is_err());
    }
}
