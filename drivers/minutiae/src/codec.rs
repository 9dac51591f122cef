//! Reading and writing ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 records.
//!
//! Both are big-endian and share the magic `FMR\0 20\0`, the finger view header and the
//! 6-byte minutia. They differ in the header (ISO: 4-byte length, no product id, 24 bytes;
//! ANSI: 2-byte length or 0 followed by a 4-byte one, a CBEFF product id, 26 or 30 bytes),
//! in the angle unit (360/256 degrees against 2 degrees) and in ANSI's strict 0..=100
//! qualities.

use examgate_device_sdk::TemplateFormat;

use crate::error::{EncodeError, RecordError};
use crate::record::{Angle, FingerView, Minutia, MinutiaKind, MinutiaeRecord, Standard};

const MAGIC: &[u8; 4] = b"FMR\0";
const VERSION: &[u8; 4] = b" 20\0";
const ISO_HEADER: usize = 24;
const ANSI_HEADER: usize = 26;
const VIEW_HEADER: usize = 4;
const MINUTIA: usize = 6;
const EXTENDED_LENGTH: usize = 2;

/// Read a record in either standard, told apart by its length field as
/// [`TemplateFormat::detect`] does.
///
/// ```
/// let bytes = examgate_minutiae::encode(&examgate_minutiae::synthetic::example_record()).unwrap();
/// let record = examgate_minutiae::parse(&bytes).unwrap();
/// assert_eq!(record.views[0].minutiae.len(), 3);
/// ```
pub fn parse(bytes: &[u8]) -> Result<MinutiaeRecord, RecordError> {
    let standard = detect_standard(bytes)?;
    parse_as(bytes, standard)
}

/// Read a record that must be ISO/IEC 19794-2:2005.
pub fn parse_iso(bytes: &[u8]) -> Result<MinutiaeRecord, RecordError> {
    parse_as(bytes, Standard::Iso19794_2_2005)
}

/// Read a record that must be ANSI INCITS 378-2004.
pub fn parse_ansi(bytes: &[u8]) -> Result<MinutiaeRecord, RecordError> {
    parse_as(bytes, Standard::Ansi378_2004)
}

/// Which standard the bytes claim to follow. When neither length field matches the buffer,
/// the plausible one is chosen so that the error names the right field.
pub fn detect_standard(bytes: &[u8]) -> Result<Standard, RecordError> {
    check_magic(bytes)?;
    match TemplateFormat::detect(bytes, &[]) {
        Some(TemplateFormat::Iso19794_2) => return Ok(Standard::Iso19794_2_2005),
        Some(TemplateFormat::Ansi378) => return Ok(Standard::Ansi378_2004),
        _ => {}
    }
    need(bytes, 0, 12, "record length")?;
    // A 2-byte ANSI length is at least 26; an ISO record under 64 KiB has zeros there.
    let high = be16(bytes, 8);
    if high >= ANSI_HEADER as u16 {
        return Ok(Standard::Ansi378_2004);
    }
    if high > 0 {
        return Ok(Standard::Iso19794_2_2005);
    }
    // Zero: an ISO length under 64 KiB, or ANSI's escape to a 4-byte length, whose high
    // half is small for any record under 1.5 MiB.
    Ok(if be16(bytes, 10) >= ISO_HEADER as u16 { Standard::Iso19794_2_2005 } else { Standard::Ansi378_2004 })
}

fn check_magic(bytes: &[u8]) -> Result<(), RecordError> {
    let magic_len = bytes.len().min(4);
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(RecordError::BadMagic);
    }
    need(bytes, 0, 8, "record header")?;
    if &bytes[4..8] != VERSION {
        return Err(RecordError::BadVersion { found: [bytes[4], bytes[5], bytes[6], bytes[7]] });
    }
    Ok(())
}

fn need(bytes: &[u8], offset: usize, needed: usize, part: &'static str) -> Result<(), RecordError> {
    let available = bytes.len().saturating_sub(offset);
    if available < needed { Err(RecordError::Truncated { part, offset, needed, available }) } else { Ok(()) }
}

fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Read a record as the given standard; every length and count is checked against the
/// buffer before it is used.
pub fn parse_as(bytes: &[u8], standard: Standard) -> Result<MinutiaeRecord, RecordError> {
    check_magic(bytes)?;
    need(bytes, 0, 12, "record length")?;
    let (declared, mut at) = match standard {
        Standard::Iso19794_2_2005 => (u64::from(be32(bytes, 8)), 12),
        Standard::Ansi378_2004 => match be16(bytes, 8) {
            0 => {
                need(bytes, 0, 14, "record length")?;
                (u64::from(be32(bytes, 10)), 14)
            }
            short => (u64::from(short), 10),
        },
    };
    if declared != bytes.len() as u64 {
        return Err(RecordError::RecordLength { standard, declared, actual: bytes.len() });
    }
    let header_rest = match standard {
        Standard::Iso19794_2_2005 => ISO_HEADER - 12,
        Standard::Ansi378_2004 => ANSI_HEADER - 10,
    };
    need(bytes, at, header_rest, "record header")?;
    let (product_owner, product_type) = match standard {
        Standard::Iso19794_2_2005 => (0, 0),
        Standard::Ansi378_2004 => {
            at += 4;
            (be16(bytes, at - 4), be16(bytes, at - 2))
        }
    };
    let capture_equipment = be16(bytes, at);
    let width = be16(bytes, at + 2);
    let height = be16(bytes, at + 4);
    let x_resolution = be16(bytes, at + 6);
    let y_resolution = be16(bytes, at + 8);
    let view_count = usize::from(bytes[at + 10]);
    at += 12; // the view count and a reserved byte
    if view_count == 0 {
        return Err(RecordError::NoFingerViews);
    }

    let mut views = Vec::with_capacity(view_count);
    for view in 0..view_count {
        if bytes.len() - at < VIEW_HEADER + EXTENDED_LENGTH {
            return Err(RecordError::ViewCountOverrun { declared: view_count, parsed: view });
        }
        let position = bytes[at];
        let view_number = bytes[at + 1] >> 4;
        let impression_type = bytes[at + 1] & 0x0F;
        let quality = bytes[at + 2];
        let count = usize::from(bytes[at + 3]);
        at += VIEW_HEADER;
        if standard == Standard::Ansi378_2004 && quality > 100 {
            return Err(RecordError::QualityOutOfRange { what: format!("finger view {view} quality"), value: quality });
        }
        let needed = count * MINUTIA + EXTENDED_LENGTH;
        let available = bytes.len() - at;
        if needed > available {
            return Err(RecordError::MinutiaCountOverrun { view, count, needed: count * MINUTIA, available });
        }
        let mut minutiae = Vec::with_capacity(count);
        for index in 0..count {
            let m = &bytes[at + index * MINUTIA..at + (index + 1) * MINUTIA];
            minutiae.push(read_minutia(m, standard, view, index, width, height)?);
        }
        at += count * MINUTIA;
        let extended = usize::from(be16(bytes, at));
        at += EXTENDED_LENGTH;
        let available = bytes.len() - at;
        if extended > available {
            return Err(RecordError::ExtendedDataOverrun { view, length: extended, available });
        }
        let extended_data = bytes[at..at + extended].to_vec();
        at += extended;
        views.push(FingerView { position, view_number, impression_type, quality, minutiae, extended_data });
    }
    if at != bytes.len() {
        return Err(RecordError::TrailingBytes { unused: bytes.len() - at });
    }
    Ok(MinutiaeRecord {
        standard,
        product_owner,
        product_type,
        capture_equipment,
        width,
        height,
        x_resolution,
        y_resolution,
        views,
    })
}

fn read_minutia(
    m: &[u8],
    standard: Standard,
    view: usize,
    index: usize,
    width: u16,
    height: u16,
) -> Result<Minutia, RecordError> {
    let xw = be16(m, 0);
    let kind = MinutiaKind::from_code(xw >> 14).ok_or(RecordError::BadMinutiaType { view, index })?;
    let x = xw & 0x3FFF;
    // The top two bits of y are reserved: ignored on reading, written as zero.
    let y = be16(m, 2) & 0x3FFF;
    if (width > 0 && x >= width) || (height > 0 && y >= height) {
        return Err(RecordError::CoordinateOutOfRange { view, index, x, y, width, height });
    }
    let angle = match standard {
        Standard::Iso19794_2_2005 => Angle::from_iso(m[4]),
        Standard::Ansi378_2004 => {
            Angle::from_ansi(m[4]).ok_or(RecordError::AngleOutOfRange { view, index, angle: m[4] })?
        }
    };
    let quality = m[5];
    if standard == Standard::Ansi378_2004 && quality > 100 {
        return Err(RecordError::QualityOutOfRange {
            what: format!("minutia {index} of finger view {view} quality"),
            value: quality,
        });
    }
    Ok(Minutia { kind, x, y, angle, quality })
}

/// Write a record in the standard named by `record.standard`. Angles that are not exact in
/// that standard's unit are rounded to the nearest one; use
/// [`MinutiaeRecord::converted_to`] to change standards.
pub fn encode(record: &MinutiaeRecord) -> Result<Vec<u8>, EncodeError> {
    if record.views.len() > 255 {
        return Err(EncodeError::TooManyViews { count: record.views.len() });
    }
    let mut body = Vec::new();
    for (view, v) in record.views.iter().enumerate() {
        write_view(&mut body, record.standard, view, v)?;
    }
    let mut out = Vec::with_capacity(body.len() + 30);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(VERSION);
    match record.standard {
        Standard::Iso19794_2_2005 => {
            let length = ISO_HEADER + body.len();
            let length = u32::try_from(length).map_err(|_| EncodeError::RecordTooLong { length })?;
            out.extend_from_slice(&length.to_be_bytes());
        }
        Standard::Ansi378_2004 => {
            let short = ANSI_HEADER + body.len();
            if short <= usize::from(u16::MAX) {
                out.extend_from_slice(&(short as u16).to_be_bytes());
            } else {
                let length = short + 4;
                let length = u32::try_from(length).map_err(|_| EncodeError::RecordTooLong { length })?;
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&length.to_be_bytes());
            }
            out.extend_from_slice(&record.product_owner.to_be_bytes());
            out.extend_from_slice(&record.product_type.to_be_bytes());
        }
    }
    for field in [record.capture_equipment, record.width, record.height, record.x_resolution, record.y_resolution] {
        out.extend_from_slice(&field.to_be_bytes());
    }
    out.push(record.views.len() as u8);
    out.push(0);
    out.extend_from_slice(&body);
    Ok(out)
}

fn write_view(out: &mut Vec<u8>, standard: Standard, view: usize, v: &FingerView) -> Result<(), EncodeError> {
    let field = |field: &'static str, value: u32| EncodeError::FieldOutOfRange { view, field, value };
    if v.minutiae.len() > 255 {
        return Err(EncodeError::TooManyMinutiae { view, count: v.minutiae.len() });
    }
    if v.view_number > 15 {
        return Err(field("view number", v.view_number.into()));
    }
    if v.impression_type > 15 {
        return Err(field("impression type", v.impression_type.into()));
    }
    if standard == Standard::Ansi378_2004 && v.quality > 100 {
        return Err(field("finger quality", v.quality.into()));
    }
    let extended = u16::try_from(v.extended_data.len())
        .map_err(|_| EncodeError::ExtendedDataTooLong { view, length: v.extended_data.len() })?;
    out.extend_from_slice(&[v.position, (v.view_number << 4) | v.impression_type, v.quality, v.minutiae.len() as u8]);
    for m in &v.minutiae {
        if m.x > 0x3FFF {
            return Err(field("minutia x", m.x.into()));
        }
        if m.y > 0x3FFF {
            return Err(field("minutia y", m.y.into()));
        }
        if standard == Standard::Ansi378_2004 && m.quality > 100 {
            return Err(field("minutia quality", m.quality.into()));
        }
        out.extend_from_slice(&((m.kind.code() << 14) | m.x).to_be_bytes());
        out.extend_from_slice(&m.y.to_be_bytes());
        out.push(match standard {
            Standard::Iso19794_2_2005 => m.angle.to_iso(),
            Standard::Ansi378_2004 => m.angle.to_ansi(),
        });
        out.push(m.quality);
    }
    out.extend_from_slice(&extended.to_be_bytes());
    out.extend_from_slice(&v.extended_data);
    Ok(())
}
