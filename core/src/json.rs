//! Strict RFC 8259 reading of untrusted JSON text, without a heap.
//!
//! Nothing here builds a tree: a [`Cursor`] walks the bytes, validating as it
//! goes, and [`Value`] is a span of a document that has already been validated,
//! to be walked again lazily. Every read uses `get`, never indexing, so no input
//! can make these functions panic.

use crate::error::Error;

/// Longest input the core accepts: member offsets are kept as `u32` so that the
/// canonicalizer's scratch stays small (12 bytes a member) on devices.
#[allow(clippy::as_conversions)] // u32 -> usize widens on every supported target
pub const MAX_INPUT_LEN: usize = u32::MAX as usize;

/// A read position in a JSON text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
}

/// What a string scan learned about the string.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawStr<'a> {
    /// The bytes between the quotes, escapes not decoded.
    pub(crate) raw: &'a [u8],
    /// No escapes and only printable ASCII (0x20..=0x7E): the raw bytes are
    /// already the canonical content in both profiles.
    pub(crate) plain: bool,
}

/// What a number scan learned about the number.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawNum<'a> {
    pub(crate) text: &'a [u8],
    pub(crate) at: usize,
    /// No fraction and no exponent.
    pub(crate) is_int: bool,
}

#[inline]
const fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
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
    pub(crate) const fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    pub(crate) fn bump(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n);
    }

    #[inline]
    pub(crate) fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if !is_ws(b) {
                break;
            }
            self.bump(1);
        }
    }

    /// The error for "something else was expected here".
    #[inline]
    pub(crate) fn unexpected(&self) -> Error {
        if self.pos >= self.bytes.len() {
            Error::UnexpectedEnd {
                at: self.bytes.len(),
            }
        } else {
            Error::UnexpectedByte { at: self.pos }
        }
    }

    /// Consumes the byte `b`, or fails with `Unexpected` at the cursor (a
    /// typed error, never a panic).
    #[inline]
    pub(crate) fn consume(&mut self, b: u8) -> Result<(), Error> {
        if self.peek() == Some(b) {
            self.bump(1);
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// After the top-level value: only whitespace may follow.
    pub(crate) fn finish(&mut self) -> Result<(), Error> {
        self.skip_ws();
        if self.pos < self.bytes.len() {
            Err(Error::TrailingData { at: self.pos })
        } else {
            Ok(())
        }
    }

    /// Reads a literal (`true`, `false`, `null`), naming `NaN`/`Infinity` apart.
    pub(crate) fn literal(&mut self) -> Result<&'static [u8], Error> {
        let at = self.pos;
        let rest = self.bytes.get(at..).unwrap_or_default();
        for lit in [&b"true"[..], b"false", b"null"] {
            if rest.starts_with(lit) {
                self.bump(lit.len());
                return Ok(lit);
            }
        }
        if rest.starts_with(b"NaN") || rest.starts_with(b"Infinity") {
            return Err(Error::NonFiniteNumber { at });
        }
        // A prefix of a literal cut short by the end of input is an early end.
        for lit in [&b"true"[..], b"false", b"null"] {
            if rest.len() < lit.len() && lit.starts_with(rest) {
                return Err(Error::UnexpectedEnd {
                    at: self.bytes.len(),
                });
            }
        }
        Err(Error::UnexpectedByte { at })
    }

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

    /// Scans a number (RFC 8259 §6) starting at the cursor.
    pub(crate) fn number(&mut self) -> Result<RawNum<'a>, Error> {
        let at = self.pos;
        let bytes = self.bytes;
        let mut i = at;
        let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
        let bad = |i: usize| {
            if i >= bytes.len() {
                Error::UnexpectedEnd { at: bytes.len() }
            } else {
                Error::InvalidNumber { at }
            }
        };
        if bytes.get(i) == Some(&b'-') {
            i = i.saturating_add(1);
            if bytes.get(i) == Some(&b'I') {
                return Err(Error::NonFiniteNumber { at });
            }
        }
        match bytes.get(i) {
            Some(b'0') => {
                i = i.saturating_add(1);
                if digit(i) {
                    return Err(Error::InvalidNumber { at });
                }
            }
            Some(b'1'..=b'9') => {
                while digit(i) {
                    i = i.saturating_add(1);
                }
            }
            _ => return Err(bad(i)),
        }
        let mut is_int = true;
        if bytes.get(i) == Some(&b'.') {
            is_int = false;
            i = i.saturating_add(1);
            if !digit(i) {
                return Err(bad(i));
            }
            while digit(i) {
                i = i.saturating_add(1);
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            is_int = false;
            i = i.saturating_add(1);
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i = i.saturating_add(1);
            }
            if !digit(i) {
                return Err(bad(i));
            }
            while digit(i) {
                i = i.saturating_add(1);
            }
        }
        let text = bytes.get(at..i).unwrap_or_default();
        self.pos = i;
        Ok(RawNum { text, at, is_int })
    }

    /// Skips one value of text that [`Cursor::skip_value`] has already
    /// validated: no checks, no recursion, strings crossed 8 bytes at a time.
    /// On unvalidated text it still terminates and never panics.
    pub(crate) fn skip_trusted(&mut self) {
        let mut depth = 0usize;
        loop {
            self.skip_ws();
            match self.peek() {
                None => return,
                Some(b'"') => self.skip_string_trusted(),
                Some(b'{' | b'[') => {
                    self.bump(1);
                    depth = depth.saturating_add(1);
                    continue;
                }
                Some(b'}' | b']') => {
                    self.bump(1);
                    depth = depth.saturating_sub(1);
                }
                Some(b',' | b':') => {
                    self.bump(1);
                    continue;
                }
                Some(_) => {
                    while let Some(b) = self.peek() {
                        if matches!(b, b',' | b']' | b'}' | b':') || is_ws(b) {
                            break;
                        }
                        self.bump(1);
                    }
                }
            }
            if depth == 0 {
                return;
            }
        }
    }

    /// Moves past a validated string (cursor on its opening quote).
    fn skip_string_trusted(&mut self) {
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

    /// Skips one value, validating all of it; `depth` is the nesting of the
    /// value's parent (0 at top level), `limit` the deepest nesting allowed.
    pub(crate) fn skip_value(&mut self, depth: usize, limit: usize) -> Result<(), Error> {
        match self.peek() {
            Some(b'{') => {
                let depth = enter(depth, limit, self.pos)?;
                self.bump(1);
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    self.bump(1);
                    return Ok(());
                }
                loop {
                    if self.peek() != Some(b'"') {
                        return Err(self.unexpected());
                    }
                    self.string()?;
                    self.skip_ws();
                    self.consume(b':')?;
                    self.skip_ws();
                    self.skip_value(depth, limit)?;
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => {
                            self.bump(1);
                            self.skip_ws();
                        }
                        Some(b'}') => {
                            self.bump(1);
                            return Ok(());
                        }
                        _ => return Err(self.unexpected()),
                    }
                }
            }
            Some(b'[') => {
                let depth = enter(depth, limit, self.pos)?;
                self.bump(1);
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.bump(1);
                    return Ok(());
                }
                loop {
                    self.skip_value(depth, limit)?;
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => {
                            self.bump(1);
                            self.skip_ws();
                        }
                        Some(b']') => {
                            self.bump(1);
                            return Ok(());
                        }
                        _ => return Err(self.unexpected()),
                    }
                }
            }
            Some(b'"') => self.string().map(|_| ()),
            Some(b'-' | b'0'..=b'9') => self.number().map(|_| ()),
            Some(_) => self.literal().map(|_| ()),
            None => Err(self.unexpected()),
        }
    }
}

/// Enters one more level of nesting, or fails with [`Error::DepthLimit`].
#[inline]
pub(crate) fn enter(depth: usize, limit: usize, at: usize) -> Result<usize, Error> {
    let d = depth.saturating_add(1);
    if d > limit {
        Err(Error::DepthLimit { at, limit })
    } else {
        Ok(d)
    }
}

/// Checks that `input` is one strict JSON value (RFC 8259) nested at most
/// `limit` deep, with nothing but whitespace around it.
///
/// # Errors
/// The first syntax defect found, as its own [`Error`] variant with its offset;
/// [`Error::InputTooLarge`] over [`MAX_INPUT_LEN`].
pub fn validate(input: &[u8], limit: usize) -> Result<(), Error> {
    check_len(input)?;
    let mut c = Cursor::new(input);
    c.skip_ws();
    c.skip_value(0, limit)?;
    c.finish()
}

pub(crate) fn check_len(input: &[u8]) -> Result<(), Error> {
    if input.len() > MAX_INPUT_LEN {
        Err(Error::InputTooLarge {
            len: input.len(),
            limit: MAX_INPUT_LEN,
        })
    } else {
        Ok(())
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

/// The type of a JSON value, from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `{…}`
    Object,
    /// `[…]`
    Array,
    /// `"…"`
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

/// A span of a document that has been validated: walking it again cannot fail
/// except through the depth limit it was validated with.
#[derive(Clone, Copy, Debug)]
pub struct Value<'a> {
    doc: &'a [u8],
    start: usize,
    end: usize,
    limit: usize,
}

impl<'a> Value<'a> {
    /// Validates `input` (see [`validate`]) and returns its top-level value.
    ///
    /// # Errors
    /// As [`validate`].
    pub fn parse(input: &'a [u8], limit: usize) -> Result<Self, Error> {
        check_len(input)?;
        let mut c = Cursor::new(input);
        c.skip_ws();
        let start = c.pos;
        c.skip_value(0, limit)?;
        let end = c.pos;
        c.finish()?;
        Ok(Self {
            doc: input,
            start,
            end,
            limit,
        })
    }

    /// The top-level value of `input`, which the caller has already checked
    /// to be valid JSON nested at most `limit` deep (e.g. it canonicalized
    /// without error): the span is found without validating again. On other
    /// text it does not panic, and later walks stop early.
    pub(crate) fn prevalidated(input: &'a [u8], limit: usize) -> Self {
        let mut c = Cursor::new(input);
        c.skip_ws();
        let start = c.pos;
        c.skip_trusted();
        Self {
            doc: input,
            start,
            end: c.pos,
            limit,
        }
    }

    /// The value's bytes, exactly as they stand in the document.
    #[must_use]
    pub fn bytes(&self) -> &'a [u8] {
        self.doc.get(self.start..self.end).unwrap_or_default()
    }

    /// Offset of the value's first byte in the document.
    #[must_use]
    pub const fn offset(&self) -> usize {
        self.start
    }

    /// The value's type.
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self.doc.get(self.start) {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            _ => Kind::Number,
        }
    }

    /// The string's content if this is a string.
    #[must_use]
    pub fn as_str(&self) -> Option<JsonStr<'a>> {
        let mut c = Cursor {
            bytes: self.doc,
            pos: self.start,
        };
        if self.kind() != Kind::String {
            return None;
        }
        let (raw, escaped) = c.string_trusted();
        Some(JsonStr { raw, escaped })
    }

    /// The members of an object, in document order; empty for other kinds.
    #[must_use]
    pub fn members(&self) -> Members<'a> {
        let mut c = Cursor {
            bytes: self.doc,
            pos: self.start,
        };
        let open = self.kind() == Kind::Object;
        if open {
            c.bump(1);
            c.skip_ws();
        }
        Members {
            c,
            done: !open || c.peek() == Some(b'}'),
            limit: self.limit,
        }
    }

    /// The elements of an array, in order; empty for other kinds.
    #[must_use]
    pub fn elements(&self) -> Elements<'a> {
        let mut c = Cursor {
            bytes: self.doc,
            pos: self.start,
        };
        let open = self.kind() == Kind::Array;
        if open {
            c.bump(1);
            c.skip_ws();
        }
        Elements {
            c,
            done: !open || c.peek() == Some(b']'),
            limit: self.limit,
        }
    }
}

/// The raw content of a JSON string, escapes not decoded.
#[derive(Clone, Copy, Debug)]
pub struct JsonStr<'a> {
    raw: &'a [u8],
    /// `raw` holds a backslash escape (else it is the decoded text).
    escaped: bool,
}

impl<'a> JsonStr<'a> {
    /// Whether the decoded string equals `s`.
    #[must_use]
    pub fn eq_str(&self, s: &str) -> bool {
        if !self.escaped {
            return self.raw == s.as_bytes();
        }
        CodePoints::new(self.raw).eq(s.chars().map(u32::from))
    }

    /// Whether the decoded string is empty.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The content as a `&str` when it holds no escapes.
    #[must_use]
    pub fn as_unescaped(&self) -> Option<&'a str> {
        if self.escaped {
            None
        } else {
            core::str::from_utf8(self.raw).ok()
        }
    }

    /// The raw bytes when the string holds no escapes (then they are its
    /// UTF-8 text).
    #[must_use]
    pub const fn unescaped_bytes(&self) -> Option<&'a [u8]> {
        if self.escaped { None } else { Some(self.raw) }
    }

    /// The raw bytes (between the quotes) and whether they hold an escape.
    pub(crate) const fn raw_parts(&self) -> (&'a [u8], bool) {
        (self.raw, self.escaped)
    }

    /// A string from [`JsonStr::raw_parts`] of one parsed before.
    pub(crate) const fn from_raw_parts(raw: &'a [u8], escaped: bool) -> Self {
        Self { raw, escaped }
    }

    /// Whether two JSON strings decode to the same text (escapes resolved).
    #[must_use]
    pub fn same(&self, other: &JsonStr<'_>) -> bool {
        if !self.escaped && !other.escaped {
            return self.raw == other.raw;
        }
        if self.raw == other.raw {
            return true;
        }
        CodePoints::new(self.raw).eq(CodePoints::new(other.raw))
    }

    /// The decoded characters.
    pub fn chars(&self) -> impl Iterator<Item = char> + 'a {
        CodePoints::new(self.raw).filter_map(char::from_u32)
    }
}

/// Iterator over `(key, value)` of a validated object.
#[derive(Clone, Debug)]
pub struct Members<'a> {
    c: Cursor<'a>,
    done: bool,
    limit: usize,
}

impl<'a> Iterator for Members<'a> {
    type Item = (JsonStr<'a>, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // The text was validated when the value was made: walk it unchecked.
        if self.c.peek() != Some(b'"') {
            self.done = true;
            return None;
        }
        let (raw, escaped) = self.c.string_trusted();
        self.c.skip_ws();
        self.c.consume(b':').ok()?;
        self.c.skip_ws();
        let start = self.c.pos;
        self.c.skip_trusted();
        let value = Value {
            doc: self.c.bytes,
            start,
            end: self.c.pos,
            limit: self.limit,
        };
        self.c.skip_ws();
        if self.c.peek() == Some(b',') {
            self.c.bump(1);
            self.c.skip_ws();
        } else {
            self.done = true;
        }
        Some((JsonStr { raw, escaped }, value))
    }
}

/// Iterator over the elements of a validated array.
#[derive(Clone, Debug)]
pub struct Elements<'a> {
    c: Cursor<'a>,
    done: bool,
    limit: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let start = self.c.pos;
        if self.c.peek().is_none() {
            self.done = true;
            return None;
        }
        self.c.skip_trusted();
        let value = Value {
            doc: self.c.bytes,
            start,
            end: self.c.pos,
            limit: self.limit,
        };
        self.c.skip_ws();
        if self.c.peek() == Some(b',') {
            self.c.bump(1);
            self.c.skip_ws();
        } else {
            self.done = true;
        }
        Some(value)
    }
}

/// In one pass over an object: rejects a repeated member name with `dup`
/// (names compared decoded; at most `MAX` members, else `dup` too) and
/// returns the values of the members named in `names`.
pub(crate) fn pick_members<'a, const K: usize, const MAX: usize>(
    obj: &Value<'a>,
    names: [&str; K],
    dup: Error,
) -> Result<[Option<Value<'a>>; K], Error> {
    let mut seen: [Option<JsonStr<'a>>; MAX] = [None; MAX];
    let mut out: [Option<Value<'a>>; K] = [None; K];
    for (i, (name, value)) in obj.members().enumerate() {
        let earlier = seen.get(..i).unwrap_or_default();
        if earlier.iter().flatten().any(|prev| prev.same(&name)) {
            return Err(dup);
        }
        *seen.get_mut(i).ok_or(dup)? = Some(name);
        if let Some(k) = names.iter().position(|n| name.eq_str(n))
            && let Some(slot) = out.get_mut(k)
        {
            *slot = Some(value);
        }
    }
    Ok(out)
}
