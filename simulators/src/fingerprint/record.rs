//! Simulated fingers as ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 finger minutiae
//! records, written byte by byte from the standards (protocols.md §3), never through
//! examgate-minutiae's codec, so that the two check each other.
//!
//! The fingers and their impressions are modelled in [`super::finger`]; the sensor is a
//! 300x400 window at 500 dpi (197 px/cm), as the optical readers of exam seats have.
//!
//! | off | len | ISO 19794-2 header | ANSI 378 header |
//! |---|---|---|---|
//! | 0 | 8 | `FMR\0 20\0` | `FMR\0 20\0` |
//! | 8 | 4 / 2 | record length | record length |
//! | 10 | 4 | | CBEFF product id (owner, type): zero |
//! | 12 / 14 | 2 | capture equipment: zero | capture equipment: zero |
//! | +2 | 8 | width, height, x / y resolution (px/cm) | same |
//! | +10 | 2 | view count (1), reserved | same |
//!
//! Then one finger view: position 0 (unknown finger), view 0 / impression type 0 (live
//! plain), quality, count; 6 bytes a minutia (type + x, y, angle, quality 60) and a zero
//! extended-data length. Angles run counter-clockwise on the image (y down): 360/256 degree
//! units in ISO, 2-degree units (0..=179) in ANSI.

use std::f64::consts::TAU;
use std::fmt;
use std::str::FromStr;

use examgate_device_sdk::TemplateFormat;

use super::finger::{self, Minutia};

/// Width and height of the simulated sensor window, pixels.
pub const SENSOR_WIDTH: u16 = 300;
pub const SENSOR_HEIGHT: u16 = 400;
/// 500 dpi in the records' pixels per centimetre.
pub const RESOLUTION_PPCM: u16 = 197;
const MAGIC: &[u8; 8] = b"FMR\0 20\0";
const ISO_HEADER: usize = 24;
const ANSI_HEADER: usize = 26;
const MINUTIA_QUALITY: u8 = 60;

/// The format a simulated reader writes its templates in: the selector's `format=` option
/// and `examgate-sim`'s `--format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SimTemplateFormat {
    /// The simulator's own 72-byte bit vectors (`vendor:examgate-sim`), matched by the reader.
    #[default]
    ExamgateSim,
    /// ISO/IEC 19794-2:2005 minutiae records.
    Iso19794_2,
    /// ANSI INCITS 378-2004 minutiae records.
    Ansi378,
}

impl SimTemplateFormat {
    /// The SDK's name for templates in this format.
    pub fn template_format(self) -> TemplateFormat {
        match self {
            SimTemplateFormat::ExamgateSim => TemplateFormat::Vendor(super::FORMAT_NAME.to_owned()),
            SimTemplateFormat::Iso19794_2 => TemplateFormat::Iso19794_2,
            SimTemplateFormat::Ansi378 => TemplateFormat::Ansi378,
        }
    }

    /// The file name extension the roster and the tools give such templates.
    pub fn extension(self) -> &'static str {
        match self {
            SimTemplateFormat::ExamgateSim => "tpl",
            SimTemplateFormat::Iso19794_2 => "iso",
            SimTemplateFormat::Ansi378 => "ansi",
        }
    }
}

impl fmt::Display for SimTemplateFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SimTemplateFormat::ExamgateSim => super::FORMAT_NAME,
            SimTemplateFormat::Iso19794_2 => "iso19794-2",
            SimTemplateFormat::Ansi378 => "ansi378",
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown simulated template format {0:?}: expected iso19794-2, ansi378 or examgate-sim")]
pub struct UnknownSimFormat(pub String);

impl FromStr for SimTemplateFormat {
    type Err = UnknownSimFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "examgate-sim" | "vendor:examgate-sim" => Ok(SimTemplateFormat::ExamgateSim),
            "iso19794-2" => Ok(SimTemplateFormat::Iso19794_2),
            "ansi378" => Ok(SimTemplateFormat::Ansi378),
            other => Err(UnknownSimFormat(other.to_owned())),
        }
    }
}

/// Which of the two standards a record follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standard {
    Iso19794_2,
    Ansi378,
}

/// Impression `impression` of `finger` (seeded by `seed`) as a one-view record.
pub(crate) fn impression_record(seed: u64, finger: u32, impression: u64, quality: u8, standard: Standard) -> Vec<u8> {
    encode(&finger::impression(seed, finger, impression), quality, standard)
}

/// A one-view record of `minutiae` (pixels, y down, direction vector `(cos a, sin a)`).
pub(crate) fn encode(minutiae: &[Minutia], quality: u8, standard: Standard) -> Vec<u8> {
    // The count is one byte; a simulated capture has at most about 80.
    let minutiae = &minutiae[..minutiae.len().min(255)];
    let length = match standard {
        Standard::Iso19794_2 => ISO_HEADER,
        Standard::Ansi378 => ANSI_HEADER,
    } + 4
        + 6 * minutiae.len()
        + 2;
    let mut out = Vec::with_capacity(length);
    out.extend_from_slice(MAGIC);
    match standard {
        Standard::Iso19794_2 => out.extend_from_slice(&(length as u32).to_be_bytes()),
        Standard::Ansi378 => {
            // At most 26 + 4 + 6 * 255 + 2 bytes: the 2-byte length always suffices.
            out.extend_from_slice(&(length as u16).to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 0]); // CBEFF product identifier: none registered
        }
    }
    out.extend_from_slice(&[0, 0]); // capture equipment: not certified, device type unreported
    for field in [SENSOR_WIDTH, SENSOR_HEIGHT, RESOLUTION_PPCM, RESOLUTION_PPCM] {
        out.extend_from_slice(&field.to_be_bytes());
    }
    out.extend_from_slice(&[1, 0]); // one finger view, reserved byte
    // Finger position 0 (unknown), view 0 and impression type 0 (live-scan plain).
    out.extend_from_slice(&[0, 0, quality.min(100), minutiae.len() as u8]);
    for m in minutiae {
        let x = (m.x.round().clamp(0.0, f64::from(SENSOR_WIDTH - 1))) as u16;
        let y = (m.y.round().clamp(0.0, f64::from(SENSOR_HEIGHT - 1))) as u16;
        let kind: u16 = match m.kind {
            1 => 0b01, // ridge ending
            2 => 0b10, // bifurcation
            _ => 0b00,
        };
        out.extend_from_slice(&((kind << 14) | x).to_be_bytes());
        out.extend_from_slice(&y.to_be_bytes()); // top two bits reserved, zero
        // The model's direction (cos a, sin a) with y down is -a counter-clockwise on the image.
        let ccw = (-m.angle).rem_euclid(TAU);
        out.push(match standard {
            Standard::Iso19794_2 => ((ccw * 256.0 / TAU).round() as u32 % 256) as u8,
            Standard::Ansi378 => ((ccw.to_degrees() / 2.0).round() as u32 % 180) as u8,
        });
        out.push(MINUTIA_QUALITY);
    }
    out.extend_from_slice(&[0, 0]); // no extended data
    debug_assert_eq!(out.len(), length);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn m(x: f64, y: f64, degrees_ccw: f64, kind: u8) -> Minutia {
        Minutia { x, y, angle: (-degrees_ccw.to_radians()).rem_euclid(2.0 * PI), kind }
    }

    #[test]
    fn writes_the_iso_layout_byte_for_byte() {
        let bytes = encode(&[m(100.0, 120.0, 45.0, 1), m(299.4, 399.0, 180.0, 2)], 77, Standard::Iso19794_2);
        let expected: Vec<u8> = [
            &b"FMR\0 20\0"[..],
            &[0, 0, 0, 42],                         // 24 + 4 + 12 + 2
            &[0, 0, 1, 44, 1, 144, 0, 197, 0, 197], // equipment, 300 x 400, 197 x 197 px/cm
            &[1, 0],                                // one view
            &[0, 0, 77, 2],                         // position, view/impression, quality, count
            &[0x40, 100, 0, 120, 32, 60],           // ending at (100, 120), 45° = 32 units
            &[0x81, 43, 1, 143, 128, 60],           // bifurcation at (299, 399), 180° = 128 units
            &[0, 0],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn writes_the_ansi_layout_byte_for_byte() {
        let bytes = encode(&[m(10.0, 20.0, 90.0, 1)], 150, Standard::Ansi378);
        let expected: Vec<u8> = [
            &b"FMR\0 20\0"[..],
            &[0, 38],      // 26 + 4 + 6 + 2
            &[0, 0, 0, 0], // CBEFF product id
            &[0, 0, 1, 44, 1, 144, 0, 197, 0, 197],
            &[1, 0],
            &[0, 0, 100, 1],            // quality capped at ANSI's 100
            &[0x40, 10, 0, 20, 45, 60], // 90° = 45 two-degree units
            &[0, 0],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn format_names_parse_and_print() {
        for name in ["examgate-sim", "iso19794-2", "ansi378"] {
            assert_eq!(name.parse::<SimTemplateFormat>().unwrap().to_string(), name);
        }
        assert_eq!(SimTemplateFormat::Iso19794_2.template_format(), TemplateFormat::Iso19794_2);
        assert!("wsq".parse::<SimTemplateFormat>().is_err());
    }
}
