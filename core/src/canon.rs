//! Canonical JSON in two profiles, streamed into a [`Sink`] without a heap.
//!
//! * [`Profile::ArmorIq`]: byte-identical to the ArmorIQ IAP signer and SDK,
//!   `json.dumps(v, sort_keys=True, separators=(",",":"), ensure_ascii=True)`
//!   (`armoriq_sdk.crypto_verify.canonical_json`): keys in code-point order,
//!   everything outside 0x20–0x7E escaped as lowercase `\uXXXX`, integers copied
//!   exactly at any length (`-0` → `0`), other numbers as Python `repr` of the
//!   double.
//! * [`Profile::Jcs`]: RFC 8785 (keys in UTF-16 code-unit order §3.2.3, minimal
//!   escaping §3.2.2.2, numbers as ECMAScript doubles §3.2.2.3).
//!
//! The input is parsed strictly (RFC 8259) whatever the profile: duplicate keys,
//! lone surrogates, `NaN`/`Infinity`, numbers that overflow a double, invalid
//! UTF-8 and nesting or member counts over the limits are each their own
//! [`Error`]. Python accepts several of these; a signer must not.
//!
//! Objects are the only part that needs memory: their members are recorded as
//! offsets in a fixed pool (`MEMBERS` entries shared by all objects open on the
//! current path), sorted in place, and emitted in order. Nesting is bounded by
//! `DEPTH`. Both are const generics, so a device and a gateway choose their own.

use crate::decimal;
use crate::error::Error;
use crate::json::{CodePoints, Cursor, RawNum, RawStr, Utf16Units, check_len, decode_utf8, enter};
use crate::number::{Put, write_es6, write_python_repr};
use core::cmp::Ordering;

/// The canonical form to produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// Python `json.dumps(sort_keys=True, separators=(",",":"), ensure_ascii=True)`,
    /// as the ArmorIQ signer uses (SPEC §1).
    #[default]
    ArmorIq,
    /// RFC 8785 JSON Canonicalization Scheme.
    Jcs,
}

/// Where canonical bytes go.
pub trait Sink {
    /// Takes the next bytes of output.
    ///
    /// # Errors
    /// [`Error::OutputFull`] when a bounded sink has no room left.
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error>;
}

impl Sink for sha2::Sha256 {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        sha2::Digest::update(self, bytes);
        Ok(())
    }
}

/// A sink that fills a caller's buffer.
#[derive(Debug)]
pub struct SliceSink<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceSink<'a> {
    /// Wraps an empty output buffer.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// The bytes written so far.
    #[must_use]
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl Sink for SliceSink<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let capacity = self.buf.len();
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(Error::OutputFull { capacity })?;
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(Error::OutputFull { capacity })?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

/// A sink that only counts bytes: the length of the canonical form.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountSink(pub usize);

impl Sink for CountSink {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.0 = self.0.saturating_add(bytes.len());
        Ok(())
    }
}

/// Output staging: small writes are gathered so the sink (a hasher, usually)
/// sees few, larger updates.
struct Out<'s, S: Sink> {
    buf: [u8; 256],
    len: usize,
    sink: &'s mut S,
    err: Option<Error>,
}

impl<'s, S: Sink> Out<'s, S> {
    fn new(sink: &'s mut S) -> Self {
        Self {
            buf: [0; 256],
            len: 0,
            sink,
            err: None,
        }
    }

    fn flush(&mut self) {
        if self.len > 0 {
            let pending = self.buf.get(..self.len).unwrap_or_default();
            if let Err(e) = self.sink.write(pending) {
                self.err.get_or_insert(e);
            }
            self.len = 0;
        }
    }

    fn finish(mut self) -> Result<(), Error> {
        self.flush();
        self.err.map_or(Ok(()), Err)
    }
}

impl<S: Sink> Put for Out<'_, S> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
            self.len = end;
            return;
        }
        self.flush();
        if bytes.len() >= self.buf.len() {
            if let Err(e) = self.sink.write(bytes) {
                self.err.get_or_insert(e);
            }
        } else if let Some(dst) = self.buf.get_mut(..bytes.len()) {
            dst.copy_from_slice(bytes);
            self.len = bytes.len();
        }
    }
}

/// One object member, recorded while its object is read.
#[derive(Clone, Copy, Debug, Default)]
struct Member {
    /// Offset of the first byte of the key's content (after the quote).
    key: u32,
    /// Offset of the key's closing quote.
    key_end: u32,
    /// Offset of the value's first byte.
    value: u32,
    /// The key is printable ASCII without escapes.
    plain: bool,
}

/// Default nesting limit: plans are a few levels deep (plan → steps → step →
/// params → value); 32 leaves room for real tool arguments while bounding the
/// recursion (a few hundred bytes of stack a level).
pub const DEFAULT_DEPTH: usize = 32;
/// Default member pool: 256 members held at once across the open objects on
/// one path (3 KiB of scratch), far above any tool call's argument count.
pub const DEFAULT_MEMBERS: usize = 256;

/// A canonicalizer with its scratch: `DEPTH` is the deepest nesting accepted
/// (top-level container = 1), `MEMBERS` the object members it can hold at once
/// across all objects open on the current path (so also the largest object).
#[derive(Debug, Clone)]
pub struct Canonicalizer<const DEPTH: usize = DEFAULT_DEPTH, const MEMBERS: usize = DEFAULT_MEMBERS>
{
    pool: [Member; MEMBERS],
}

impl<const DEPTH: usize, const MEMBERS: usize> Default for Canonicalizer<DEPTH, MEMBERS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const DEPTH: usize, const MEMBERS: usize> Canonicalizer<DEPTH, MEMBERS> {
    const LIMITS_OK: () = assert!(DEPTH > 0 && MEMBERS > 0, "limits must be positive");

    /// The empty canonicalizer, as a constant: all zeros, so a copy of it
    /// compiles to a `memset` of the caller's own storage.
    const EMPTY: Self = Self {
        pool: [Member {
            key: 0,
            key_end: 0,
            value: 0,
            plain: false,
        }; MEMBERS],
    };

    /// A canonicalizer with empty scratch.
    ///
    /// Built from a constant rather than an array expression: the latter was
    /// built in a temporary and then moved with a 4 KiB `memcpy` (the default
    /// pool), which took ~1 µs per call on the AMD EPYC hosts measured.
    #[must_use]
    #[inline]
    pub const fn new() -> Self {
        let () = Self::LIMITS_OK;
        Self::EMPTY
    }

    /// Parses `input` strictly and writes its canonical form to `sink`.
    ///
    /// Never panics. On error the sink may have received part of the output.
    ///
    /// # Errors
    /// Any JSON defect of [`Error`] with its offset; [`Error::DepthLimit`] and
    /// [`Error::MemberLimit`] when the limits are hit; whatever the sink returns.
    pub fn canonicalize<S: Sink>(
        &mut self,
        input: &[u8],
        profile: Profile,
        sink: &mut S,
    ) -> Result<(), Error> {
        check_len(input)?;
        let mut c = Cursor::new(input);
        let mut out = Out::new(sink);
        c.skip_ws();
        self.value(&mut c, 0, 0, false, profile, &mut out)?;
        c.finish()?;
        out.finish()
    }

    /// SHA-256 of the canonical form of `input`.
    ///
    /// # Errors
    /// As [`Canonicalizer::canonicalize`].
    pub fn sha256(&mut self, input: &[u8], profile: Profile) -> Result<[u8; 32], Error> {
        let mut h = <sha2::Sha256 as sha2::Digest>::new();
        self.canonicalize(input, profile, &mut h)?;
        Ok(sha2::Digest::finalize(h).into())
    }

    /// Emits one value at the cursor. `depth` is the parent's nesting, `base`
    /// the first free slot of the member pool, `checked` whether an enclosing
    /// object's first pass already validated this value (so nested skips need
    /// not validate again: every byte is validated exactly once).
    fn value<S: Sink>(
        &mut self,
        c: &mut Cursor<'_>,
        depth: usize,
        base: usize,
        checked: bool,
        profile: Profile,
        out: &mut Out<'_, S>,
    ) -> Result<(), Error> {
        match c.peek() {
            Some(b'{') => self.object(c, depth, base, checked, profile, out),
            Some(b'[') => {
                let depth = enter(depth, DEPTH, c.pos)?;
                c.bump(1);
                c.skip_ws();
                out.put(b"[");
                if c.peek() == Some(b']') {
                    c.bump(1);
                    out.put(b"]");
                    return Ok(());
                }
                loop {
                    self.value(c, depth, base, checked, profile, out)?;
                    c.skip_ws();
                    match c.peek() {
                        Some(b',') => {
                            c.bump(1);
                            c.skip_ws();
                            out.put(b",");
                        }
                        Some(b']') => {
                            c.bump(1);
                            out.put(b"]");
                            return Ok(());
                        }
                        _ => return Err(c.unexpected()),
                    }
                }
            }
            Some(b'"') => {
                let s = c.string()?;
                emit_string(s, profile, out);
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => {
                let n = c.number()?;
                emit_number(n, profile, out)
            }
            Some(_) => {
                let lit = c.literal()?;
                out.put(lit);
                Ok(())
            }
            None => Err(c.unexpected()),
        }
    }

    fn object<S: Sink>(
        &mut self,
        c: &mut Cursor<'_>,
        depth: usize,
        base: usize,
        checked: bool,
        profile: Profile,
        out: &mut Out<'_, S>,
    ) -> Result<(), Error> {
        let depth = enter(depth, DEPTH, c.pos)?;
        c.bump(1);
        c.skip_ws();
        if c.peek() == Some(b'}') {
            c.bump(1);
            out.put(b"{}");
            return Ok(());
        }
        // Pass 1: record the members, validating every value on the way.
        let mut top = base;
        loop {
            if c.peek() != Some(b'"') {
                return Err(c.unexpected());
            }
            let key_at = c.pos;
            let key = c.string()?;
            let slot = self.pool.get_mut(top).ok_or(Error::MemberLimit {
                at: key_at,
                limit: MEMBERS,
            })?;
            c.skip_ws();
            c.consume(b':')?;
            c.skip_ws();
            *slot = Member {
                key: offset(key_at.saturating_add(1)),
                key_end: offset(key_at.saturating_add(1).saturating_add(key.raw.len())),
                value: offset(c.pos),
                plain: key.plain,
            };
            top = top.saturating_add(1);
            if checked {
                c.skip_trusted();
            } else {
                c.skip_value(depth, DEPTH)?;
            }
            c.skip_ws();
            match c.peek() {
                Some(b',') => {
                    c.bump(1);
                    c.skip_ws();
                }
                Some(b'}') => {
                    c.bump(1);
                    break;
                }
                _ => return Err(c.unexpected()),
            }
        }
        let end = c.pos;
        let doc = c.bytes;
        // Sort this object's members (RFC 8785 §3.2.3 / Python sort_keys) and
        // reject duplicates, which sort next to each other.
        let members = self.pool.get_mut(base..top).unwrap_or_default();
        sort_members(members, |a, b| {
            cmp_keys(doc, a, b, profile) == Ordering::Less
        });
        for pair in members.windows(2) {
            if let [a, b] = pair
                && cmp_keys(doc, a, b, profile) == Ordering::Equal
            {
                let at = usize_of(a.key.max(b.key)).saturating_sub(1);
                return Err(Error::DuplicateKey { at });
            }
        }
        // Pass 2: emit in order; nested objects use the pool above `top`.
        out.put(b"{");
        for i in base..top {
            let Some(&m) = self.pool.get(i) else { break };
            if i > base {
                out.put(b",");
            }
            let raw = doc
                .get(usize_of(m.key)..usize_of(m.key_end))
                .unwrap_or_default();
            emit_string(
                RawStr {
                    raw,
                    plain: m.plain,
                },
                profile,
                out,
            );
            out.put(b":");
            c.pos = usize_of(m.value);
            self.value(c, depth, top, true, profile, out)?;
        }
        out.put(b"}");
        c.pos = end;
        Ok(())
    }
}

/// Objects up to this many members are sorted by insertion.
const INSERTION_MAX: usize = 16;

/// Sorts an object's members by `less`: insertion sort for the short objects
/// of real plans, heapsort (O(n log n), no recursion) above
/// [`INSERTION_MAX`]. About 0.4 KB of Thumb code against 2 KB for
/// `sort_unstable_by`, and as fast on objects of a few keys. Not stable: the
/// caller rejects equal keys anyway.
fn sort_members(v: &mut [Member], mut less: impl FnMut(&Member, &Member) -> bool) {
    let n = v.len();
    if n <= INSERTION_MAX {
        for i in 1..n {
            let mut j = i;
            while j > 0 {
                let prev = j.saturating_sub(1);
                match (v.get(prev), v.get(j)) {
                    (Some(a), Some(b)) if less(b, a) => v.swap(prev, j),
                    _ => break,
                }
                j = prev;
            }
        }
        return;
    }
    for root in (0..n / 2).rev() {
        sift_down(v, root, n, &mut less);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end, &mut less);
    }
}

/// Restores the max-heap order of `v[..end]` below `root`.
fn sift_down(
    v: &mut [Member],
    mut root: usize,
    end: usize,
    less: &mut impl FnMut(&Member, &Member) -> bool,
) {
    loop {
        let left = root.saturating_mul(2).saturating_add(1);
        if left >= end {
            return;
        }
        let right = left.saturating_add(1);
        let child = match (v.get(left), v.get(right)) {
            (Some(l), Some(r)) if right < end && less(l, r) => right,
            _ => left,
        };
        match (v.get(root), v.get(child)) {
            (Some(p), Some(c)) if less(p, c) => v.swap(root, child),
            _ => return,
        }
        root = child;
    }
}

/// Offsets fit in `u32`: `check_len` bounds the input to `MAX_INPUT_LEN`.
fn offset(pos: usize) -> u32 {
    u32::try_from(pos).unwrap_or(u32::MAX)
}

fn usize_of(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn cmp_keys(doc: &[u8], a: &Member, b: &Member, profile: Profile) -> Ordering {
    let ka = doc
        .get(usize_of(a.key)..usize_of(a.key_end))
        .unwrap_or_default();
    let kb = doc
        .get(usize_of(b.key)..usize_of(b.key_end))
        .unwrap_or_default();
    if a.plain && b.plain {
        // ASCII without escapes: byte order is code-point and UTF-16 order.
        return ka.cmp(kb);
    }
    match profile {
        Profile::ArmorIq => CodePoints::new(ka).cmp(CodePoints::new(kb)),
        Profile::Jcs => Utf16Units::new(ka).cmp(Utf16Units::new(kb)),
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn put_u_escape<P: Put>(unit: u32, out: &mut P) {
    let nib = |shift: u32| {
        let i = usize::try_from(unit.wrapping_shr(shift) & 0xF).unwrap_or(0);
        HEX.get(i).copied().unwrap_or(b'0')
    };
    out.put(&[b'\\', b'u', nib(12), nib(8), nib(4), nib(0)]);
}

fn short_escape(cp: u32) -> Option<&'static [u8]> {
    Some(match cp {
        0x22 => b"\\\"",
        0x5C => b"\\\\",
        0x08 => b"\\b",
        0x0C => b"\\f",
        0x0A => b"\\n",
        0x0D => b"\\r",
        0x09 => b"\\t",
        _ => return None,
    })
}

/// Writes a validated string in the profile's escaping.
fn emit_string<P: Put>(s: RawStr<'_>, profile: Profile, out: &mut P) {
    out.put(b"\"");
    if s.plain {
        out.put(s.raw);
        out.put(b"\"");
        return;
    }
    let raw = s.raw;
    let mut i = 0;
    while i < raw.len() {
        // Copy the longest run that is output verbatim.
        let run = raw
            .get(i..)
            .unwrap_or_default()
            .iter()
            .position(|&b| match profile {
                Profile::ArmorIq => !(0x20..=0x7E).contains(&b) || b == b'\\' || b == b'"',
                // Validated content has no raw `"` or controls; multi-byte
                // UTF-8 is copied as is.
                Profile::Jcs => b == b'\\',
            })
            .unwrap_or(raw.len().saturating_sub(i));
        if run > 0 {
            out.put(raw.get(i..i.saturating_add(run)).unwrap_or_default());
            i = i.saturating_add(run);
            continue;
        }
        // One code point that needs care: an escape or (armoriq) a non-ASCII char.
        let mut cps = CodePoints::new(raw.get(i..).unwrap_or_default());
        let Some(cp) = cps.next() else { break };
        let used = escape_len(raw, i);
        i = i.saturating_add(used);
        match profile {
            Profile::ArmorIq => {
                if let Some(e) = short_escape(cp) {
                    out.put(e);
                } else if (0x20..=0x7E).contains(&cp) {
                    out.put(&[u8::try_from(cp).unwrap_or(b'?')]);
                } else if cp > 0xFFFF {
                    let v = cp.wrapping_sub(0x10000);
                    put_u_escape(0xD800 | (v.wrapping_shr(10) & 0x3FF), out);
                    put_u_escape(0xDC00 | (v & 0x3FF), out);
                } else {
                    put_u_escape(cp, out);
                }
            }
            Profile::Jcs => {
                if let Some(e) = short_escape(cp) {
                    out.put(e);
                } else if cp < 0x20 {
                    put_u_escape(cp, out);
                } else if let Some(ch) = char::from_u32(cp) {
                    let mut b = [0u8; 4];
                    out.put(ch.encode_utf8(&mut b).as_bytes());
                }
            }
        }
    }
    out.put(b"\"");
}

/// Length in bytes of the escape or UTF-8 sequence at `i` of validated content.
fn escape_len(raw: &[u8], i: usize) -> usize {
    match raw.get(i) {
        Some(b'\\') => match raw.get(i.saturating_add(1)) {
            Some(b'u') => {
                let is_high = raw
                    .get(i.saturating_add(2)..i.saturating_add(6))
                    .is_some_and(|h| {
                        matches!(
                            h,
                            [b'd' | b'D', b'8'..=b'9' | b'a'..=b'b' | b'A'..=b'B', _, _]
                        )
                    });
                if is_high { 12 } else { 6 }
            }
            _ => 2,
        },
        _ => decode_utf8(raw, i).map_or(1, |(_, n)| n),
    }
}

/// Writes a validated number in the profile's form.
fn emit_number<S: Sink>(
    n: RawNum<'_>,
    profile: Profile,
    out: &mut Out<'_, S>,
) -> Result<(), Error> {
    if profile == Profile::ArmorIq && n.is_int {
        // Python ints are arbitrary precision: copied exactly; `-0` is `0`.
        if n.text == b"-0" {
            out.put(b"0");
        } else {
            out.put(n.text);
        }
        return Ok(());
    }
    let x = decimal::to_f64(n.text).ok_or(Error::InvalidNumber { at: n.at })?;
    if !decimal::is_finite(x) {
        return Err(Error::NumberOutOfRange { at: n.at });
    }
    let done = match profile {
        Profile::ArmorIq => write_python_repr(x, out),
        Profile::Jcs => write_es6(x, out),
    };
    done.ok_or(Error::InvalidNumber { at: n.at })
}

/// Canonicalizes with the default limits into `sink`.
///
/// # Errors
/// As [`Canonicalizer::canonicalize`].
pub fn canonicalize<S: Sink>(input: &[u8], profile: Profile, sink: &mut S) -> Result<(), Error> {
    Canonicalizer::<DEFAULT_DEPTH, DEFAULT_MEMBERS>::new().canonicalize(input, profile, sink)
}

/// SHA-256 of the canonical form, with the default limits.
///
/// # Errors
/// As [`Canonicalizer::canonicalize`].
pub fn canonical_sha256(input: &[u8], profile: Profile) -> Result<[u8; 32], Error> {
    Canonicalizer::<DEFAULT_DEPTH, DEFAULT_MEMBERS>::new().sha256(input, profile)
}
