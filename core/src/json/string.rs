//! Strings: scanning and validating them (RFC 8259 §7), escapes, UTF-8, and
//! decoding validated content into code points and UTF-16 units.

use super::Cursor;
use crate::error::Error;

/// What a string scan learned about the string.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawStr<'a> {
    /// The bytes between the quotes, escapes not decoded.
    pub(crate) raw: &'a [u8],
    /// No escapes and only printable ASCII (0x20..=0x7E): the raw bytes are
    /// already the canonical content in both profiles.
    pub(crate) plain: bool,
}

#[inline]
fn hex_val(b: u8) -> Option<u16> {
    let v = match b {
        b'0'..=b'9' => b.wrapping_sub(b'0'),
        b'a'..=b'f' => b.wrapping_sub(b'a').wrapping_add(10),
        b'A'..=b'F' => b.wrapping_sub(b'A').wrapping_add(10),
        _ => return None,
    };
    Some(u16::from(v))
}

/// Whether all 8 bytes of `x` are printable ASCII other than `"` and `\\`
/// (0x20..=0x7E), tested at once (SWAR: Hacker's Delight §6-1 zero-byte test).
#[inline]
fn plain_ascii8(x: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    // Bytes below 0x20: subtracting 0x20 from each borrows into the high bit.
    let below_space = x.wrapping_sub(LO.wrapping_mul(0x20)) & !x & HI;
    let high = x & HI;
    let quote = has_zero(x ^ LO.wrapping_mul(0x22));
    let backslash = has_zero(x ^ LO.wrapping_mul(0x5C));
    let del = has_zero(x ^ LO.wrapping_mul(0x7F));
    (below_space | high | quote | backslash | del) == 0
}

/// Whether any of the 8 bytes of `x` is `"` or `\\`.
#[inline]
fn has_quote_or_backslash(x: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    (has_zero(x ^ LO.wrapping_mul(0x22)) | has_zero(x ^ LO.wrapping_mul(0x5C))) != 0
}

/// Decodes one strictly valid UTF-8 sequence (RFC 3629 table 3-7) starting at
/// `i`. Returns the code point and the sequence length.
#[inline]
pub(crate) fn decode_utf8(bytes: &[u8], i: usize) -> Option<(u32, usize)> {
    let b0 = *bytes.get(i)?;
    let cont = |k: usize, lo: u8, hi: u8| -> Option<u32> {
        let b = *bytes.get(i.checked_add(k)?)?;
        (lo..=hi).contains(&b).then_some(u32::from(b & 0x3F))
    };
    match b0 {
        0x00..=0x7F => Some((u32::from(b0), 1)),
        0xC2..=0xDF => {
            let c1 = cont(1, 0x80, 0xBF)?;
            Some(((u32::from(b0 & 0x1F)).wrapping_shl(6) | c1, 2))
        }
        0xE0..=0xEF => {
            let (lo, hi) = match b0 {
                0xE0 => (0xA0, 0xBF),
                0xED => (0x80, 0x9F),
                _ => (0x80, 0xBF),
            };
            let c1 = cont(1, lo, hi)?;
            let c2 = cont(2, 0x80, 0xBF)?;
            Some((
                u32::from(b0 & 0x0F).wrapping_shl(12) | c1.wrapping_shl(6) | c2,
                3,
            ))
        }
        0xF0..=0xF4 => {
            let (lo, hi) = match b0 {
                0xF0 => (0x90, 0xBF),
                0xF4 => (0x80, 0x8F),
                _ => (0x80, 0xBF),
            };
            let c1 = cont(1, lo, hi)?;
            let c2 = cont(2, 0x80, 0xBF)?;
            let c3 = cont(3, 0x80, 0xBF)?;
            Some((
                u32::from(b0 & 0x07).wrapping_shl(18)
                    | c1.wrapping_shl(12)
                    | c2.wrapping_shl(6)
                    | c3,
                4,
            ))
        }
        _ => None,
    }
}

/// Reads the four hex digits of a `\u` escape starting at `i`.
#[inline]
fn hex4(bytes: &[u8], i: usize) -> Option<u16> {
    let mut v: u16 = 0;
    for k in 0..4 {
        let d = hex_val(*bytes.get(i.checked_add(k)?)?)?;
        v = v.wrapping_shl(4) | d;
    }
    Some(v)
}

impl<'a> Cursor<'a> {
    /// Scans a string whose opening quote is at the cursor, validating escapes
    /// (RFC 8259 §7) and UTF-8; leaves the cursor after the closing quote.
    pub(crate) fn string(&mut self) -> Result<RawStr<'a>, Error> {
        self.consume(b'"')?;
        let start = self.pos;
        let bytes = self.bytes;
        let mut i = start;
        let mut plain = true;
        loop {
            // Fast path: skip 8 printable-ASCII bytes at a time.
            while let Some(chunk) = bytes.get(i..i.saturating_add(8)) {
                let Ok(word) = <[u8; 8]>::try_from(chunk) else {
                    break;
                };
                if !plain_ascii8(u64::from_le_bytes(word)) {
                    break;
                }
                i = i.saturating_add(8);
            }
            // Then byte by byte, in a tight loop, to the next byte that needs care.
            let rest = bytes.get(i..).unwrap_or_default();
            let run = rest
                .iter()
                .position(|&b| !(0x20..=0x7E).contains(&b) || b == b'"' || b == b'\\')
                .unwrap_or(rest.len());
            i = i.saturating_add(run);
            let Some(&b) = bytes.get(i) else {
                return Err(Error::UnexpectedEnd { at: bytes.len() });
            };
            match b {
                b'"' => break,
                b'\\' => {
                    plain = false;
                    i = self.escape(i)?;
                }
                0x00..=0x1F => return Err(Error::ControlInString { at: i }),
                0x20..=0x7E => i = i.saturating_add(1),
                0x7F => {
                    plain = false;
                    i = i.saturating_add(1);
                }
                _ => {
                    plain = false;
                    let (_, len) = decode_utf8(bytes, i).ok_or(Error::InvalidUtf8 { at: i })?;
                    i = i.saturating_add(len);
                }
            }
        }
        let raw = bytes.get(start..i).unwrap_or_default();
        self.pos = i.saturating_add(1);
        Ok(RawStr { raw, plain })
    }

    /// Validates the escape whose backslash is at `i`; returns the offset after it.
    fn escape(&self, i: usize) -> Result<usize, Error> {
        let bytes = self.bytes;
        let Some(&e) = bytes.get(i.saturating_add(1)) else {
            return Err(Error::UnexpectedEnd { at: bytes.len() });
        };
        match e {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(i.saturating_add(2)),
            b'u' => {
                let u = hex4(bytes, i.saturating_add(2)).ok_or_else(|| {
                    if bytes.len() < i.saturating_add(6) {
                        Error::UnexpectedEnd { at: bytes.len() }
                    } else {
                        Error::InvalidEscape { at: i }
                    }
                })?;
                let after = i.saturating_add(6);
                match u {
                    0xD800..=0xDBFF => {
                        let low = (bytes.get(after) == Some(&b'\\')
                            && bytes.get(after.saturating_add(1)) == Some(&b'u'))
                        .then(|| hex4(bytes, after.saturating_add(2)))
                        .flatten();
                        match low {
                            Some(0xDC00..=0xDFFF) => Ok(after.saturating_add(6)),
                            _ => Err(Error::LoneSurrogate { at: i }),
                        }
                    }
                    0xDC00..=0xDFFF => Err(Error::LoneSurrogate { at: i }),
                    _ => Ok(after),
                }
            }
            _ => Err(Error::InvalidEscape { at: i }),
        }
    }

    /// Moves past a validated string (cursor on its opening quote).
    pub(super) fn skip_string_trusted(&mut self) {
        self.string_trusted();
    }

    /// Scans a validated string (cursor on its opening quote) without checking
    /// it again: returns its raw content and whether it holds an escape, and
    /// leaves the cursor after the closing quote. On unvalidated text it still
    /// terminates and never panics.
    pub(crate) fn string_trusted(&mut self) -> (&'a [u8], bool) {
        let bytes = self.bytes;
        let start = self.pos.saturating_add(1);
        let mut i = start;
        let mut escaped = false;
        loop {
            while let Some(chunk) = bytes.get(i..i.saturating_add(8)) {
                let Ok(word) = <[u8; 8]>::try_from(chunk) else {
                    break;
                };
                if has_quote_or_backslash(u64::from_le_bytes(word)) {
                    break;
                }
                i = i.saturating_add(8);
            }
            match bytes.get(i) {
                None => {
                    self.pos = i;
                    return (bytes.get(start..).unwrap_or_default(), escaped);
                }
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    i = i.saturating_add(2);
                }
                Some(_) => i = i.saturating_add(1),
            }
        }
        self.pos = i.saturating_add(1);
        (bytes.get(start..i).unwrap_or_default(), escaped)
    }
}

/// Iterates over the code points of a validated string's raw content, decoding
/// escapes and UTF-8. On content that was not validated it stops early rather
/// than panic.
#[derive(Clone, Debug)]
pub(crate) struct CodePoints<'a> {
    raw: &'a [u8],
    i: usize,
}

impl<'a> CodePoints<'a> {
    pub(crate) const fn new(raw: &'a [u8]) -> Self {
        Self { raw, i: 0 }
    }
}

impl Iterator for CodePoints<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        let raw = self.raw;
        let b = *raw.get(self.i)?;
        if b != b'\\' {
            let (cp, len) = decode_utf8(raw, self.i)?;
            self.i = self.i.saturating_add(len);
            return Some(cp);
        }
        let e = *raw.get(self.i.saturating_add(1))?;
        let simple = match e {
            b'"' => Some(0x22),
            b'\\' => Some(0x5C),
            b'/' => Some(0x2F),
            b'b' => Some(0x08),
            b'f' => Some(0x0C),
            b'n' => Some(0x0A),
            b'r' => Some(0x0D),
            b't' => Some(0x09),
            _ => None,
        };
        if let Some(cp) = simple {
            self.i = self.i.saturating_add(2);
            return Some(cp);
        }
        let hi = hex4(raw, self.i.saturating_add(2))?;
        self.i = self.i.saturating_add(6);
        if (0xD800..=0xDBFF).contains(&hi) {
            let lo = hex4(raw, self.i.saturating_add(2))?;
            self.i = self.i.saturating_add(6);
            let cp = 0x10000u32
                .wrapping_add(u32::from(hi.wrapping_sub(0xD800)).wrapping_shl(10))
                .wrapping_add(u32::from(lo.wrapping_sub(0xDC00)));
            return Some(cp);
        }
        Some(u32::from(hi))
    }
}

/// Iterates over the UTF-16 code units of a validated string (RFC 8785 §3.2.3
/// sorts keys by these).
#[derive(Clone, Debug)]
pub(crate) struct Utf16Units<'a> {
    cps: CodePoints<'a>,
    low: Option<u16>,
}

impl<'a> Utf16Units<'a> {
    pub(crate) const fn new(raw: &'a [u8]) -> Self {
        Self {
            cps: CodePoints::new(raw),
            low: None,
        }
    }
}

impl Iterator for Utf16Units<'_> {
    type Item = u16;

    #[inline]
    fn next(&mut self) -> Option<u16> {
        if let Some(l) = self.low.take() {
            return Some(l);
        }
        let cp = self.cps.next()?;
        if let Ok(unit) = u16::try_from(cp) {
            return Some(unit);
        }
        let v = cp.wrapping_sub(0x10000);
        let hi = 0xD800u32 | (v.wrapping_shr(10) & 0x3FF);
        let lo = 0xDC00u32 | (v & 0x3FF);
        self.low = u16::try_from(lo).ok();
        u16::try_from(hi).ok()
    }
}
