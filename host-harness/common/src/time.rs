//! The one clock of the host crates ([`now_secs`], [`now_ms`],
//! [`now_unix_f64`]), and UTC civil time for the timestamps the protocol writes
//! (`YYYY-MM-DDTHH:MM:SS.mmmZ`, as the official SDK's `credentials.json`,
//! policy calls and audit rows use), without a time-zone database.

use std::time::{SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch now (zero for a clock set before 1970).
pub fn since_epoch() -> std::time::Duration {
    // A clock before 1970 reads as the epoch: every check that compares
    // against it then fails closed (tokens look expired, not fresh).
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Unix seconds now.
pub fn now_secs() -> i64 {
    i64::try_from(since_epoch().as_secs()).unwrap_or(i64::MAX)
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    i64::try_from(since_epoch().as_millis()).unwrap_or(i64::MAX)
}

/// Unix seconds now with a fraction (Python's `time.time()`).
pub fn now_unix_f64() -> f64 {
    since_epoch().as_secs_f64()
}

/// Epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_instant(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Epoch milliseconds are ±292 million years: always a date.
    let (y, m, d) = armoriq_core::calendar::civil_from_days(days).unwrap_or((1970, 1, 1));
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(format_instant(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_instant(1_700_000_000_042),
            "2023-11-14T22:13:20.042Z"
        );
        assert_eq!(format_instant(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_instant(-1), "1969-12-31T23:59:59.999Z");
    }
}
