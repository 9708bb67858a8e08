//! Strict RFC 8259 reading of untrusted JSON text, without a heap.
//!
//! Nothing here builds a tree: a [`Cursor`] walks the bytes, validating as it
//! goes, and [`Value`] is a span of a document that has already been validated,
//! to be walked again lazily. Every read uses `get`, never indexing, so no input
//! can make these functions panic.

mod cursor;
mod number;
mod string;
mod value;

pub(crate) use cursor::Cursor;
pub(crate) use number::RawNum;
pub(crate) use string::{CodePoints, RawStr, Utf16Units, decode_utf8};
pub(crate) use value::pick_members;
pub use value::{Elements, JsonStr, Kind, Members, Value};

use crate::error::Error;

/// Longest input the core accepts: member offsets are kept as `u32` so that the
/// canonicalizer's scratch stays small (12 bytes a member) on devices.
#[allow(clippy::as_conversions)] // u32 -> usize widens on every supported target
pub const MAX_INPUT_LEN: usize = u32::MAX as usize;

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
