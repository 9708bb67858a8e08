//! Walking validated documents: [`Value`], [`JsonStr`], object members and
//! array elements.

use super::{CodePoints, Cursor, check_len};
use crate::error::Error;

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
    /// Validates `input` (see [`validate`](super::validate)) and returns its top-level value.
    ///
    /// # Errors
    /// As [`validate`](super::validate).
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
