//! Little-endian field readers and writers over byte slices; neither panics.

use crate::{DecodeError, EncodeError, Field, HASH_LEN};

/// Writes fields into a slice, or only counts their length (a sizer). The
/// first failure sticks and is reported by [`Writer::error`].
pub(crate) struct Writer<'o> {
    out: Option<&'o mut [u8]>,
    len: usize,
    err: Option<EncodeError>,
}

impl<'o> Writer<'o> {
    pub(crate) const fn new(out: &'o mut [u8]) -> Self {
        Self {
            out: Some(out),
            len: 0,
            err: None,
        }
    }

    pub(crate) const fn sizer() -> Self {
        Self {
            out: None,
            len: 0,
            err: None,
        }
    }

    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn written(&self) -> &[u8] {
        self.out
            .as_deref()
            .and_then(|o| o.get(..self.len))
            .unwrap_or_default()
    }

    pub(crate) fn error(&self) -> Result<(), EncodeError> {
        self.err.map_or(Ok(()), Err)
    }

    pub(crate) fn fail(&mut self, field: Field) {
        if self.err.is_none() {
            self.err = Some(EncodeError::FieldTooLong { field });
        }
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        let end = self.len.saturating_add(b.len());
        if let Some(out) = self.out.as_deref_mut() {
            match out.get_mut(self.len..end) {
                Some(dst) => dst.copy_from_slice(b),
                None => {
                    if self.err.is_none() {
                        self.err = Some(EncodeError::BufferTooSmall { need: end });
                    }
                    return;
                }
            }
        }
        self.len = end;
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    pub(crate) fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }

    /// A `u16` length and the bytes.
    pub(crate) fn field(&mut self, field: Field, b: &[u8]) {
        match u16::try_from(b.len()) {
            Ok(n) => {
                self.bytes(&n.to_le_bytes());
                self.bytes(b);
            }
            Err(_) => self.fail(field),
        }
    }
}

/// Reads fields from a payload, front to back.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) const fn new(payload: &'a [u8]) -> Self {
        Self { rest: payload }
    }

    pub(crate) fn take(&mut self, n: usize, field: Field) -> Result<&'a [u8], DecodeError> {
        let Some((head, tail)) = self.rest.split_at_checked(n) else {
            return Err(DecodeError::Malformed { field });
        };
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self, field: Field) -> Result<[u8; N], DecodeError> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(DecodeError::Malformed { field })?;
        self.rest = tail;
        Ok(*head)
    }

    pub(crate) fn u8(&mut self, field: Field) -> Result<u8, DecodeError> {
        Ok(u8::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: Field) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: Field) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn i64(&mut self, field: Field) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn hash(&mut self, field: Field) -> Result<[u8; HASH_LEN], DecodeError> {
        self.array(field)
    }

    pub(crate) fn field(&mut self, field: Field) -> Result<&'a [u8], DecodeError> {
        let n = u16::from_le_bytes(self.array(field)?);
        self.take(usize::from(n), field)
    }

    pub(crate) fn str_field(&mut self, field: Field) -> Result<&'a str, DecodeError> {
        core::str::from_utf8(self.field(field)?).map_err(|_| DecodeError::Malformed { field })
    }

    pub(crate) const fn remaining(&self) -> usize {
        self.rest.len()
    }

    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Malformed {
                field: Field::Trailing,
            })
        }
    }
}
