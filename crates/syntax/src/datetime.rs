use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Kind, SyntaxError};
use crate::string_type::string_type;

/// A Lexicon `datetime`: the intersection of RFC 3339, ISO 8601 and the WHATWG HTML
/// formats, e.g. `1985-04-12T23:20:50.123Z` or `1985-04-12T23:20:50-07:00`.
///
/// The original text is kept verbatim (records must round-trip byte for byte), so equality
/// and ordering are those of the text, not of the instant; compare instants with
/// [`Datetime::to_unix_micros`].
///
/// Beyond the shape (upper-case `T` and `Z`, seconds and a timezone required, any number of
/// fraction digits, at most 64 bytes), parsing rejects impossible dates (month 13, 30
/// February), leap seconds (`:60`, which the reference implementations refuse too), the
/// `-00:00` offset, and anything whose UTC instant falls outside the years 0000–9999.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Datetime(String);

impl Datetime {
    /// Longest datetime accepted, in bytes.
    pub const MAX_LEN: usize = 64;

    /// Checks `s` against the datetime rules and keeps it as written.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        parse_fields(s)?;
        Ok(Datetime(s.to_owned()))
    }

    /// The current time, written with millisecond precision in UTC (`…T12:34:56.789Z`).
    pub fn now() -> Self {
        let micros = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            Err(_) => 0,
        };
        Self::from_unix_micros(micros)
            .unwrap_or_else(|_| Datetime("1970-01-01T00:00:00.000Z".to_owned()))
    }

    /// Writes an instant (microseconds since the Unix epoch) as `YYYY-MM-DDTHH:MM:SS.mmmZ`,
    /// truncated to milliseconds as the reference implementation writes datetimes.
    /// Fails outside the years 0000–9999.
    pub fn from_unix_micros(micros: i64) -> Result<Self, SyntaxError> {
        let secs = micros.div_euclid(1_000_000);
        let millis = micros.rem_euclid(1_000_000) / 1000;
        if !(min_unix_secs()..max_unix_secs()).contains(&secs) {
            return Err(SyntaxError::invalid(
                Kind::Datetime,
                &micros.to_string(),
                "instant outside the years 0000-9999",
            ));
        }
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let tod = secs.rem_euclid(86_400);
        Ok(Datetime(format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            tod / 3600,
            tod / 60 % 60,
            tod % 60
        )))
    }

    /// The datetime as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The instant, in microseconds since the Unix epoch (UTC); fraction digits beyond
    /// microseconds are dropped.
    pub fn to_unix_micros(&self) -> i64 {
        // Parsing already succeeded once, so this cannot fail; 0 keeps it panic-free.
        match parse_fields(&self.0) {
            Ok(f) => f.utc_secs * 1_000_000 + i64::from(f.micros),
            Err(_) => 0,
        }
    }

    /// Consumes the datetime, returning its text.
    pub fn into_string(self) -> String {
        self.0
    }
}

string_type!(Datetime, "a datetime string");

struct Fields {
    utc_secs: i64,
    micros: u32,
}

fn parse_fields(s: &str) -> Result<Fields, SyntaxError> {
    let bad = |reason| Err(SyntaxError::invalid(Kind::Datetime, s, reason));
    if s.len() > Datetime::MAX_LEN {
        return Err(SyntaxError::too_long(
            Kind::Datetime,
            s.len(),
            Datetime::MAX_LEN,
        ));
    }
    let b = s.as_bytes();
    // Fixed part: YYYY-MM-DDTHH:MM:SS (19 bytes), then at least a 'Z'.
    if b.len() < 20 {
        return bad("too short for YYYY-MM-DDTHH:MM:SS and a timezone");
    }
    for (i, want) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')] {
        if b[i] != want {
            return bad("must have the shape YYYY-MM-DDTHH:MM:SS with an upper-case T");
        }
    }
    let num = |from: usize, len: usize| -> Option<u32> {
        b[from..from + len].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        num(0, 4),
        num(5, 2),
        num(8, 2),
        num(11, 2),
        num(14, 2),
        num(17, 2),
    ) else {
        return bad("date and time fields must be zero-padded digits");
    };
    if !(1..=12).contains(&month) {
        return bad("month out of range");
    }
    if day == 0 || day > days_in_month(year, month) {
        return bad("day out of range for the month");
    }
    if hour > 23 || minute > 59 {
        return bad("hour or minute out of range");
    }
    if second > 59 {
        return bad("second out of range (leap seconds are not accepted)");
    }

    let mut i = 19;
    let mut micros = 0u32;
    if b[i] == b'.' {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return bad("fraction needs at least one digit");
        }
        for k in 0..6 {
            let d = b
                .get(i + 1 + k)
                .filter(|_| k < digits)
                .map_or(0, |c| u32::from(c - b'0'));
            micros = micros * 10 + d;
        }
        i += 1 + digits;
    }

    let offset_secs: i64 = match &b[i..] {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |x: u8, y: u8| {
                (x.is_ascii_digit() && y.is_ascii_digit())
                    .then(|| i64::from((x - b'0') * 10 + (y - b'0')))
            };
            let (Some(oh), Some(om)) = (two(*h1, *h2), two(*m1, *m2)) else {
                return bad("timezone offset must be ±HH:MM");
            };
            if oh > 23 || om > 59 {
                return bad("timezone offset out of range");
            }
            if *sign == b'-' && oh == 0 && om == 0 {
                return bad("\"-00:00\" is not allowed; use \"Z\" or \"+00:00\"");
            }
            let secs = oh * 3600 + om * 60;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return bad("timezone must be \"Z\" or ±HH:MM"),
    };

    let local = days_from_civil(i64::from(year), month, day) * 86_400
        + i64::from(hour * 3600 + minute * 60 + second);
    let utc_secs = local - offset_secs;
    if !(min_unix_secs()..max_unix_secs()).contains(&utc_secs) {
        return bad("normalises to a year outside 0000-9999");
    }
    Ok(Fields { utc_secs, micros })
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// 0000-01-01T00:00:00Z in Unix seconds.
fn min_unix_secs() -> i64 {
    days_from_civil(0, 1, 1) * 86_400
}

/// 10000-01-01T00:00:00Z in Unix seconds (exclusive bound).
fn max_unix_secs() -> i64 {
    days_from_civil(10_000, 1, 1) * 86_400
}

/// Days since 1970-01-01 of a proleptic Gregorian date. Counts from 1 March so the leap
/// day falls at the end of the counted year, in 400-year eras of 146,097 days.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((month + 9) % 12); // March = 0 … February = 11
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_text_verbatim() {
        let s = "1985-04-12T23:20:50.1235678912345+01:45";
        assert_eq!(Datetime::parse(s).unwrap().as_str(), s);
    }

    #[test]
    fn rejects_impossible_calendar_dates() {
        assert!(Datetime::parse("2023-02-29T00:00:00Z").is_err());
        assert!(Datetime::parse("2024-02-29T00:00:00Z").is_ok());
        assert!(Datetime::parse("1900-02-29T00:00:00Z").is_err());
        assert!(Datetime::parse("2000-02-29T00:00:00Z").is_ok());
        assert!(Datetime::parse("2024-04-31T00:00:00Z").is_err());
    }

    #[test]
    fn rejects_year_past_9999_after_normalising() {
        assert!(Datetime::parse("9999-12-31T23:00:00Z").is_ok());
        assert!(Datetime::parse("9999-12-31T23:00:00-01:00").is_err());
        assert!(Datetime::parse("0000-01-01T00:30:00+00:30").is_ok());
        assert!(Datetime::parse("0000-01-01T00:29:00+00:30").is_err());
    }

    #[test]
    fn unix_micros_match_known_instants() {
        assert_eq!(
            Datetime::parse("1970-01-01T00:00:00Z")
                .unwrap()
                .to_unix_micros(),
            0
        );
        assert_eq!(
            Datetime::parse("1985-04-12T23:20:50.123456789Z")
                .unwrap()
                .to_unix_micros(),
            482_196_050_123_456
        );
        assert_eq!(
            Datetime::parse("1985-04-12T16:20:50.5-07:00")
                .unwrap()
                .to_unix_micros(),
            482_196_050_500_000
        );
    }

    #[test]
    fn from_unix_micros_writes_millisecond_utc() {
        assert_eq!(
            Datetime::from_unix_micros(482_196_050_123_456)
                .unwrap()
                .as_str(),
            "1985-04-12T23:20:50.123Z"
        );
        assert_eq!(
            Datetime::from_unix_micros(-1).unwrap().as_str(),
            "1969-12-31T23:59:59.999Z"
        );
        assert!(Datetime::from_unix_micros(i64::MAX).is_err());
        assert!(Datetime::parse(Datetime::now().as_str()).is_ok());
    }
}
