//! Event times: milliseconds since the Unix epoch, UTC, written as RFC 3339 on the wire.
//!
//! Every event carries its time as an `i64` count of milliseconds (`Millis`) so that events
//! are `Ord + Hash` and cheap to move through a dataflow. On the wire (JSON) times are RFC 3339
//! strings such as `2026-11-21T08:30:00Z`; any offset is accepted and normalised to UTC.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// One minute in milliseconds.
pub const MINUTE_MS: Millis = 60_000;
/// One hour in milliseconds.
pub const HOUR_MS: Millis = 3_600_000;
/// One day in milliseconds.
pub const DAY_MS: Millis = 86_400_000;

/// Earliest event time accepted by validation (1900-01-01T00:00:00Z).
pub const MIN_EVENT_TIME: Millis = -2_208_988_800_000;
/// Latest event time accepted by validation (2300-01-01T00:00:00Z).
pub const MAX_EVENT_TIME: Millis = 10_413_792_000_000;

/// Parses an RFC 3339 timestamp (`2026-11-21T08:30:00Z`, `2026-11-21T08:30:00.250+01:00`).
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Parses a naive `YYYY-MM-DD HH:MM:SS` (as in MIMIC-IV CSVs), taken as UTC.
pub fn parse_naive(s: &str) -> Option<Millis> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| Utc.from_utc_datetime(&t).timestamp_millis())
}

/// Parses a date `YYYY-MM-DD` to midnight UTC.
pub fn parse_date(s: &str) -> Option<Millis> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t).timestamp_millis())
}

/// The wall clock now, ms since the Unix epoch (0 if the clock is before 1970).
pub fn now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// Formats milliseconds as RFC 3339 in UTC with a `Z` suffix (millisecond precision when needed).
pub fn format_rfc3339(ms: Millis) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => ms.to_string(),
    }
}

/// Midnight UTC of the day containing `ms`.
pub fn day_start(ms: Millis) -> Millis {
    ms.div_euclid(DAY_MS) * DAY_MS
}

/// Start of the UTC hour containing `ms`.
pub fn hour_start(ms: Millis) -> Millis {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// Serde adapter: `Millis` as an RFC 3339 string.
pub mod rfc3339 {
    use super::*;

    /// Serialises milliseconds as RFC 3339.
    pub fn serialize<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_rfc3339(*ms))
    }

    /// Deserialises RFC 3339 into milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        let s: std::borrow::Cow<'de, str> = Deserialize::deserialize(d)?;
        parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_normalises_offsets() {
        let t = parse_rfc3339("2026-11-21T09:30:00+01:00").expect("valid");
        assert_eq!(format_rfc3339(t), "2026-11-21T08:30:00Z");
        assert_eq!(parse_naive("2026-11-21 08:30:00"), Some(t));
        assert_eq!(day_start(t), parse_date("2026-11-21").expect("date"));
        assert_eq!(hour_start(t + 59 * MINUTE_MS), t - 30 * MINUTE_MS + HOUR_MS);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
