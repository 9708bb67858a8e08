//! Numbers: scanning one (RFC 8259 §6).

use super::Cursor;
use crate::error::Error;

/// What a number scan learned about the number.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawNum<'a> {
    pub(crate) text: &'a [u8],
    pub(crate) at: usize,
    /// No fraction and no exponent.
    pub(crate) is_int: bool,
}

impl<'a> Cursor<'a> {
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
}
