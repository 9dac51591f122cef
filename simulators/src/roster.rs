//! A simulated day's roster: the bookings the exam-centre server imports, with each
//! candidate's photo and enrolled fingerprint templates (`examgate-sim roster`).
//!
//! `DIR/roster.csv` has the header
//! `booking_number,id_number,name,session,language,photo,templates` and one row a candidate
//! (RFC 4180 quoting where a field needs it):
//!
//! - `booking_number`: `YYYYMMDD` and a 3-digit index, `20261125001`;
//! - `id_number`: 18 characters with a right ISO 7064 MOD 11-2 check character; candidate 1
//!   is the holder of `cards/resident.toml`, candidate 2 of `cards/foreigner-2023.toml`;
//! - `session`: `YYYY-MM-DD HH:MM`; `language`: one of [`LANGUAGES`], varied, 1 is `zh-CN`;
//! - `photo`: `photos/K.jpg`, a small generated portrait;
//! - `templates`: `templates/K.iso` (format told by the record's header), or
//!   `vendor:examgate-sim:templates/K.tpl`; several are separated by `;` (candidate 2 has both
//!   enrolment impressions, `templates/2.iso;templates/2-2.iso`).
//!
//! Candidate K enrolled simulated finger K (same seed), so `finger K` on a seat's simulated
//! reader is candidate K's finger and any other is not.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use examgate_device_sdk::idcard::CardDate;

use crate::fingerprint::{SimFingerprintConfig, SimFingerprintFactory, SimTemplateFormat};
use crate::rng::{SplitMix64, mix};

mod people;
mod portrait;

pub use people::{FOREIGNER_CARD_HOLDER, LANGUAGES, Person, RESIDENT_CARD_HOLDER};

/// The roster's CSV header.
pub const CSV_HEADER: &str = "booking_number,id_number,name,session,language,photo,templates";
/// Candidates when `--count` is not given.
pub const DEFAULT_COUNT: u32 = 6;
/// Booking numbers carry a 3-digit index.
pub const MAX_COUNT: u32 = 999;

/// An exam session's start, `HH:MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTime {
    hour: u8,
    minute: u8,
}

impl SessionTime {
    pub fn new(hour: u8, minute: u8) -> Option<SessionTime> {
        (hour < 24 && minute < 60).then_some(SessionTime { hour, minute })
    }
}

impl Default for SessionTime {
    fn default() -> Self {
        SessionTime { hour: 9, minute: 0 }
    }
}

impl fmt::Display for SessionTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl FromStr for SessionTime {
    type Err = RosterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RosterError::BadSession(s.to_owned());
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        SessionTime::new(h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?).ok_or_else(bad)
    }
}

/// What roster to make.
#[derive(Clone, Debug, PartialEq)]
pub struct RosterOptions {
    pub date: CardDate,
    pub session: SessionTime,
    /// Candidates, 1..=[`MAX_COUNT`].
    pub count: u32,
    /// The fingers' seed (as the simulated readers'), which also seeds names and numbers.
    pub seed: u64,
    /// The enrolled templates' format.
    pub format: SimTemplateFormat,
}

impl RosterOptions {
    /// [`DEFAULT_COUNT`] candidates at 09:00 on `date`, ISO 19794-2 templates, the
    /// simulators' default seed.
    pub fn new(date: CardDate) -> RosterOptions {
        RosterOptions {
            date,
            session: SessionTime::default(),
            count: DEFAULT_COUNT,
            seed: SimFingerprintConfig::default().seed,
            format: SimTemplateFormat::Iso19794_2,
        }
    }
}

/// One booking of the roster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// 1-based; also the simulated finger the candidate enrolled.
    pub index: u32,
    pub booking_number: String,
    pub id_number: String,
    pub name: String,
    /// `YYYY-MM-DD HH:MM`.
    pub session: String,
    pub language: &'static str,
    /// Relative to the roster's directory.
    pub photo: String,
    pub templates: Vec<EnrolledTemplate>,
}

impl Candidate {
    /// The simulated finger that is this candidate's.
    pub fn finger(&self) -> u32 {
        self.index
    }

    /// The row of `roster.csv`, without its line end.
    pub fn csv_row(&self) -> String {
        let templates: Vec<String> = self.templates.iter().map(EnrolledTemplate::reference).collect();
        [
            self.booking_number.as_str(),
            &self.id_number,
            &self.name,
            &self.session,
            self.language,
            &self.photo,
            &templates.join(";"),
        ]
        .iter()
        .map(|field| csv_field(field))
        .collect::<Vec<_>>()
        .join(",")
    }
}

/// An enrolled template file of a candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrolledTemplate {
    /// Relative to the roster's directory: `templates/K.iso`, `templates/K-2.iso`.
    pub path: String,
    pub format: SimTemplateFormat,
    /// Which enrolment capture of the finger it is (1, 2).
    pub impression: u64,
}

impl EnrolledTemplate {
    /// How the CSV names it: the path, or `vendor:NAME:path` for a reader's own format.
    pub fn reference(&self) -> String {
        match self.format {
            SimTemplateFormat::ExamgateSim => format!("vendor:{}:{}", self.format, self.path),
            SimTemplateFormat::Iso19794_2 | SimTemplateFormat::Ansi378 => self.path.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("session {0:?} is not HH:MM (00:00 to 23:59)")]
    BadSession(String),
    #[error("a roster has 1 to {MAX_COUNT} candidates, not {0}")]
    BadCount(u32),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot encode the portrait of candidate {index}: {source}")]
    Photo { index: u32, source: image::ImageError },
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

fn day_number(date: CardDate) -> u64 {
    u64::from(date.year) * 10_000 + u64::from(date.month) * 100 + u64::from(date.day)
}

/// The day's candidates (nothing written).
pub fn candidates(options: &RosterOptions) -> Result<Vec<Candidate>, RosterError> {
    if !(1..=MAX_COUNT).contains(&options.count) {
        return Err(RosterError::BadCount(options.count));
    }
    let mut taken_ids: HashSet<String> =
        [RESIDENT_CARD_HOLDER.id_number, FOREIGNER_CARD_HOLDER.id_number].map(str::to_owned).into();
    let mut taken_names = HashSet::new();
    let mut out = Vec::new();
    for index in 1..=options.count {
        let mut rng = candidate_rng(options, index, 0x7057E7);
        let language = LANGUAGES[(index as usize - 1) % LANGUAGES.len()];
        let (name, id_number) = match index {
            1 => (RESIDENT_CARD_HOLDER.name.to_owned(), RESIDENT_CARD_HOLDER.id_number.to_owned()),
            2 => (FOREIGNER_CARD_HOLDER.name.to_owned(), FOREIGNER_CARD_HOLDER.id_number.to_owned()),
            _ => {
                // Lists are short: a long roster repeats names, never ID numbers.
                let mut name = people::name(&mut rng, language);
                for _ in 0..8 {
                    if !taken_names.contains(name) {
                        break;
                    }
                    name = people::name(&mut rng, language);
                }
                let mut id = people::id_number(&mut rng, language, options.date);
                while taken_ids.contains(&id) {
                    id = people::id_number(&mut rng, language, options.date);
                }
                (name.to_owned(), id)
            }
        };
        taken_names.insert(name.clone());
        taken_ids.insert(id_number.clone());
        let ext = options.format.extension();
        let template = |impression: u64| EnrolledTemplate {
            path: match impression {
                1 => format!("templates/{index}.{ext}"),
                k => format!("templates/{index}-{k}.{ext}"),
            },
            format: options.format,
            impression,
        };
        // Candidate 2 enrolled twice, as a reader's enrolment of a hard finger does.
        let templates = if index == 2 { vec![template(1), template(2)] } else { vec![template(1)] };
        out.push(Candidate {
            index,
            booking_number: format!("{}{index:03}", options.date.compact()),
            id_number,
            name,
            session: format!("{} {}", options.date, options.session),
            language,
            photo: format!("photos/{index}.jpg"),
            templates,
        });
    }
    Ok(out)
}

fn candidate_rng(options: &RosterOptions, index: u32, purpose: u64) -> SplitMix64 {
    SplitMix64::new(mix(&[options.seed, purpose, day_number(options.date), u64::from(index)]))
}

/// Write the roster into `dir` (made if missing; files of an older roster there are
/// replaced): `roster.csv`, `photos/K.jpg`, `templates/K.*`. Returns its candidates.
pub fn write_roster(dir: &Path, options: &RosterOptions) -> Result<Vec<Candidate>, RosterError> {
    let candidates = candidates(options)?;
    let write = |relative: &str, bytes: &[u8]| {
        let path = dir.join(relative);
        let made = match path.parent() {
            Some(parent) => std::fs::create_dir_all(parent),
            None => Ok(()),
        };
        made.and_then(|()| std::fs::write(&path, bytes)).map_err(|source| RosterError::Write { path, source })
    };
    let readers = SimFingerprintFactory::new(SimFingerprintConfig {
        seed: options.seed,
        format: options.format,
        ..SimFingerprintConfig::default()
    });
    let mut csv = format!("{CSV_HEADER}\n");
    for c in &candidates {
        let photo = portrait::portrait(&mut candidate_rng(options, c.index, 0xFAC3))
            .map_err(|source| RosterError::Photo { index: c.index, source })?;
        write(&c.photo, &photo)?;
        for t in &c.templates {
            write(&t.path, &readers.template_for(c.finger(), t.impression).data)?;
        }
        csv.push_str(&c.csv_row());
        csv.push('\n');
    }
    write("roster.csv", csv.as_bytes())?;
    Ok(candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> CardDate {
        CardDate::parse_iso("2026-11-25").unwrap()
    }

    #[test]
    fn session_times_parse_strictly() {
        assert_eq!("07:30".parse::<SessionTime>().unwrap().to_string(), "07:30");
        for bad in ["7:30", "24:00", "12:60", "1230", "ab:cd", ""] {
            assert!(bad.parse::<SessionTime>().is_err(), "{bad}");
        }
    }

    #[test]
    fn fields_with_commas_and_quotes_are_quoted() {
        assert_eq!(csv_field("SMITH, JOHN"), "\"SMITH, JOHN\"");
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_field("ᠪᠠᠲᠤ"), "ᠪᠠᠲᠤ");
    }

    #[test]
    fn candidates_are_deterministic_and_numbered_by_day() {
        let options = RosterOptions { count: 14, ..RosterOptions::new(day()) };
        let a = candidates(&options).unwrap();
        assert_eq!(a, candidates(&options).unwrap());
        assert_eq!(a[0].booking_number, "20261125001");
        assert_eq!(a[13].booking_number, "20261125014");
        assert_eq!((a[0].name.as_str(), a[0].language), ("张伟", "zh-CN"));
        assert_eq!(a[1].id_number, FOREIGNER_CARD_HOLDER.id_number);
        assert_eq!(a[12].language, "zh-CN", "languages cycle");
        let other_day = candidates(&RosterOptions::new(CardDate::parse_iso("2026-11-26").unwrap())).unwrap();
        assert_ne!(a[2].id_number, other_day[2].id_number);
        assert!(matches!(candidates(&RosterOptions { count: 0, ..options.clone() }), Err(RosterError::BadCount(0))));
        assert!(candidates(&RosterOptions { count: 1000, ..options }).is_err());
    }

    #[test]
    fn vendor_templates_are_named_with_their_format() {
        let options = RosterOptions { format: SimTemplateFormat::ExamgateSim, ..RosterOptions::new(day()) };
        let c = &candidates(&options).unwrap()[1];
        assert!(c.csv_row().ends_with(",vendor:examgate-sim:templates/2.tpl;vendor:examgate-sim:templates/2-2.tpl"));
    }
}
