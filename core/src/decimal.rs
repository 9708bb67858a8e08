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
pub fn to_f64(text: &[u8]) -> Option<f64> {
    to_bits(text).map(f64::from_bits)
}

/// [`to_f64`] as the double's bits. Callers that test the value use these:
/// LLVM may turn a bit test of an `f64` back into a double comparison, a
/// soft-float call on the firmware.
pub fn to_bits(text: &[u8]) -> Option<u64> {
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

/// The magnitude's bits by the exact fallback alone (simple decimal
/// conversion), whatever the literal: what [`to_bits`] would compute if the
/// fast path declined. For differential tests of each path; `None` outside
/// the JSON number grammar.
pub fn to_bits_by_simple_decimal_conversion(text: &[u8]) -> Option<u64> {
    let lit = scan_literal(text)?;
    if lit.w == 0 {
        return Some(0);
    }
    simple_decimal_conversion(text, lit.exp10.saturating_add(i64::from(lit.taken)))
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
pub fn is_finite(x: f64) -> bool {
    x.to_bits() & INFINITY_BITS != INFINITY_BITS
}
