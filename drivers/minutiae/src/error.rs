use crate::record::Standard;

/// Why a minutiae record could not be read (or used for matching).
///
/// Every variant names where in the record the problem is, so a vendor can find it in a hex
/// dump; none of them carries the minutiae themselves.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("not a finger minutiae record: it does not start with \"FMR\\0\"")]
    BadMagic,
    #[error("unsupported record version {found:?}: only \" 20\\0\" (ISO 19794-2:2005, ANSI 378-2004) is read")]
    BadVersion { found: [u8; 4] },
    #[error("record truncated in the {part}: {needed} bytes needed at offset {offset}, {available} left")]
    Truncated { part: &'static str, offset: usize, needed: usize, available: usize },
    #[error(
        "{standard} record length field says {declared} bytes but the buffer holds {actual}; send the record alone, not padded or cut"
    )]
    RecordLength { standard: Standard, declared: u64, actual: usize },
    #[error("the record declares no finger views")]
    NoFingerViews,
    #[error(
        "finger view {view} declares {count} minutiae ({needed} bytes) but only {available} bytes remain in the record"
    )]
    MinutiaCountOverrun { view: usize, count: usize, needed: usize, available: usize },
    #[error(
        "finger view {view} has an extended data area of {length} bytes but only {available} bytes remain in the record"
    )]
    ExtendedDataOverrun { view: usize, length: usize, available: usize },
    #[error("the record declares {declared} finger views but its length holds only {parsed}")]
    ViewCountOverrun { declared: usize, parsed: usize },
    #[error("{unused} bytes after the last finger view are not accounted for by the view counts")]
    TrailingBytes { unused: usize },
    #[error("finger view {view} has no minutiae; nothing to match: capture the finger again")]
    NoMinutiae { view: usize },
    #[error("finger view {view} has {count} minutiae; a record holds at most 255 a view")]
    TooManyMinutiae { view: usize, count: usize },
    #[error("minutia {index} of finger view {view} has the reserved type code 11")]
    BadMinutiaType { view: usize, index: usize },
    #[error("minutia {index} of finger view {view} lies at ({x}, {y}), outside the {width}x{height} image")]
    CoordinateOutOfRange { view: usize, index: usize, x: u16, y: u16, width: u16, height: u16 },
    #[error("minutia {index} of finger view {view} has angle {angle}; ANSI 378 angles run 0..=179 (2-degree units)")]
    AngleOutOfRange { view: usize, index: usize, angle: u8 },
    #[error("{what} is {value}; ANSI 378 qualities run 0..=100")]
    QualityOutOfRange { what: String, value: u8 },
}

/// Why a record could not be written in a standard's bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{count} finger views; a record holds at most 255")]
    TooManyViews { count: usize },
    #[error("finger view {view} has {count} minutiae; a view holds at most 255")]
    TooManyMinutiae { view: usize, count: usize },
    #[error("finger view {view} has {length} bytes of extended data; at most 65535 fit")]
    ExtendedDataTooLong { view: usize, length: usize },
    #[error("finger view {view}: {field} = {value} does not fit its field")]
    FieldOutOfRange { view: usize, field: &'static str, value: u32 },
    #[error("the record would be {length} bytes; ISO 19794-2 records hold at most 4 GiB")]
    RecordTooLong { length: usize },
}
