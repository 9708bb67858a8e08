//! Lowercase hex, as every digest in the ArmorIQ protocol is written.

use crate::error::Error;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lowercase hex into `out`, which must be twice as long.
///
/// # Errors
/// [`Error::OutputFull`] when `out` is shorter than `2 * bytes.len()`.
pub fn encode<'o>(bytes: &[u8], out: &'o mut [u8]) -> Result<&'o str, Error> {
    let need = bytes.len().saturating_mul(2);
    let capacity = out.len();
    let dst = out.get_mut(..need).ok_or(Error::OutputFull { capacity })?;
    for (pair, &b) in dst.chunks_exact_mut(2).zip(bytes) {
        if let [hi, lo] = pair {
            *hi = DIGITS.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
            *lo = DIGITS.get(usize::from(b & 0xF)).copied().unwrap_or(b'0');
        }
    }
    core::str::from_utf8(dst).map_err(|_| Error::InvalidHex)
}

/// A 32-byte digest as 64 lowercase hex characters.
#[must_use]
pub fn encode32(bytes: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    let _ = encode(bytes, &mut out);
    out
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(c.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(c.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
    }
}

/// Decodes exactly `N` bytes from `2N` hex characters (either case).
///
/// # Errors
/// [`Error::InvalidHex`] for a wrong length or a non-hex character.
pub fn decode<const N: usize>(text: &[u8]) -> Result<[u8; N], Error> {
    if text.len() != N.saturating_mul(2) {
        return Err(Error::InvalidHex);
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let [h, l] = pair else {
            return Err(Error::InvalidHex);
        };
        let (Some(h), Some(l)) = (nibble(*h), nibble(*l)) else {
            return Err(Error::InvalidHex);
        };
        *o = (h << 4) | l;
    }
    Ok(out)
}
