//! RFC 7519 NumericDate claims (`exp`, `nbf`, `iat`, with fractions and
//! exponents) as the claims parser reads them, against an `f64`
//! implementation kept here as the reference: the nearest double, rounded
//! up to whole seconds, within [-9e15, 9e15); and the time checks on
//! non-integer dates against exact rational arithmetic (RFC 7519 §4.1.4–6).
#![allow(clippy::unwrap_used, clippy::float_cmp)]
use armoriq_core::Error;
use armoriq_core::jws::{Claims, Expect};
use proptest::prelude::*;

/// `numeric_date` with `f64` arithmetic (as it was before it stopped using
/// floats, but rounding up), kept as the reference.
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
        i.saturating_neg()
    } else {
        i.saturating_add(i64::from(rest > 0.0))
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
        ("1700000000.999", Some(1_700_000_001)),
        ("1700000000.5", Some(1_700_000_001)),
        ("1700000000.5e0", Some(1_700_000_001)),
        ("1700000000.0", Some(1_700_000_000)),
        // Exponents are JSON numbers like any other.
        ("1.7e9", Some(1_700_000_000)),
        ("17E8", Some(1_700_000_000)),
        ("1.7000000005e9", Some(1_700_000_001)),
        ("-1.5", Some(-1)),
        ("-1.0", Some(-1)),
        ("-0.25", Some(0)),
        ("0.75", Some(1)),
        ("1e-400", Some(0)),
        ("-1e-400", Some(0)),
        ("-5e-324", Some(0)),
        ("5e-324", Some(1)),
        ("4503599627370495.5", Some(4_503_599_627_370_496)),
        ("-4503599627370495.5", Some(-4_503_599_627_370_495)),
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
        ("1e99999999999999999999", None),
        // The nearest double is 1.0.
        ("0.99999999999999999999", Some(1)),
        ("-0.99999999999999999999", Some(-1)),
        // The nearest double is 1700000000.0 (PyJWT reads the same double).
        ("1700000000.00000000001", Some(1_700_000_000)),
    ] {
        assert_eq!(ours(text), want, "{text}");
        assert_eq!(numeric_date_f64(text), want, "reference, {text}");
    }
    assert_eq!(
        Claims::parse(br#"{"exp":"1"}"#).map(|c| c.exp),
        Err(Error::InvalidClaim { claim: "exp" })
    );
    for claim in ["nbf", "iat"] {
        let text = format!("{{\"{claim}\":1700000000.25}}");
        let c = Claims::parse(text.as_bytes()).unwrap();
        assert_eq!(
            if claim == "nbf" { c.nbf } else { c.iat },
            Some(1_700_000_001)
        );
        assert_eq!(
            Claims::parse(format!("{{\"{claim}\":1e400}}").as_bytes()).map(|_| ()),
            Err(Error::InvalidClaim {
                claim: if claim == "nbf" { "nbf" } else { "iat" }
            })
        );
    }
}

const HASH: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// An intent token's claims with these time members (JSON texts).
fn claims(exp: &str, nbf: Option<&str>, iat: Option<&str>) -> String {
    let mut s = format!(
        r#"{{"exp":{exp},"jti":"j","plan_hash":"{HASH}","merkle_root":"{HASH}","step_count":1"#
    );
    if let Some(n) = nbf {
        s.push_str(&format!(r#","nbf":{n}"#));
    }
    if let Some(i) = iat {
        s.push_str(&format!(r#","iat":{i}"#));
    }
    s.push('}');
    s
}

fn check(json: &str, now: i64, leeway: u64) -> Result<(), Error> {
    Claims::parse(json.as_bytes())?.check(&Expect {
        now,
        leeway,
        ..Expect::default()
    })
}

#[test]
fn fractional_dates_keep_rfc_7519_semantics() {
    // exp: not accepted "on or after" 1700000000.5.
    let c = claims("1700000000.5", None, None);
    assert_eq!(check(&c, 1_699_999_999, 0), Ok(()));
    assert_eq!(check(&c, 1_700_000_000, 0), Ok(()));
    assert!(matches!(
        check(&c, 1_700_000_001, 0),
        Err(Error::Expired { .. })
    ));
    assert_eq!(check(&c, 1_700_000_001, 1), Ok(()));
    assert!(matches!(
        check(&c, 1_700_000_002, 1),
        Err(Error::Expired { .. })
    ));
    // An integer exp still expires on the second itself.
    let c = claims("1700000000", None, None);
    assert!(matches!(
        check(&c, 1_700_000_000, 0),
        Err(Error::Expired { .. })
    ));
    let c = claims("1.7e9", None, None);
    assert!(matches!(
        check(&c, 1_700_000_000, 0),
        Err(Error::Expired { .. })
    ));
    assert_eq!(check(&c, 1_699_999_999, 0), Ok(()));
    // nbf: not accepted before 1700000000.5.
    let c = claims("1800000000", Some("1700000000.5"), None);
    assert!(matches!(
        check(&c, 1_700_000_000, 0),
        Err(Error::NotYetValid { .. })
    ));
    assert_eq!(check(&c, 1_700_000_001, 0), Ok(()));
    assert_eq!(check(&c, 1_700_000_000, 1), Ok(()));
    assert!(matches!(
        check(&c, 1_699_999_999, 1),
        Err(Error::NotYetValid { .. })
    ));
    // iat: in the future while now < 1700000000.5.
    let c = claims("1800000000", None, Some("1700000000.5"));
    assert!(matches!(
        check(&c, 1_700_000_000, 0),
        Err(Error::IssuedInFuture { .. })
    ));
    assert_eq!(check(&c, 1_700_000_001, 0), Ok(()));
    assert_eq!(check(&c, 1_700_000_000, 1), Ok(()));
    // Negative (before 1970) dates are NumericDates: long expired.
    let c = claims("-1.5", None, None);
    assert!(matches!(check(&c, 0, 0), Err(Error::Expired { .. })));
    assert_eq!(check(&c, -2, 0), Ok(()));
    // Huge ones are refused, never wrapped; huge leeways saturate.
    assert_eq!(
        check(&claims("1e300", None, None), 0, 0),
        Err(Error::InvalidClaim { claim: "exp" })
    );
    let c = claims("8999999999999998.5", Some("-8999999999999998.5"), None);
    assert_eq!(check(&c, i64::MAX - 1, u64::MAX), Ok(()));
    assert_eq!(check(&c, i64::MIN, u64::MAX), Ok(()));
    assert!(check(&c, i64::MAX, 0).is_err());
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

/// What RFC 7519 §4.1.4–4.1.6 decide for whole `now` and `leeway` and the
/// dates `int + frac/10^6` (each a decimal that the double nearest it keeps
/// on the same side of every integer: `int < 2^33`), in exact integers
/// scaled by 10^6: expired iff `now ≥ exp + leeway`, not yet valid iff
/// `now < nbf − leeway`, issued in the future iff `iat > now + leeway`.
fn rfc_7519(exp: i128, nbf: i128, iat: i128, now: i128, leeway: i128) -> &'static str {
    const M: i128 = 1_000_000;
    if now * M >= exp + leeway * M {
        "expired"
    } else if now * M < nbf - leeway * M {
        "not_yet_valid"
    } else if iat > (now + leeway) * M {
        "issued_in_future"
    } else {
        "ok"
    }
}

fn outcome(r: Result<(), Error>) -> &'static str {
    match r {
        Ok(()) => "ok",
        Err(Error::Expired { .. }) => "expired",
        Err(Error::NotYetValid { .. }) => "not_yet_valid",
        Err(Error::IssuedInFuture { .. }) => "issued_in_future",
        Err(e) => panic!("{e:?}"),
    }
}

proptest! {
    #[test]
    fn fractional_time_checks_are_exact(
        base in 1u64..(1 << 33),
        (de, fe) in (-3i64..4, 0u32..1_000_000),
        (dn, fnb) in (-3i64..4, 0u32..1_000_000),
        (di, fi) in (-3i64..4, 0u32..1_000_000),
        dnow in -4i64..5,
        leeway in 0u64..3,
    ) {
        let base = i64::try_from(base).unwrap();
        let text = |d: i64, f: u32| format!("{}.{f:06}", base + d);
        let scaled = |d: i64, f: u32| i128::from(base + d) * 1_000_000 + i128::from(f);
        let now = base + dnow;
        let json = claims(&text(de, fe), Some(&text(dn, fnb)), Some(&text(di, fi)));
        let want = rfc_7519(
            scaled(de, fe),
            scaled(dn, fnb),
            scaled(di, fi),
            i128::from(now),
            i128::from(leeway),
        );
        prop_assert_eq!(outcome(check(&json, now, leeway)), want, "{} now {}", json, now);
    }
}
