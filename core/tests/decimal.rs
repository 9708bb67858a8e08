//! The exact decimal-to-double reader (`armoriq_core::decimal`) against the
//! standard library's `str::parse::<f64>`: every path of ours, and the exact
//! fallback alone, on hard cases and generated literals.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]
use armoriq_core::decimal::{is_finite, to_bits_by_simple_decimal_conversion, to_f64};
use proptest::prelude::*;

const SIGN_BIT: u64 = 1 << 63;
const FRACTION_MASK: u64 = (1 << 52) - 1;

/// What the standard library reads (the reference).
fn reference(text: &str) -> u64 {
    text.parse::<f64>().unwrap().to_bits()
}

/// Both paths of ours against the reference; the slow path also alone.
fn check(text: &str) {
    let want = reference(text);
    let got = to_f64(text.as_bytes()).map(f64::to_bits);
    assert_eq!(got, Some(want), "{text}: {:e}", f64::from_bits(want));
    let slow = to_bits_by_simple_decimal_conversion(text.as_bytes()).unwrap();
    assert_eq!(slow, want & !SIGN_BIT, "slow path, {text}");
}

#[test]
fn hard_cases() {
    let long_zeros = format!("0.{}1", "0".repeat(5000));
    let long_ones = format!("1{}e-5000", "0".repeat(5000));
    let tenth = format!("0.{}", "1".repeat(3000));
    let long_int = "9".repeat(400);
    for text in [
        "0",
        "-0",
        "0.0",
        "-0.0e5",
        "0e99999999999999999999",
        "1",
        "-1",
        "0.1",
        "0.10000000000000000555",
        "0.1000000000000000055511151231257827",
        "0.1000000000000000055511151231257828",
        "0.30000000000000004",
        "12.5",
        "0.25",
        "1e-7",
        "123456789012345678",
        "1234567890123456789",
        "12345678901234567890",
        "12345678901234567890123",
        "9007199254740992",
        "9007199254740993",
        "9007199254740994",
        "9007199254740995",
        "9007199254740993.0000000000000000001",
        "9007199254740992.9999999999999999999",
        "18446744073709551615",
        "18446744073709551616",
        "1e22",
        "1e23",
        "1e27",
        "1e28",
        "1e-22",
        "1e-26",
        "1e-27",
        "4.9406564584124654e-324",
        "5e-324",
        "2e-324",
        "2.4703282292062327e-324",
        "2.4703282292062328e-324",
        "2.47032822920623272088e-324",
        "2.4703282292062327208828439643411068618252990130716238221279284125033775363510437593264991818081799618989828234772285886546332835517796989819938739800539093906315035659515570226392290858392449105184435931802849936536152500319370457678249219365623669863658480757001585769269903706311928279558551332927834338409351978015531246597263579574622766465272827220056374006485499977096599470454020828166226237857393450736339007967761930577506740176324673600968951340535537458516661134223766678604162159680461914467291840300530057530849048765391711386591646239524912623653881879636239373280423891018672348497668235089863388587925628302755995657524455507255189313690836254779186948667994968324049705821028513185451396213837722826145437693412532098591327667236328125e-324",
        "2.4703282292062327208828439643411068618252990130716238221279284125033775363510437593264991818081799618989828234772285886546332835517796989819938739800539093906315035659515570226392290858392449105184435931802849936536152500319370457678249219365623669863658480757001585769269903706311928279558551332927834338409351978015531246597263579574622766465272827220056374006485499977096599470454020828166226237857393450736339007967761930577506740176324673600968951340535537458516661134223766678604162159680461914467291840300530057530849048765391711386591646239524912623653881879636239373280423891018672348497668235089863388587925628302755995657524455507255189313690836254779186948667994968324049705821028513185451396213837722826145437693412532098591327667236328125000000000000000001e-324",
        "7.4109846876186981626485318930233205854758970392148714663837852375101326090531312779794975454245398856969484704316857659638998506553390969459816219401617281718945106978546710679176872575177347315553307795408549809608457500958111373034747658096871009590975442271004757307809711118935784838675653998783503015228055934046593739791790738723868299395818481660169122019456499931289798411362062484498678713572180352209017023903285791732520220528974020802906854021606612375549983402671300035812486479041385743401875520901590172592547146296175134159774938718574737870961645638908718119841271673056017045493004705269590165763776884908267986972573366521765567941072508764337560846003984904972149117463085539556354188641513168478436313080237596295773983001708984374999e-324",
        "7.4109846876186981626485318930233205854758970392148714663837852375101326090531312779794975454245398856969484704316857659638998506553390969459816219401617281718945106978546710679176872575177347315553307795408549809608457500958111373034747658096871009590975442271004757307809711118935784838675653998783503015228055934046593739791790738723868299395818481660169122019456499931289798411362062484498678713572180352209017023903285791732520220528974020802906854021606612375549983402671300035812486479041385743401875520901590172592547146296175134159774938718574737870961645638908718119841271673056017045493004705269590165763776884908267986972573366521765567941072508764337560846003984904972149117463085539556354188641513168478436313080237596295773983001708984375e-324",
        "2.2250738585072011e-308",
        "2.2250738585072012e-308",
        "2.2250738585072014e-308",
        "2.225073858507201136057409796709131975934819546351645648e-308",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "1.7976931348623158079e308",
        "1.7976931348623158078e308",
        "1.797693134862315807937289714053e308",
        "-1.7976931348623159e308",
        "1e308",
        "1e309",
        "1e-400",
        "1e99999999999999999999",
        "-1e99999999999999999999",
        "1e-99999999999999999999",
        // A hair above a midpoint, closer than the exact path's quotient
        // resolves: only the division's remainder says "round up".
        "7036874417766400782e-5",
        "7036874417766400783e-5",
        "8589934592000664711e-9",
        "8589934592000248909e-9",
        "5242880000848887139e-13",
        "5242880000353132491e-13",
        "6553600002958803816e-14",
        "6553600002834865154e-14",
        "6250008828815998424e-20",
        "6250084178858423406e-20",
        "6553105498271626686e-26",
        "6349882779658535184e-26",
        // Exactly half in the 11 bits rounded off, non-zero bits below
        // them: only those bits say "round up".
        "9437221506809966292e24",
        "7786368533403452468e8",
        "3785447485167957191e5",
        "7439347282654315350e-13",
        "3384694331957269693e-12",
        "3928226175365089655e-9",
        // Rounding up carries into the next power of two.
        "9007199254740991.5",
        "9007199254740991.75",
        "1.9999999999999999",
        "0.99999999999999999",
        "0.9999999999999999999",
        "1.999999999999999999e-20",
        "7.99999999999999999e25",
        "1E+22",
        "1.5e+0",
        "123.456e-789",
        "89255.0e-22",
        "8.988465674311579e307",
        "4.5035996273704955e15",
        &long_zeros,
        &long_ones,
        &tenth,
        &long_int,
    ] {
        check(text);
    }
}

#[test]
fn ties_go_to_even() {
    // 2^53 + 1 lies halfway between 2^53 and 2^53 + 2.
    assert_eq!(to_f64(b"9007199254740993"), Some(9_007_199_254_740_992.0));
    assert_eq!(to_f64(b"9007199254740995"), Some(9_007_199_254_740_996.0));
    // A trailing non-zero digit past the tie rounds up, however far.
    let mut above = String::from("9007199254740993.");
    above.push_str(&"0".repeat(2000));
    above.push('1');
    assert_eq!(to_f64(above.as_bytes()), Some(9_007_199_254_740_994.0));
    // Half the smallest subnormal is zero; a hair more is the subnormal.
    assert_eq!(to_f64(b"2.4703282292062327e-324"), Some(0.0));
    assert_eq!(to_f64(b"2.4703282292062328e-324"), Some(5e-324));
    assert_eq!(to_f64(b"-0"), Some(-0.0));
    assert!(to_f64(b"-0").unwrap().is_sign_negative());
    // The overflow boundary: halfway between f64::MAX (odd) and 2^1024.
    let mid = "1.79769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792e308";
    let below = "1.79769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791e308";
    assert_eq!(to_f64(mid.as_bytes()), Some(f64::INFINITY));
    assert_eq!(to_f64(below.as_bytes()), Some(f64::MAX));
    assert_eq!(to_f64(b"1.7976931348623158079e308"), Some(f64::MAX));
    check(mid);
    check(below);
}

#[test]
fn rejects_what_json_rejects() {
    for text in [
        "", "-", "+1", "01", "1.", ".5", "1e", "1e+", "1.e5", "inf", "NaN", "1x", " 1", "0x10",
        "--1", "1e5.5",
    ] {
        assert_eq!(to_f64(text.as_bytes()), None, "{text}");
    }
    assert!(is_finite(1.0));
    assert!(!is_finite(f64::INFINITY));
    assert!(!is_finite(f64::NEG_INFINITY));
    assert!(!is_finite(f64::NAN));
}

/// The exact decimal digits of `mant × 2^exp2` and a power of ten
/// (value = digits × 10^exp10), by schoolbook arithmetic on digit vectors.
fn exact_decimal(mant: u64, exp2: i32) -> (String, i32) {
    // Little-endian base-10 digits.
    let mut d: Vec<u32> = Vec::new();
    let mut x = mant;
    while x > 0 {
        d.push((x % 10) as u32);
        x /= 10;
    }
    let mul = |d: &mut Vec<u32>, k: u32| {
        let mut carry = 0;
        for v in d.iter_mut() {
            let t = *v * k + carry;
            *v = t % 10;
            carry = t / 10;
        }
        while carry > 0 {
            d.push(carry % 10);
            carry /= 10;
        }
    };
    let exp10 = if exp2 >= 0 {
        for _ in 0..exp2 {
            mul(&mut d, 2);
        }
        0
    } else {
        // mant / 2^k = mant × 5^k / 10^k.
        for _ in 0..(-exp2) {
            mul(&mut d, 5);
        }
        exp2
    };
    let s: String = d
        .iter()
        .rev()
        .map(|&v| char::from(b'0' + v as u8))
        .collect();
    (s, exp10)
}

/// Literal for `digits × 10^exp10` in a varying form.
fn literal(digits: &str, exp10: i32, form: u8) -> String {
    match form % 3 {
        0 => format!("{digits}e{exp10}"),
        1 => {
            // d.ddd E±x
            let e = exp10 + digits.len() as i32 - 1;
            let (a, b) = digits.split_at(1);
            if b.is_empty() {
                format!("{a}E{e:+}")
            } else {
                format!("{a}.{b}E{e:+}")
            }
        }
        _ => {
            if exp10 >= 0 {
                format!("{digits}{}", "0".repeat(exp10 as usize))
            } else {
                let k = (-exp10) as usize;
                if digits.len() > k {
                    let (a, b) = digits.split_at(digits.len() - k);
                    format!("{a}.{b}")
                } else {
                    format!("0.{}{digits}", "0".repeat(k - digits.len()))
                }
            }
        }
    }
}

/// Adds `delta` (±1) to the last digit of a decimal digit string.
fn nudge(digits: &str, up: bool) -> String {
    let mut v: Vec<u8> = digits.bytes().collect();
    let mut i = v.len();
    loop {
        i -= 1;
        if up {
            if v[i] == b'9' {
                v[i] = b'0';
            } else {
                v[i] += 1;
                break;
            }
        } else if v[i] == b'0' {
            v[i] = b'9';
        } else {
            v[i] -= 1;
            break;
        }
    }
    let s = String::from_utf8(v).unwrap();
    let t = s.trim_start_matches('0');
    if t.is_empty() {
        String::from("0")
    } else {
        String::from(t)
    }
}

fn digits_strategy(max: usize) -> impl Strategy<Value = String> {
    (1usize..=max, any::<u64>()).prop_map(|(n, seed)| {
        // A cheap generator: a mix of all-nines, zeros and random digits.
        let mut s = String::with_capacity(n);
        let mut x = seed | 1;
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let c = match seed % 4 {
                1 if i > 0 && x % 8 != 0 => b'0',
                2 if x % 8 != 0 => b'9',
                _ => b'0' + (x % 10) as u8,
            };
            s.push(char::from(c));
        }
        s
    })
}

/// A JSON literal from an integer digit string, a fraction and an
/// exponent.
fn json_literal(neg: bool, int: &str, frac: Option<&str>, exp: Option<(i32, u8)>) -> String {
    let int = int.trim_start_matches('0');
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str(if int.is_empty() { "0" } else { int });
    if let Some(f) = frac {
        s.push('.');
        s.push_str(f);
    }
    if let Some((e, form)) = exp {
        s.push(if form & 1 == 0 { 'e' } else { 'E' });
        if e >= 0 && form & 2 != 0 {
            s.push('+');
        }
        s.push_str(&e.to_string());
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn random_literals_match_std(
        neg in any::<bool>(),
        int in digits_strategy(40),
        frac in proptest::option::of(digits_strategy(40)),
        exp in proptest::option::of((-400i32..=400, any::<u8>())),
    ) {
        check(&json_literal(neg, &int, frac.as_deref(), exp));
    }

    #[test]
    fn short_literals_match_std(
        int in 0u64..1_000_000,
        frac in proptest::option::of(0u32..100_000),
        exp in proptest::option::of((-30i32..=30, any::<u8>())),
    ) {
        let f = frac.map(|f| format!("{f}"));
        check(&json_literal(false, &format!("{int}"), f.as_deref(), exp));
    }

    #[test]
    fn doubles_round_trip(bits in any::<u64>()) {
        let x = f64::from_bits(bits & !SIGN_BIT);
        prop_assume!(x.is_finite());
        for text in [format!("{x:e}"), format!("{x:.30e}"), format!("{x:?}")] {
            check(&text);
        }
    }

    #[test]
    fn no_panic_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = to_f64(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn long_literals_match_std(
        neg in any::<bool>(),
        int in digits_strategy(1200),
        frac in proptest::option::of(digits_strategy(1200)),
        exp in proptest::option::of((-400i32..=400, any::<u8>())),
    ) {
        check(&json_literal(neg, &int, frac.as_deref(), exp));
    }

    /// Ties short enough for the exact path: integers above 2^53 and
    /// halves, quarters of numbers near 2^52, 2^51.
    #[test]
    fn short_ties_match_std(m in (1u64 << 50)..(1u64 << 53), shift in 1u32..=11, tail in 0u8..4) {
        let odd = (m << 1) | 1;
        let big = odd << (shift - 1);
        let suffix = ["", "0", "00000000001", "e0"][tail as usize];
        check(&format!("{big}{suffix}"));
        // Units of 1 in [2^52, 2^53), of 1/2 in [2^51, 2^52).
        let whole = (1u64 << 52) | (m & ((1 << 52) - 1));
        let half = (1u64 << 51) | (m & ((1 << 51) - 1));
        for (q, frac) in [
            (whole, "5"),
            (half, "25"),
            (half, "75"),
            (whole, "5000000000000000000001"),
            (whole, "4999999999999999999999"),
            (half, "7500000000000000000001"),
        ] {
            check(&format!("{q}.{frac}"));
            check(&format!("{q}{frac}e-{}", frac.len()));
        }
    }

    /// Exact midpoints between neighbouring doubles, and a unit in the
    /// last (or a far) place either side of them.
    #[test]
    fn halfway_cases_match_std(bits in any::<u64>(), form in any::<u8>(), pad in 0usize..40) {
        let x = f64::from_bits(bits & !SIGN_BIT);
        prop_assume!(x.is_finite() && x < f64::MAX);
        let b = x.to_bits();
        let (m, e) = if b >> 52 == 0 { (b, -1074) } else { ((b & FRACTION_MASK) | (1 << 52), (b >> 52) as i32 - 1075) };
        // Midpoint of x and its successor: (2m + 1) × 2^(e - 1).
        let (digits, exp10) = exact_decimal(2 * m + 1, e - 1);
        let padded = format!("{digits}{}", "0".repeat(pad));
        let pe = exp10 - pad as i32;
        for d in [padded.clone(), nudge(&padded, true), nudge(&padded, false), format!("{padded}1")] {
            let e10 = if d.len() > padded.len() { pe - 1 } else { pe };
            check(&literal(&d, e10, form));
        }
    }
}
