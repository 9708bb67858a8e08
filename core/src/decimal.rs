//! Reading a JSON number literal as the nearest IEEE 754 double.
//!
//! [`to_f64`] gives, for every literal of the RFC 8259 §6 grammar
//! (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`), the double nearest to
//! its exact decimal value, ties to even (IEEE 754-2019 §4.3.1,
//! roundTiesToEven): the same bits as `str::parse::<f64>`, in integer
//! arithmetic only and without tables of powers. Two steps:
//!
//! 1. [`scan_literal`] checks the grammar and keeps the first 19 significant
//!    digits as an integer `w` and a decimal exponent, so the value is
//!    `w × 10^e` (plus, if a later digit is not zero, a little more).
//! 2. When nothing was dropped, `w × 10^e = w × 5^e × 2^e` is computed
//!    exactly in 128 bits ([`scale_up_exactly`] multiplies by `5^e`,
//!    [`scale_down_exactly`] divides by `5^-e` keeping the remainder as a
//!    sticky bit) and rounded once ([`round_to_binary64`]). This is the idea
//!    of Clinger's fast path (W. D. Clinger, "How to Read Floating Point
//!    Numbers Accurately", PLDI 1990) without floating-point operations: the
//!    firmware's FPU has no double precision. It covers the numbers plans
//!    hold (`12.5`, `0.25`, `1e-7`, integers up to 19 digits).
//! 3. Otherwise [`simple_decimal_conversion`] (N. Tao, "The Simple Decimal
//!    Conversion Algorithm", 2020, after the decimal type of Go's `strconv`):
//!    the digits go into a [`DecimalBuffer`] of [`MAX_DIGITS`] digits, are
//!    multiplied or divided by powers of two until the value lies in
//!    `[0.5, 1)`, shifted left by 53 bits and rounded to an integer. A
//!    double's exact halfway points have at most 767 significant digits, so
//!    800 digits plus a "non-zero digits were dropped" flag decide every tie
//!    exactly, however long the input is.
//!
//! Stack: the slow path's buffer is [`MAX_DIGITS`] bytes (≈ 0.8 KiB) plus a
//! few words; nothing else grows with the input. Exponents are read
//! saturating, so `1e99999999999999999999` is infinity and
//! `1e-99999999999999999999` is zero, not an overflow.

/// Digits the slow path keeps (more than the 767 significant digits of the
/// longest exact halfway point between two doubles).
pub(crate) const MAX_DIGITS: usize = 800;

/// Significant digits that fit a `u64` for sure.
const WORD_DIGITS: u32 = 19;

/// `5^27` is the largest power of five below `2^64`.
const MAX_POW5_U64: u32 = 27;

/// `5^13` is the largest power of five below `2^31`, the divisor limit of
/// [`divide_by_small`] in [`scale_down_exactly`].
const MAX_POW5_U32: u32 = 13;

/// Largest binary shift of the slow path: `9 × 2^60 + carry` fits a `u64`.
const MAX_SHIFT: u32 = 60;

/// Exponent magnitudes beyond this only saturate (any non-zero value is then
/// far beyond the double range).
const EXP_LIMIT: i64 = 1 << 40;

/// The slow path's decimal point is clamped to this (beyond ±330 the value
/// is zero or infinite anyway).
const POINT_LIMIT: i64 = 1000;

const SIGN_BIT: u64 = 1 << 63;
const FRACTION_BITS: u32 = 52;
const FRACTION_MASK: u64 = (1 << FRACTION_BITS) - 1;
const EXP_BIAS: i32 = 1023;
const MAX_EXP: i32 = 1023;
const MIN_EXP: i32 = -1022;
const INFINITY_BITS: u64 = 0x7FF0_0000_0000_0000;

/// The value of a JSON number literal as the nearest double (ties to even),
/// `±inf` when it is too large for one (the callers reject that), `±0.0`
/// when it is too small. `None` only for text outside the JSON number
/// grammar.
pub(crate) fn to_f64(text: &[u8]) -> Option<f64> {
    to_bits(text).map(f64::from_bits)
}

/// [`to_f64`] as the double's bits. Callers that test the value use these:
/// LLVM may turn a bit test of an `f64` back into a double comparison, a
/// soft-float call on the firmware.
pub(crate) fn to_bits(text: &[u8]) -> Option<u64> {
    let lit = scan_literal(text)?;
    let magnitude = if lit.w == 0 {
        0
    } else if let Some(bits) = exact_path(&lit) {
        bits
    } else {
        simple_decimal_conversion(text, lit.exp10.saturating_add(i64::from(lit.taken)))?
    };
    let sign = if lit.negative { SIGN_BIT } else { 0 };
    Some(magnitude | sign)
}

/// What [`scan_literal`] reads: the value is `w × 10^exp10` when `exact`,
/// else a little more than that.
struct Literal {
    negative: bool,
    /// The first (up to) [`WORD_DIGITS`] significant digits.
    w: u64,
    /// How many digits `w` has (0 when it is 0).
    taken: u32,
    /// Decimal exponent of `w`'s last digit.
    exp10: i64,
    /// No non-zero digit was left out of `w`.
    exact: bool,
}

/// Checks the JSON number grammar and reads the leading significant digits
/// and the exponent (saturating) in one pass.
fn scan_literal(text: &[u8]) -> Option<Literal> {
    let (negative, mut rest) = match text {
        [b'-', tail @ ..] => (true, tail),
        _ => (false, text),
    };
    // The integer part is `0` or starts with a non-zero digit.
    if matches!(rest, [b'0', b'0'..=b'9', ..]) || !matches!(rest, [b'0'..=b'9', ..]) {
        return None;
    }
    let mut lit = Literal {
        negative,
        w: 0,
        taken: 0,
        exp10: 0,
        exact: true,
    };
    // Digit counts: no overflow, they are at most the text's length.
    let mut fraction_taken = 0usize;
    let mut integer_dropped = 0usize;
    let mut fraction = false;
    loop {
        match rest {
            [c @ b'0'..=b'9', tail @ ..] => {
                let d = c.wrapping_sub(b'0');
                if lit.taken < WORD_DIGITS {
                    lit.w = lit.w.wrapping_mul(10).wrapping_add(u64::from(d));
                    lit.taken = lit.taken.wrapping_add(u32::from(lit.w != 0));
                    fraction_taken = fraction_taken.wrapping_add(usize::from(fraction));
                } else {
                    integer_dropped = integer_dropped.wrapping_add(usize::from(!fraction));
                    lit.exact &= d == 0;
                }
                rest = tail;
            }
            [b'.', tail @ ..] if !fraction && matches!(tail, [b'0'..=b'9', ..]) => {
                fraction = true;
                rest = tail;
            }
            _ => break,
        }
    }
    let to_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    lit.exp10 = to_i64(integer_dropped).saturating_sub(to_i64(fraction_taken));
    if let [b'e' | b'E', tail @ ..] = rest {
        rest = tail;
        let mut negative = false;
        if let [s @ (b'+' | b'-'), tail @ ..] = rest {
            negative = *s == b'-';
            rest = tail;
        }
        if !matches!(rest, [b'0'..=b'9', ..]) {
            return None;
        }
        let mut e: i64 = 0;
        while let [c @ b'0'..=b'9', tail @ ..] = rest {
            e = e
                .saturating_mul(10)
                .saturating_add(i64::from(c.wrapping_sub(b'0')))
                .min(EXP_LIMIT);
            rest = tail;
        }
        lit.exp10 = if negative {
            lit.exp10.saturating_sub(e)
        } else {
            lit.exp10.saturating_add(e)
        };
    }
    if !rest.is_empty() {
        return None;
    }
    Some(lit)
}

/// The magnitude bits for a literal whose value is exactly `w × 10^exp10`
/// with `w ≠ 0` and a small enough exponent; `None` leaves it to the slow
/// path.
fn exact_path(lit: &Literal) -> Option<u64> {
    if !lit.exact {
        return None;
    }
    if lit.exp10 >= 0 {
        // w ≥ 1, so 10^309 and more is beyond the largest double.
        if lit.exp10 > 308 {
            return Some(INFINITY_BITS);
        }
        let e = u32::try_from(lit.exp10).ok()?;
        let p = scale_up_exactly(lit.w, e)?;
        round_to_binary64(p, lit.exp10, false)
    } else {
        let m = u32::try_from(lit.exp10.unsigned_abs()).ok()?;
        let (q, sticky, exp2) = scale_down_exactly(lit.w, m)?;
        round_to_binary64(q, exp2, sticky)
    }
}

/// `w × 5^e` exactly, or `None` when it may not fit 128 bits. With `2^e` this
/// makes `w × 10^e`.
fn scale_up_exactly(w: u64, e: u32) -> Option<u128> {
    let mut p = u128::from(w);
    let mut left = e;
    while left > 0 {
        let step = left.min(MAX_POW5_U64);
        // Both factors below 2^64: the product fits.
        let small = u64::try_from(p).ok()?;
        p = u128::from(small).wrapping_mul(u128::from(5u64.pow(step)));
        left = left.wrapping_sub(step);
    }
    Some(p)
}

/// `w / 5^m` as a quotient of at least 65 significant bits, whether the
/// division left a remainder, and the power of two the quotient is scaled
/// by: `w × 10^-m ≈ q × 2^exp2`. `None` for `m` beyond two divisions.
fn scale_down_exactly(w: u64, m: u32) -> Option<(u128, bool, i64)> {
    if m > 2 * MAX_POW5_U32 {
        return None;
    }
    // w's top bit at bit 63. Each divisor 5^k < 2^31 costs up to 31 bits:
    // w × 2^32 / 5^m keeps 65 when m ≤ 13; else w × 2^64 / 5^13 keeps 96
    // and dividing that by 5^(m - 13) keeps 65 again. ⌊⌊n / a⌋ / b⌋ =
    // ⌊n / ab⌋, and the product is exact iff both remainders are zero.
    let lz = w.leading_zeros();
    let top = w.wrapping_shl(lz);
    if m <= MAX_POW5_U32 {
        let (q, sticky) = divide_by_small(top, &[0], 5u64.pow(m));
        let exp2 = i64::from(lz.wrapping_add(32).wrapping_add(m)).wrapping_neg();
        return Some((q, sticky, exp2));
    }
    let (q, s1) = divide_by_small(top, &[0, 0], 5u64.pow(MAX_POW5_U32));
    let limbs = [
        u64::try_from(q.wrapping_shr(32) & 0xFFFF_FFFF).unwrap_or(0),
        u64::try_from(q & 0xFFFF_FFFF).unwrap_or(0),
    ];
    let high = u64::try_from(q.wrapping_shr(64)).unwrap_or(u64::MAX);
    let (q, s2) = divide_by_small(high, &limbs, 5u64.pow(m.wrapping_sub(MAX_POW5_U32)));
    let exp2 = i64::from(lz.wrapping_add(64).wrapping_add(m)).wrapping_neg();
    Some((q, s1 || s2, exp2))
}

/// `⌊n / d⌋` for `0 < d < 2^32` where `n` is `top` followed by 32-bit
/// `limbs` (at most two): schoolbook long division, one 64-by-64-bit
/// division per step (no 128-bit division routine), and whether it left a
/// remainder.
fn divide_by_small(top: u64, limbs: &[u64], d: u64) -> (u128, bool) {
    let q1 = top.checked_div(d).unwrap_or(0);
    let mut rem = top.wrapping_sub(q1.wrapping_mul(d));
    let mut q = u128::from(q1);
    for &limb in limbs {
        // rem < d < 2^32: the shifted remainder and the limb fit.
        let t = rem.wrapping_shl(32) | limb;
        let digit = t.checked_div(d).unwrap_or(0);
        rem = t.wrapping_sub(digit.wrapping_mul(d));
        q = q.wrapping_shl(32) | u128::from(digit);
    }
    (q, rem != 0)
}

/// Rounds `p × 2^exp2` (a little more when `sticky`) to the nearest double,
/// ties to even; magnitude bits, infinity past the largest double. `None`
/// for results that would be subnormal (the slow path handles those) and
/// for `p = 0`.
fn round_to_binary64(p: u128, exp2: i64, sticky: bool) -> Option<u64> {
    if p == 0 {
        return None;
    }
    // The top 64 bits of p, top bit set; the rest only matter as sticky.
    let lz = p.leading_zeros();
    let norm = p.wrapping_shl(lz);
    let hi = u64::try_from(norm >> 64).ok()?;
    let sticky = sticky || norm & u128::from(u64::MAX) != 0;
    // The value lies in [2^e, 2^(e+1)).
    let mut e = exp2.saturating_add(i64::from(127u32.wrapping_sub(lz)));
    if e > i64::from(MAX_EXP) {
        return Some(INFINITY_BITS);
    }
    if e < i64::from(MIN_EXP) {
        return None;
    }
    // 53 bits kept, 11 dropped.
    let kept = hi >> 11;
    let dropped = hi & 0x7FF;
    let half = 0x400;
    let up = dropped > half || (dropped == half && (sticky || kept & 1 == 1));
    let mut mant = kept.wrapping_add(u64::from(up));
    if mant >> (FRACTION_BITS + 1) != 0 {
        // Rounded up to 2^53.
        mant >>= 1;
        e = e.saturating_add(1);
        if e > i64::from(MAX_EXP) {
            return Some(INFINITY_BITS);
        }
    }
    let biased = u64::try_from(e.saturating_add(i64::from(EXP_BIAS))).ok()?;
    Some(biased.wrapping_shl(FRACTION_BITS) | (mant & FRACTION_MASK))
}

/// A decimal `0.d₁d₂…dₙ × 10^point` of at most [`MAX_DIGITS`] digits (no
/// trailing zeros), `truncated` when non-zero digits beyond those were
/// dropped (the true value is then a little larger).
struct DecimalBuffer {
    digits: [u8; MAX_DIGITS],
    len: usize,
    /// Within ±[`POINT_LIMIT`].
    point: i32,
    truncated: bool,
}

impl DecimalBuffer {
    /// The digits of a literal `scan_literal` accepted, whose first
    /// significant digit is followed by the decimal point moved by `point`
    /// places; leading zeros are skipped, digits past [`MAX_DIGITS`] only
    /// set `truncated`.
    fn from_literal(text: &[u8], point: i64) -> Self {
        let mut d = Self {
            digits: [0; MAX_DIGITS],
            len: 0,
            // Beyond ±POINT_LIMIT the value is zero or infinite anyway.
            point: i32::try_from(point.clamp(-POINT_LIMIT, POINT_LIMIT)).unwrap_or(0),
            truncated: false,
        };
        for &c in text {
            match c {
                b'0'..=b'9' => {
                    let digit = c.wrapping_sub(b'0');
                    if d.len == 0 && digit == 0 {
                        continue;
                    }
                    if let Some(slot) = d.digits.get_mut(d.len) {
                        *slot = digit;
                        d.len = d.len.wrapping_add(1);
                    } else if digit != 0 {
                        d.truncated = true;
                    }
                }
                b'e' | b'E' => break,
                _ => {}
            }
        }
        d.trim();
        d
    }

    /// Digit `i`, 0 past the end.
    fn digit(&self, i: usize) -> u64 {
        if i < self.len {
            self.digits.get(i).map_or(0, |&x| u64::from(x))
        } else {
            0
        }
    }

    /// Stores `value` one place left of `*write` (shifting left), or drops
    /// it past the buffer's end.
    fn put_before(&mut self, write: &mut usize, value: u64) {
        *write = write.saturating_sub(1);
        if let Some(slot) = self.digits.get_mut(*write) {
            *slot = u8::try_from(value).unwrap_or(0);
        } else if value != 0 {
            self.truncated = true;
        }
    }

    /// Drops trailing zeros, so a last digit 5 means an exact half.
    fn trim(&mut self) {
        while self.len > 0 && self.digit(self.len.wrapping_sub(1)) == 0 {
            self.len = self.len.wrapping_sub(1);
        }
        if self.len == 0 {
            self.point = 0;
        }
    }

    /// Multiplies by `2^k` (`1 ≤ k ≤ 60`), last digit first. The product has
    /// at most `⌊k·log₁₀2⌋ + 1` more digits: they are written that far to
    /// the right and moved back once the carry is spent, so no table of the
    /// digits of `5^k` is needed to know the count beforehand.
    fn shift_left(&mut self, k: u32) {
        // ⌊k·log₁₀2⌋ + 1, with 1233/4096 just below log₁₀2 (exact for k ≤ 60).
        let extra = usize::try_from((k.wrapping_mul(1233) >> 12).wrapping_add(1)).unwrap_or(0);
        let end = self.len.saturating_add(extra);
        let mut write = end;
        let mut read = self.len;
        let mut n: u64 = 0;
        while read > 0 {
            read = read.wrapping_sub(1);
            n = n.wrapping_add(self.digit(read).wrapping_shl(k));
            let quotient = n / 10;
            self.put_before(&mut write, n.wrapping_sub(quotient.wrapping_mul(10)));
            n = quotient;
        }
        while n > 0 {
            let quotient = n / 10;
            self.put_before(&mut write, n.wrapping_sub(quotient.wrapping_mul(10)));
            n = quotient;
        }
        let stop = end.min(MAX_DIGITS);
        self.digits.copy_within(write..stop.max(write), 0);
        self.len = stop.saturating_sub(write);
        let grown = i32::try_from(extra.wrapping_sub(write)).unwrap_or(0);
        self.point = self.point.saturating_add(grown);
        self.trim();
    }

    /// Divides by `2^k` (`1 ≤ k ≤ 60`), first digit first (long division).
    fn shift_right(&mut self, k: u32) {
        let mask = (1u64 << k).wrapping_sub(1);
        let mut read = 0usize;
        let mut write = 0usize;
        let mut n: u64 = 0;
        // Read until the first quotient digit is non-zero.
        while n >> k == 0 {
            if read < self.len {
                n = n.wrapping_mul(10).wrapping_add(self.digit(read));
            } else if n == 0 {
                self.len = 0;
                self.point = 0;
                return;
            } else {
                n = n.wrapping_mul(10);
            }
            read = read.wrapping_add(1);
        }
        let consumed = i32::try_from(read).unwrap_or(i32::MAX).wrapping_sub(1);
        self.point = self.point.saturating_sub(consumed);
        while read < self.len {
            let out = n >> k;
            n &= mask;
            if let Some(slot) = self.digits.get_mut(write) {
                *slot = u8::try_from(out).unwrap_or(0);
            }
            write = write.wrapping_add(1);
            n = n.wrapping_mul(10).wrapping_add(self.digit(read));
            read = read.wrapping_add(1);
        }
        while n > 0 {
            let out = n >> k;
            n &= mask;
            if let Some(slot) = self.digits.get_mut(write) {
                *slot = u8::try_from(out).unwrap_or(0);
                write = write.wrapping_add(1);
            } else if out != 0 {
                self.truncated = true;
            }
            n = n.wrapping_mul(10);
        }
        self.len = write.min(MAX_DIGITS);
        self.trim();
    }

    /// The integer part, rounded half to even using the fraction digits
    /// and `truncated` (the caller keeps it below 2^54).
    fn rounded_integer(&self) -> u64 {
        let Ok(point) = usize::try_from(self.point) else {
            return 0;
        };
        let mut n: u64 = 0;
        for i in 0..point {
            n = n.wrapping_mul(10).wrapping_add(self.digit(i));
        }
        let up = if point >= self.len {
            false
        } else if self.digit(point) == 5 && point.wrapping_add(1) == self.len {
            // Exactly half, unless non-zero digits were dropped.
            self.truncated || n & 1 == 1
        } else {
            self.digit(point) >= 5
        };
        n.wrapping_add(u64::from(up))
    }
}

/// Binary shift that scales a decimal point position of `p` (≥ 0) towards
/// zero: `⌊p·log₂10⌋` (217706/65536 ≈ log₂10), at least 1, at most 60.
fn shift_for(p: i32) -> u32 {
    let p = u32::try_from(p.clamp(0, 64)).unwrap_or(0);
    (p.wrapping_mul(217_706) >> 16).clamp(1, MAX_SHIFT)
}

/// Nigel Tao's simple decimal conversion: magnitude bits of the double
/// nearest to the literal `text` (`0.ddd × 10^point`, `point` as
/// [`to_f64`] works it out), exact for any number of digits.
#[inline(never)]
fn simple_decimal_conversion(text: &[u8], point: i64) -> Option<u64> {
    let mut d = DecimalBuffer::from_literal(text, point);
    if d.len == 0 || d.point < -330 {
        // Below 10^-330, far under half the smallest subnormal.
        return Some(0);
    }
    if d.point > 310 {
        // At least 10^309.
        return Some(INFINITY_BITS);
    }
    // Scale into [0.5, 1): value = d × 2^exp2.
    let mut exp2: i32 = 0;
    while d.point > 0 {
        let k = shift_for(d.point);
        d.shift_right(k);
        exp2 = exp2.saturating_add(i32::try_from(k).unwrap_or(0));
    }
    while d.len > 0 && (d.point < 0 || (d.point == 0 && d.digit(0) < 5)) {
        let k = shift_for(d.point.saturating_neg());
        d.shift_left(k);
        exp2 = exp2.saturating_sub(i32::try_from(k).unwrap_or(0));
    }
    // As 1.x × 2^exp2.
    exp2 = exp2.saturating_sub(1);
    if exp2 < MIN_EXP {
        // Subnormal: align to 2^-1022 first, so the 53-bit shift below
        // leaves only the bits a subnormal has.
        let mut k = MIN_EXP.saturating_sub(exp2);
        while k > 0 {
            let step = k.min(60);
            d.shift_right(u32::try_from(step).unwrap_or(MAX_SHIFT));
            k = k.saturating_sub(step);
        }
        exp2 = MIN_EXP;
    }
    if exp2 > MAX_EXP {
        return Some(INFINITY_BITS);
    }
    d.shift_left(FRACTION_BITS + 1);
    let mut mant = d.rounded_integer();
    if mant >> (FRACTION_BITS + 1) != 0 {
        mant >>= 1;
        exp2 = exp2.saturating_add(1);
        if exp2 > MAX_EXP {
            return Some(INFINITY_BITS);
        }
    }
    if mant >> FRACTION_BITS == 0 {
        // Subnormal (or zero): biased exponent 0.
        return Some(mant);
    }
    let biased = u64::try_from(exp2.saturating_add(EXP_BIAS)).ok()?;
    Some(biased.wrapping_shl(FRACTION_BITS) | (mant & FRACTION_MASK))
}

/// Whether `x` is finite, from its bits (no floating-point comparison,
/// which the firmware would do in software).
pub(crate) fn is_finite(x: f64) -> bool {
    x.to_bits() & INFINITY_BITS != INFINITY_BITS
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::as_conversions,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap
    )]
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::format;
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// What the standard library reads (the reference).
    fn reference(text: &str) -> u64 {
        text.parse::<f64>().unwrap().to_bits()
    }

    /// Both paths of ours against the reference; the slow path also alone.
    fn check(text: &str) {
        let want = reference(text);
        let got = to_f64(text.as_bytes()).map(f64::to_bits);
        assert_eq!(got, Some(want), "{text}: {:e}", f64::from_bits(want));
        let lit = scan_literal(text.as_bytes()).unwrap();
        let point = lit.exp10.saturating_add(i64::from(lit.taken));
        let slow = simple_decimal_conversion(text.as_bytes(), point).unwrap();
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
}
