//! The proleptic Gregorian calendar as days since 1970-01-01: the one owner
//! of the date rule for every crate of the workspace (the audit log's times,
//! the console's filters, Armor Policy's `Date` arithmetic).
//!
//! Howard Hinnant's `days_from_civil` and `civil_from_days`, in checked
//! arithmetic: an input too large for the result is `None`, never a panic.

/// Days in a 400-year era.
const ERA_DAYS: i64 = 146_097;
/// Days from 0000-03-01 to 1970-01-01.
const EPOCH_SHIFT: i64 = 719_468;

/// `(year, month, day)` → days since 1970-01-01.
///
/// `month` and `day` are not range-checked: a month outside 1..=12 or a day
/// past the month's end counts on, as JavaScript's `Date.UTC` does; callers
/// that need a real date check the ranges first.
#[must_use]
pub fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    let y = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let (era, yoe) = (y.div_euclid(400), y.rem_euclid(400));
    let mp = if month > 2 {
        month.checked_sub(3)?
    } else {
        month.checked_add(9)?
    };
    let doy = mp
        .checked_mul(153)?
        .checked_add(2)?
        .checked_div(5)?
        .checked_add(day)?
        .checked_sub(1)?;
    // `yoe` is in 0..400: the day of the era before `doy` cannot overflow.
    let doe = year_days(yoe)?.checked_add(doy)?;
    era.checked_mul(ERA_DAYS)?
        .checked_add(doe)?
        .checked_sub(EPOCH_SHIFT)
}

/// Days before year `yoe` of an era (`365·yoe + yoe/4 − yoe/100`).
fn year_days(yoe: i64) -> Option<i64> {
    yoe.checked_mul(365)?
        .checked_add(yoe.checked_div(4)?)?
        .checked_sub(yoe.checked_div(100)?)
}

/// Days since 1970-01-01 → `(year, month 1..=12, day 1..=31)`.
#[must_use]
pub fn civil_from_days(days: i64) -> Option<(i64, u32, u32)> {
    let z = days.checked_add(EPOCH_SHIFT)?;
    let (era, doe) = (z.div_euclid(ERA_DAYS), z.rem_euclid(ERA_DAYS));
    let yoe = doe
        .checked_sub(doe.checked_div(1460)?)?
        .checked_add(doe.checked_div(36_524)?)?
        .checked_sub(doe.checked_div(146_096)?)?
        .checked_div(365)?;
    let y = era.checked_mul(400)?.checked_add(yoe)?;
    let doy = doe.checked_sub(year_days(yoe)?)?;
    let mp = doy.checked_mul(5)?.checked_add(2)?.checked_div(153)?;
    let d = doy
        .checked_sub(mp.checked_mul(153)?.checked_add(2)?.checked_div(5)?)?
        .checked_add(1)?;
    let m = if mp < 10 {
        mp.checked_add(3)?
    } else {
        mp.checked_sub(9)?
    };
    let (m, d) = (u32::try_from(m).ok()?, u32::try_from(d).ok()?);
    Some((if m <= 2 { y.checked_add(1)? } else { y }, m, d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 2, 29), Some(11_016));
        assert_eq!(days_from_civil(1969, 12, 31), Some(-1));
        assert_eq!(civil_from_days(11_016), Some((2000, 2, 29)));
        assert_eq!(civil_from_days(-1), Some((1969, 12, 31)));
        // Months past December count on, as Date.UTC does.
        assert_eq!(days_from_civil(2023, 13, 1), days_from_civil(2024, 1, 1));
    }

    #[test]
    fn extremes_are_none_not_panics() {
        assert_eq!(days_from_civil(i64::MIN, 1, 1), None);
        assert_eq!(days_from_civil(i64::MAX, 3, 1), None);
        assert_eq!(days_from_civil(0, i64::MAX, 1), None);
        assert_eq!(days_from_civil(0, 3, i64::MIN), None);
        assert_eq!(civil_from_days(i64::MAX), None);
        assert!(civil_from_days(i64::MIN).is_some_and(|(_, m, d)| m <= 12 && d <= 31));
    }

    proptest! {
        #[test]
        fn the_two_directions_agree(days in -1_000_000_000i64..1_000_000_000) {
            let (y, m, d) = civil_from_days(days).unwrap();
            prop_assert!((1..=12).contains(&m) && (1..=31).contains(&d));
            prop_assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), Some(days));
        }
    }
}
