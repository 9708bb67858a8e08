//! Printing IEEE 754 doubles the way the two canonical profiles require.
//!
//! Both profiles print the *shortest* decimal digits that read back to the same
//! double (Python `repr`, ECMAScript `Number::toString`); they differ only in
//! where the decimal point goes and how exponents look. The digits come from
//! Ryu (see [`shortest`]), which picks the closest of the shortest candidates
//! and breaks exact ties to even, as both references do.

/// Shortest round-trip digits of a finite, non-negative double.
pub(crate) struct Digits {
    /// ASCII digits, no leading or trailing zeros (a single `0` for zero).
    buf: [u8; 24],
    len: usize,
    /// Power of ten of the first digit: the value is `d.ddd × 10^exp`.
    exp: i32,
}

impl Digits {
    pub(crate) fn digits(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// Shortest digits and exponent of `|x|` for a finite `x`; `None` for a
/// non-finite value (which the callers have ruled out).
///
/// The digits come from Ryu (Adams, PLDI 2018), which, like Python's `repr`
/// (David Gay's dtoa, mode 0) and ECMAScript's `Number::toString`, picks the
/// candidate closest to the exact value and breaks exact ties to even
/// (`2^-25` → `2.9802322387695312e-8`, not `…313`). `core::fmt`'s shortest
/// mode breaks such ties upward, which RFC 8785 Appendix B catches.
pub(crate) fn shortest(x: f64) -> Option<Digits> {
    if !x.is_finite() {
        return None;
    }
    let mut rb = ryu::Buffer::new();
    let text = rb
        .format_finite(if x.is_sign_negative() { -x } else { x })
        .as_bytes();
    // Ryu writes `d+.d+` or `d(.d+)?e-?d+`; normalise to digits and exponent.
    let (mant, exp_part) = match text.iter().position(|&c| c == b'e' || c == b'E') {
        Some(p) => (text.get(..p)?, text.get(p.checked_add(1)?..)),
        None => (text, None),
    };
    // Ryu's exponent: `-?[0-9]{1,3}`, read here without `str::parse`.
    let mut exp10: i32 = 0;
    if let Some(e) = exp_part {
        let (negative, digits) = match e {
            [b'-', rest @ ..] => (true, rest),
            _ => (false, e),
        };
        if digits.is_empty() || digits.len() > 3 {
            return None;
        }
        for &c in digits {
            if !c.is_ascii_digit() {
                return None;
            }
            // At most three digits: no overflow.
            exp10 = exp10
                .wrapping_mul(10)
                .wrapping_add(i32::from(c.wrapping_sub(b'0')));
        }
        if negative {
            exp10 = exp10.wrapping_neg();
        }
    }
    let point = mant.iter().position(|&c| c == b'.').unwrap_or(mant.len());
    // Exponent of the first mantissa digit before leading zeros are dropped.
    exp10 = exp10.checked_add(i32::try_from(point).ok()?.checked_sub(1)?)?;
    let mut d = Digits {
        buf: [0; 24],
        len: 0,
        exp: exp10,
    };
    let mut leading = true;
    for &c in mant {
        if !c.is_ascii_digit() {
            continue;
        }
        if leading && c == b'0' {
            d.exp = d.exp.checked_sub(1)?;
            continue;
        }
        leading = false;
        *d.buf.get_mut(d.len)? = c;
        d.len = d.len.checked_add(1)?;
    }
    while d.len > 1 && d.buf.get(d.len.checked_sub(1)?) == Some(&b'0') {
        d.len = d.len.checked_sub(1)?;
    }
    if d.len == 0 {
        // Zero.
        *d.buf.get_mut(0)? = b'0';
        d.len = 1;
        d.exp = 0;
    }
    Some(d)
}

/// Where formatted number bytes go.
pub(crate) trait Put {
    fn put(&mut self, bytes: &[u8]);
    fn put_zeros(&mut self, n: usize) {
        for _ in 0..n {
            self.put(b"0");
        }
    }
    fn put_uint(&mut self, v: u32) {
        let mut tmp = [0u8; 10];
        let mut i = tmp.len();
        let mut v = v;
        loop {
            i = i.saturating_sub(1);
            if let (Some(slot), Ok(d)) = (tmp.get_mut(i), u8::try_from(v % 10)) {
                *slot = b'0'.wrapping_add(d);
            }
            v /= 10;
            if v == 0 || i == 0 {
                break;
            }
        }
        self.put(tmp.get(i..).unwrap_or_default());
    }
}

/// Python `repr(float)` (the `armoriq` profile): fixed notation for
/// decimal exponents −4..=15 with at least one fractional digit (`1.0`),
/// else `d.ddde±XX` with at least two exponent digits (`1e-07`, `1e+16`).
pub(crate) fn write_python_repr<P: Put>(x: f64, out: &mut P) -> Option<()> {
    let d = shortest(x)?;
    if x.is_sign_negative() {
        out.put(b"-");
    }
    let digits = d.digits();
    let n = digits.len();
    if (-4..16).contains(&d.exp) {
        write_fixed(digits, d.exp, out);
        // Python always shows a fractional part in fixed notation.
        let decpt = d.exp.checked_add(1)?;
        if usize::try_from(decpt).is_ok_and(|p| p >= n) {
            out.put(b".0");
        }
    } else {
        out.put(digits.get(..1)?);
        if n > 1 {
            out.put(b".");
            out.put(digits.get(1..)?);
        }
        out.put(if d.exp < 0 { b"e-" } else { b"e+" });
        let e = d.exp.unsigned_abs();
        if e < 10 {
            out.put(b"0");
        }
        out.put_uint(e);
    }
    Some(())
}

/// ECMAScript `Number::toString` (RFC 8785 §3.2.2.3, ECMA-262 §7.1.12.1):
/// plain digits for decimal exponents −6..=20, else `d.ddde±X`; zero of
/// either sign is `0`.
pub(crate) fn write_es6<P: Put>(x: f64, out: &mut P) -> Option<()> {
    let d = shortest(x)?;
    // Zero of either sign, told by its digits: `x == 0.0`, and even a test
    // of its bits (which LLVM turns back into one), is a soft-float call on
    // the firmware.
    if d.digits() == b"0" {
        out.put(b"0");
        return Some(());
    }
    if x.is_sign_negative() {
        out.put(b"-");
    }
    let digits = d.digits();
    if (-6..21).contains(&d.exp) {
        write_fixed(digits, d.exp, out);
    } else {
        out.put(digits.get(..1)?);
        if digits.len() > 1 {
            out.put(b".");
            out.put(digits.get(1..)?);
        }
        out.put(if d.exp < 0 { b"e-" } else { b"e+" });
        out.put_uint(d.exp.unsigned_abs());
    }
    Some(())
}

/// Digits with the decimal point placed for exponent `exp`, no exponent, no
/// trailing `.0`: `0.000ddd`, `ddd000` or `dd.d`.
fn write_fixed<P: Put>(digits: &[u8], exp: i32, out: &mut P) {
    let n = digits.len();
    if exp < 0 {
        out.put(b"0.");
        let zeros = usize::try_from(exp.unsigned_abs())
            .unwrap_or(0)
            .saturating_sub(1);
        out.put_zeros(zeros);
        out.put(digits);
        return;
    }
    let int_len = usize::try_from(exp).unwrap_or(0).saturating_add(1);
    if int_len >= n {
        out.put(digits);
        out.put_zeros(int_len.saturating_sub(n));
    } else {
        let (a, b) = digits.split_at(int_len);
        out.put(a);
        out.put(b".");
        out.put(b);
    }
}
