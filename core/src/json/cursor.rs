//! The [`Cursor`]: structure, whitespace, literals, and skipping whole values.

use super::enter;
use crate::error::Error;

/// A read position in a JSON text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
}

#[inline]
const fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
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
