//! RFC 7519 NumericDate claims (`exp`, with fractions and exponents) as the
//! claims parser reads them, against the former `f64` implementation kept
//! here as the reference: whole seconds, rounded down, within ±9e15.
#![allow(clippy::unwrap_used, clippy::float_cmp)]
use armoriq_core::Error;
use armoriq_core::jws::Claims;
use proptest::prelude::*;

/// `numeric_date` as it was before it stopped using `f64` arithmetic,
/// kept as the reference.
fn numeric_date_f64(text: &str) -> Option<i64> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(i);
    }
    let f: f64 = text.parse().ok()?;
    if !(-9.0e15..9.0e15).contains(&f) {
        return None;
    }
    let mut i = 0i64;
    let mut rest = if f < 0.0 { -f } else { f };
    let mut step: i64 = 1 << 52;
    let mut stepf: f64 = 4_503_599_627_370_496.0;
    while step > 0 {
        if rest >= stepf {
            rest -= stepf;
            i = i.saturating_add(step);
        }
        step >>= 1;
        stepf /= 2.0;
    }
    Some(if f < 0.0 {
        i.saturating_neg().saturating_sub(i64::from(rest > 0.0))
    } else {
        i
    })
}

/// The `exp` the claims parser reads from `{"exp": text}`.
fn ours(text: &str) -> Option<i64> {
    match Claims::parse(format!("{{\"exp\":{text}}}").as_bytes()) {
        Ok(c) => Some(c.exp.unwrap()),
        Err(e) => {
            assert_eq!(e, Error::InvalidClaim { claim: "exp" }, "{text}");
            None
        }
    }
}

#[test]
fn numeric_date_as_before() {
    for (text, want) in [
        ("0", Some(0)),
        ("-0", Some(0)),
        ("-0.0", Some(0)),
        ("1700000000", Some(1_700_000_000)),
        ("1700000000.999", Some(1_700_000_000)),
        ("1700000000.5e0", Some(1_700_000_000)),
        ("1.7e9", Some(1_700_000_000)),
        ("-1.5", Some(-2)),
        ("-1.0", Some(-1)),
        ("-0.25", Some(-1)),
        ("0.75", Some(0)),
        ("1e-400", Some(0)),
        ("-1e-400", Some(0)),
        ("-5e-324", Some(-1)),
        ("5e-324", Some(0)),
        ("4503599627370495.5", Some(4_503_599_627_370_495)),
        ("-4503599627370495.5", Some(-4_503_599_627_370_496)),
        ("8999999999999999", Some(8_999_999_999_999_999)),
        ("8999999999999998.0", Some(8_999_999_999_999_998)),
        // Rounds to the double 9e15, which is out of range.
        ("8999999999999999.5", None),
        ("-8999999999999999.5", Some(-9_000_000_000_000_000)),
        ("9e15", None),
        ("-9e15", Some(-9_000_000_000_000_000)),
        ("-9.0000000000000001e15", Some(-9_000_000_000_000_000)),
        ("-9.000000000000001e15", None),
        ("9223372036854775807", Some(i64::MAX)),
        ("9223372036854775808", None),
        ("-9223372036854775808", Some(i64::MIN)),
        ("1e400", None),
        ("-1e400", None),
        // The nearest double is 1.0.
        ("0.99999999999999999999", Some(1)),
        ("-0.99999999999999999999", Some(-1)),
    ] {
        assert_eq!(ours(text), want, "{text}");
        assert_eq!(numeric_date_f64(text), want, "reference, {text}");
    }
    assert_eq!(
        Claims::parse(br#"{"exp":"1"}"#).map(|c| c.exp),
        Err(Error::InvalidClaim { claim: "exp" })
    );
}

proptest! {
    #[test]
    fn numeric_date_matches_the_f64_version(
        int in 0u64..20_000_000_000_000_000,
        frac in proptest::option::of(0u32..1_000_000),
        exp in proptest::option::of(-20i32..20),
        neg in any::<bool>(),
    ) {
        let mut text = format!("{}{int}", if neg { "-" } else { "" });
        if let Some(f) = frac {
            text.push_str(&format!(".{f}"));
        }
        if let Some(e) = exp {
            text.push_str(&format!("e{e}"));
        }
        prop_assert_eq!(ours(&text), numeric_date_f64(&text), "{}", text);
    }

    #[test]
    fn numeric_date_matches_on_doubles(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        prop_assume!(x.is_finite());
        let text = format!("{x:e}");
        prop_assert_eq!(ours(&text), numeric_date_f64(&text), "{}", text);
    }
}
