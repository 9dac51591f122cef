//! Exam dates and the exam centre's day: `today` and when a booking's personal
//! data is purged, both in `[roster] utc_offset` (default: this machine's), and
//! the [`Clock`] the day is read from.

use std::fmt;
use std::str::FromStr;

use crate::config::Config;

const DAY_MS: i64 = 86_400_000;

/// A calendar date, `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExamDate {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl ExamDate {
    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01 (`civil_from_days`).
    pub fn from_days_since_epoch(days: i64) -> ExamDate {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        ExamDate { year, month, day }
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

fn digits(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

impl FromStr for ExamDate {
    type Err = String;
    fn from_str(s: &str) -> Result<ExamDate, String> {
        let bad = || format!("{s:?} is not a date like 2026-11-25");
        let mut parts = s.split('-');
        let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let (year, month, day) =
            (digits(y).ok_or_else(bad)? as i32, digits(m).ok_or_else(bad)?, digits(d).ok_or_else(bad)?);
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(format!("{s:?} is not a date in the calendar"));
        }
        Ok(ExamDate { year, month, day })
    }
}

impl fmt::Display for ExamDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// An exam session `YYYY-MM-DD HH:MM`: its date.
pub fn session_date(session: &str) -> Result<ExamDate, String> {
    let bad = || format!("{session:?} is not a session like 2026-11-25 09:00");
    let (date, time) = session.split_once(' ').ok_or_else(bad)?;
    let (h, m) = time.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    match (digits(h), digits(m)) {
        (Some(h), Some(m)) if h < 24 && m < 60 => {}
        _ => return Err(bad()),
    }
    date.parse::<ExamDate>().map_err(|e| format!("{e} (in session {session:?})"))
}

/// Seconds east of UTC of the exam centre's clock at `at_ms`.
pub fn utc_offset_secs(config: &Config, at_ms: i64) -> i32 {
    config.roster.utc_offset_secs.unwrap_or_else(|| local_offset_secs(at_ms))
}

/// This machine's offset from UTC at `at_ms` (its time zone, summer time included).
pub fn local_offset_secs(at_ms: i64) -> i32 {
    let t: libc::time_t = at_ms.div_euclid(1000) as libc::time_t;
    // SAFETY: an all-zero `tm` is a valid value of this plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r is the re-entrant form: it writes only into `tm`,
    // which lives for the call; it reads TZ, which this process never changes.
    let done = unsafe { libc::localtime_r(&t, &mut tm) };
    if done.is_null() { 0 } else { tm.tm_gmtoff as i32 }
}

/// The date at `now_ms` in the exam centre (`YYYY-MM-DD`): which bookings are today's.
pub fn today(config: &Config, now_ms: i64) -> String {
    date_at(config, now_ms).to_string()
}

/// The date at `at_ms` in the exam centre.
pub fn date_at(config: &Config, at_ms: i64) -> ExamDate {
    let local_ms = at_ms + i64::from(utc_offset_secs(config, at_ms)) * 1000;
    ExamDate::from_days_since_epoch(local_ms.div_euclid(DAY_MS))
}

/// The clock the exam centre's day is read from: which bookings are today's,
/// whether a card is valid today, and which bookings are due for purging.
/// `System` (the default) is this machine's clock; `Fixed` is one instant, for
/// tests (and `serve --today`), so that a run that crosses midnight keeps its
/// day. Every other time the server keeps (timestamps, sessions, signed
/// requests) is the system clock's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clock {
    #[default]
    System,
    /// Unix ms.
    Fixed(i64),
}

impl Clock {
    /// Noon of `date` in the exam centre, fixed.
    pub fn noon_of(config: &Config, date: ExamDate) -> Clock {
        let noon_utc = date.days_since_epoch() * DAY_MS + DAY_MS / 2;
        Clock::Fixed(noon_utc - i64::from(utc_offset_secs(config, noon_utc)) * 1000)
    }

    pub fn now_ms(self) -> i64 {
        match self {
            Clock::System => crate::now_ms(),
            Clock::Fixed(ms) => ms,
        }
    }

    /// [`today`] by this clock.
    pub fn today(self, config: &Config) -> String {
        today(config, self.now_ms())
    }
}

/// When a booking's photo and templates are purged: the start of the day after
/// the exam, in the exam centre, plus `[roster] purge_after_hours`.
pub fn purge_at(config: &Config, exam_date: ExamDate) -> i64 {
    let next_day_utc = (exam_date.days_since_epoch() + 1) * DAY_MS;
    let offset_ms = i64::from(utc_offset_secs(config, next_day_utc)) * 1000;
    next_day_utc - offset_ms + config.roster.purge_after_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_offset(secs: i32) -> Config {
        let mut c = Config::with_data_dir(std::path::Path::new("/x"));
        c.roster.utc_offset_secs = Some(secs);
        c
    }

    #[test]
    fn dates_round_trip_through_day_numbers() {
        for (s, days) in [("1970-01-01", 0), ("2000-02-29", 11_016), ("2026-11-25", 20_782), ("1969-12-31", -1)] {
            let d: ExamDate = s.parse().unwrap();
            assert_eq!(d.days_since_epoch(), days, "{s}");
            assert_eq!(ExamDate::from_days_since_epoch(days).to_string(), s);
        }
    }

    #[test]
    fn impossible_dates_and_sessions_are_refused() {
        for bad in ["2026-02-29", "2026-13-01", "2026-00-10", "26-11-25", "2026-1-25", "2026-11-25x", "２０２６-11-25"]
        {
            assert!(bad.parse::<ExamDate>().is_err(), "{bad}");
        }
        assert!("2024-02-29".parse::<ExamDate>().is_ok());
        assert_eq!(session_date("2026-11-25 09:00").unwrap().to_string(), "2026-11-25");
        for bad in ["2026-11-25", "2026-11-25 9:00", "2026-11-25 24:00", "2026-11-25 09:60", "2026-11-25T09:00"] {
            assert!(session_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn today_is_the_exam_centres_date() {
        // 2026-11-24T16:30Z is already 00:30 on the 25th in Beijing.
        let t = 20_781 * DAY_MS + 16 * 3_600_000 + 30 * 60_000;
        assert_eq!(today(&at_offset(8 * 3600), t), "2026-11-25");
        assert_eq!(today(&at_offset(0), t), "2026-11-24");
    }

    #[test]
    fn a_fixed_clock_keeps_its_day() {
        let day: ExamDate = "2026-11-25".parse().unwrap();
        for offset in [8 * 3600, 0, -10 * 3600, 14 * 3600, -12 * 3600] {
            let c = at_offset(offset);
            let clock = Clock::noon_of(&c, day);
            assert_eq!(clock.today(&c), "2026-11-25", "offset {offset}");
            // Noon: the booking of the day is not yet due for purging, the day before's is.
            assert!(clock.now_ms() < purge_at(&c, day) - c.roster.purge_after_ms);
        }
        assert_eq!(Clock::noon_of(&at_offset(8 * 3600), day), Clock::Fixed(20_782 * DAY_MS + 4 * 3_600_000));
        let system = Clock::default();
        let (before, now, after) = (crate::now_ms(), system.now_ms(), crate::now_ms());
        assert!(before <= now && now <= after, "the default is the system clock");
    }

    #[test]
    fn purge_is_the_configured_hours_after_the_exam_day_ends() {
        let c = at_offset(8 * 3600);
        let day: ExamDate = "2026-11-25".parse().unwrap();
        // Midnight 2026-11-26 in Beijing is 16:00Z on the 25th; plus 72 hours.
        assert_eq!(purge_at(&c, day), 20_782 * DAY_MS + 16 * 3_600_000 + 72 * 3_600_000);
    }
}
