//! RFC 3339 timestamps (UTC, millisecond precision) without a date crate.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A moment in UTC with millisecond precision, on the wire as RFC 3339
/// (`2024-05-01T08:30:00.250Z`), which JavaScript's `new Date(..)` reads.
///
/// ```
/// use examgate_protocol::Timestamp;
/// let t: Timestamp = "2024-05-01T08:30:00.250Z".parse().unwrap();
/// assert_eq!(t.to_string(), "2024-05-01T08:30:00.250Z");
/// assert_eq!(Timestamp::from_unix_millis(t.unix_millis()), t);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Timestamp {
        let millis = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Timestamp(millis)
    }

    pub const fn from_unix_millis(millis: i64) -> Timestamp {
        Timestamp(millis)
    }

    pub const fn unix_millis(self) -> i64 {
        self.0
    }
}

// Howard Hinnant's days_from_civil / civil_from_days, proleptic Gregorian.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400_000);
        let ms_of_day = self.0.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        let (secs, ms) = (ms_of_day / 1000, ms_of_day % 1000);
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z", secs / 3600, secs / 60 % 60, secs % 60)
    }
}

/// A timestamp that is not RFC 3339.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampError(String);

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timestamp {:?} is not RFC 3339 (expected like 2024-05-01T08:30:00.250Z)", self.0)
    }
}

impl std::error::Error for TimestampError {}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || TimestampError(s.to_owned());
        let b = s.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(err());
        }
        let num = |range: std::ops::Range<usize>| -> Result<u32, TimestampError> {
            let part = s.get(range).ok_or_else(err)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            part.parse().map_err(|_| err())
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
            return Err(err());
        }
        let mut rest = &s[19..];
        let mut millis = 0i64;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(err());
            }
            let first3 = format!("{:0<3}", &frac[..digits.min(3)]);
            millis = first3.parse().map_err(|_| err())?;
            rest = &frac[digits..];
        }
        let offset_minutes: i64 = match rest {
            "Z" | "z" => 0,
            _ => {
                let rb = rest.as_bytes();
                if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                    return Err(err());
                }
                let sign = if rb[0] == b'-' { -1 } else { 1 };
                let (h, m) = (num(s.len() - 5..s.len() - 3)?, num(s.len() - 2..s.len())?);
                sign * i64::from(h * 60 + m)
            }
        };
        let days = days_from_civil(i64::from(year), month, day);
        let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second.min(59)) - offset_minutes * 60;
        Ok(Timestamp(secs * 1000 + millis))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
        ];
        for (millis, text) in cases {
            assert_eq!(Timestamp::from_unix_millis(millis).to_string(), text);
            assert_eq!(text.parse::<Timestamp>().unwrap().unix_millis(), millis, "{text}");
        }
    }

    #[test]
    fn reads_offsets_and_other_precisions() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap().unix_millis();
        assert_eq!(t("2023-11-15T06:13:20.123+08:00"), 1_700_000_000_123);
        assert_eq!(t("2023-11-14T22:13:20Z"), 1_700_000_000_000);
        assert_eq!(t("2023-11-14T22:13:20.1Z"), 1_700_000_000_100);
        assert_eq!(t("2023-11-14T22:13:20.123456789Z"), 1_700_000_000_123);
    }

    #[test]
    fn rejects_what_is_not_rfc_3339() {
        for bad in
            ["", "yesterday", "2023-11-14", "2023-13-14T22:13:20Z", "2023-11-14T22:13:20", "2023-11-14T22:13:20.Z"]
        {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn round_trips_every_day_for_a_few_centuries() {
        for day in (-200 * 365..200 * 365).step_by(7) {
            let t = Timestamp::from_unix_millis(day * 86_400_000 + 45_296_789);
            assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
        }
    }
}
