//! Finger minutiae records and a minutiae matcher for examgate.
//!
//! - [`parse`] / [`encode`] read and write ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004
//!   records (several finger views, extended data kept as bytes, every length and count
//!   checked); [`MinutiaeRecord::converted_to`] converts between the two.
//! - [`PreparedTemplate`] is one finger view made ready for fast 1:1 matching;
//!   [`PreparedRecord`] holds every view of a record.
//! - [`match_templates`] is what the agent calls: two SDK [`Template`]s in, a [`Score`] on
//!   the seeds' 1..=1000 scale out, above 800 a match, calibrated in [`calibration`].
//! - [`synthetic`] grows fingers and impressions from seeds, for tests and the evaluation.
//!
//! Pure computation: no I/O, no threads, no async runtime.
//!
//! [`Template`]: examgate_device_sdk::Template
//! [`Score`]: examgate_device_sdk::Score

mod api;
pub mod calibration;
mod codec;
mod error;
mod matcher;
mod record;
pub mod synthetic;

pub use api::{PreparedRecord, TemplateError, match_templates, parse_template};
pub use codec::{detect_standard, encode, parse, parse_ansi, parse_as, parse_iso};
pub use error::{EncodeError, RecordError};
pub use matcher::{MatchDetail, PreparedTemplate, Scratch};
pub use record::{Angle, FingerView, Minutia, MinutiaKind, MinutiaeRecord, PPCM_500_DPI, Standard};
