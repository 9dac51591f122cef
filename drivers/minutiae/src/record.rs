//! The parsed form of a finger minutiae record, shared by both standards.

use std::fmt;

/// Which standard a record's bytes follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Standard {
    /// ISO/IEC 19794-2:2005: 24-byte header, angles in 360/256 degree units.
    Iso19794_2_2005,
    /// ANSI INCITS 378-2004: 26-byte header (30 with the long length), angles in 2-degree units.
    Ansi378_2004,
}

impl fmt::Display for Standard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Standard::Iso19794_2_2005 => "ISO/IEC 19794-2:2005",
            Standard::Ansi378_2004 => "ANSI INCITS 378-2004",
        })
    }
}

/// A minutia direction, stored exactly for both standards.
///
/// The unit is 1/64 degree: an ISO unit (360/256 = 1.40625 degrees) is 90 of them and an
/// ANSI unit (2 degrees) is 128, so a record read from either standard and written back to
/// the same standard is bit-exact. The angle is measured counter-clockwise (as seen on the
/// image) from the x axis, so with y pointing down the direction vector is `(cos a, -sin a)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Angle(u16);

impl Angle {
    const FULL: u32 = 360 * 64;

    /// From ISO units (0..=255, 360/256 degrees each).
    pub fn from_iso(units: u8) -> Angle {
        Angle(u16::from(units) * 90)
    }

    /// From ANSI units (2 degrees each); `None` above 179, which ANSI 378 forbids.
    pub fn from_ansi(units: u8) -> Option<Angle> {
        (units <= 179).then(|| Angle(u16::from(units) * 128))
    }

    /// From degrees, any value (wrapped onto 0..360).
    pub fn from_degrees(degrees: f64) -> Angle {
        let units = (degrees.rem_euclid(360.0) * 64.0).round() as u32 % Self::FULL;
        Angle(units as u16)
    }

    /// The nearest ISO unit (rounding half up, wrapping 256 to 0).
    pub fn to_iso(self) -> u8 {
        ((u32::from(self.0) + 45) / 90 % 256) as u8
    }

    /// The nearest ANSI unit (rounding half up, wrapping 180 to 0).
    pub fn to_ansi(self) -> u8 {
        ((u32::from(self.0) + 64) / 128 % 180) as u8
    }

    pub fn degrees(self) -> f64 {
        f64::from(self.0) / 64.0
    }

    pub fn radians(self) -> f64 {
        self.degrees().to_radians()
    }
}

/// What kind of ridge event a minutia is (the 2-bit type field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MinutiaKind {
    /// Code 00: neither or unknown.
    Other,
    /// Code 01.
    RidgeEnding,
    /// Code 10.
    Bifurcation,
}

impl MinutiaKind {
    pub(crate) fn from_code(code: u16) -> Option<MinutiaKind> {
        match code {
            0 => Some(MinutiaKind::Other),
            1 => Some(MinutiaKind::RidgeEnding),
            2 => Some(MinutiaKind::Bifurcation),
            _ => None,
        }
    }

    pub(crate) fn code(self) -> u16 {
        match self {
            MinutiaKind::Other => 0,
            MinutiaKind::RidgeEnding => 1,
            MinutiaKind::Bifurcation => 2,
        }
    }
}

/// One minutia: position in pixels (origin top left, y down), direction, quality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Minutia {
    pub kind: MinutiaKind,
    /// 14 bits: 0..=16383, and below the record's width.
    pub x: u16,
    /// 14 bits: 0..=16383, and below the record's height.
    pub y: u16,
    pub angle: Angle,
    /// 0..=100 in ANSI 378; ISO 19794-2:2005 writers use 0..=100 too, some other ranges
    /// (0 means "not reported" in both).
    pub quality: u8,
}

/// One finger view: an impression of one finger, with its minutiae.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FingerView {
    /// Finger position code (0 unknown, 1 right thumb ... 10 left little).
    pub position: u8,
    /// View number, 0..=15.
    pub view_number: u8,
    /// Impression type, 0..=15 (0 live-scan plain, 1 live-scan rolled, ...).
    pub impression_type: u8,
    /// Finger quality, 0..=100.
    pub quality: u8,
    pub minutiae: Vec<Minutia>,
    /// The extended data area (ridge counts, cores and deltas, vendor blocks), kept as
    /// bytes: the matcher does not use it, and round trips keep it.
    pub extended_data: Vec<u8>,
}

/// A finger minutiae record: a header and one or more finger views.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MinutiaeRecord {
    /// The standard the record was read from or is meant for.
    pub standard: Standard,
    /// ANSI only: CBEFF product identifier owner (vendor); 0 in ISO records.
    pub product_owner: u16,
    /// ANSI only: CBEFF product identifier type (subformat); 0 in ISO records.
    pub product_type: u16,
    /// Capture equipment: 4 bits of compliance/certification, 12 bits of equipment id.
    pub capture_equipment: u16,
    /// Image size in pixels; 0 means unknown (then coordinates are not range-checked).
    pub width: u16,
    pub height: u16,
    /// Resolution in pixels per centimetre (197 for 500 dpi).
    pub x_resolution: u16,
    pub y_resolution: u16,
    pub views: Vec<FingerView>,
}

/// Pixels per centimetre at 500 dpi, the resolution the matcher is tuned for.
pub const PPCM_500_DPI: u16 = 197;

impl MinutiaeRecord {
    /// The same record for the other standard: angles re-quantised (nearest unit), minutia
    /// quality clamped to ANSI's 0..=100, header fields that exist only in ANSI zeroed.
    ///
    /// ```
    /// use examgate_minutiae::{Angle, MinutiaeRecord, Standard};
    /// # let record = examgate_minutiae::synthetic::example_record();
    /// let ansi = record.converted_to(Standard::Ansi378_2004);
    /// assert_eq!(ansi.standard, Standard::Ansi378_2004);
    /// ```
    pub fn converted_to(&self, target: Standard) -> MinutiaeRecord {
        let mut out = self.clone();
        out.standard = target;
        if self.standard == target {
            return out;
        }
        if target == Standard::Iso19794_2_2005 {
            out.product_owner = 0;
            out.product_type = 0;
        }
        for view in &mut out.views {
            view.quality = view.quality.min(100);
            for m in &mut view.minutiae {
                m.angle = match target {
                    Standard::Iso19794_2_2005 => Angle::from_iso(m.angle.to_iso()),
                    Standard::Ansi378_2004 => Angle(u16::from(m.angle.to_ansi()) * 128),
                };
                if target == Standard::Ansi378_2004 {
                    m.quality = m.quality.min(100);
                }
            }
        }
        out
    }
}
