//! What the agent calls: templates in, a score on the seeds' scale out.

use examgate_device_sdk::{DeviceError, Score, Template, TemplateFormat};

use crate::calibration::calibrate;
use crate::codec::{detect_standard, parse_as};
use crate::error::RecordError;
use crate::matcher::PreparedTemplate;
use crate::record::MinutiaeRecord;

/// Compare two templates in ISO 19794-2:2005 or ANSI 378-2004 (either side, mixed freely)
/// and return the calibrated score: above 800 is a match, at a false-match rate of at most
/// 1 in 10,000 on the evaluation corpus (see BENCHMARKS.md).
///
/// Records with several finger views compare every pair of views that may be the same
/// finger (equal finger positions, or either unknown) and keep the best. Vendor formats
/// give [`DeviceError::FormatMismatch`]; malformed records give
/// [`DeviceError::InvalidArgument`] saying which template and what is wrong.
///
/// ```
/// use examgate_device_sdk::{Template, TemplateFormat};
/// use examgate_minutiae::{encode, match_templates, synthetic};
/// let finger = synthetic::Finger::new(3);
/// let params = synthetic::ImpressionParams::default();
/// let iso = |seed| Template::new(
///     TemplateFormat::Iso19794_2,
///     encode(&synthetic::impression(&finger, seed, &params)).unwrap(),
/// );
/// let score = match_templates(&iso(1), &iso(2)).unwrap();
/// assert!(score.is_match());
/// ```
pub fn match_templates(probe: &Template, enrolled: &Template) -> Result<Score, DeviceError> {
    let probe = PreparedRecord::from_template(probe).map_err(|e| e.context("probe"))?;
    let enrolled = PreparedRecord::from_template(enrolled).map_err(|e| e.context("enrolled"))?;
    Ok(probe.score(&enrolled))
}

/// Read a template's record, in whichever of the two standards its bytes follow.
pub fn parse_template(template: &Template) -> Result<MinutiaeRecord, TemplateError> {
    match &template.format {
        TemplateFormat::Iso19794_2 | TemplateFormat::Ansi378 => {
            // The bytes decide: a record labelled ISO whose length field is ANSI's is ANSI.
            let standard = detect_standard(&template.data).map_err(TemplateError::Record)?;
            parse_as(&template.data, standard).map_err(TemplateError::Record)
        }
        TemplateFormat::Vendor(name) => Err(TemplateError::Vendor(name.clone())),
    }
}

/// Why a template cannot be matched here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "{0:?} templates are a reader's own format; match them on that reader, or capture ISO 19794-2 / ANSI 378 templates"
    )]
    Vendor(String),
    #[error(transparent)]
    Record(#[from] RecordError),
}

impl TemplateError {
    /// The SDK error, naming which template (`probe` or `enrolled`) was at fault.
    pub fn context(self, which: &str) -> DeviceError {
        match self {
            TemplateError::Vendor(_) => DeviceError::FormatMismatch(format!("{which} template: {self}")),
            TemplateError::Record(e) => DeviceError::InvalidArgument(format!("{which} template: {e}")),
        }
    }
}

/// Every finger view of a record, prepared for matching: build it once for an enrolled
/// template and compare many probes against it.
#[derive(Clone, Debug)]
pub struct PreparedRecord {
    views: Vec<(u8, PreparedTemplate)>,
}

impl PreparedRecord {
    pub fn from_template(template: &Template) -> Result<PreparedRecord, TemplateError> {
        Ok(Self::from_record(&parse_template(template)?)?)
    }

    /// Prepare every view that has minutiae; a record none of whose views has any is an error.
    pub fn from_record(record: &MinutiaeRecord) -> Result<PreparedRecord, RecordError> {
        let mut views = Vec::with_capacity(record.views.len());
        let mut first_error = None;
        for (index, view) in record.views.iter().enumerate() {
            match PreparedTemplate::new(record, index) {
                Ok(prepared) => views.push((view.position, prepared)),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match (views.is_empty(), first_error) {
            (true, Some(e)) => Err(e),
            (true, None) => Err(RecordError::NoFingerViews),
            (false, _) => Ok(PreparedRecord { views }),
        }
    }

    /// The best calibrated score over view pairs that may show the same finger; the lowest
    /// score when no pair may (two different finger positions are never the same finger).
    pub fn score(&self, other: &PreparedRecord) -> Score {
        let mut best = None::<f32>;
        for (pos_a, a) in &self.views {
            for (pos_b, b) in &other.views {
                if *pos_a == 0 || *pos_b == 0 || pos_a == pos_b {
                    let raw = a.match_detail(b).raw;
                    best = Some(best.map_or(raw, |r: f32| r.max(raw)));
                }
            }
        }
        best.map_or(Score::MIN, calibrate)
    }
}
