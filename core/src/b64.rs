//! Strict base64url without padding (RFC 7515 §2, RFC 4648 §5): the only
//! encoding of a compact JWS segment. Padding, characters outside the URL-safe
//! alphabet, a length of 1 mod 4 and non-zero trailing bits are all rejected,
//! so every byte string has exactly one accepted encoding.

use crate::error::Error;

fn sextet(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c.wrapping_sub(b'A'),
        b'a'..=b'z' => c.wrapping_sub(b'a').wrapping_add(26),
        b'0'..=b'9' => c.wrapping_sub(b'0').wrapping_add(52),
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    };
    Some(u32::from(v))
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
    let mut chunks = input.chunks(4);
    let mut o = 0usize;
    for chunk in &mut chunks {
        let mut acc: u32 = 0;
        for &c in chunk {
            acc = acc.wrapping_shl(6) | sextet(c).ok_or(Error::Base64 { at })?;
        }
        let bytes = match chunk.len() {
            4 => 3,
            3 => {
                // 18 bits for 2 bytes: the low 2 must be zero.
                if acc & 0x3 != 0 {
                    return Err(Error::Base64 { at });
                }
                acc = acc.wrapping_shr(2);
                2
            }
            2 => {
                // 12 bits for 1 byte: the low 4 must be zero.
                if acc & 0xF != 0 {
                    return Err(Error::Base64 { at });
                }
                acc = acc.wrapping_shr(4);
                1
            }
            _ => return Err(Error::Base64 { at }),
        };
        let be = acc.to_be_bytes();
        let src = be.get(4usize.saturating_sub(bytes)..).unwrap_or_default();
        let end = o.saturating_add(bytes);
        dst.get_mut(o..end)
            .ok_or(Error::Base64 { at })?
            .copy_from_slice(src);
        o = end;
    }
    Ok(dst)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn strict() {
        let mut b = [0u8; 16];
        assert_eq!(decode(b"", &mut b, 0).unwrap(), b"");
        assert_eq!(decode(b"Zm9v", &mut b, 0).unwrap(), b"foo");
        assert_eq!(decode(b"Zm8", &mut b, 0).unwrap(), b"fo");
        assert_eq!(decode(b"Zg", &mut b, 0).unwrap(), b"f");
        assert_eq!(decode(b"-_8", &mut b, 0).unwrap(), [0xfb, 0xff]);
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
