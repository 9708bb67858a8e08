//! Strict base64url without padding (RFC 7515 §2, RFC 4648 §5): the only
//! encoding of a compact JWS segment. Padding, characters outside the URL-safe
//! alphabet, a length of 1 mod 4 and non-zero trailing bits are all rejected,
//! so every byte string has exactly one accepted encoding.

use crate::error::Error;

/// Sextet of each byte of the URL-safe alphabet, `INVALID` for the others.
// Evaluated at compile time: an out-of-range index or overflow would fail the
// build, not run.
#[allow(
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::arithmetic_side_effects
)]
const DECODE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0u8;
    while i < 64 {
        let c = match i {
            0..=25 => b'A' + i,
            26..=51 => b'a' + (i - 26),
            52..=61 => b'0' + (i - 52),
            62 => b'-',
            _ => b'_',
        };
        t[c as usize] = i;
        i += 1;
    }
    t
};
/// Marks a byte outside the alphabet (its high bit survives any OR of sextets).
const INVALID: u8 = 0x80;

/// The sextet of `c`, or a value with bit 7 set.
#[inline]
fn sextet(c: u8) -> u32 {
    u32::from(*DECODE.get(usize::from(c)).unwrap_or(&INVALID))
}

/// Length of the decoding of `n` base64url characters, if `n` is a possible length.
#[must_use]
pub const fn decoded_len(n: usize) -> Option<usize> {
    let full = (n / 4).saturating_mul(3);
    match n % 4 {
        0 => Some(full),
        2 => Some(full.saturating_add(1)),
        3 => Some(full.saturating_add(2)),
        _ => None,
    }
}

/// Decodes `input` into the front of `out` and returns the decoded bytes.
/// `at` is the segment's offset, reported in errors.
///
/// # Errors
/// [`Error::Base64`] for any defect; [`Error::TokenTooLarge`] when `out` is too small.
pub fn decode<'o>(input: &[u8], out: &'o mut [u8], at: usize) -> Result<&'o [u8], Error> {
    let len = decoded_len(input.len()).ok_or(Error::Base64 { at })?;
    let capacity = out.len();
    let dst = out
        .get_mut(..len)
        .ok_or(Error::TokenTooLarge { limit: capacity })?;
    // Whole quads: 4 sextets → 3 bytes; one validity check per quad.
    let mut quads = input.chunks_exact(4);
    let mut outs = dst.chunks_exact_mut(3);
    for (q, o) in (&mut quads).zip(&mut outs) {
        let [a, b, c, d] = [0, 1, 2, 3].map(|k| sextet(q.get(k).copied().unwrap_or(b'=')));
        if (a | b | c | d) & u32::from(INVALID) != 0 {
            return Err(Error::Base64 { at });
        }
        let acc = (a << 18) | (b << 12) | (c << 6) | d;
        let [_, x, y, z] = acc.to_be_bytes();
        o.copy_from_slice(&[x, y, z]);
    }
    // The tail: 2 or 3 characters for 1 or 2 bytes, whose unused low bits
    // must be zero (RFC 4648 §3.5 canonical encoding).
    let rest = quads.remainder();
    let tail = outs.into_remainder();
    let mut acc: u32 = 0;
    for &ch in rest {
        let v = sextet(ch);
        if v & u32::from(INVALID) != 0 {
            return Err(Error::Base64 { at });
        }
        acc = (acc << 6) | v;
    }
    match (rest.len(), tail) {
        (0, []) => {}
        (2, [x]) if acc & 0xF == 0 => *x = (acc >> 4).to_be_bytes()[3],
        (3, [x, y]) if acc & 0x3 == 0 => {
            let [_, _, hi, lo] = (acc >> 2).to_be_bytes();
            *x = hi;
            *y = lo;
        }
        _ => return Err(Error::Base64 { at }),
    }
    Ok(dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict() {
        let mut b = [0u8; 16];
        assert_eq!(decode(b"", &mut b, 0), Ok(&b""[..]));
        assert_eq!(decode(b"Zm9v", &mut b, 0), Ok(&b"foo"[..]));
        assert_eq!(decode(b"Zm8", &mut b, 0), Ok(&b"fo"[..]));
        assert_eq!(decode(b"Zg", &mut b, 0), Ok(&b"f"[..]));
        assert_eq!(decode(b"-_8", &mut b, 0), Ok(&[0xfb, 0xff][..]));
        assert_eq!(
            decode(b"Zh", &mut b, 3),
            Err(Error::Base64 { at: 3 }),
            "trailing bits"
        );
        assert_eq!(
            decode(b"Zm9=", &mut b, 0),
            Err(Error::Base64 { at: 0 }),
            "padding"
        );
        assert_eq!(
            decode(b"Zg==", &mut b, 0),
            Err(Error::Base64 { at: 0 }),
            "padding"
        );
        assert_eq!(
            decode(b"Z", &mut b, 0),
            Err(Error::Base64 { at: 0 }),
            "length 1 mod 4"
        );
        assert_eq!(
            decode(b"Zm+v", &mut b, 0),
            Err(Error::Base64 { at: 0 }),
            "standard alphabet"
        );
        let mut small = [0u8; 2];
        assert_eq!(
            decode(b"Zm9v", &mut small, 0),
            Err(Error::TokenTooLarge { limit: 2 })
        );
    }
}
