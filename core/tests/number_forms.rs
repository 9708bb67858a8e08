//! Number forms of the two canonical profiles, through the public
//! canonicalizer: Python `repr` (armoriq profile) and ECMAScript
//! `Number::toString` (JCS), and the shortest digits reading back exactly.
#![allow(clippy::unwrap_used, clippy::excessive_precision)]

use armoriq_core::{Profile, SliceSink, canonicalize};

/// The canonical form of the double `x`, given as its shortest literal.
fn canon(x: f64, profile: Profile) -> String {
    let text = format!("{x:e}");
    let mut buf = [0u8; 64];
    let mut sink = SliceSink::new(&mut buf);
    canonicalize(text.as_bytes(), profile, &mut sink).unwrap();
    String::from_utf8(sink.written().to_vec()).unwrap()
}

#[test]
fn python_repr_forms() {
    for (x, want) in [
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (1e21, "1e+21"),
        (1e-7, "1e-07"),
        (100.0, "100.0"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e+16"),
        (123e-20, "1.23e-18"),
        (0.1, "0.1"),
        (123456789.123456789, "123456789.12345679"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (2.5e-5, "2.5e-05"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-1.5, "-1.5"),
        // An exact tie between two 17-digit candidates: to even.
        (2.98023223876953125e-8, "2.9802322387695312e-08"),
    ] {
        assert_eq!(canon(x, Profile::ArmorIq), want, "{x:e}");
    }
}

#[test]
fn es6_forms() {
    for (x, want) in [
        (1.0, "1"),
        (-0.0, "0"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (56.0, "56"),
        (333333333.33333329, "333333333.3333333"),
        (5e-324, "5e-324"),
        (-1.5, "-1.5"),
    ] {
        assert_eq!(canon(x, Profile::Jcs), want, "{x:e}");
    }
}

proptest::proptest! {
    /// Across the whole exponent range, both profiles' text reads back to
    /// the same double, with at most 17 significant digits.
    #[test]
    fn shortest_round_trips(bits in proptest::prelude::any::<u64>()) {
        let x = f64::from_bits(bits);
        proptest::prop_assume!(x.is_finite());
        for profile in [Profile::ArmorIq, Profile::Jcs] {
            let text = canon(x, profile);
            let back: f64 = text.parse().unwrap();
            proptest::prop_assert_eq!(back.to_bits(), if x == 0.0 && profile == Profile::Jcs { 0 } else { x.to_bits() }, "{}", text);
            // Significant digits: from the first non-zero digit to the last.
            let mantissa = text.split(['e', 'E']).next().unwrap();
            let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
            let digits = digits.trim_matches('0').len();
            proptest::prop_assert!(digits <= 17, "{}", text);
        }
    }
}
